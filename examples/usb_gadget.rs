//! A test bench for `emulator::gadget`: makes a real USB device (configfs +
//! FunctionFS; root, a UDC such as dummy_hcd's) and serves it with a deliberately tiny
//! responder, so the gadget can be checked with host tools (`lsusb -v`, `gphoto2
//! --auto-detect`, the VM scenario `gadget.sh`) before the real responders are wired.
//!
//! PTP mode answers GetDeviceInfo, OpenSession, CloseSession and GetStorageIDs and
//! refuses the rest with OperationNotSupported; MSC mode answers INQUIRY and REQUEST
//! SENSE and reports "no medium" otherwise. It is not the emulated camera.
//!
//! Usage: usb_gadget [--mode ptp|msc] [--pid 0x0caa] [--model ILCE-6400] [--device-info-len N]
//! (`--device-info-len 512` pads the GetDeviceInfo data container to exactly one
//! high-speed packet, so the host only sees its end through the zero-length packet.)
//! Stops on SIGINT/SIGTERM, removing the gadget.

use alpha_bridge::emulator::gadget::{Function, Gadget, GadgetConfig, GadgetPipe};
use alpha_bridge::ptp::container::{data_header, Command, Params, Response};
use alpha_bridge::ptp::dataset::DeviceInfo;
use alpha_bridge::ptp::{OpCode, ResponseCode};
use alpha_bridge::transport::{DevicePipe, ErrorKind, TransportError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut cfg = GadgetConfig::default();
    let mut info_len = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--mode" if v == "msc" => cfg.function = Function::MassStorage,
            "--mode" if v == "ptp" => cfg.function = Function::Ptp,
            "--pid" => {
                cfg.pid = u16::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(cfg.pid)
            }
            "--model" => cfg.product = v,
            "--device-info-len" => info_len = v.parse().unwrap_or(0).min(65536),
            _ => {
                eprintln!("usage: usb_gadget [--mode ptp|msc] [--pid 0xNNNN] [--model NAME]");
                std::process::exit(2);
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst)).expect("signal handler");
    }
    let function = cfg.function;
    let model = cfg.product.clone();
    let gadget = match Gadget::create(cfg) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!("READY {}", gadget.configfs_dir().display());
    let r = gadget.serve(&stop, |pipe| match function {
        Function::Ptp => serve_ptp(pipe, &model, info_len, &stop),
        Function::MassStorage => serve_msc(pipe, &stop),
    });
    if let Err(e) = r {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    eprintln!("gadget: stopped");
}

fn read_cmd(
    pipe: &mut GadgetPipe<'_>,
    buf: &mut [u8],
    stop: &AtomicBool,
) -> Result<Option<usize>, TransportError> {
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        match pipe.read_out(buf, Duration::from_millis(300)) {
            Ok(0) => continue,
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind == ErrorKind::Timeout => continue,
            Err(e) => return Err(e),
        }
    }
}

fn serve_ptp(
    pipe: &mut GadgetPipe<'_>,
    model: &str,
    info_len: usize,
    stop: &AtomicBool,
) -> Result<(), TransportError> {
    let mut buf = vec![0u8; 1024];
    while let Some(n) = read_cmd(pipe, &mut buf, stop)? {
        let cmd = match Command::parse(&buf[..n]) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("gadget: bad command ({n} bytes): {e}");
                continue;
            }
        };
        eprintln!("gadget: command {:?} tid {}", cmd.code, cmd.tid);
        let mut data = None;
        let code = match cmd.code {
            OpCode::GET_DEVICE_INFO => {
                let info = DeviceInfo {
                    standard_version: 100,
                    vendor_extension_id: 0x11,
                    vendor_extension_version: 100,
                    vendor_extension_desc: "Sony PTP Extensions".into(),
                    operations_supported: vec![0x1001, 0x1002, 0x1003, 0x1004],
                    manufacturer: "Sony Corporation".into(),
                    model: model.into(),
                    device_version: "1.00".into(),
                    serial_number: "0000000000000001".into(),
                    ..Default::default()
                };
                let mut d = Vec::new();
                info.encode(&mut d);
                // trailing bytes after the dataset are ignored by parsers
                if info_len > d.len() + 12 {
                    d.resize(info_len - 12, 0);
                }
                data = Some(d);
                ResponseCode::OK
            }
            OpCode::OPEN_SESSION => ResponseCode::OK,
            OpCode::CLOSE_SESSION => {
                eprintln!("gadget: CloseSession");
                ResponseCode::OK
            }
            OpCode(0x1004) => {
                data = Some(vec![0, 0, 0, 0]);
                ResponseCode::OK
            }
            _ => ResponseCode::OPERATION_NOT_SUPPORTED,
        };
        if let Some(d) = data {
            let mut c = data_header(cmd.code, cmd.tid, d.len()).to_vec();
            c.extend_from_slice(&d);
            pipe.write_in(&c)?;
        }
        let mut r = Vec::new();
        Response {
            code,
            tid: cmd.tid,
            params: Params::default(),
        }
        .encode(&mut r);
        pipe.write_in(&r)?;
    }
    Ok(())
}

fn serve_msc(pipe: &mut GadgetPipe<'_>, stop: &AtomicBool) -> Result<(), TransportError> {
    let mut cbw = vec![0u8; 512];
    while let Some(n) = read_cmd(pipe, &mut cbw, stop)? {
        if n != 31 || &cbw[..4] != b"USBC" {
            eprintln!("gadget: not a CBW ({n} bytes)");
            continue;
        }
        let tag = &cbw[4..8];
        let len = u32::from_le_bytes([cbw[8], cbw[9], cbw[10], cbw[11]]) as usize;
        let dir_in = cbw[12] & 0x80 != 0;
        let op = cbw[15];
        eprintln!("gadget: scsi {op:#04x} len {len} in {dir_in}");
        let (reply, ok): (Vec<u8>, bool) = match op {
            0x12 => {
                let mut inq = vec![0u8, 0x80, 0x04, 0x02, 31, 0, 0, 0];
                inq.extend_from_slice(b"Sony    ");
                inq.extend_from_slice(b"ILCE-6400       ");
                inq.extend_from_slice(b"1.00");
                (inq, true)
            }
            // fixed sense: NOT READY, MEDIUM NOT PRESENT
            0x03 => (
                vec![
                    0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3A, 0, 0, 0, 0, 0,
                ],
                true,
            ),
            _ => (Vec::new(), false),
        };
        let mut sent = 0;
        if dir_in && len > 0 {
            let mut d = reply;
            d.truncate(len);
            sent = d.len();
            // an empty data phase is a zero-length packet, so the host's read ends
            pipe.write_in(&d)?;
        } else if !dir_in && len > 0 {
            let mut got = 0;
            let mut b = vec![0u8; 64 * 1024];
            while got < len {
                got += pipe.read_out(&mut b, Duration::from_secs(5))?;
            }
        }
        let mut csw = b"USBS".to_vec();
        csw.extend_from_slice(tag);
        csw.extend_from_slice(&((len - sent.min(len)) as u32).to_le_bytes());
        csw.push(if ok { 0 } else { 1 });
        pipe.write_in(&csw)?;
    }
    Ok(())
}
