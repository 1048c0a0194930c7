//! The emulated body as a real USB device: Linux's gadget stack (configfs +
//! libcomposite) with one FunctionFS function whose endpoints this module serves, so a
//! host on the other end of the cable (or of `dummy_hcd` in a VM) sees a Sony camera
//! with a Still Image interface (class 06/01/01: bulk IN, bulk OUT, interrupt IN) or a
//! mass-storage interface (08/06/50: bulk IN + OUT).
//!
//! What it does: builds `/sys/kernel/config/usb_gadget/<name>`, mounts FunctionFS,
//! writes the v2 descriptors and the strings to `ep0` *before* binding the UDC (the
//! kernel refuses a bind until they are there), answers the class requests on a named
//! `ffs-ep0` thread (PTP: Get Device Status 0x67, Cancel 0x64, Device Reset 0x66; MSC:
//! Get Max LUN 0xFE, Bulk-Only Reset 0xFF; everything else stalls), and offers a
//! [`DevicePipe`] over the endpoint files. [`Gadget::unbind`] / [`Gadget::bind`] pull
//! and re-plug the virtual cable; dropping the [`Gadget`] removes everything it made.
//!
//! What it must not do: speak PTP or SCSI (the responders in `emulator` do, over the
//! pipe), or use anything but `std::fs` and `libc`. Endpoint addresses and packet sizes
//! are whatever the UDC assigned (dummy_udc renumbers the interrupt endpoint), so they
//! are read back with `FUNCTIONFS_ENDPOINT_DESC` once the host has enabled them.
//!
//! References: Linux `Documentation/usb/functionfs.rst` and
//! `include/uapi/linux/usb/functionfs.h` (descriptor v2 layout, events, ioctls);
//! PIMA 15740 / USB Still Image Capture Device Definition 1.0 §5.2 (class requests);
//! USB Mass Storage Class Bulk-Only Transport 1.0 §3 (class requests).

use crate::ptp::container;
use crate::ptp::ResponseCode;
use crate::transport::usb::request::{
    MSC_GET_MAX_LUN, MSC_RESET, PTP_CANCEL, PTP_DEVICE_RESET, PTP_GET_DEVICE_STATUS,
    PTP_GET_EXTENDED_EVENT_DATA,
};
use crate::transport::{DevicePipe, ErrorKind, TransportError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CONFIGFS: &str = "/sys/kernel/config";
const GADGETS: &str = "/sys/kernel/config/usb_gadget";
const UDC_CLASS: &str = "/sys/class/udc";

// include/uapi/linux/usb/functionfs.h
const DESCRIPTORS_MAGIC_V2: u32 = 3;
const STRINGS_MAGIC: u32 = 2;
const HAS_FS_DESC: u32 = 1;
const HAS_HS_DESC: u32 = 2;
const EVENT_BIND: u8 = 0;
const EVENT_UNBIND: u8 = 1;
const EVENT_ENABLE: u8 = 2;
const EVENT_DISABLE: u8 = 3;
const EVENT_SETUP: u8 = 4;
const EVENT_SUSPEND: u8 = 5;
const EVENT_RESUME: u8 = 6;
/// `struct usb_functionfs_event`: an 8-byte setup packet, the type, 3 pad bytes.
const EVENT_SIZE: usize = 12;
/// `_IOR('g', 130, struct usb_endpoint_descriptor)`; the struct is 9 bytes packed.
const IOCTL_ENDPOINT_DESC: libc::c_ulong = 0x8009_6782;
/// `_IO('g', 3)`.
const IOCTL_CLEAR_HALT: libc::c_ulong = 0x6703;

const USB_DIR_IN: u8 = 0x80;
const USB_TYPE_MASK: u8 = 0x60;
const USB_TYPE_CLASS: u8 = 0x20;

/// One OUT read: a multiple of every packet size, small enough for the kernel's
/// contiguous buffer. A host transfer longer than this arrives as several reads.
const OUT_CHUNK: usize = 64 * 1024;
/// Mass storage OUT reads: one high-speed packet (a multiple of every bulk packet size).
const MSC_OUT_CHUNK: usize = 512;
/// Largest single IN request; a multiple of every packet size (see [`write_all`]).
const IN_CHUNK: usize = 64 * 1024;
/// Events waiting for the host to poll the interrupt endpoint; the oldest is dropped
/// beyond this (a host that never polls must not block the responder).
const EVENT_QUEUE: usize = 16;
/// How often the helper threads look at the stop flag.
const TICK: Duration = Duration::from_millis(200);

/// What went wrong setting up or running the gadget.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GadgetError {
    /// The configfs gadget directory is missing.
    #[error("the kernel has no USB gadget configfs ({GADGETS} is missing): load libcomposite and usb_f_fs (modprobe libcomposite usb_f_fs) and run as root")]
    NoConfigfs,
    /// The kernel cannot make FunctionFS functions.
    #[error("the kernel has no FunctionFS: load usb_f_fs (modprobe usb_f_fs)")]
    NoFunctionFs,
    /// No USB device controller is present.
    #[error("no USB device controller in {UDC_CLASS}: this needs a device-mode port, or dummy_hcd for testing (modprobe dummy_hcd)")]
    NoUdc,
    /// The named USB device controller is not present.
    #[error("USB device controller {0} is not present in {UDC_CLASS}")]
    UdcNotFound(String),
    /// Creating or binding the gadget needs root.
    #[error("permission denied {what}: run as root")]
    PermissionDenied {
        /// What was refused.
        what: String,
    },
    /// A gadget of this name is already bound.
    #[error("gadget {0} already exists and is in use: is another emulator running? (stop it, or pick another name)")]
    Busy(String),
    /// Someone already holds the gadget's endpoints.
    #[error("a pipe to this gadget is already open")]
    PipeTaken,
    /// A system call failed.
    #[error("{what}: {err}")]
    Io {
        /// What was being done.
        what: String,
        /// What the system said.
        err: io::Error,
    },
}

fn io_err(what: impl Into<String>, source: io::Error) -> GadgetError {
    let what = what.into();
    if source.kind() == io::ErrorKind::PermissionDenied {
        GadgetError::PermissionDenied { what }
    } else {
        GadgetError::Io { what, err: source }
    }
}

/// Which USB function the device offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Still Image (PTP) 06/01/01 with bulk IN, bulk OUT and interrupt IN.
    Ptp,
    /// Mass storage, SCSI transparent, Bulk-Only 08/06/50, with bulk IN and OUT.
    MassStorage,
}

/// What the device says about itself; [`Default`] is a Sony ILCE-6400 in PC Remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GadgetConfig {
    /// USB vendor id.
    pub vid: u16,
    /// USB product id.
    pub pid: u16,
    /// Manufacturer string descriptor.
    pub manufacturer: String,
    /// Product string descriptor.
    pub product: String,
    /// Serial number string descriptor.
    pub serial: String,
    /// Which function the gadget offers.
    pub function: Function,
    /// The configfs directory name (also names the FunctionFS instance).
    pub name: String,
    /// The UDC to bind to; `None` takes the first in `/sys/class/udc`.
    pub udc: Option<String>,
}

impl Default for GadgetConfig {
    fn default() -> Self {
        GadgetConfig {
            vid: 0x054C,
            pid: 0x0CAA, // ILCE-6400 in PC Remote (docs/protocol/sony-usb.md#product-ids)
            manufacturer: "Sony".into(),
            product: "ILCE-6400".into(),
            serial: "0000000000000001".into(),
            function: Function::Ptp,
            name: "alpha-bridge".into(),
            udc: None,
        }
    }
}

/// What ep0 has seen, shared with the `ffs-ep0` thread.
#[derive(Debug, Default)]
struct Link {
    bound: bool,
    enabled: bool,
    /// Counts ENABLE events, so a waiter can tell a re-plug from the same session.
    enables: u64,
}

#[derive(Debug, Default)]
struct Shared {
    link: Mutex<Link>,
    changed: Condvar,
    stop: AtomicBool,
    /// PTP Cancel requests received (the responder may look).
    cancels: AtomicU64,
    /// PTP Device Reset / MSC Bulk-Only Reset requests received.
    resets: AtomicU64,
    /// Get Device Status answers: 0 means "OK" (0x2001).
    status: std::sync::atomic::AtomicU16,
}

impl Shared {
    fn set(&self, f: impl FnOnce(&mut Link)) {
        let mut l = self.link.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut l);
        self.changed.notify_all();
    }

    fn link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The endpoint an address/packet size was read back for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Endpoint address (direction bit included).
    pub address: u8,
    /// Largest packet the endpoint takes.
    pub max_packet_size: u16,
}

/// What arrives from the OUT reader thread.
enum OutItem {
    Data(Vec<u8>),
    Disconnected,
}

/// A USB device made of configfs + FunctionFS. Dropping it unbinds and removes it.
pub struct Gadget {
    config: GadgetConfig,
    dir: PathBuf,
    udc: String,
    shared: Arc<Shared>,
    /// Held open: closing ep0 would tear the FunctionFS instance down.
    _ep0: Arc<File>,
    ep_in: Arc<File>,
    ep_out: Arc<File>,
    ep_int: Option<Arc<File>>,
    out_rx: Receiver<OutItem>,
    event_tx: Option<Sender<Vec<u8>>>,
    event_rx: Receiver<Vec<u8>>,
    threads: Vec<JoinHandle<()>>,
    pipe_taken: AtomicBool,
    /// Declared last so it drops last: fields drop in order, and FunctionFS can only be
    /// unmounted once the endpoint files above are closed.
    _cleanup: Cleanup,
}

/// Undoes what [`build`] made, when dropped.
struct Cleanup {
    dir: PathBuf,
    ffs_mount: PathBuf,
    made: Made,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        undo(&self.dir, &self.ffs_mount, &mut self.made);
        log::info!("gadget {} removed", self.dir.display());
    }
}

#[derive(Default)]
struct Made {
    dirs: Vec<PathBuf>,
    link: Option<PathBuf>,
    mounted: bool,
    mount_dir: bool,
}

impl Gadget {
    /// Builds the gadget, writes the FunctionFS descriptors, starts the helper threads
    /// and binds it to the UDC (the host then sees the device plugged in).
    pub fn create(config: GadgetConfig) -> Result<Gadget, GadgetError> {
        ensure_configfs()?;
        let udc = pick_udc(config.udc.as_deref())?;
        let name = sanitize(&config.name);
        let dir = Path::new(GADGETS).join(&name);
        if dir.exists() {
            // A gadget left by a killed emulator: take it apart if nobody holds it.
            log::warn!("removing stale gadget {}", dir.display());
            remove_stale(&dir).map_err(|_| GadgetError::Busy(name.clone()))?;
        }
        let ffs_mount = PathBuf::from(format!("/dev/ffs-{name}"));
        let mut made = Made::default();
        match build(&config, &name, &dir, &ffs_mount, &mut made) {
            Ok(files) => {
                let g = Gadget::start(config, dir, ffs_mount, udc, files, made);
                g.bind()?;
                Ok(g)
            }
            Err(e) => {
                undo(&dir, &ffs_mount, &mut made);
                Err(e)
            }
        }
    }

    fn start(
        config: GadgetConfig,
        dir: PathBuf,
        ffs_mount: PathBuf,
        udc: String,
        files: EpFiles,
        made: Made,
    ) -> Gadget {
        let shared = Arc::new(Shared::default());
        let ep0 = Arc::new(files.ep0);
        let ep_in = Arc::new(files.ep_in);
        let ep_out = Arc::new(files.ep_out);
        let ep_int = files.ep_int.map(Arc::new);
        let (out_tx, out_rx) = bounded(64);
        let (event_tx, event_rx) = bounded(EVENT_QUEUE);
        let mut threads = Vec::new();
        let function = config.function;
        {
            let (ep0, shared) = (ep0.clone(), shared.clone());
            threads.push(spawn("ffs-ep0", move || ep0_loop(&ep0, &shared, function)));
        }
        {
            let (ep, shared) = (ep_out.clone(), shared.clone());
            // Bulk-Only Transport sends a data phase that fills its last packet with no
            // zero-length packet after it, so a read must never ask for more than the
            // host will send: read mass storage a packet's worth at a time. PTP hosts end
            // such transfers with a ZLP, so big reads are safe there.
            let chunk = match function {
                Function::MassStorage => MSC_OUT_CHUNK,
                Function::Ptp => OUT_CHUNK,
            };
            threads.push(spawn("ffs-out", move || {
                out_loop(&ep, &shared, &out_tx, chunk)
            }));
        }
        if let Some(ep) = &ep_int {
            let (ep, shared, rx) = (ep.clone(), shared.clone(), event_rx.clone());
            threads.push(spawn("ffs-event", move || event_loop(&ep, &shared, &rx)));
        }
        Gadget {
            config,
            dir: dir.clone(),
            udc,
            shared,
            _ep0: ep0,
            ep_in,
            ep_out,
            ep_int,
            out_rx,
            event_tx: Some(event_tx),
            event_rx,
            threads,
            pipe_taken: AtomicBool::new(false),
            _cleanup: Cleanup {
                dir,
                ffs_mount,
                made,
            },
        }
    }

    /// The settings this gadget was made with.
    pub fn config(&self) -> &GadgetConfig {
        &self.config
    }

    /// The configfs directory (`/sys/kernel/config/usb_gadget/<name>`).
    pub fn configfs_dir(&self) -> &Path {
        &self.dir
    }

    /// The UDC this gadget binds to.
    pub fn udc(&self) -> &str {
        &self.udc
    }

    /// Plugs the cable in: binds the gadget to its UDC (no-op when bound).
    pub fn bind(&self) -> Result<(), GadgetError> {
        let f = self.dir.join("UDC");
        let cur = fs::read_to_string(&f).unwrap_or_default();
        if cur.trim() == self.udc {
            return Ok(());
        }
        write_attr(&f, &self.udc)?;
        log::info!("gadget {} bound to {}", self.config.name, self.udc);
        Ok(())
    }

    /// Pulls the cable: unbinds the gadget from its UDC (no-op when unbound). Blocked
    /// pipe operations fail with `Disconnected`.
    pub fn unbind(&self) -> Result<(), GadgetError> {
        let f = self.dir.join("UDC");
        let cur = fs::read_to_string(&f).unwrap_or_default();
        if cur.trim().is_empty() {
            return Ok(());
        }
        // an empty write never reaches configfs (std skips it); a lone newline unbinds
        write_attr(&f, "\n")?;
        log::info!("gadget {} unbound", self.config.name);
        Ok(())
    }

    /// True while the host has the configuration set (endpoints usable).
    pub fn is_enabled(&self) -> bool {
        self.shared.link().enabled
    }

    /// Waits until the host enables the endpoints; false on timeout or [`Gadget::stop`].
    pub fn wait_enabled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut l = self.shared.link();
        while !l.enabled && !self.shared.stop.load(Ordering::SeqCst) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let step = left.min(TICK);
            l = match self.shared.changed.wait_timeout(l, step) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        l.enabled
    }

    /// Waits until the enable count moves past `seen` (or stop).
    fn wait_enable_after(&self, seen: u64, stop: &AtomicBool) {
        let mut l = self.shared.link();
        while l.enables == seen
            && !stop.load(Ordering::SeqCst)
            && !self.shared.stop.load(Ordering::SeqCst)
        {
            l = match self.shared.changed.wait_timeout(l, TICK) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Number of times the host has enabled the endpoints (one per plug-in or reset).
    pub fn enable_count(&self) -> u64 {
        self.shared.link().enables
    }

    /// Asks the helper threads and [`Gadget::wait_enabled`] to give up.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
    }

    /// PTP Cancel requests seen so far.
    pub fn cancel_count(&self) -> u64 {
        self.shared.cancels.load(Ordering::SeqCst)
    }

    /// Device Reset (PTP) / Bulk-Only Reset (MSC) requests seen so far.
    pub fn reset_count(&self) -> u64 {
        self.shared.resets.load(Ordering::SeqCst)
    }

    /// The response code Get Device Status reports (0 or 0x2001 = OK, e.g. 0x2019
    /// DeviceBusy).
    pub fn set_device_status(&self, code: u16) {
        self.shared.status.store(code, Ordering::SeqCst);
    }

    /// Reads back (address, packet size) of bulk IN, bulk OUT and interrupt IN as the
    /// UDC assigned them. Needs the endpoints enabled (`Unsupported` is not returned:
    /// a disabled endpoint yields `Err(Disconnected)`).
    pub fn endpoints(&self) -> Result<(Endpoint, Endpoint, Option<Endpoint>), TransportError> {
        let i = endpoint_desc(&self.ep_in)?;
        let o = endpoint_desc(&self.ep_out)?;
        let e = match &self.ep_int {
            Some(f) => Some(endpoint_desc(f)?),
            None => None,
        };
        Ok((i, o, e))
    }

    /// The device side of the interface. One at a time; the pipe keeps working across
    /// unbind/bind (operations fail with `Disconnected` while the cable is out).
    pub fn pipe(&self) -> Result<GadgetPipe<'_>, GadgetError> {
        if self.pipe_taken.swap(true, Ordering::SeqCst) {
            return Err(GadgetError::PipeTaken);
        }
        let mps = endpoint_desc(&self.ep_in)
            .map(|e| usize::from(e.max_packet_size))
            .unwrap_or(512);
        Ok(GadgetPipe {
            gadget: self,
            pending: None,
            mps,
            lost: false,
        })
    }

    /// Runs `session` each time the host enables the device, until `stop` is set:
    /// the loop a CLI needs so that unplugging and re-plugging starts a new session.
    /// A session that returns (error or not) is logged; a session that ended because
    /// the endpoints went away is followed by one after the next enable, any other by
    /// the next session on the same device (a host may close and reopen).
    ///
    /// ```no_run
    /// # use alpha_bridge::emulator::gadget::{Gadget, GadgetConfig};
    /// # use std::sync::atomic::AtomicBool;
    /// # fn respond(_: &mut dyn alpha_bridge::transport::DevicePipe, _: &AtomicBool) -> Result<(), String> { Ok(()) }
    /// let stop = AtomicBool::new(false); // set from a Ctrl-C handler
    /// let gadget = Gadget::create(GadgetConfig::default())?;
    /// gadget.serve(&stop, |pipe| respond(pipe, &stop))?;
    /// # Ok::<(), alpha_bridge::emulator::gadget::GadgetError>(())
    /// ```
    pub fn serve<E: std::fmt::Display>(
        &self,
        stop: &AtomicBool,
        mut session: impl FnMut(&mut GadgetPipe<'_>) -> Result<(), E>,
    ) -> Result<(), GadgetError> {
        let mut pipe = self.pipe()?;
        let mut last = 0;
        while !stop.load(Ordering::SeqCst) {
            if !self.wait_enabled(TICK) {
                continue;
            }
            let n = self.enable_count();
            if n != last {
                // a new plug-in or host reset: forget the previous session's leftovers
                last = n;
                pipe.reset();
                match self.endpoints() {
                    Ok((i, o, e)) => {
                        log::info!(
                            "host enabled the device: bulk in {:#04x} out {:#04x} (mps {}){}",
                            i.address,
                            o.address,
                            i.max_packet_size,
                            e.map(|e| format!(", interrupt in {:#04x}", e.address))
                                .unwrap_or_default()
                        );
                        pipe.mps = usize::from(i.max_packet_size).max(1);
                    }
                    Err(e) => log::info!("host enabled the device (endpoints: {e})"),
                }
            }
            // A session that ends while the device stays enabled (CloseSession, a
            // host program exiting) is followed by the next one on the same device.
            let started = Instant::now();
            match session(&mut pipe) {
                Ok(()) => log::info!("session ended"),
                Err(e) => log::info!("session ended: {e}"),
            }
            if pipe.lost {
                // The endpoints were disabled under the session; the ep0 thread may not
                // have seen the DISABLE yet, so wait for the next ENABLE explicitly.
                pipe.lost = false;
                self.wait_enable_after(last, stop);
            } else if started.elapsed() < TICK {
                std::thread::sleep(TICK); // no busy loop on a session that fails at once
            }
        }
        Ok(())
    }
}

impl Drop for Gadget {
    fn drop(&mut self) {
        self.stop();
        let _ = self.unbind();
        // The ep0 thread polls; the OUT reader and the event writer wake on the
        // disable that the unbind caused, or on their tick.
        self.event_tx = None;
        // Joined so that the endpoint files they hold close with our fields; then
        // `cleanup` (the last field) unmounts FunctionFS and removes the directories.
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The device side of the gadget's interface, borrowed from the [`Gadget`].
pub struct GadgetPipe<'a> {
    gadget: &'a Gadget,
    /// The rest of an OUT chunk a smaller `read_out` buffer could not take.
    pending: Option<(Vec<u8>, usize)>,
    mps: usize,
    /// Set when an operation found the endpoints disabled (cable out, host reset).
    lost: bool,
}

impl GadgetPipe<'_> {
    /// Forgets data and disconnect notices from an earlier session.
    pub fn reset(&mut self) {
        self.pending = None;
        while self.gadget.out_rx.try_recv().is_ok() {}
    }

    /// Clears a halt the device set on bulk IN (after a host ClearFeature).
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    pub fn clear_halt_in(&self) -> Result<(), TransportError> {
        // SAFETY: a plain ioctl without an argument on an open descriptor.
        let r = unsafe { libc::ioctl(self.gadget.ep_in.as_raw_fd(), IOCTL_CLEAR_HALT as _) };
        if r < 0 {
            return Err(ep_error(
                "clearing the bulk IN halt",
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}

impl Drop for GadgetPipe<'_> {
    fn drop(&mut self) {
        self.gadget.pipe_taken.store(false, Ordering::SeqCst);
    }
}

impl GadgetPipe<'_> {
    fn note<T>(&mut self, r: Result<T, TransportError>) -> Result<T, TransportError> {
        if matches!(&r, Err(e) if e.kind == ErrorKind::Disconnected) {
            self.lost = true;
        }
        r
    }

    fn read_out_inner(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        if self.pending.is_none() {
            match self.gadget.out_rx.recv_timeout(timeout) {
                Ok(OutItem::Data(d)) => {
                    if d.is_empty() {
                        return Ok(0);
                    }
                    self.pending = Some((d, 0));
                }
                Ok(OutItem::Disconnected) => return Err(TransportError::disconnected()),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(TransportError::timeout("a command from the host"))
                }
                Err(RecvTimeoutError::Disconnected) => return Err(TransportError::disconnected()),
            }
        }
        let Some((data, pos)) = self.pending.as_mut() else {
            return Ok(0);
        };
        let n = (data.len() - *pos).min(buf.len());
        buf[..n].copy_from_slice(&data[*pos..*pos + n]);
        *pos += n;
        if *pos >= data.len() {
            self.pending = None;
        }
        Ok(n)
    }

    fn write_in_inner(&mut self, data: &[u8]) -> Result<(), TransportError> {
        write_all(&self.gadget.ep_in, data, "bulk IN")?;
        // FunctionFS does not set `zero` on requests: a transfer that fills its last
        // packet needs an explicit zero-length write, or the host keeps waiting.
        if !data.is_empty() && data.len().is_multiple_of(self.mps) {
            write_once(&self.gadget.ep_in, &[], "bulk IN")?;
        }
        Ok(())
    }
}

impl DevicePipe for GadgetPipe<'_> {
    fn read_out(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let r = self.read_out_inner(buf, timeout);
        self.note(r)
    }

    fn write_in(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let r = self.write_in_inner(data);
        self.note(r)
    }

    fn write_event(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let Some(tx) = &self.gadget.event_tx else {
            return Err(TransportError::disconnected());
        };
        if self.gadget.ep_int.is_none() {
            return Err(TransportError::new(
                ErrorKind::Unsupported,
                "this function has no interrupt endpoint",
            ));
        }
        let mut item = data.to_vec();
        loop {
            match tx.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(back)) => {
                    // the host is not polling events: drop the oldest, keep the newest
                    let _ = self.gadget.event_rx.try_recv();
                    log::debug!("event queue full, dropped the oldest event");
                    item = back;
                }
                Err(TrySendError::Disconnected(_)) => return Err(TransportError::disconnected()),
            }
        }
    }

    fn max_packet_size(&self) -> usize {
        self.mps
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("spawning a gadget thread")
}

fn ep_error(what: &str, e: io::Error) -> TransportError {
    match e.raw_os_error() {
        // disabled endpoint (non-blocking open), request dequeued by disable/unbind
        Some(libc::EAGAIN)
        | Some(libc::ESHUTDOWN)
        | Some(libc::ECONNRESET)
        | Some(libc::ENODEV)
        | Some(libc::EIO) => TransportError::disconnected(),
        Some(libc::EPIPE) | Some(libc::EBADMSG) => {
            TransportError::new(ErrorKind::Stall, format!("{what}: endpoint halted"))
        }
        Some(libc::EINTR) => TransportError::new(ErrorKind::Other, format!("{what}: interrupted")),
        _ => TransportError::new(ErrorKind::Other, format!("{what}: {e}")),
    }
}

fn write_once(f: &File, data: &[u8], what: &str) -> Result<usize, TransportError> {
    let mut f: &File = f;
    loop {
        match f.write(data) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ep_error(what, e)),
        }
    }
}

/// Writes one IN transfer. Large transfers go as several requests of `IN_CHUNK`
/// bytes: each is a whole number of packets, so the host still sees one transfer (it
/// ends only at the short or zero-length packet), and the kernel never needs a large
/// contiguous buffer.
fn write_all(f: &File, data: &[u8], what: &str) -> Result<(), TransportError> {
    if data.is_empty() {
        write_once(f, data, what)?;
        return Ok(());
    }
    let mut pos = 0;
    while pos < data.len() {
        let end = data.len().min(pos + IN_CHUNK);
        let n = write_once(f, &data[pos..end], what)?;
        if n == 0 {
            return Err(TransportError::new(
                ErrorKind::Other,
                format!("{what}: the kernel accepted no bytes"),
            ));
        }
        pos += n;
    }
    Ok(())
}

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn endpoint_desc(f: &File) -> Result<Endpoint, TransportError> {
    let mut d = [0u8; 9];
    // SAFETY: FUNCTIONFS_ENDPOINT_DESC copies a 9-byte usb_endpoint_descriptor into
    // the buffer we pass, which is exactly that size.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), IOCTL_ENDPOINT_DESC as _, d.as_mut_ptr()) };
    if r < 0 {
        return Err(ep_error(
            "reading the endpoint descriptor",
            io::Error::last_os_error(),
        ));
    }
    Ok(Endpoint {
        address: d[2],
        max_packet_size: u16::from_le_bytes([d[4], d[5]]),
    })
}

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn ep0_loop(ep0: &File, shared: &Shared, function: Function) {
    let mut buf = [0u8; EVENT_SIZE * 4];
    while !shared.stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: ep0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, TICK.as_millis() as libc::c_int) };
        if r <= 0 {
            continue;
        }
        let n = match (&*ep0).read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::error!("reading FunctionFS events failed: {e}");
                std::thread::sleep(TICK);
                continue;
            }
        };
        for ev in buf[..n].chunks_exact(EVENT_SIZE) {
            match ev[8] {
                EVENT_BIND => {
                    log::debug!("ffs: bind");
                    shared.set(|l| l.bound = true);
                }
                EVENT_UNBIND => {
                    log::info!("ffs: unbind (cable pulled)");
                    shared.set(|l| {
                        l.bound = false;
                        l.enabled = false;
                    });
                }
                EVENT_ENABLE => {
                    log::info!("ffs: enable (host set the configuration)");
                    shared.set(|l| {
                        l.enabled = true;
                        l.enables += 1;
                    });
                }
                EVENT_DISABLE => {
                    log::info!("ffs: disable");
                    shared.set(|l| l.enabled = false);
                }
                EVENT_SUSPEND | EVENT_RESUME => log::debug!("ffs: suspend/resume {}", ev[8]),
                EVENT_SETUP => {
                    let mut s = [0u8; 8];
                    s.copy_from_slice(&ev[..8]);
                    setup(ep0, shared, function, &s);
                }
                other => log::debug!("ffs: unknown event {other}"),
            }
        }
    }
}

/// Answers one control request that FunctionFS passed up. The data stage (or the
/// status stage) is done by a read or write on ep0 in the request's direction; an I/O
/// in the other direction stalls.
fn setup(ep0: &File, shared: &Shared, function: Function, s: &[u8; 8]) {
    let (rt, req) = (s[0], s[1]);
    let len = usize::from(u16::from_le_bytes([s[6], s[7]]));
    let dir_in = rt & USB_DIR_IN != 0;
    let class = rt & USB_TYPE_MASK == USB_TYPE_CLASS;
    let mut ep0: &File = ep0;
    let answer: Option<Vec<u8>> = match (function, class, req) {
        (Function::Ptp, true, PTP_GET_DEVICE_STATUS) if dir_in => {
            let code = match shared.status.load(Ordering::SeqCst) {
                0 => ResponseCode::OK,
                c => ResponseCode(c),
            };
            log::debug!("ptp: get device status -> {code}");
            Some(container::device_status(code).to_vec())
        }
        (Function::Ptp, true, PTP_CANCEL) if !dir_in => {
            let mut d = vec![0u8; len.min(64)];
            let n = ep0.read(&mut d).unwrap_or(0);
            shared.cancels.fetch_add(1, Ordering::SeqCst);
            match container::parse_cancel_request(&d[..n]) {
                Some(tid) => log::info!("ptp: cancel request for transaction {tid}"),
                None => log::info!("ptp: cancel request {:02x?}", &d[..n]),
            }
            return;
        }
        (Function::Ptp, true, PTP_DEVICE_RESET) if !dir_in => {
            let _ = ep0.read(&mut []);
            shared.resets.fetch_add(1, Ordering::SeqCst);
            log::info!("ptp: device reset request");
            return;
        }
        (Function::MassStorage, true, MSC_GET_MAX_LUN) if dir_in => Some(vec![0]),
        (Function::MassStorage, true, MSC_RESET) if !dir_in => {
            let _ = ep0.read(&mut []);
            shared.resets.fetch_add(1, Ordering::SeqCst);
            log::info!("msc: bulk-only reset");
            return;
        }
        _ => None,
    };
    match answer {
        Some(mut v) => {
            v.truncate(len);
            if let Err(e) = ep0.write(&v) {
                log::warn!("answering control request {req:#04x} failed: {e}");
            }
        }
        None => {
            if req != PTP_GET_EXTENDED_EVENT_DATA {
                log::debug!("stalling control request type {rt:#04x} request {req:#04x}");
            }
            // the wrong direction makes FunctionFS stall ep0; the error is expected
            if dir_in {
                let _ = ep0.read(&mut []);
            } else {
                let _ = ep0.write(&[]);
            }
        }
    }
}

fn out_loop(ep: &File, shared: &Shared, tx: &Sender<OutItem>, chunk: usize) {
    let mut was_up = false;
    while !shared.stop.load(Ordering::SeqCst) {
        let mut buf = vec![0u8; chunk];
        match (&*ep).read(&mut buf) {
            Ok(n) => {
                was_up = true;
                buf.truncate(n);
                if tx.send(OutItem::Data(buf)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                if e.raw_os_error() != Some(libc::EAGAIN) {
                    log::debug!("bulk OUT read: {e}");
                }
                if was_up {
                    was_up = false;
                    let _ = tx.send_timeout(OutItem::Disconnected, TICK);
                }
                // disabled: wait for the next enable (or stop) without spinning
                let l = shared.link();
                if !l.enabled {
                    let _ = shared.changed.wait_timeout(l, TICK);
                } else {
                    drop(l);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

fn event_loop(ep: &File, shared: &Shared, rx: &Receiver<Vec<u8>>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let ev = match rx.recv_timeout(TICK) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if let Err(e) = write_once(ep, &ev, "interrupt IN") {
            // events of a session the host left are meaningless in the next one
            log::debug!("dropping event: {e}");
            while rx.try_recv().is_ok() {}
        }
    }
}

struct EpFiles {
    ep0: File,
    ep_in: File,
    ep_out: File,
    ep_int: Option<File>,
}

fn ensure_configfs() -> Result<(), GadgetError> {
    if Path::new(GADGETS).is_dir() {
        return Ok(());
    }
    if Path::new(CONFIGFS).is_dir() {
        // configfs may just not be mounted yet (no systemd, a minimal VM)
        let _ = mount("none", CONFIGFS, "configfs", None);
    }
    if Path::new(GADGETS).is_dir() {
        Ok(())
    } else {
        Err(GadgetError::NoConfigfs)
    }
}

fn pick_udc(want: Option<&str>) -> Result<String, GadgetError> {
    let mut all: Vec<String> = fs::read_dir(UDC_CLASS)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    match want {
        Some(w) if all.iter().any(|u| u == w) => Ok(w.to_string()),
        Some(w) => Err(GadgetError::UdcNotFound(w.to_string())),
        None => all.into_iter().next().ok_or(GadgetError::NoUdc),
    }
}

/// configfs names: keep them to a safe alphabet so a name can't escape the directory.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(32)
        .collect();
    if s.is_empty() {
        "alpha-bridge".into()
    } else {
        s
    }
}

fn write_attr(path: &Path, value: &str) -> Result<(), GadgetError> {
    // configfs attributes want one write with the whole value
    fs::write(path, value).map_err(|e| io_err(format!("writing {}", path.display()), e))
}

fn make_dir(path: &Path, made: &mut Made) -> Result<(), GadgetError> {
    match fs::create_dir(path) {
        Ok(()) => {
            made.dirs.push(path.to_path_buf());
            Ok(())
        }
        // configfs creates some directories (strings/0x409 of a config) on its own
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(format!("creating {}", path.display()), e)),
    }
}

fn build(
    c: &GadgetConfig,
    name: &str,
    dir: &Path,
    ffs_mount: &Path,
    made: &mut Made,
) -> Result<EpFiles, GadgetError> {
    make_dir(dir, made)?;
    write_attr(&dir.join("idVendor"), &format!("{:#06x}", c.vid))?;
    write_attr(&dir.join("idProduct"), &format!("{:#06x}", c.pid))?;
    write_attr(&dir.join("bcdDevice"), "0x0100")?;
    write_attr(&dir.join("bcdUSB"), "0x0200")?;
    let strings = dir.join("strings/0x409");
    make_dir(&strings, made)?;
    write_attr(&strings.join("manufacturer"), &c.manufacturer)?;
    write_attr(&strings.join("product"), &c.product)?;
    write_attr(&strings.join("serialnumber"), &c.serial)?;
    let cfg = dir.join("configs/c.1");
    make_dir(&cfg, made)?;
    let cfg_strings = cfg.join("strings/0x409");
    make_dir(&cfg_strings, made)?;
    let label = match c.function {
        Function::Ptp => "PTP",
        Function::MassStorage => "Mass Storage",
    };
    write_attr(&cfg_strings.join("configuration"), label)?;
    write_attr(&cfg.join("MaxPower"), "500")?;
    let func = dir.join(format!("functions/ffs.{name}"));
    match fs::create_dir(&func) {
        Ok(()) => made.dirs.push(func.clone()),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV) => {
            return Err(GadgetError::NoFunctionFs)
        }
        Err(e) => return Err(io_err(format!("creating {}", func.display()), e)),
    }
    let link = cfg.join(format!("ffs.{name}"));
    std::os::unix::fs::symlink(&func, &link)
        .map_err(|e| io_err(format!("linking {}", link.display()), e))?;
    made.link = Some(link);

    if !ffs_mount.is_dir() {
        fs::create_dir_all(ffs_mount)
            .map_err(|e| io_err(format!("creating {}", ffs_mount.display()), e))?;
        made.mount_dir = true;
    }
    mount(name, &ffs_mount.to_string_lossy(), "functionfs", None)
        .map_err(|e| io_err(format!("mounting FunctionFS on {}", ffs_mount.display()), e))?;
    made.mounted = true;

    let open = |n: &str, nonblock: bool| {
        let p = ffs_mount.join(n);
        OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(if nonblock { libc::O_NONBLOCK } else { 0 })
            .open(&p)
            .map_err(|e| io_err(format!("opening {}", p.display()), e))
    };
    let mut ep0 = open("ep0", false)?;
    ep0.write_all(&descriptors(c.function))
        .map_err(|e| io_err("writing the FunctionFS descriptors", e))?;
    ep0.write_all(&strings_blob(c.function))
        .map_err(|e| io_err("writing the FunctionFS strings", e))?;
    set_nonblocking(&ep0);
    // Endpoint files are non-blocking so that I/O on a disabled endpoint (cable out)
    // fails at once instead of waiting for the next plug-in and sending stale data.
    let ep_in = open("ep1", true)?;
    let ep_out = open("ep2", true)?;
    let ep_int = match c.function {
        Function::Ptp => Some(open("ep3", true)?),
        Function::MassStorage => None,
    };
    Ok(EpFiles {
        ep0,
        ep_in,
        ep_out,
        ep_int,
    })
}

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn set_nonblocking(f: &File) {
    // SAFETY: fcntl on an open descriptor with integer arguments.
    unsafe {
        let fl = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn mount(source: &str, target: &str, fstype: &str, data: Option<&str>) -> io::Result<()> {
    let c = |s: &str| CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let (src, tgt, ty) = (c(source)?, c(target)?, c(fstype)?);
    let data = data.map(c).transpose()?;
    // SAFETY: NUL-terminated strings that live across the call.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            ty.as_ptr(),
            0,
            data.as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr() as *const libc::c_void),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn umount(target: &Path) {
    if let Ok(t) = CString::new(target.to_string_lossy().as_bytes()) {
        // SAFETY: a NUL-terminated path.
        let r = unsafe { libc::umount2(t.as_ptr(), 0) };
        if r != 0 {
            log::warn!(
                "unmounting {} failed: {}",
                target.display(),
                io::Error::last_os_error()
            );
        }
    }
}

fn undo(dir: &Path, ffs_mount: &Path, made: &mut Made) {
    let _ = fs::write(dir.join("UDC"), "\n");
    if made.mounted {
        umount(ffs_mount);
        made.mounted = false;
    }
    if made.mount_dir {
        let _ = fs::remove_dir(ffs_mount);
        made.mount_dir = false;
    }
    if let Some(l) = made.link.take() {
        let _ = fs::remove_file(l);
    }
    while let Some(d) = made.dirs.pop() {
        if let Err(e) = fs::remove_dir(&d) {
            log::warn!("removing {} failed: {e}", d.display());
        }
    }
}

/// Takes apart a gadget directory someone else left (configfs needs the reverse order
/// of creation: unbind, links, config strings, configs, functions, strings, the dir).
fn remove_stale(dir: &Path) -> io::Result<()> {
    let _ = fs::write(dir.join("UDC"), "\n");
    let list = |p: PathBuf| -> Vec<PathBuf> {
        fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    for cfg in list(dir.join("configs")) {
        for e in list(cfg.clone()) {
            if e.is_symlink() {
                fs::remove_file(&e)?;
            }
        }
        for s in list(cfg.join("strings")) {
            fs::remove_dir(s)?;
        }
        fs::remove_dir(&cfg)?;
    }
    for f in list(dir.join("functions")) {
        if let Some(n) = f.file_name().and_then(|n| n.to_str()) {
            if let Some(inst) = n.strip_prefix("ffs.") {
                // a FunctionFS instance can only go once its filesystem is unmounted
                let m = PathBuf::from(format!("/dev/ffs-{inst}"));
                if m.is_dir() {
                    umount(&m);
                }
            }
        }
        fs::remove_dir(&f)?;
    }
    for s in list(dir.join("strings")) {
        fs::remove_dir(s)?;
    }
    fs::remove_dir(dir)
}

fn le16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn le32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// One speed's interface + endpoint descriptors; returns how many descriptors.
fn speed_descs(v: &mut Vec<u8>, function: Function, bulk_mps: u16, int_interval: u8) -> u32 {
    let (class, sub, proto, n_eps) = match function {
        Function::Ptp => (0x06, 0x01, 0x01, 3),
        Function::MassStorage => (0x08, 0x06, 0x50, 2),
    };
    // interface: bLength, type 4, number 0, alt 0, endpoints, class, sub, proto, iInterface 1
    v.extend_from_slice(&[9, 4, 0, 0, n_eps, class, sub, proto, 1]);
    // endpoints (no audio): bLength 7, type 5, address, attributes, wMaxPacketSize, interval
    let ep = |v: &mut Vec<u8>, addr: u8, attr: u8, mps: u16, interval: u8| {
        v.extend_from_slice(&[7, 5, addr, attr]);
        le16(v, mps);
        v.push(interval);
    };
    ep(v, 0x81, 0x02, bulk_mps, 0);
    ep(v, 0x02, 0x02, bulk_mps, 0);
    if function == Function::Ptp {
        ep(v, 0x83, 0x03, 64, int_interval);
    }
    1 + u32::from(n_eps)
}

/// The FunctionFS v2 descriptor blob: full speed (bulk 64) and high speed (bulk 512).
fn descriptors(function: Function) -> Vec<u8> {
    let mut fs = Vec::new();
    let fs_count = speed_descs(&mut fs, function, 64, 10);
    let mut hs = Vec::new();
    // high-speed bInterval 8 = 2^(8-1) microframes = 16 ms, about full speed's 10 ms
    let hs_count = speed_descs(&mut hs, function, 512, 8);
    let mut v = Vec::new();
    le32(&mut v, DESCRIPTORS_MAGIC_V2);
    le32(&mut v, 0); // length, patched below
    le32(&mut v, HAS_FS_DESC | HAS_HS_DESC);
    le32(&mut v, fs_count);
    le32(&mut v, hs_count);
    v.extend_from_slice(&fs);
    v.extend_from_slice(&hs);
    let len = v.len() as u32;
    v[4..8].copy_from_slice(&len.to_le_bytes());
    v
}

/// The FunctionFS strings blob: one language (en-US), one string (the interface name).
fn strings_blob(function: Function) -> Vec<u8> {
    let name: &[u8] = match function {
        Function::Ptp => b"Sony PTP",
        Function::MassStorage => b"Sony Mass Storage",
    };
    let mut v = Vec::new();
    le32(&mut v, STRINGS_MAGIC);
    le32(&mut v, 0);
    le32(&mut v, 1); // str_count
    le32(&mut v, 1); // lang_count
    le16(&mut v, 0x0409);
    v.extend_from_slice(name);
    v.push(0);
    let len = v.len() as u32;
    v[4..8].copy_from_slice(&len.to_le_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptp_descriptors_layout() {
        let d = descriptors(Function::Ptp);
        // header 5 words + 2 x (interface 9 + 3 endpoints x 7)
        assert_eq!(d.len(), 20 + 2 * (9 + 21));
        assert_eq!(
            u32::from_le_bytes(d[4..8].try_into().unwrap()) as usize,
            d.len()
        );
        assert_eq!(&d[12..20], &[4, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(&d[20..29], &[9, 4, 0, 0, 3, 6, 1, 1, 1]);
        // full-speed bulk IN 64, high-speed bulk IN 512
        assert_eq!(&d[29..36], &[7, 5, 0x81, 2, 64, 0, 0]);
        assert_eq!(&d[50..59], &[9, 4, 0, 0, 3, 6, 1, 1, 1]);
        assert_eq!(&d[59..66], &[7, 5, 0x81, 2, 0, 2, 0]);
        assert_eq!(&d[73..80], &[7, 5, 0x83, 3, 64, 0, 8]);
    }

    #[test]
    fn msc_descriptors_layout() {
        let d = descriptors(Function::MassStorage);
        assert_eq!(d.len(), 20 + 2 * (9 + 14));
        assert_eq!(&d[20..29], &[9, 4, 0, 0, 2, 8, 6, 0x50, 1]);
        assert_eq!(&d[12..16], &[3, 0, 0, 0]);
    }

    #[test]
    fn strings_layout() {
        let s = strings_blob(Function::Ptp);
        assert_eq!(
            u32::from_le_bytes(s[4..8].try_into().unwrap()) as usize,
            s.len()
        );
        assert_eq!(&s[16..18], &[0x09, 0x04]);
        assert_eq!(*s.last().unwrap(), 0);
    }

    #[test]
    fn names_cannot_escape_configfs() {
        assert_eq!(sanitize("../../etc"), "etc");
        assert_eq!(sanitize("///"), "alpha-bridge");
        assert_eq!(sanitize("cam_1-a"), "cam_1-a");
    }

    #[test]
    #[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit targets
    fn ioctl_numbers_match_the_kernel_macros() {
        // _IOR('g', 130, 9-byte struct) and _IO('g', 3)
        let ior = (2u64 << 30) | (9 << 16) | (u64::from(b'g') << 8) | 130;
        assert_eq!(IOCTL_ENDPOINT_DESC as u64, ior);
        assert_eq!(IOCTL_CLEAR_HALT as u64, (u64::from(b'g') << 8) | 3);
    }
}
