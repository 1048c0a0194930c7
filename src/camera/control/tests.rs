//! The controller against a scripted body that follows the control contract
//! (docs/protocol/sony-usb.md#camera-control) for both generations, over the in-memory
//! USB pipe.

use super::*;
use crate::camera::{ConnectOptions, SonyCamera};
use crate::ptp::codes::vendor;
use crate::ptp::container::{data_header, Command, Params, Response};
use crate::ptp::dataset::DeviceInfo;
use crate::ptp::sony::{
    encode_all_props, ExtDeviceInfo, Generation, PropDesc, PropForm, PropValue,
};
use crate::ptp::DataType;
use crate::transport::{memory, DevicePipe};
use std::sync::{Arc, Mutex};

/// What the scripted body saw, and switches for its misbehaviour.
#[derive(Default)]
struct Seen {
    /// (operation, param 1, data out).
    ops: Vec<(u16, u32, Vec<u8>)>,
    /// Codes the body answers OK for but does not change.
    ignore: Vec<u16>,
    /// Notch codes that do not move.
    stuck: Vec<u16>,
    shot: Vec<u8>,
}

fn int(v: i128) -> PropValue {
    PropValue::Int(v)
}

fn desc(code: u16, t: DataType, get_set: u8, enabled: u8, cur: i128, values: &[i128]) -> PropDesc {
    PropDesc {
        code,
        data_type: t,
        get_set,
        is_enabled: enabled,
        default: int(cur),
        current: int(cur),
        form: if values.is_empty() {
            PropForm::None
        } else {
            PropForm::Enum {
                values: values.iter().map(|&v| int(v)).collect(),
                settable: None,
            }
        },
    }
}

fn props(mode: i128) -> Vec<PropDesc> {
    use DataType as T;
    let shutter_enabled = if mode == 3 { 2 } else { 1 };
    vec![
        desc(0x5005, T::UINT16, 1, 1, 2, &[2, 4, 6, 0x8010, 0x8012]),
        desc(0x5007, T::UINT16, 1, 1, 400, &[280, 350, 400, 560, 800]),
        desc(0x500A, T::UINT16, 1, 1, 2, &[1, 2, 0x8004, 0x8006]),
        desc(0x500E, T::UINT16, 0, 2, mode, &[1, 2, 3, 4]),
        desc(
            0x5010,
            T::INT16,
            1,
            1,
            0,
            &[-1000, -700, -300, 0, 300, 700, 1000],
        ),
        desc(
            0xD20D,
            T::UINT32,
            1,
            shutter_enabled,
            0x0001_007D,
            &[0x0001_0032, 0x0001_007D, 0x0001_00FA],
        ),
        PropDesc {
            form: PropForm::Range {
                min: int(2500),
                max: int(9900),
                step: int(100),
            },
            ..desc(0xD20F, T::UINT16, 1, 1, 5500, &[])
        },
        desc(0xD213, T::UINT8, 0, 1, 1, &[]),
        desc(0xD215, T::UINT16, 0, 1, 0, &[]),
        desc(0xD21D, T::UINT8, 0, 1, 0, &[]),
        desc(
            0xD21E,
            T::UINT32,
            1,
            1,
            0x00FF_FFFF,
            &[0x00FF_FFFF, 100, 200, 400, 800],
        ),
    ]
}

const NOTCH: &[u16] = &[0xD21E, 0xD20D, 0x5007, 0x5010];

struct Body {
    generation: Generation,
    props: Vec<PropDesc>,
    seen: Arc<Mutex<Seen>>,
    s2_pressed: bool,
}

impl Body {
    fn get(&mut self, code: u16) -> Option<&mut PropDesc> {
        self.props.iter_mut().find(|p| p.code == code)
    }

    fn set_raw(&mut self, code: u16, v: i128) {
        if let Some(p) = self.get(code) {
            p.current = int(v);
        }
    }

    fn value(&self, code: u16) -> i128 {
        match self
            .props
            .iter()
            .find(|p| p.code == code)
            .map(|p| &p.current)
        {
            Some(PropValue::Int(v)) => *v,
            _ => 0,
        }
    }

    fn set(&mut self, code: u16, data: &[u8]) -> ResponseCode {
        let gen = self.generation;
        let ignore = self.seen.lock().unwrap().ignore.contains(&code);
        let Some(p) = self.get(code) else {
            return ResponseCode::DEVICE_PROP_NOT_SUPPORTED;
        };
        let settable = match gen {
            Generation::V3 => p.get_set == 1 && p.is_enabled == 1,
            Generation::V2 => p.is_enabled == 1 && !NOTCH.contains(&code),
        };
        if !settable {
            return ResponseCode::ACCESS_DENIED;
        }
        let size = p.data_type.scalar_size().unwrap();
        let mut a = [0u8; 16];
        a[..size].copy_from_slice(&data[..size]);
        let mut v = i128::from_le_bytes(a);
        if p.data_type.0 & 1 == 1 {
            let shift = 128 - 8 * size as u32;
            v = (v << shift) >> shift;
        }
        let ok = match &p.form {
            PropForm::Enum { values, settable } => {
                settable.as_ref().unwrap_or(values).contains(&int(v))
            }
            PropForm::Range { min, max, .. } => (int_of(min)..=int_of(max)).contains(&v),
            PropForm::None => true,
        };
        if !ok {
            return ResponseCode::INVALID_DEVICE_PROP_VALUE;
        }
        if !ignore {
            p.current = int(v);
        }
        ResponseCode::OK
    }

    fn control(&mut self, code: u16, data: &[u8]) -> ResponseCode {
        if self.generation == Generation::V2 && NOTCH.contains(&code) {
            if self.seen.lock().unwrap().stuck.contains(&code) {
                return ResponseCode::OK;
            }
            let delta = data[0] as i8 as i64;
            let p = self.get(code).unwrap();
            let PropForm::Enum { values, .. } = &p.form else {
                return ResponseCode::INVALID_DEVICE_PROP_VALUE;
            };
            let at = values.iter().position(|v| *v == p.current).unwrap() as i64;
            let to = (at + delta).clamp(0, values.len() as i64 - 1) as usize;
            p.current = values[to].clone();
            return ResponseCode::OK;
        }
        let v = u16::from_le_bytes([data[0], *data.get(1).unwrap_or(&0)]);
        match (code, v) {
            (0xD2C1, 2) if self.value(0x500A) != 1 => self.set_raw(0xD213, 2),
            (0xD2C1, 1) => self.set_raw(0xD213, 1),
            (0xD2C2, 2) => self.s2_pressed = true,
            (0xD2C2, 1) if self.s2_pressed => {
                self.s2_pressed = false;
                self.set_raw(0xD215, 0x8001);
            }
            (0xD2C8, 2) => {
                let rec = self.value(0xD21D);
                self.set_raw(0xD21D, 1 - rec);
            }
            _ => {}
        }
        ResponseCode::OK
    }
}

fn int_of(v: &PropValue) -> i128 {
    match v {
        PropValue::Int(n) => *n,
        _ => 0,
    }
}

fn serve(mut dev: memory::DeviceEnd, mut body: Body) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let Ok(n) = dev.read_out(&mut buf, Duration::from_secs(5)) else {
            return;
        };
        let Ok(cmd) = Command::parse(&buf[..n]) else {
            continue;
        };
        let p1 = cmd.params.get(0);
        let data_out = if matches!(
            cmd.code,
            OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE | OpCode::SDIO_CONTROL_DEVICE
        ) {
            let Ok(n) = dev.read_out(&mut buf, Duration::from_secs(5)) else {
                return;
            };
            buf[12..n].to_vec()
        } else {
            Vec::new()
        };
        body.seen
            .lock()
            .unwrap()
            .ops
            .push((cmd.code.0, p1, data_out.clone()));
        let mut payload = Vec::new();
        let mut data_in = true;
        let mut code = ResponseCode::OK;
        match cmd.code {
            OpCode::GET_DEVICE_INFO => DeviceInfo {
                vendor_extension_id: vendor::SONY,
                model: "ILCE-TEST".into(),
                manufacturer: "Sony Corporation".into(),
                serial_number: "0001".into(),
                operations_supported: vec![0x1001, 0x9201, 0x9202],
                ..Default::default()
            }
            .encode(&mut payload),
            OpCode::SDIO_CONNECT => payload = vec![0; 8],
            OpCode::SDIO_GET_EXT_DEVICE_INFO => ExtDeviceInfo {
                version: match body.generation {
                    Generation::V2 => 0xC8,
                    Generation::V3 => 0x12C,
                },
                properties: body.props.iter().map(|p| p.code).collect(),
                controls: vec![],
            }
            .encode(&mut payload),
            OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO => {
                encode_all_props(&body.props, body.generation, &mut payload)
            }
            OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE => {
                data_in = false;
                // The handshake's PriorityMode is not in this body's list: OK anyway.
                if p1 != 0xD25A {
                    code = body.set(p1 as u16, &data_out);
                }
            }
            OpCode::SDIO_CONTROL_DEVICE => {
                data_in = false;
                code = body.control(p1 as u16, &data_out);
            }
            OpCode::GET_OBJECT_INFO | OpCode::GET_OBJECT if body.value(0xD215) < 0x8000 => {
                data_in = false;
                code = ResponseCode::ACCESS_DENIED;
            }
            OpCode::GET_OBJECT_INFO => {
                let shot = body.seen.lock().unwrap().shot.len();
                ObjectInfo {
                    format: crate::ptp::ObjectFormat::EXIF_JPEG,
                    compressed_size: shot as u32,
                    filename: "DSC00001.JPG".into(),
                    ..ObjectInfo::default()
                }
                .encode(&mut payload)
            }
            OpCode::GET_OBJECT => {
                payload = body.seen.lock().unwrap().shot.clone();
                body.set_raw(0xD215, 0);
            }
            _ => data_in = false,
        }
        if data_in {
            let mut c = data_header(cmd.code, cmd.tid, payload.len()).to_vec();
            c.extend_from_slice(&payload);
            if dev.write_in(&c).is_err() {
                return;
            }
        }
        let mut r = Vec::new();
        Response {
            code,
            tid: cmd.tid,
            params: Params::default(),
        }
        .encode(&mut r);
        if dev.write_in(&r).is_err() {
            return;
        }
    }
}

struct Rig {
    cam: SonyCamera<memory::HostEnd>,
    seen: Arc<Mutex<Seen>>,
}

fn rig_with(generation: Generation, props: Vec<PropDesc>, setup: impl FnOnce(&mut Seen)) -> Rig {
    let (host, dev, _) = memory::pair(512);
    let mut seen = Seen {
        shot: (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect(),
        ..Seen::default()
    };
    setup(&mut seen);
    let seen = Arc::new(Mutex::new(seen));
    let body = Body {
        generation,
        props,
        seen: seen.clone(),
        s2_pressed: false,
    };
    std::thread::spawn(move || serve(dev, body));
    let opts = ConnectOptions {
        live_view_quality: None,
        ext_info_pause: Duration::from_millis(1),
        ..Default::default()
    };
    let cam = SonyCamera::connect(host, opts).unwrap();
    seen.lock().unwrap().ops.clear();
    Rig { cam, seen }
}

fn rig(generation: Generation) -> Rig {
    rig_with(generation, props(1), |_| {})
}

impl Rig {
    fn run(&mut self, req: Request) -> Result<Outcome, ControlError> {
        Controller::<()>::run(&mut self.cam, req)
    }

    fn set(&mut self, s: Setting, v: &str) -> Result<State, ControlError> {
        match self.run(Request::Set(s, v.into()))? {
            Outcome::Value(st) => Ok(st),
            o => panic!("{o:?}"),
        }
    }

    /// Writes of `op` the body saw, as (param 1, data).
    fn writes(&self, op: OpCode) -> Vec<(u32, Vec<u8>)> {
        self.seen
            .lock()
            .unwrap()
            .ops
            .iter()
            .filter(|(o, ..)| *o == op.0)
            .map(|(_, p, d)| (*p, d.clone()))
            .collect()
    }
}

#[test]
fn a_3_00_body_takes_values_directly_and_they_are_read_back() {
    let mut r = rig(Generation::V3);
    let st = r.set(Setting::Iso, "400").unwrap();
    assert_eq!(st.value.as_deref(), Some("400"));
    let st = r.set(Setting::Shutter, "1/250").unwrap();
    assert_eq!(st.value.as_deref(), Some("1/250"));
    let st = r.set(Setting::Aperture, "f/2.8").unwrap();
    assert_eq!(st.value.as_deref(), Some("f/2.8"));
    let st = r.set(Setting::Ev, "+0.7").unwrap();
    assert_eq!(st.value.as_deref(), Some("+0.7"));
    let st = r.set(Setting::Focus, "manual").unwrap();
    assert_eq!(st.value.as_deref(), Some("manual"));
    assert_eq!(
        r.writes(OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE),
        vec![
            (0xD21E, 400u32.to_le_bytes().to_vec()),
            (0xD20D, 0x0001_00FAu32.to_le_bytes().to_vec()),
            (0x5007, 280u16.to_le_bytes().to_vec()),
            (0x5010, 700i16.to_le_bytes().to_vec()),
            (0x500A, 1u16.to_le_bytes().to_vec()),
        ]
    );
    assert!(r.writes(OpCode::SDIO_CONTROL_DEVICE).is_empty());
}

#[test]
fn a_2_00_body_steps_exposure_in_notches_and_takes_the_rest_directly() {
    let mut r = rig(Generation::V2);
    // auto → 800: four positions up, one notch command.
    let st = r.set(Setting::Iso, "800").unwrap();
    assert_eq!(st.value.as_deref(), Some("800"));
    let st = r.set(Setting::Ev, "-0.3").unwrap();
    assert_eq!(st.value.as_deref(), Some("-0.3"));
    let st = r.set(Setting::Wb, "daylight").unwrap();
    assert_eq!(st.value.as_deref(), Some("daylight"));
    assert_eq!(
        r.writes(OpCode::SDIO_CONTROL_DEVICE),
        vec![(0xD21E, vec![4]), (0x5010, vec![0xFF])]
    );
    assert_eq!(
        r.writes(OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE),
        vec![(0x5005, 4u16.to_le_bytes().to_vec())]
    );
}

#[test]
fn a_listed_value_the_body_will_not_move_to_is_reported_not_looped_on() {
    let mut r = rig_with(Generation::V2, props(1), |s| s.stuck = vec![0xD21E]);
    let e = r.set(Setting::Iso, "400").unwrap_err();
    assert_eq!(e.kind(), "refused");
    assert!(e.to_string().contains("did not move"), "{e}");
    assert_eq!(r.writes(OpCode::SDIO_CONTROL_DEVICE).len(), 1);
}

#[test]
fn an_ok_that_changes_nothing_is_an_error() {
    let mut r = rig_with(Generation::V3, props(1), |s| s.ignore = vec![0x5005]);
    let e = r.set(Setting::Wb, "cloudy").unwrap_err();
    assert!(e.to_string().contains("answered OK but kept"), "{e}");
}

#[test]
fn shutter_speed_in_a_mode_is_refused_with_the_reason_before_anything_is_sent() {
    let mut r = rig_with(Generation::V3, props(3), |_| {});
    let e = r.set(Setting::Shutter, "1/50").unwrap_err();
    assert_eq!(
        e.to_string(),
        "the mode dial is on A: shutter speed is set by the camera (turn it to S or M)"
    );
    assert!(r.writes(OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE).is_empty());
    // A value not on the list names what is.
    let e = r.set(Setting::Iso, "300").unwrap_err();
    assert!(e.to_string().contains("auto, 100, 200, 400, 800"), "{e}");
    // Syntax errors are usage errors.
    let e = r.set(Setting::Iso, "lots").unwrap_err();
    assert_eq!(e.kind(), "usage");
    // Read-only.
    let e = r.set(Setting::Mode, "M").unwrap_err();
    assert_eq!(e.kind(), "usage");
}

#[test]
fn on_3_00_only_the_second_list_is_settable() {
    let mut p = props(1);
    for d in &mut p {
        if d.code == 0xD21E {
            d.form = PropForm::Enum {
                values: [0x00FF_FFFF, 100, 200, 400, 800].map(int).to_vec(),
                settable: Some([0x00FF_FFFF, 100, 200].map(int).to_vec()),
            };
        }
    }
    let mut r = rig_with(Generation::V3, p, |_| {});
    let e = r.set(Setting::Iso, "800").unwrap_err();
    assert!(
        e.to_string().contains("ISO 800 is not available now"),
        "{e}"
    );
    assert_eq!(
        r.set(Setting::Iso, "200").unwrap().value.as_deref(),
        Some("200")
    );
}

#[test]
fn colour_temperature_sets_the_mode_then_the_kelvins() {
    let mut r = rig(Generation::V3);
    let st = r.set(Setting::Wb, "5600K").unwrap();
    assert_eq!(st.value.as_deref(), Some("5600K"));
    assert_eq!(
        r.writes(OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE),
        vec![
            (0x5005, 0x8012u16.to_le_bytes().to_vec()),
            (0xD20F, 5600u16.to_le_bytes().to_vec())
        ]
    );
    let e = r.set(Setting::Wb, "12000K").unwrap_err();
    assert!(e.to_string().contains("outside"), "{e}");
}

#[test]
fn a_still_is_pressed_released_awaited_and_fetched_whole() {
    for g in [Generation::V2, Generation::V3] {
        let mut r = rig_with(g, props(1), |_| {});
        let shot = r.seen.lock().unwrap().shot.clone();
        let Outcome::Still(s) = r.run(Request::Capture).unwrap() else {
            panic!()
        };
        assert_eq!(s.data, shot);
        assert_eq!(s.info.filename, "DSC00001.JPG");
        let seen = r.seen.lock().unwrap();
        let order: Vec<(u16, u32)> = seen
            .ops
            .iter()
            .filter(|(o, ..)| *o != 0x9209)
            .map(|(o, p, _)| (*o, *p))
            .collect();
        assert_eq!(
            order,
            vec![
                (0x9207, 0xD2C1),
                (0x9207, 0xD2C2),
                (0x9207, 0xD2C2),
                (0x9207, 0xD2C1),
                (0x1008, 0xFFFF_C001),
                (0x1009, 0xFFFF_C001),
            ],
            "{g:?}"
        );
    }
}

#[test]
fn af_movie_focus_steps_and_af_point() {
    let mut r = rig(Generation::V3);
    let Outcome::Done(m) = r.run(Request::Press(Action::Af)).unwrap() else {
        panic!()
    };
    assert_eq!(m, "focused");
    let Outcome::Done(m) = r.run(Request::Press(Action::Movie(true))).unwrap() else {
        panic!()
    };
    assert_eq!(m, "recording");
    let Outcome::Done(m) = r.run(Request::Press(Action::Movie(true))).unwrap() else {
        panic!()
    };
    assert_eq!(m, "already recording");
    r.run(Request::Press(Action::Movie(false))).unwrap();
    // Focus is AF-S: manual steps are refused with what to do.
    let e = r.run(Request::Press(Action::FocusStep(3))).unwrap_err();
    assert!(e.to_string().contains("control set focus manual"), "{e}");
    r.set(Setting::Focus, "manual").unwrap();
    r.seen.lock().unwrap().ops.clear();
    r.run(Request::Press(Action::FocusStep(-10))).unwrap();
    r.run(Request::Press(Action::AfPoint { x: 320, y: 240 }))
        .unwrap();
    assert_eq!(
        r.writes(OpCode::SDIO_CONTROL_DEVICE),
        vec![
            (0xD2D1, (-7i16).to_le_bytes().to_vec()),
            (0xD2D1, (-3i16).to_le_bytes().to_vec()),
            (0xD2DC, ((320u32 << 16) | 240).to_le_bytes().to_vec()),
        ]
    );
    // No power zoom on this body.
    let e = r.run(Request::Press(Action::Zoom(Zoom::In))).unwrap_err();
    assert_eq!(e.kind(), "unsupported");
}

#[test]
fn list_and_changes_for_watchers() {
    let mut r = rig(Generation::V3);
    let Outcome::List(l) = r.run(Request::List).unwrap() else {
        panic!()
    };
    let iso = l.iter().find(|s| s.setting == Setting::Iso).unwrap();
    assert_eq!(iso.value.as_deref(), Some("auto"));
    assert!(iso.settable);
    let mode = l.iter().find(|s| s.setting == Setting::Mode).unwrap();
    assert_eq!((mode.value.as_deref(), mode.settable), (Some("M"), false));
    let bat = l.iter().find(|s| s.setting == Setting::Battery).unwrap();
    assert_eq!(bat.value, None);
    let mut c: Controller<u32> = Controller::new();
    assert!(c
        .submit(&mut r.cam, Request::Get(Setting::Iso), 1)
        .is_some());
    assert!(c.take_changes().is_empty());
    assert!(c
        .submit(&mut r.cam, Request::Set(Setting::Iso, "100".into()), 2)
        .is_none());
    let mut done = Vec::new();
    while done.is_empty() {
        done = c.step(&mut r.cam);
    }
    assert_eq!(done[0].0, 2);
    let changes = c.take_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].value.as_deref(), Some("100"));
}

#[test]
fn frame_points_map_to_the_af_grid() {
    assert_eq!(grid_point(0.0, 0.0, 1024, 680), (0, 0));
    assert_eq!(grid_point(512.0, 340.0, 1024, 680), (320, 240));
    assert_eq!(grid_point(1023.0, 679.0, 1024, 680), (639, 479));
    assert_eq!(grid_point(5000.0, -3.0, 1024, 680), (639, 0));
}
