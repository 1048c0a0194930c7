//! The profiles and the body obeying controls, driven with raw PTP containers (the
//! host's session code is not used): every profile's handshake against the real
//! bodies' bytes, each control on each generation, refusals, events, still capture and
//! what the picture shows.

use super::*;
use crate::emulator::control::CAPTURE_DELAY;
use crate::emulator::testcard::focus_box;
use crate::ptp::sony::{AllProps, Generation, PropDesc};
use crate::ptp::DataType;

const STILL: u32 = 0xFFFF_C001;

/// The body's 0x9209 read with the host's parser.
fn all_props(h: &mut Host, g: Generation) -> Vec<PropDesc> {
    let r = h.tx(0x9209, &[], None);
    assert_eq!(r.code(), ResponseCode::OK);
    let all = AllProps::parse(r.data(), g, &[]).unwrap();
    assert_eq!(all.skipped().count(), 0, "every descriptor reads");
    all.descriptors().cloned().collect()
}

fn current(h: &mut Host, g: Generation, code: u16) -> i128 {
    match all_props(h, g).into_iter().find(|p| p.code == code) {
        Some(PropDesc {
            current: PropValue::Int(v),
            ..
        }) => v,
        other => panic!("{code:#06x}: {other:?}"),
    }
}

fn generation(b: &Body) -> Generation {
    Generation::of_version(b.sdio_version)
}

/// Events waiting on the interrupt endpoint: (code, param1).
fn events(h: &mut Host) -> Vec<(u16, u32)> {
    let mut v = Vec::new();
    let mut b = [0u8; 64];
    while let Ok(n) = h.t.read_event(&mut b, Duration::from_millis(100)) {
        let e = Event::parse(&b[..n]).unwrap();
        assert_eq!(e.tid, 0xFFFF_FFFF);
        v.push((e.code.0, e.params.get(0)));
    }
    v
}

fn changed(code: u16) -> (u16, u32) {
    (0xC203, code as u32)
}

fn set(h: &mut Host, code: u16, v: &[u8]) -> ResponseCode {
    h.tx(0x9205, &[code as u32], Some(v)).code()
}

fn press(h: &mut Host, code: u16, v: &[u8]) -> ResponseCode {
    h.tx(0x9207, &[code as u32], Some(v)).code()
}

fn real_codes(name: &str) -> Option<(u16, Vec<(u16, DataType)>)> {
    let ext =
        ExtDeviceInfo::parse(&crate::ptp::sony::tests::body(name, "ext_device_info.bin")?).unwrap();
    let all = crate::ptp::sony::tests::body(name, "all_props.bin")?;
    let g = ext.generation();
    let mut v: Vec<(u16, DataType)> = AllProps::parse(&all, g, &ext.announced())
        .unwrap()
        .descriptors()
        .map(|d| (d.code, d.data_type))
        .collect();
    v.sort_by_key(|c| c.0);
    Some((ext.version, v))
}

/// The emulated ILCE-5100 and DSC-RX100M7 list the same property codes with the same
/// data types as the real bodies' 0x9209, laid out by their generation.
#[test]
fn real_profiles_match_the_real_bodies() {
    for (name, body) in [
        ("ILCE-5100", Body::ilce_5100()),
        ("DSC-RX100M7", Body::dsc_rx100m7()),
    ] {
        let Some((real_version, real)) = real_codes(name) else {
            continue;
        };
        let mut r = rig(body);
        let ext = r.host.handshake();
        assert_eq!(ext.version, real_version, "{name}");
        let g = ext.generation();
        let mut got: Vec<(u16, DataType)> = all_props(&mut r.host, g)
            .iter()
            .map(|d| (d.code, d.data_type))
            .collect();
        got.sort_by_key(|c| c.0);
        assert_eq!(got, real, "{name}: codes and data types of 0x9209");
        r.finish().unwrap();
    }
}

#[test]
fn profiles_answer_by_generation() {
    // ILCE-5100: 0x00C8 with no response parameter, buttons inside 0x9209, no
    // interrupt endpoint.
    let mut r = rig(Body::ilce_5100());
    let ext = r.host.handshake();
    assert_eq!(ext.version, 0x00C8);
    let e = r.host.tx(0x9202, &[0x012C, 1], None);
    assert!(e.resp.params.as_slice().is_empty());
    let props = all_props(&mut r.host, Generation::V2);
    let buttons: Vec<(u16, u8)> = props
        .iter()
        .filter(|p| p.get_set & 0x80 != 0)
        .map(|p| (p.code, p.get_set))
        .collect();
    assert!(buttons.contains(&(0xD2C1, 0x81)) && buttons.contains(&(0xD2C5, 0x83)));
    assert_eq!(buttons.len(), 6);
    assert_eq!(
        r.host.tx(0x9207, &[0x5010], Some(&[1])).code(),
        ResponseCode::OK
    );
    assert!(events(&mut r.host).is_empty());
    let mut b = [0u8; 64];
    let err = r.host.t.read_event(&mut b, T).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    r.finish().unwrap();

    // DSC-RX100M7: 0x012C with response parameter 0x012C, two lists, no buttons in 0x9209.
    let mut r = rig(Body::dsc_rx100m7());
    let ext = r.host.handshake();
    assert_eq!(ext.version, 0x012C);
    let real = [
        0xD2C1, 0xD2C2, 0xD2C3, 0xD2C7, 0xD2C8, 0xD2C9, 0xD2CA, 0xD2CD, 0xD2CE, 0xD2CF, 0xD2D0,
        0xD2D1, 0xD2D2, 0xD2D4, 0xD2D5, 0xD2D6, 0xD2D7, 0xD2D8, 0xD2D9, 0xD2DA, 0xD2DB, 0xD2DC,
        0xD2DD,
    ];
    assert_eq!(ext.controls, real, "the RX100M7's 23 controls");
    let e = r.host.tx(0x9202, &[0x012C, 1], None);
    assert_eq!(e.resp.params.as_slice(), &[0x012C]);
    let props = all_props(&mut r.host, Generation::V3);
    assert_eq!(props.len(), 78);
    assert!(props.iter().all(|p| p.get_set <= 1));
    r.finish().unwrap();
}

#[test]
fn every_profile_serves_live_view() {
    for model in Body::PROFILES {
        let body = Body::profile(model).unwrap();
        let live = body.usb_live_view;
        let mut r = rig(body);
        r.host.handshake();
        r.clock.advance(FRAME);
        let lv = r.host.get_lv();
        if live {
            let (_, counter, _) = check_dataset(lv.data());
            assert_eq!(counter, 1, "{model}");
        } else {
            assert_eq!(lv.code(), ResponseCode::ACCESS_DENIED, "{model}");
        }
        r.finish().unwrap();
    }
}

/// 3.00 bodies take the exposure quartet directly; values off the list are refused and
/// every change is announced.
#[test]
fn direct_writes_on_3_00() {
    for body in [Body::zv_e10(), Body::dsc_rx100m7()] {
        let mut r = rig(body);
        r.host.handshake();
        let h = &mut r.host;
        events(h);
        assert_eq!(set(h, 0xD21E, &400u32.to_le_bytes()), ResponseCode::OK);
        assert_eq!(
            set(h, 0xD20D, &((1u32 << 16) | 250).to_le_bytes()),
            ResponseCode::OK
        );
        assert_eq!(set(h, 0x5007, &560u16.to_le_bytes()), ResponseCode::OK);
        assert_eq!(set(h, 0x5010, &(-700i16).to_le_bytes()), ResponseCode::OK);
        assert_eq!(
            events(h),
            vec![
                changed(0xD21E),
                changed(0xD20D),
                changed(0x5007),
                changed(0x5010)
            ]
        );
        assert_eq!(current(h, Generation::V3, 0xD21E), 400);
        assert_eq!(current(h, Generation::V3, 0x5010), -700);
        // Off the list: 0x201C; the wrong size: 0x2014 (InvalidDevicePropFormat).
        assert_eq!(
            set(h, 0xD21E, &401u32.to_le_bytes()),
            ResponseCode::INVALID_DEVICE_PROP_VALUE
        );
        assert_eq!(
            set(h, 0x5007, &[1, 2, 3, 4]),
            ResponseCode::INVALID_DEVICE_PROP_FORMAT
        );
        // 3.00 bodies do not step: 0x9207 with a property code is not a control.
        assert_eq!(
            press(h, 0x5010, &[1]),
            ResponseCode::DEVICE_PROP_NOT_SUPPORTED
        );
        assert!(events(h).is_empty(), "no event without a change");
        // White balance, then colour temperature, which needs it.
        assert_eq!(
            set(h, 0xD20F, &4500u16.to_le_bytes()),
            ResponseCode::ACCESS_DENIED
        );
        assert_eq!(set(h, 0x5005, &0x8012u16.to_le_bytes()), ResponseCode::OK);
        assert_eq!(set(h, 0xD20F, &4500u16.to_le_bytes()), ResponseCode::OK);
        assert_eq!(
            events(h),
            vec![changed(0x5005), changed(0xD20F), changed(0xD20F)]
        );
        r.finish().unwrap();
    }
}

/// 2.00 bodies step ISO, shutter, aperture and exposure compensation through their list
/// (signed low byte, 1, 2 or 4 bytes, clamped at the ends); 0x9205 leaves them alone.
#[test]
fn notch_steps_on_2_00() {
    for body in [Body::ilce_6400(), Body::ilce_5100()] {
        let with_events = body.interrupt_endpoint;
        let mut r = rig(body);
        r.host.handshake();
        let h = &mut r.host;
        let g = Generation::V2;
        assert_eq!(current(h, g, 0x5010), 0);
        assert_eq!(press(h, 0x5010, &[0x01]), ResponseCode::OK);
        assert_eq!(current(h, g, 0x5010), 300);
        assert_eq!(press(h, 0x5010, &[0xFE, 0xFF]), ResponseCode::OK);
        assert_eq!(current(h, g, 0x5010), -300);
        assert_eq!(press(h, 0x5010, &[0x80, 0, 0, 0]), ResponseCode::OK);
        assert_eq!(current(h, g, 0x5010), -3000, "clamped at the end");
        // ISO: auto, then 100 … one notch up from auto is 100.
        assert_eq!(press(h, 0xD21E, &[1]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD21E), 100);
        assert_eq!(press(h, 0xD21E, &[3]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD21E), 200);
        assert_eq!(press(h, 0x5007, &[2]), ResponseCode::OK);
        assert_eq!(current(h, g, 0x5007), 500);
        assert_eq!(press(h, 0xD20D, &[0xFF]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD20D), (1 << 16) | 100);
        // 0x9205 on a stepped setting: OK, nothing changes.
        assert_eq!(set(h, 0xD21E, &800u32.to_le_bytes()), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD21E), 200);
        assert_eq!(
            press(h, 0x5010, &[]),
            ResponseCode::INVALID_DEVICE_PROP_FORMAT
        );
        // Other settings are direct on 2.00 too.
        assert_eq!(set(h, 0x5005, &4u16.to_le_bytes()), ResponseCode::OK);
        assert_eq!(current(h, g, 0x5005), 4);
        let ev = events(h);
        if with_events {
            assert_eq!(
                ev,
                vec![
                    changed(0x5010),
                    changed(0x5010),
                    changed(0x5010),
                    changed(0xD21E),
                    changed(0xD21E),
                    changed(0x5007),
                    changed(0xD20D),
                    changed(0x5005)
                ]
            );
        } else {
            assert!(ev.is_empty());
        }
        r.finish().unwrap();
    }
}

/// The mode dial (a test hook) on A: shutter speed is the camera's, refused with
/// AccessDenied on both generations; the aperture is still the host's.
#[test]
fn shutter_speed_is_refused_on_a() {
    for body in [Body::ilce_6400(), Body::zv_e10()] {
        let g = generation(&body);
        let mut r = rig(body);
        r.host.handshake();
        let h = &mut r.host;
        events(h);
        // ExposureProgramMode is read-only over USB.
        let mode_bytes = [3u8, 0];
        assert_eq!(set(h, 0x500E, &mode_bytes), ResponseCode::ACCESS_DENIED);
        r.body.turn_mode_dial(3).unwrap();
        assert_eq!(
            r.host.tx(0x1001, &[], None).code(),
            ResponseCode::OK,
            "events go out after the next answer"
        );
        let h = &mut r.host;
        assert_eq!(events(h), vec![changed(0x500E), changed(0xD20D)]);
        let ss = all_props(h, g)
            .into_iter()
            .find(|p| p.code == 0xD20D)
            .unwrap();
        assert_eq!(ss.is_enabled, 2);
        let refused = match g {
            Generation::V3 => set(h, 0xD20D, &((1u32 << 16) | 250).to_le_bytes()),
            Generation::V2 => press(h, 0xD20D, &[1]),
        };
        assert_eq!(refused, ResponseCode::ACCESS_DENIED);
        let f = match g {
            Generation::V3 => set(h, 0x5007, &560u16.to_le_bytes()),
            Generation::V2 => press(h, 0x5007, &[1]),
        };
        assert_eq!(f, ResponseCode::OK);
        assert_eq!(
            r.body.turn_mode_dial(9),
            Err(ResponseCode::INVALID_DEVICE_PROP_VALUE)
        );
        r.finish().unwrap();
    }
}

#[test]
fn buttons_focus_zoom_and_movie() {
    for body in [Body::ilce_6400(), Body::zv_e10(), Body::ilce_5100()] {
        let g = generation(&body);
        let zoom = body.model == "ZV-E10";
        let mut r = rig(body);
        r.host.handshake();
        let h = &mut r.host;
        // S1 focuses (FocusFound 2), release goes back to 1.
        assert_eq!(press(h, 0xD2C1, &[2, 0]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD213), 2);
        assert_eq!(press(h, 0xD2C1, &[1, 0]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD213), 1);
        assert_eq!(
            press(h, 0xD2C1, &[3, 0]),
            ResponseCode::INVALID_DEVICE_PROP_VALUE
        );
        // AF-On likewise.
        assert_eq!(press(h, 0xD2C3, &[2, 0]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD213), 2);
        assert_eq!(press(h, 0xD2C3, &[1, 0]), ResponseCode::OK);
        // Movie: a press starts, the next stops; releases change nothing.
        assert_eq!(press(h, 0xD2C8, &[2, 0]), ResponseCode::OK);
        assert_eq!(press(h, 0xD2C8, &[1, 0]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD21D), 1);
        assert_eq!(press(h, 0xD2C8, &[2, 0]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD21D), 0);
        // Manual focus steps only in manual focus, −7…+7.
        let mf = 0xD2D1u32;
        let has_mf = r.body.state().store.control(0xD2D1).is_some();
        let h = &mut r.host;
        if has_mf {
            assert_eq!(
                h.tx(0x9207, &[mf], Some(&3i16.to_le_bytes())).code(),
                ResponseCode::ACCESS_DENIED
            );
        }
        assert_eq!(set(h, 0x500A, &1u16.to_le_bytes()), ResponseCode::OK);
        // No focusing in manual focus.
        assert_eq!(press(h, 0xD2C1, &[2, 0]), ResponseCode::OK);
        assert_eq!(current(h, g, 0xD213), 1);
        assert_eq!(press(h, 0xD2C1, &[1, 0]), ResponseCode::OK);
        if has_mf {
            assert_eq!(
                h.tx(0x9207, &[mf], Some(&3i16.to_le_bytes())).code(),
                ResponseCode::OK
            );
            assert_eq!(
                h.tx(0x9207, &[mf], Some(&(-8i16).to_le_bytes())).code(),
                ResponseCode::INVALID_DEVICE_PROP_VALUE
            );
            assert_eq!(r.body.state().manual_focus(), 3);
        }
        // AF point on the 640×480 grid.
        if r.body.state().store.control(0xD2DC).is_some() {
            let h = &mut r.host;
            let p = |x: u32, y: u32| ((x << 16) | y).to_le_bytes();
            assert_eq!(press(h, 0xD2DC, &p(639, 479)), ResponseCode::OK);
            assert_eq!(
                press(h, 0xD2DC, &p(640, 10)),
                ResponseCode::INVALID_DEVICE_PROP_VALUE
            );
            assert_eq!(
                press(h, 0xD2DC, &p(10, 480)),
                ResponseCode::INVALID_DEVICE_PROP_VALUE
            );
        }
        let h = &mut r.host;
        // Zoom: power-zoom bodies only.
        if zoom {
            assert_eq!(press(h, 0xD2DD, &[1]), ResponseCode::OK);
            assert_eq!(press(h, 0xD2DD, &[1]), ResponseCode::OK);
            assert_eq!(press(h, 0xD2DD, &[0xFF]), ResponseCode::OK);
            assert_eq!(press(h, 0xD2DD, &[0]), ResponseCode::OK);
            assert_eq!(
                press(h, 0xD2DD, &[5]),
                ResponseCode::INVALID_DEVICE_PROP_VALUE
            );
            assert_eq!(r.body.state().zoom_step(), 1);
        } else {
            assert_eq!(
                press(h, 0xD2DD, &[1]),
                ResponseCode::DEVICE_PROP_NOT_SUPPORTED
            );
        }
        r.finish().unwrap();
    }
}

/// One still: S1, S2 down, S2 up, S1 up; after the body's delay ObjectInMemory is
/// 0x8001 with events, the object is a whole JPEG at the still size, and live view
/// keeps going all along.
fn capture(r: &mut Rig, g: Generation, with_events: bool, size: (u32, u32)) -> Vec<u8> {
    let h = &mut r.host;
    assert_eq!(
        h.tx(0x1008, &[STILL], None).code(),
        ResponseCode::ACCESS_DENIED
    );
    assert_eq!(
        h.tx(0x1009, &[STILL], None).code(),
        ResponseCode::ACCESS_DENIED
    );
    for (c, v) in [(0xD2C1, 2u8), (0xD2C2, 2), (0xD2C2, 1), (0xD2C1, 1)] {
        assert_eq!(press(h, c, &[v, 0]), ResponseCode::OK);
    }
    let ev = events(h);
    if with_events {
        assert_eq!(ev, vec![changed(0xD213), changed(0xD213)]);
    }
    // Not stored yet.
    assert_eq!(
        h.tx(0x1008, &[STILL], None).code(),
        ResponseCode::ACCESS_DENIED
    );
    r.clock.advance(CAPTURE_DELAY);
    let h = &mut r.host;
    let lv = h.get_lv();
    check_dataset(lv.data());
    if with_events {
        assert_eq!(
            events(h),
            vec![changed(0xD215), (0xC201, STILL)],
            "stored: ObjectInMemory changed, object added"
        );
    }
    assert_eq!(current(h, g, 0xD215), 0x8001);
    let info = h.tx(0x1008, &[STILL], None);
    let oi = ObjectInfo::parse(info.data()).unwrap();
    assert_eq!((oi.image_pix_width, oi.image_pix_height), size);
    let obj = h.tx(0x1009, &[STILL], None);
    assert_eq!(obj.code(), ResponseCode::OK);
    let jpeg = obj.data().to_vec();
    assert_eq!(jpeg.len(), oi.compressed_size as usize);
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
    let mut d = zune_jpeg::JpegDecoder::new(std::io::Cursor::new(&jpeg));
    d.decode().expect("the still decodes");
    assert_eq!(
        d.info().map(|i| (u32::from(i.width), u32::from(i.height))),
        Some(size)
    );
    assert_eq!(current(h, g, 0xD215), 0, "handed over");
    if with_events {
        assert_eq!(events(h), vec![changed(0xD215)]);
    }
    assert_eq!(
        h.tx(0x1009, &[STILL], None).code(),
        ResponseCode::ACCESS_DENIED
    );
    r.clock.advance(FRAME);
    check_dataset(r.host.get_lv().data());
    jpeg
}

#[test]
fn still_capture_during_live_view() {
    for body in [Body::ilce_6400(), Body::dsc_rx100m7(), Body::ilce_5100()] {
        let g = generation(&body);
        let with_events = body.interrupt_endpoint;
        let mut r = rig(body);
        r.host.handshake();
        r.clock.advance(FRAME);
        check_dataset(r.host.get_lv().data());
        events(&mut r.host);
        let a = capture(&mut r, g, with_events, (3008, 2000));
        let b = capture(&mut r, g, with_events, (3008, 2000));
        assert_ne!(a, b, "each picture is a new one");
        r.finish().unwrap();
    }
}

#[test]
fn a_smaller_still_size_and_a_copy_of_every_still_served() {
    assert!(Body::ilce_6400().with_still_size(100, 50).is_err());
    let body = Body::ilce_6400().with_still_size(1024, 680).unwrap();
    let g = generation(&body);
    let copies = body.stats().served_stills();
    let mut r = rig(body);
    r.host.handshake();
    r.clock.advance(FRAME);
    check_dataset(r.host.get_lv().data());
    events(&mut r.host);
    let a = capture(&mut r, g, true, (1024, 680));
    let b = capture(&mut r, g, true, (1024, 680));
    assert_eq!(copies.try_iter().collect::<Vec<_>>(), vec![a, b]);
    r.finish().unwrap();
}

/// Mean luma, the focus-green pixels around a point, and the mean chroma of a frame.
struct Frame {
    luma: Vec<u8>,
    ycc: Vec<u8>,
    w: u32,
    h: u32,
}

impl Frame {
    fn of(lv: &[u8]) -> Frame {
        let (off, size) = (u32_at(lv, 0) as usize, u32_at(lv, 4) as usize);
        let jpeg = &lv[off..off + size];
        let dec = |cs| {
            let opts = zune_core::options::DecoderOptions::default().jpeg_set_out_colorspace(cs);
            let mut d = zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(jpeg), opts);
            let px = d.decode().unwrap();
            let i = d.info().unwrap();
            (px, i.width as u32, i.height as u32)
        };
        let (luma, w, h) = dec(zune_core::colorspace::ColorSpace::Luma);
        let (ycc, _, _) = dec(zune_core::colorspace::ColorSpace::YCbCr);
        Frame { luma, ycc, w, h }
    }

    /// Mean luma of the picture above the counter strip.
    fn mean_luma(&self) -> f64 {
        let rows = (self.h * 3 / 4) as usize;
        let px = &self.luma[..rows * self.w as usize];
        px.iter().map(|&v| v as f64).sum::<f64>() / px.len() as f64
    }

    /// Mean (Cb, Cr) of the colour bars' white bar.
    fn white_bar_chroma(&self) -> (f64, f64) {
        let (mut cb, mut cr, mut n) = (0.0, 0.0, 0.0);
        for y in self.h / 3..self.h / 2 {
            for x in 8..self.w / 8 - 8 {
                let i = 3 * (y * self.w + x) as usize;
                cb += self.ycc[i + 1] as f64;
                cr += self.ycc[i + 2] as f64;
                n += 1.0;
            }
        }
        (cb / n, cr / n)
    }

    fn is_green(&self, x: u32, y: u32) -> bool {
        let i = 3 * (y * self.w + x) as usize;
        let (cb, cr) = (self.ycc[i + 1], self.ycc[i + 2]);
        cb < 80 && cr < 80
    }

    /// Whether the focus box for AF point (x, y) is drawn (its four sides' centres).
    fn has_box(&self, x: u16, y: u16) -> bool {
        let (l, t, bw, bh, th) = focus_box(self.w, self.h, x, y);
        let m = th / 2;
        [
            (l + bw / 2, t + m),
            (l + bw / 2, t + bh - 1 - m),
            (l + m, t + bh / 2),
            (l + bw - 1 - m, t + bh / 2),
        ]
        .iter()
        .all(|&(px, py)| self.is_green(px, py))
    }
}

fn frame(r: &mut Rig) -> Frame {
    r.clock.advance(FRAME);
    let lv = r.host.get_lv();
    assert_eq!(lv.code(), ResponseCode::OK);
    Frame::of(lv.data())
}

#[test]
fn the_picture_shows_the_settings() {
    for body in [Body::zv_e10(), Body::ilce_6400()] {
        let g = generation(&body);
        let mut r = rig(body);
        r.host.handshake();
        // Exposure compensation in thirds of an EV, as the generation takes it.
        let mut at = 0i8;
        let mut ev = |r: &mut Rig, thirds: i8| {
            let code = match g {
                Generation::V3 => {
                    let v = [0i16, 300, 700, 1000][thirds.unsigned_abs() as usize]
                        * thirds.signum() as i16;
                    set(&mut r.host, 0x5010, &v.to_le_bytes())
                }
                Generation::V2 => press(&mut r.host, 0x5010, &[(thirds - at) as u8]),
            };
            assert_eq!(code, ResponseCode::OK);
            at = thirds;
        };
        let base = frame(&mut r);
        // Exposure compensation: brighter with +1 EV, darker with -1 EV.
        ev(&mut r, 3);
        let bright = frame(&mut r);
        ev(&mut r, -3);
        let dark = frame(&mut r);
        ev(&mut r, 0);
        let (b0, b1, b2) = (base.mean_luma(), bright.mean_luma(), dark.mean_luma());
        assert!(
            b1 > b0 + 10.0 && b2 < b0 - 10.0,
            "luma {b2:.1} < {b0:.1} < {b1:.1}"
        );

        // White balance: tungsten on a daylight scene is blue, shade warm.
        let (cb0, cr0) = base.white_bar_chroma();
        assert_eq!(
            set(&mut r.host, 0x5005, &6u16.to_le_bytes()),
            ResponseCode::OK
        );
        let (cb, cr) = frame(&mut r).white_bar_chroma();
        assert!(
            cb > cb0 + 15.0 && cr < cr0 - 15.0,
            "tungsten: {cb:.0},{cr:.0}"
        );
        assert_eq!(
            set(&mut r.host, 0x5005, &0x8011u16.to_le_bytes()),
            ResponseCode::OK
        );
        let (cb, cr) = frame(&mut r).white_bar_chroma();
        assert!(cb < cb0 - 10.0 && cr > cr0 + 10.0, "shade: {cb:.0},{cr:.0}");
        // Colour temperature directly.
        assert_eq!(
            set(&mut r.host, 0x5005, &0x8012u16.to_le_bytes()),
            ResponseCode::OK
        );
        assert_eq!(
            set(&mut r.host, 0xD20F, &3000u16.to_le_bytes()),
            ResponseCode::OK
        );
        let (cb, _) = frame(&mut r).white_bar_chroma();
        assert!(cb > cb0 + 15.0, "3000 K: {cb:.0}");
        assert_eq!(
            set(&mut r.host, 0x5005, &2u16.to_le_bytes()),
            ResponseCode::OK
        );

        // The focus box: none at first, at the AF point after it is chosen.
        let f = frame(&mut r);
        assert!(!f.has_box(320, 240) && !f.has_box(100, 400));
        // S1 shows it at the centre while focused.
        assert_eq!(press(&mut r.host, 0xD2C1, &[2, 0]), ResponseCode::OK);
        assert!(frame(&mut r).has_box(320, 240));
        assert_eq!(press(&mut r.host, 0xD2C1, &[1, 0]), ResponseCode::OK);
        assert!(!frame(&mut r).has_box(320, 240));
        assert_eq!(
            press(&mut r.host, 0xD2DC, &((100u32 << 16) | 400).to_le_bytes()),
            ResponseCode::OK
        );
        let f = frame(&mut r);
        assert!(f.has_box(100, 400) && !f.has_box(320, 240));

        // The settings line changes with ISO.
        let band = |f: &Frame| f.luma[..(f.w * 20) as usize].to_vec();
        let before = band(&frame(&mut r));
        match g {
            Generation::V3 => set(&mut r.host, 0xD21E, &800u32.to_le_bytes()),
            Generation::V2 => press(&mut r.host, 0xD21E, &[8]),
        };
        let after = band(&frame(&mut r));
        let differ = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a.abs_diff(**b) > 64)
            .count();
        assert!(
            differ > 20,
            "the text shows the new ISO ({differ} pixels changed)"
        );

        if g == Generation::V3 {
            // Zoom: the bars get wider; the left edge shows the third bar at 1.4×.
            let left = |f: &Frame| f.white_bar_chroma();
            let wide = left(&frame(&mut r));
            for _ in 0..5 {
                assert_eq!(press(&mut r.host, 0xD2DD, &[1]), ResponseCode::OK);
            }
            let tele = left(&frame(&mut r));
            assert!(
                (wide.0 - tele.0).abs() > 20.0 || (wide.1 - tele.1).abs() > 20.0,
                "zoomed framing: {wide:?} vs {tele:?}"
            );
        }
        r.finish().unwrap();
    }
}
