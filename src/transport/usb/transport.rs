//! The claimed interface as a [`Transport`]: bulk writes split and ended with a
//! zero-length packet where PTP needs one, bulk and interrupt reads, clear-halt, class
//! requests. Claiming (configuration, kernel driver, interface, alternate setting) is
//! undone by a drop guard, on every exit path of [`open`] and when the transport goes.

use super::descriptor::{
    find_interface, interfaces_of, needs_zlp, select_endpoints, Endpoints, InterfaceClass,
};
use super::device::{Selector, UsbDeviceInfo};
use super::enumerate::list_with;
use super::error::{check_usbfs, context, usb_error, Loc, USBFS};
use crate::transport::{ErrorKind, Pipe, Transport, TransportError};
use rusb::UsbContext;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// bmRequestType for a class request to an interface, host to device.
const CLASS_OUT: u8 = 0x21;
/// bmRequestType for a class request to an interface, device to host.
const CLASS_IN: u8 = 0xA1;

/// One libusb transfer at most this long: a multiple of every bulk packet size (64, 512,
/// 1024), so splitting a write at this size never inserts a short packet, and far below
/// libusb's `int` length.
pub(super) const MAX_TRANSFER: usize = 16 * 1024 * 1024;

/// libusb treats a 0 ms timeout as "wait forever"; never ask for that by accident.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// A claimed PTP or mass-storage interface of a Sony body. Writes on a PTP interface end
/// with a zero-length packet when their length is a multiple of wMaxPacketSize; on a
/// mass-storage interface they never do (see [`InterfaceClass::ends_writes_with_zlp`]).
pub struct UsbTransport {
    claim: Claim,
    info: UsbDeviceInfo,
    class: InterfaceClass,
    endpoints: Endpoints,
}

/// An opened device and what was done to take one of its interfaces. Dropping it undoes
/// that: the interface is released if it was claimed, and a kernel driver that was
/// detached (usb-storage for mass storage) is given back. [`open`] builds it step by
/// step, so an error at any step unwinds exactly the steps before it.
struct Claim {
    handle: rusb::DeviceHandle<rusb::Context>,
    interface: u8,
    detached: bool,
    claimed: bool,
    bus: u8,
    address: u8,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.claimed {
            match self.handle.release_interface(self.interface) {
                Ok(()) => log::debug!(
                    "usb {:03}/{:03}: released interface {}",
                    self.bus,
                    self.address,
                    self.interface
                ),
                Err(e) => log::debug!("usb: releasing interface {}: {e}", self.interface),
            }
        }
        if self.detached {
            match self.handle.attach_kernel_driver(self.interface) {
                Ok(()) => log::debug!(
                    "usb: kernel driver re-attached to interface {}",
                    self.interface
                ),
                Err(e) => log::warn!(
                    "could not give interface {} back to its kernel driver ({e}); replug the camera to restore it",
                    self.interface
                ),
            }
        }
    }
}

impl fmt::Debug for UsbTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsbTransport")
            .field("bus", &self.info.bus)
            .field("address", &self.info.address)
            .field("class", &self.class)
            .field("interface", &self.claim.interface)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// Opens the device `selector` names and claims its `class` interface.
pub fn open(selector: &Selector, class: InterfaceClass) -> Result<UsbTransport, TransportError> {
    let ctx = context()?;
    let devices = list_with(&ctx, &[])?;
    check_usbfs(!devices.is_empty(), Path::new(USBFS).exists())?;
    let Some(info) = devices.iter().find(|i| selector.matches(i, class)) else {
        return Err(not_found(selector, class, &devices));
    };
    let info = info.clone();
    let loc = Loc {
        what: "opening the camera",
        bus: info.bus,
        address: info.address,
    };
    if !info.offers(class) {
        return Err(TransportError::new(
            ErrorKind::NotFound,
            format!(
                "{} ({}) has no {} interface: it is in {} mode; run `alpha-bridge list` for what to change on the camera",
                info.display_name(),
                info.dev_node(),
                class.name(),
                info.mode
            ),
        ));
    }
    let iface = find_interface(&info.interfaces, class, info.active_config)
        .cloned()
        .ok_or_else(|| TransportError::new(ErrorKind::NotFound, "interface vanished"))?;
    let endpoints = select_endpoints(&iface)?;

    let dev = ctx
        .devices()
        .map_err(|e| usb_error(e, loc))?
        .iter()
        .find(|d| d.bus_number() == info.bus && d.address() == info.address)
        .ok_or_else(|| usb_error(rusb::Error::NoDevice, loc))?;
    let handle = dev.open().map_err(|e| usb_error(e, loc))?;

    let active = handle.active_configuration().ok();
    log::debug!(
        "usb {:03}/{:03}: {} interface {} alt {} in configuration {} (active {:?})",
        info.bus,
        info.address,
        class.name(),
        iface.number,
        iface.alt_setting,
        iface.config_value,
        active
    );
    if active != Some(iface.config_value) {
        log::info!(
            "usb {:03}/{:03}: switching to configuration {}",
            info.bus,
            info.address,
            iface.config_value
        );
        // Linux refuses SET_CONFIGURATION while a kernel driver holds an interface of the
        // current one; the kernel rebinds drivers itself after the switch, so no re-attach.
        if let Some(current) = active {
            for n in interfaces_of(&info.interfaces, current) {
                if handle.kernel_driver_active(n).unwrap_or(false) {
                    log::debug!("usb: detaching kernel driver from interface {n} of configuration {current}");
                    let _ = handle.detach_kernel_driver(n);
                }
            }
        }
        handle
            .set_active_configuration(iface.config_value)
            .map_err(|e| {
                usb_error(
                    e,
                    Loc {
                        what: "selecting the usb configuration",
                        ..loc
                    },
                )
            })?;
    }

    let mut claim = Claim {
        handle,
        interface: iface.number,
        detached: false,
        claimed: false,
        bus: info.bus,
        address: info.address,
    };
    match claim.handle.kernel_driver_active(iface.number) {
        Ok(true) => {
            log::debug!(
                "usb {:03}/{:03}: detaching kernel driver from interface {}",
                info.bus,
                info.address,
                iface.number
            );
            claim
                .handle
                .detach_kernel_driver(iface.number)
                .map_err(|e| {
                    usb_error(
                        e,
                        Loc {
                            what: "detaching the kernel driver",
                            ..loc
                        },
                    )
                })?;
            claim.detached = true;
        }
        Ok(false) => {}
        Err(e) => log::debug!("usb: cannot query kernel driver: {e}"),
    }
    claim.handle.claim_interface(iface.number).map_err(|e| {
        usb_error(
            e,
            Loc {
                what: "claiming the camera's interface",
                ..loc
            },
        )
    })?;
    claim.claimed = true;
    if iface.alt_setting != 0 {
        claim
            .handle
            .set_alternate_setting(iface.number, iface.alt_setting)
            .map_err(|e| {
                usb_error(
                    e,
                    Loc {
                        what: "selecting the interface setting",
                        ..loc
                    },
                )
            })?;
    }
    log::debug!(
        "usb {:03}/{:03}: claimed interface {}: bulk IN {:#04x} (mps {}), bulk OUT {:#04x} (mps {}), interrupt IN {} (mps {})",
        info.bus,
        info.address,
        iface.number,
        endpoints.bulk_in,
        endpoints.in_packet_size,
        endpoints.bulk_out,
        endpoints.out_packet_size,
        endpoints
            .interrupt_in
            .map_or("none".to_string(), |a| format!("{a:#04x}")),
        endpoints.interrupt_packet_size.unwrap_or(0)
    );
    log::debug!(
        "opened {} {} at {} ({})",
        info.display_name(),
        info.serial.as_deref().unwrap_or("(no serial)"),
        info.dev_node(),
        class.name()
    );
    Ok(UsbTransport {
        claim,
        info,
        class,
        endpoints,
    })
}

fn not_found(
    selector: &Selector,
    class: InterfaceClass,
    devices: &[UsbDeviceInfo],
) -> TransportError {
    let msg = if devices.is_empty() {
        "no Sony camera found on USB: check the cable and that the camera is on; \
         to try without a camera use `alpha-bridge webcam --camera emulated`"
            .to_string()
    } else if *selector == Selector::First {
        let seen: Vec<String> = devices
            .iter()
            .map(|d| format!("{} in {} mode", d.display_name(), d.mode))
            .collect();
        format!(
            "no Sony camera offers a {} interface (found {}): run `alpha-bridge list` for what to change on the camera",
            class.name(),
            seen.join(", ")
        )
    } else {
        format!(
            "no Sony camera matches {selector}: run `alpha-bridge list` to see what is connected"
        )
    };
    TransportError::new(ErrorKind::NotFound, msg)
}

impl UsbTransport {
    /// The device this transport has open.
    pub fn info(&self) -> &UsbDeviceInfo {
        &self.info
    }

    /// The class of the claimed interface.
    pub fn class(&self) -> InterfaceClass {
        self.class
    }

    /// bInterfaceNumber of the claimed interface (wIndex of class requests).
    pub fn interface_number(&self) -> u8 {
        self.claim.interface
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> Endpoints {
        self.endpoints
    }

    /// Whether a kernel driver (usb-storage for mass storage) was detached to claim the
    /// interface; it is re-attached on drop.
    pub fn kernel_driver_detached(&self) -> bool {
        self.claim.detached
    }

    /// USB port reset (re-enumeration may follow; the transport is then unusable).
    pub fn reset_device(&mut self) -> Result<(), TransportError> {
        self.claim
            .handle
            .reset()
            .map_err(|e| usb_error(e, self.loc("resetting the usb device")))
    }

    fn loc<'a>(&self, what: &'a str) -> Loc<'a> {
        Loc {
            what,
            bus: self.info.bus,
            address: self.info.address,
        }
    }
}

impl Transport for UsbTransport {
    fn write(&mut self, data: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let timeout = timeout.max(MIN_TIMEOUT);
        let ep = self.endpoints.bulk_out;
        let mut pieces: Vec<&[u8]> = data.chunks(MAX_TRANSFER).collect();
        let zlp = self.class.ends_writes_with_zlp()
            && needs_zlp(data.len(), self.endpoints.out_packet_size);
        if zlp || data.is_empty() {
            pieces.push(&[]);
        }
        let mut sent = 0usize;
        for piece in pieces {
            let n = self
                .claim
                .handle
                .write_bulk(ep, piece, timeout)
                .map_err(|e| usb_error(e, self.loc("sending to the camera")))?;
            sent += n;
            if n < piece.len() {
                // rusb reports a timeout after partial progress as a short success.
                return Err(TransportError::new(
                    ErrorKind::Timeout,
                    format!(
                        "timed out sending to the camera after {sent} of {} bytes",
                        data.len()
                    ),
                ));
            }
        }
        log::trace!("usb: bulk OUT {:#04x} {} bytes", ep, data.len());
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let timeout = timeout.max(MIN_TIMEOUT);
        let len = buf.len().min(MAX_TRANSFER);
        if !len.is_multiple_of(usize::from(self.endpoints.in_packet_size)) {
            log::trace!(
                "usb: bulk IN read of {len} bytes is not a multiple of {}; the camera may overflow it",
                self.endpoints.in_packet_size
            );
        }
        let n = self
            .claim
            .handle
            .read_bulk(self.endpoints.bulk_in, &mut buf[..len], timeout)
            .map_err(|e| usb_error(e, self.loc("reading from the camera")))?;
        log::trace!("usb: bulk IN {:#04x} {n} bytes", self.endpoints.bulk_in);
        Ok(n)
    }

    fn read_event(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let Some(ep) = self.endpoints.interrupt_in else {
            return Err(TransportError::new(
                ErrorKind::Unsupported,
                "this interface has no interrupt endpoint for events",
            ));
        };
        let timeout = timeout.max(MIN_TIMEOUT);
        let len = buf.len().min(MAX_TRANSFER);
        self.claim
            .handle
            .read_interrupt(ep, &mut buf[..len], timeout)
            .map_err(|e| usb_error(e, self.loc("reading a camera event")))
    }

    fn clear_halt(&mut self, pipe: Pipe) -> Result<(), TransportError> {
        let ep = match pipe {
            Pipe::BulkIn => self.endpoints.bulk_in,
            Pipe::BulkOut => self.endpoints.bulk_out,
            Pipe::InterruptIn => match self.endpoints.interrupt_in {
                Some(ep) => ep,
                None => {
                    return Err(TransportError::new(
                        ErrorKind::Unsupported,
                        "this interface has no interrupt endpoint",
                    ))
                }
            },
        };
        log::debug!("usb: clear halt on {ep:#04x}");
        self.claim
            .handle
            .clear_halt(ep)
            .map_err(|e| usb_error(e, self.loc("clearing a stalled endpoint")))
    }

    fn class_out(
        &mut self,
        request: u8,
        value: u16,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), TransportError> {
        if data.len() > usize::from(u16::MAX) {
            return Err(TransportError::new(
                ErrorKind::Other,
                "class request data longer than 65535 bytes",
            ));
        }
        log::debug!(
            "usb: class request {request:#04x} OUT value {value} index {} ({} bytes)",
            self.claim.interface,
            data.len()
        );
        let n = self
            .claim
            .handle
            .write_control(
                CLASS_OUT,
                request,
                value,
                u16::from(self.claim.interface),
                data,
                timeout.max(MIN_TIMEOUT),
            )
            .map_err(|e| usb_error(e, self.loc("sending a class request")))?;
        if n < data.len() {
            return Err(TransportError::new(
                ErrorKind::Other,
                format!(
                    "class request {request:#04x}: the camera took {n} of {} bytes",
                    data.len()
                ),
            ));
        }
        Ok(())
    }

    fn class_in(
        &mut self,
        request: u8,
        value: u16,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        let len = buf.len().min(usize::from(u16::MAX));
        let n = self
            .claim
            .handle
            .read_control(
                CLASS_IN,
                request,
                value,
                u16::from(self.claim.interface),
                &mut buf[..len],
                timeout.max(MIN_TIMEOUT),
            )
            .map_err(|e| usb_error(e, self.loc("reading a class request")))?;
        log::debug!(
            "usb: class request {request:#04x} IN value {value} index {}: {n} bytes",
            self.claim.interface
        );
        Ok(n)
    }

    fn max_packet_size(&self) -> usize {
        usize::from(self.endpoints.in_packet_size)
    }
}
