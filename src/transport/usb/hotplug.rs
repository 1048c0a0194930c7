//! Arrivals and departures of Sony devices: a watcher thread that rescans every second
//! and sooner when libusb hotplug says something changed.

use super::device::UsbDeviceInfo;
use super::enumerate::list_with;
use super::error::context;
use super::SONY_VID;
use crate::transport::{ErrorKind, TransportError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, SendTimeoutError};
use rusb::UsbContext;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Whether libusb can report arrivals and departures here (else [`UsbWatcher`] polls).
pub fn hotplug_supported() -> bool {
    // rusb::has_hotplug() first starts rusb's global context, which panics where libusb
    // cannot start (no usbfs): start our own context first, and only ask when that works.
    context().is_ok() && rusb::has_hotplug()
}

/// A Sony device came or went. A mode change on the camera shows as `Left` then
/// `Arrived` (the body re-enumerates with a new address and product id).
#[derive(Debug, Clone)]
pub enum UsbEvent {
    /// A device was plugged in.
    Arrived(UsbDeviceInfo),
    /// A device was removed.
    Left(UsbDeviceInfo),
}

/// The events that turn device list `before` into `after` (identity: bus, address,
/// product id). Departures come first.
pub fn diff_devices(before: &[UsbDeviceInfo], after: &[UsbDeviceInfo]) -> Vec<UsbEvent> {
    let key = |i: &UsbDeviceInfo| (i.bus, i.address, i.product_id);
    let mut events: Vec<UsbEvent> = before
        .iter()
        .filter(|b| !after.iter().any(|a| key(a) == key(b)))
        .map(|b| UsbEvent::Left(b.clone()))
        .collect();
    events.extend(
        after
            .iter()
            .filter(|a| !before.iter().any(|b| key(a) == key(b)))
            .map(|a| UsbEvent::Arrived(a.clone())),
    );
    events
}

/// Watches for Sony devices coming and going, on its own thread (`usb-watch`). Devices
/// present at start are reported as `Arrived` first. It rescans every second with a
/// fresh libusb context (a long-lived context only learns of changes through udev
/// events, which containers and minimal systems lack) and earlier when libusb hotplug
/// reports a change.
pub struct UsbWatcher {
    rx: Receiver<UsbEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    hotplug: bool,
}

struct HotplugFlag(Arc<AtomicBool>);

impl rusb::Hotplug<rusb::Context> for HotplugFlag {
    // Only raise a flag: synchronous libusb calls are not allowed inside the callback.
    fn device_arrived(&mut self, _device: rusb::Device<rusb::Context>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn device_left(&mut self, _device: rusb::Device<rusb::Context>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

const POLL_INTERVAL: Duration = Duration::from_secs(1);
const WAKE_INTERVAL: Duration = Duration::from_millis(200);

/// One rescan with a fresh context.
fn scan(known: &[UsbDeviceInfo]) -> Result<Vec<UsbDeviceInfo>, TransportError> {
    let ctx = context()?;
    list_with(&ctx, known)
}

impl UsbWatcher {
    /// Starts watching; fails only when there is no USB access at all.
    pub fn start() -> Result<UsbWatcher, TransportError> {
        let initial = scan(&[])?;
        let stop = Arc::new(AtomicBool::new(false));
        let dirty = Arc::new(AtomicBool::new(false));
        // `scan` just started a context, so rusb's global one starts too (see
        // `hotplug_supported`).
        let hotplug_ctx = if rusb::has_hotplug() {
            let ctx = context()?;
            let mut b = rusb::HotplugBuilder::new();
            b.vendor_id(SONY_VID);
            match b.register(&ctx, Box::new(HotplugFlag(dirty.clone()))) {
                Ok(r) => Some((ctx, r)),
                Err(e) => {
                    log::debug!("usb: hotplug registration failed ({e}); polling only");
                    None
                }
            }
        } else {
            None
        };
        let hotplug = hotplug_ctx.is_some();
        log::debug!(
            "usb watcher: polling every second{}",
            if hotplug {
                ", woken by libusb hotplug"
            } else {
                ""
            }
        );
        let (tx, rx) = bounded(64);
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("usb-watch".into())
            .spawn(move || {
                let send = |ev: UsbEvent| -> bool {
                    let mut ev = ev;
                    loop {
                        match tx.send_timeout(ev, WAKE_INTERVAL) {
                            Ok(()) => return true,
                            Err(SendTimeoutError::Disconnected(_)) => return false,
                            Err(SendTimeoutError::Timeout(back)) => {
                                if stop2.load(Ordering::SeqCst) {
                                    return false;
                                }
                                ev = back;
                            }
                        }
                    }
                };
                let mut known = Vec::new();
                let mut pending = Some(initial);
                let mut last_scan = Instant::now();
                let mut warned = false;
                while !stop2.load(Ordering::SeqCst) {
                    let now = match pending.take() {
                        Some(list) => Some(list),
                        None => {
                            match &hotplug_ctx {
                                Some((ctx, _registration)) => {
                                    if let Err(e) = ctx.handle_events(Some(WAKE_INTERVAL)) {
                                        log::debug!("usb watcher: handle_events: {e}");
                                        std::thread::sleep(WAKE_INTERVAL);
                                    }
                                }
                                None => std::thread::sleep(WAKE_INTERVAL),
                            }
                            let woken = dirty.swap(false, Ordering::SeqCst);
                            if woken || last_scan.elapsed() >= POLL_INTERVAL {
                                last_scan = Instant::now();
                                match scan(&known) {
                                    Ok(l) => {
                                        warned = false;
                                        Some(l)
                                    }
                                    Err(e) => {
                                        if !warned {
                                            log::warn!("usb watcher: {e}");
                                            warned = true;
                                        }
                                        None
                                    }
                                }
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(now) = now {
                        for ev in diff_devices(&known, &now) {
                            log::debug!("usb watcher: {ev:?}");
                            if !send(ev) {
                                return;
                            }
                        }
                        known = now;
                    }
                }
            })
            .map_err(|e| {
                TransportError::new(ErrorKind::Other, format!("cannot start usb watcher: {e}"))
            })?;
        Ok(UsbWatcher {
            rx,
            stop,
            thread: Some(thread),
            hotplug,
        })
    }

    /// Whether libusb hotplug wakes this watcher early (it polls every second anyway).
    pub fn uses_hotplug(&self) -> bool {
        self.hotplug
    }

    /// The next event, or `None` after `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<UsbEvent>, TransportError> {
        match self.rx.recv_timeout(timeout) {
            Ok(ev) => Ok(Some(ev)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(TransportError::new(
                ErrorKind::Other,
                "the usb watcher thread stopped",
            )),
        }
    }

    /// The event channel, for `select!` with other channels.
    pub fn events(&self) -> &Receiver<UsbEvent> {
        &self.rx
    }
}

impl Drop for UsbWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
