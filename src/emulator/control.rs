//! The body obeying the host (docs/protocol/emulator.md#camera-control): settings
//! written with SDIO_SetExtDevicePropValue (0x9205), notch steps and buttons through
//! SDIO_ControlDevice (0x9207), the mode dial, autofocus, the AF point, manual focus,
//! power zoom, movie recording and still capture, with a 0xC203 event after every
//! change. Shared by every front (USB, in-process, PTP/IP) through
//! [`super::pc_remote::Responder`]; no I/O, time comes from the caller.
//!
//! Rules, as the contract with the host says:
//! - 3.00 bodies take every setting directly (0x9205). 2.00 bodies take ISO, shutter
//!   speed, F-number and exposure compensation only as notch steps (0x9207 with a signed
//!   delta in the low byte, clamped at the list's ends); a 0x9205 on one of those is
//!   answered OK and changes nothing, as real 2.00 bodies do. Other settings are direct.
//! - A value outside the allowed list or range: 0x201C. A setting that is not settable
//!   now (GetSet 0, IsEnabled 0 or 2: shutter speed on A, F-number on S, both on P and
//!   auto, colour temperature unless white balance is on colour temperature): 0x200F.
//! - S2 takes a picture: after [`CAPTURE_DELAY`] ObjectInMemory (0xD215) becomes
//!   0x8000 + the pictures waiting, with 0xC203 0xD215 and 0xC201 0xFFFFC001; each
//!   GetObject(0xFFFFC001) hands over the oldest one (a whole JPEG at the body's still
//!   size, different per picture) and ObjectInMemory counts down to 0.

use super::props::{code, mode, wb, PropStore, FOCUS_MANUAL, NOTCHED};
use super::testcard::{Look, TestCard};
use crate::ptp::sony::{Generation, PropForm, PropValue};
use crate::ptp::{EventCode, ResponseCode};
use std::collections::VecDeque;
use std::time::Duration;

/// Time from S2 to the picture being in the body's memory.
pub const CAPTURE_DELAY: Duration = Duration::from_millis(200);
/// The handle a captured picture is fetched with.
pub const CAPTURED_OBJECT: u32 = 0xFFFF_C001;
/// ObjectInMemory values count up from here while pictures wait.
const IN_MEMORY: i128 = 0x8000;
/// Most pictures the body keeps before the host fetches them (its buffer).
const MAX_WAITING: usize = 8;
/// Power-zoom steps (each 0.2× of magnification, 1.0× to 3.0×).
pub const ZOOM_STEPS: u8 = 10;
/// Button values on 0x9207.
const DOWN: i128 = 2;
const UP: i128 = 1;
/// FocusFound (0xD213) values.
const FOCUS_IDLE: i128 = 1;
const FOCUS_FOUND: i128 = 2;

/// One event for the host: the event code and its first parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyEvent {
    /// 0xC203 (property changed) or 0xC201 (object added).
    pub code: EventCode,
    /// The property code, or the object handle.
    pub param: u32,
}

impl BodyEvent {
    fn changed(prop: u16) -> BodyEvent {
        BodyEvent {
            code: EventCode::SONY_DEVICE_PROP_CHANGED,
            param: prop as u32,
        }
    }
}

/// A picture in the body's memory.
#[derive(Clone, Debug)]
pub struct Still {
    /// The whole JPEG.
    pub jpeg: Vec<u8>,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// Counts the pictures taken since the body started (from 1).
    pub number: u64,
}

/// Everything the host can change, kept across connections like a body keeps it.
#[derive(Debug)]
pub struct BodyState {
    /// The properties and controls.
    pub store: PropStore,
    /// Power zoom present (the ZoomOperation control acts).
    power_zoom: bool,
    still_size: (u32, u32),
    s1: bool,
    af_on: bool,
    /// Chosen with AFAreaPosition, on the 640×480 grid.
    af_point: Option<(u16, u16)>,
    zoom: u8,
    /// Manual-focus position (sum of the steps).
    focus: i32,
    /// When S2 shots become pictures in memory.
    shots: VecDeque<Duration>,
    stills: VecDeque<Still>,
    taken: u64,
    /// Events not yet sent.
    events: Vec<BodyEvent>,
}

/// How an operation ended.
pub type Outcome = Result<(), ResponseCode>;

fn decode_int(b: &[u8], signed: bool) -> i128 {
    let mut a = [0u8; 16];
    a[..b.len()].copy_from_slice(b);
    let v = i128::from_le_bytes(a);
    if signed && !b.is_empty() && b.len() < 16 {
        let shift = 128 - 8 * b.len() as u32;
        (v << shift) >> shift
    } else {
        v
    }
}

/// Colour temperature (K) a white-balance preset corrects for.
fn preset_kelvin(wb: i128) -> Option<u16> {
    Some(match wb {
        wb::AUTO | wb::FLASH => 5500,
        wb::DAYLIGHT => 5200,
        wb::SHADE => 7000,
        wb::CLOUDY => 6000,
        wb::INCANDESCENT => 3200,
        wb::FLUORESCENT => 4000,
        _ => return None,
    })
}

fn mode_label(m: i128) -> &'static str {
    match m {
        mode::M => "M",
        mode::P => "P",
        mode::A => "A",
        mode::S => "S",
        _ => "AUTO",
    }
}

fn wb_label(v: i128) -> &'static str {
    match v {
        wb::AUTO => "AUTO",
        wb::DAYLIGHT => "DAYLIGHT",
        wb::SHADE => "SHADE",
        wb::CLOUDY => "CLOUDY",
        wb::INCANDESCENT => "TUNGSTEN",
        wb::FLUORESCENT => "FLUOR",
        wb::FLASH => "FLASH",
        _ => "",
    }
}

fn shutter_label(v: i128) -> String {
    let (num, den) = ((v >> 16) & 0xFFFF, v & 0xFFFF);
    if num == 1 && den > 1 {
        format!("1/{den}")
    } else if den == 0 {
        "BULB".into()
    } else if num % den == 0 {
        format!("{}\"", num / den)
    } else {
        format!("{}.{}\"", num / den, num % den * 10 / den)
    }
}

impl BodyState {
    /// A body at rest with `store`, taking pictures of `still_size`.
    pub fn new(store: PropStore, power_zoom: bool, still_size: (u32, u32)) -> BodyState {
        let mut s = BodyState {
            store,
            power_zoom,
            still_size,
            s1: false,
            af_on: false,
            af_point: None,
            zoom: 0,
            focus: 0,
            shots: VecDeque::new(),
            stills: VecDeque::new(),
            taken: 0,
            events: Vec::new(),
        };
        s.apply_mode();
        s.apply_white_balance();
        s.events.clear();
        s
    }

    fn value(&self, c: u16) -> i128 {
        self.store.value(c).unwrap_or(0)
    }

    fn set(&mut self, c: u16, v: i128) {
        if self.store.set_value(c, v) {
            self.events.push(BodyEvent::changed(c));
        }
    }

    fn enable(&mut self, c: u16, on: bool) {
        if self.store.set_enabled(c, if on { 1 } else { 2 }) {
            self.events.push(BodyEvent::changed(c));
        }
    }

    /// Events produced since the last call.
    pub fn take_events(&mut self) -> Vec<BodyEvent> {
        std::mem::take(&mut self.events)
    }

    /// The mode dial decides who sets the aperture and the shutter speed.
    fn apply_mode(&mut self) {
        let m = self.value(code::EXPOSURE_PROGRAM);
        self.enable(code::F_NUMBER, matches!(m, mode::M | mode::A));
        self.enable(code::SHUTTER_SPEED, matches!(m, mode::M | mode::S));
    }

    /// ColorTemp is settable only while white balance is on colour temperature.
    fn apply_white_balance(&mut self) {
        let on = self.value(code::WHITE_BALANCE) == wb::COLOR_TEMP;
        if self
            .store
            .set_enabled(code::COLOR_TEMP, if on { 1 } else { 0 })
        {
            self.events.push(BodyEvent::changed(code::COLOR_TEMP));
        }
    }

    /// The test hook for the mode dial (ExposureProgramMode is read-only over USB).
    pub fn turn_mode_dial(&mut self, m: i128) -> Outcome {
        if !mode::ALL.contains(&m) {
            return Err(ResponseCode::INVALID_DEVICE_PROP_VALUE);
        }
        self.set(code::EXPOSURE_PROGRAM, m);
        self.apply_mode();
        Ok(())
    }

    /// SDIO_SetExtDevicePropValue (0x9205).
    pub fn set_prop(&mut self, g: Generation, c: u16, value: &[u8]) -> Outcome {
        let Some(i) = self.store.find(c) else {
            return Err(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        };
        let p = &self.store.props[i];
        if g == Generation::V2 && NOTCHED.contains(&c) {
            // Real 2.00 bodies answer OK and keep the value: the host steps instead.
            log::debug!("emulated body: {c:#06x} is stepped on 2.00; 0x9205 ignored");
            return Ok(());
        }
        if p.get_set != 1 || p.is_enabled != 1 {
            return Err(ResponseCode::ACCESS_DENIED);
        }
        let Some(size) = p
            .data_type
            .scalar_size()
            .filter(|_| !p.data_type.is_array())
        else {
            return Err(ResponseCode::INVALID_DEVICE_PROP_FORMAT);
        };
        if value.len() != size {
            return Err(ResponseCode::INVALID_DEVICE_PROP_FORMAT);
        }
        let v = decode_int(value, p.data_type.0 & 1 == 1);
        let allowed = match &p.form {
            PropForm::None => true,
            PropForm::Enum { values, settable } => settable
                .as_ref()
                .unwrap_or(values)
                .contains(&PropValue::Int(v)),
            PropForm::Range { min, max, step } => match (min, max, step) {
                (PropValue::Int(lo), PropValue::Int(hi), PropValue::Int(st)) => {
                    (*lo..=*hi).contains(&v) && (*st <= 0 || (v - lo) % st == 0)
                }
                _ => true,
            },
        };
        if !allowed {
            return Err(ResponseCode::INVALID_DEVICE_PROP_VALUE);
        }
        self.set(c, v);
        if c == code::WHITE_BALANCE {
            self.apply_white_balance();
        }
        Ok(())
    }

    /// SDIO_ControlDevice (0x9207): a notch step on 2.00, or a button / adjuster.
    pub fn control(&mut self, g: Generation, now: Duration, c: u16, value: &[u8]) -> Outcome {
        if g == Generation::V2 && NOTCHED.contains(&c) && self.store.find(c).is_some() {
            return self.notch(c, value);
        }
        let Some(ctl) = self.store.control(c).copied() else {
            return Err(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        };
        if value.is_empty() || value.len() > 4 {
            return Err(ResponseCode::INVALID_DEVICE_PROP_FORMAT);
        }
        let unsigned = decode_int(value, false);
        let signed = decode_int(&value[..1], true);
        let button = |v: i128| -> Result<bool, ResponseCode> {
            match v {
                DOWN => Ok(true),
                UP => Ok(false),
                _ => Err(ResponseCode::INVALID_DEVICE_PROP_VALUE),
            }
        };
        match ctl.code {
            code::S1 => {
                self.s1 = button(unsigned)?;
                self.focus_state();
            }
            code::AF_ON => {
                self.af_on = button(unsigned)?;
                self.focus_state();
            }
            code::S2 => {
                if button(unsigned)? {
                    if self.shots.len() + self.stills.len() >= MAX_WAITING {
                        return Err(ResponseCode::DEVICE_BUSY);
                    }
                    self.shots.push_back(now + CAPTURE_DELAY);
                }
            }
            code::MOVIE => {
                if button(unsigned)? {
                    let rec = self.value(code::MOVIE_RECORDING);
                    self.set(code::MOVIE_RECORDING, if rec == 0 { 1 } else { 0 });
                }
            }
            code::MANUAL_FOCUS => {
                let step = decode_int(&value[..value.len().min(2)], true);
                if step == 0 || !(-7..=7).contains(&step) {
                    return Err(ResponseCode::INVALID_DEVICE_PROP_VALUE);
                }
                if !matches!(self.value(code::FOCUS_MODE), FOCUS_MANUAL | 0x8006) {
                    return Err(ResponseCode::ACCESS_DENIED);
                }
                self.focus = (self.focus + step as i32).clamp(-1000, 1000);
            }
            code::AF_POINT => {
                if value.len() != 4 {
                    return Err(ResponseCode::INVALID_DEVICE_PROP_FORMAT);
                }
                let (x, y) = ((unsigned >> 16) as u16, unsigned as u16);
                if x > 639 || y > 479 {
                    return Err(ResponseCode::INVALID_DEVICE_PROP_VALUE);
                }
                self.af_point = Some((x, y));
            }
            code::ZOOM if self.power_zoom => match signed {
                1 => self.zoom = (self.zoom + 1).min(ZOOM_STEPS),
                -1 => self.zoom = self.zoom.saturating_sub(1),
                0 => {}
                _ => return Err(ResponseCode::INVALID_DEVICE_PROP_VALUE),
            },
            code::ZOOM => return Err(ResponseCode::DEVICE_PROP_NOT_SUPPORTED),
            // Other buttons are accepted and do nothing here.
            _ => {
                button(unsigned)?;
            }
        }
        Ok(())
    }

    /// A 2.00 notch step: the low byte is a signed count of positions in the list.
    fn notch(&mut self, c: u16, value: &[u8]) -> Outcome {
        if !matches!(value.len(), 1 | 2 | 4) {
            return Err(ResponseCode::INVALID_DEVICE_PROP_FORMAT);
        }
        let delta = value[0] as i8 as i64;
        let Some(p) = self.store.get(c) else {
            return Err(ResponseCode::DEVICE_PROP_NOT_SUPPORTED);
        };
        if p.is_enabled != 1 {
            return Err(ResponseCode::ACCESS_DENIED);
        }
        let PropForm::Enum { values, .. } = &p.form else {
            return Err(ResponseCode::ACCESS_DENIED);
        };
        if values.is_empty() {
            return Err(ResponseCode::ACCESS_DENIED);
        }
        let at = values.iter().position(|v| *v == p.current).unwrap_or(0) as i64;
        let to = (at + delta).clamp(0, values.len() as i64 - 1) as usize;
        if let PropValue::Int(v) = values[to] {
            self.set(c, v);
        }
        Ok(())
    }

    /// FocusFound follows S1 / AF-On (no focusing in manual focus).
    fn focus_state(&mut self) {
        let pressed = self.s1 || self.af_on;
        let manual = self.value(code::FOCUS_MODE) == FOCUS_MANUAL;
        let f = if pressed && !manual {
            FOCUS_FOUND
        } else {
            FOCUS_IDLE
        };
        self.set(code::FOCUS_FOUND, f);
    }

    /// Time passes: shots whose time has come become pictures in memory.
    pub fn tick(&mut self, now: Duration) {
        while self.shots.front().is_some_and(|&t| t <= now) {
            self.shots.pop_front();
            self.taken += 1;
            match self.render_still(self.taken) {
                Ok(s) => {
                    self.stills.push_back(s);
                    self.set(
                        code::OBJECT_IN_MEMORY,
                        IN_MEMORY + self.stills.len() as i128,
                    );
                    self.events.push(BodyEvent {
                        code: EventCode::SONY_OBJECT_ADDED,
                        param: CAPTURED_OBJECT,
                    });
                }
                Err(e) => log::warn!("emulated still {}: {e}", self.taken),
            }
        }
    }

    /// Pictures taken from now on are `still_size`.
    pub fn set_still_size(&mut self, still_size: (u32, u32)) {
        self.still_size = still_size;
    }

    fn render_still(&self, number: u64) -> Result<Still, super::EmulatorError> {
        let (w, h) = self.still_size;
        let mut card = TestCard::new(w, h)?;
        card.set_quality(90);
        card.set_look(&self.look());
        let jpeg = card.frame(number)?.to_vec();
        Ok(Still {
            jpeg,
            width: w,
            height: h,
            number,
        })
    }

    /// The oldest picture waiting, if any.
    pub fn still(&self) -> Option<&Still> {
        self.stills.front()
    }

    /// Hands the oldest picture over: ObjectInMemory counts down.
    pub fn take_still(&mut self) -> Option<Still> {
        let s = self.stills.pop_front()?;
        let left = self.stills.len() as i128;
        self.set(
            code::OBJECT_IN_MEMORY,
            if left == 0 { 0 } else { IN_MEMORY + left },
        );
        Some(s)
    }

    /// Whether a picture can be fetched now (ObjectInMemory ≥ 0x8000).
    pub fn has_still(&self) -> bool {
        self.value(code::OBJECT_IN_MEMORY) >= IN_MEMORY && !self.stills.is_empty()
    }

    /// The power-zoom position, 0 (wide) to [`ZOOM_STEPS`].
    pub fn zoom_step(&self) -> u8 {
        self.zoom
    }

    /// The manual-focus position (the sum of the steps taken).
    pub fn manual_focus(&self) -> i32 {
        self.focus
    }

    /// What the picture shows for the current settings.
    pub fn look(&self) -> Look {
        let wb = self.value(code::WHITE_BALANCE);
        let kelvin = preset_kelvin(wb).unwrap_or_else(|| self.value(code::COLOR_TEMP) as u16);
        let focused = self.value(code::FOCUS_FOUND) == FOCUS_FOUND;
        let iso = match self.value(code::ISO) {
            super::props::ISO_AUTO => "AUTO".to_string(),
            v => v.to_string(),
        };
        let f = self.value(code::F_NUMBER);
        let ev = self.value(code::EXPOSURE_COMP);
        let wb_text = match wb_label(wb) {
            "" => format!("{kelvin}K"),
            l => l.to_string(),
        };
        let mut text = format!(
            "{} ISO {} {} F{}.{} EV {}{}.{} WB {}",
            mode_label(self.value(code::EXPOSURE_PROGRAM)),
            iso,
            shutter_label(self.value(code::SHUTTER_SPEED)),
            f / 100,
            f % 100 / 10,
            if ev < 0 { "-" } else { "+" },
            ev.abs() / 1000,
            ev.abs() % 1000 / 100,
            wb_text,
        );
        if self.value(code::FOCUS_MODE) == FOCUS_MANUAL {
            text.push_str(&format!(" MF {:+}", self.focus));
        }
        if self.zoom > 0 {
            let z = 10 + 2 * self.zoom as u32;
            text.push_str(&format!(" ZOOM {}.{}X", z / 10, z % 10));
        }
        if self.value(code::MOVIE_RECORDING) == 1 {
            text.push_str(" REC");
        }
        Look {
            ev_milli: ev as i32,
            kelvin,
            zoom_tenths: 10 + 2 * self.zoom as u16,
            af_box: (focused || self.af_point.is_some())
                .then(|| self.af_point.unwrap_or((320, 240))),
            text,
        }
    }
}
