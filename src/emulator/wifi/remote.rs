//! The Wi-Fi front in PC Remote mode: the same body as over USB
//! ([`crate::emulator::pc_remote`]: session, SDIO handshake, properties, live view at
//! the body's pace) answering PTP/IP on the command connection, its property events
//! sent on the event connection, with the Wi-Fi faults of [`super::NetFaults`] applied
//! before every answer.
//!
//! Like a body in PC Remote mode it takes a new connection at any time (a host that
//! lost the link comes back): a new Init Command Request cuts the old session.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use super::responder::{next_request, receive_data_out, send_data_in};
use super::wire::{self, Packet};
use super::{Shared, MAX_LOGGED_OPS};
use crate::emulator::body::{Body, Stats};
use crate::emulator::control::BodyEvent;
use crate::emulator::pc_remote::{has_data_out, Answer, Responder};
use crate::ptp::container::{Command, Params};
use crate::ptp::ptpip::{self, data_phase, Decoder};
use crate::ptp::ResponseCode;

/// Serves one PC Remote session on the command connection until the host hangs up.
pub(super) fn run(
    shared: &Shared,
    body: &Body,
    stream: &mut TcpStream,
    reader: &mut Decoder,
) -> io::Result<()> {
    let stats = body.stats().clone();
    Stats::bump(&stats.connects);
    let mut r = Responder::new(body);
    let mut buf = Vec::new();
    loop {
        let Some((dp, op, tid, params)) = next_request(stream, reader)? else {
            return Ok(());
        };
        stats.log_op(op);
        shared.bump(|s| {
            if s.ops.len() < MAX_LOGGED_OPS {
                s.ops.push(op)
            }
        });
        let data_out = if dp == data_phase::OUT || has_data_out(op) {
            Some(receive_data_out(stream, reader, tid)?)
        } else {
            None
        };
        let cmd = Command {
            code: op,
            tid,
            params,
        };
        let answer = match &data_out {
            Some(Err(too_big)) => {
                log::warn!("emulator: {op} data-out of {too_big} bytes refused");
                Answer::code(ResponseCode::INVALID_PARAMETER)
            }
            Some(Ok(d)) => r.transact(&cmd, Some(d)),
            None => r.transact(&cmd, None),
        };
        wait_as_the_network_does(shared)?;
        if answer.data {
            if answer.cut {
                return cut_mid_frame(shared, stream, tid, &r.data);
            }
            let len = r.data.len() as u64;
            let mut src: &[u8] = &r.data;
            send_data_in(shared, stream, tid, len, len, &mut src, false, &mut buf)?;
        }
        wire::write_packet(
            stream,
            &Packet::OperationResponse {
                code: answer.code,
                tid,
                params: answer.params,
            },
        )?;
        for e in r.events.drain(..) {
            send_event(shared, e);
        }
    }
}

/// Latency, jitter, loss and stalls, before an answer goes out.
fn wait_as_the_network_does(shared: &Shared) -> io::Result<()> {
    let d = shared.net.next_delay();
    if !d.is_zero() {
        std::thread::sleep(d);
    }
    while shared.net.is_stalled() {
        if shared.stopping() {
            return Err(io::Error::other("the emulator is stopping"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The disconnect-mid-frame switch: Start Data and half the frame, then both
/// connections go.
fn cut_mid_frame(shared: &Shared, stream: &mut TcpStream, tid: u32, data: &[u8]) -> io::Result<()> {
    let half = data.len() / 2;
    wire::write_packet(
        stream,
        &Packet::StartData {
            tid,
            total: data.len() as u64,
        },
    )?;
    let mut v = ptpip::data_header(false, tid, half)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
        .to_vec();
    v.extend_from_slice(&data[..half]);
    let _ = io::Write::write_all(stream, &v);
    log::info!("emulator: fault: dropping the connection mid-frame");
    let st = shared.lock();
    for c in &st.session_conns {
        let _ = c.shutdown(Shutdown::Both);
    }
    drop(st);
    shared.notify();
    Err(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "fault injected: connection dropped mid-frame",
    ))
}

/// An event (a property change, a picture stored), on the event connection (best
/// effort, like the USB interrupt pipe: a host that never reads events must not end the
/// session). Events of changes made between requests go out after the next answer.
fn send_event(shared: &Shared, e: BodyEvent) {
    let ev = shared
        .lock()
        .event_stream
        .as_ref()
        .and_then(|s| s.try_clone().ok());
    if let Some(mut s) = ev {
        let p = Packet::Event {
            code: e.code,
            tid: 0xFFFF_FFFF,
            params: Params::new(&[e.param]).unwrap_or_default(),
        };
        if let Err(err) = wire::write_packet(&mut s, &p) {
            log::debug!(
                "emulator: event {:?} {:#x} not sent: {err}",
                e.code,
                e.param
            );
        }
    }
}
