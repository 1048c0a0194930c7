//! Tests of the Sony datasets, against the real bodies in ../shared/vectors/bodies.

use super::*;

fn shared(rel: &str) -> Option<Vec<u8>> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/vectors")
            .join(rel),
    )
    .ok()
}

/// A file of ../shared/vectors/bodies/BODY/: skips loudly when the vectors are
/// absent, and fails under CI=true, where they must be present.
pub(crate) fn body(name: &str, file: &str) -> Option<Vec<u8>> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors/bodies")
        .join(name)
        .join(file);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true and the shared vector {} is missing: {e}",
                p.display()
            )
        }
        Err(e) => {
            eprintln!("SKIPPED: shared vector {} not readable ({e})", p.display());
            None
        }
    }
}

/// The shared bodies: name, 0x9202 version, descriptors in 0x9209.
const BODIES: [(&str, u16, usize); 2] = [("ILCE-5100", 0x00C8, 36), ("DSC-RX100M7", 0x012C, 78)];

fn real(name: &str) -> Option<(ExtDeviceInfo, Vec<u8>)> {
    let ext = ExtDeviceInfo::parse(&body(name, "ext_device_info.bin")?).unwrap();
    Some((ext, body(name, "all_props.bin")?))
}

#[test]
fn real_9202_bodies_answer_their_own_version() {
    for (name, version, _) in BODIES {
        let Some(raw) = body(name, "ext_device_info.bin") else {
            continue;
        };
        let ext = ExtDeviceInfo::parse(&raw).unwrap();
        assert_eq!(ext.version, version, "{name}");
        let mut v = Vec::new();
        ext.encode(&mut v);
        assert_eq!(v, raw, "{name}");
    }
    let Some((a5100, _)) = real("ILCE-5100") else {
        return;
    };
    assert_eq!((a5100.properties.len(), a5100.controls.len()), (31, 6));
    assert_eq!(a5100.generation(), Generation::V2);
    let Some((rx, _)) = real("DSC-RX100M7") else {
        return;
    };
    assert_eq!((rx.properties.len(), rx.controls.len()), (78, 23));
    assert_eq!(rx.generation(), Generation::V3);
    // Param1 0x0136 seen with data 0x012C: anything from 0x012C up reads as 3.00.
    assert_eq!(Generation::of_version(0x0136), Generation::V3);
    assert_eq!(Generation::of_version(0x00C7), Generation::V2);
}

#[test]
fn real_9209_every_descriptor_decoded_by_version_and_round_trips() {
    for (name, _, count) in BODIES {
        let Some((ext, raw)) = real(name) else {
            continue;
        };
        let all = AllProps::parse(&raw, ext.generation(), &ext.announced()).unwrap();
        let skipped: Vec<_> = all.skipped().collect();
        assert!(skipped.is_empty(), "{name}: {skipped:?}");
        assert_eq!(all.descriptors().count(), count, "{name}");
        assert_eq!(all.declared as usize, count, "{name}");
        let mut v = Vec::new();
        all.encode(&mut v);
        assert_eq!(
            v, raw,
            "{name}: encoding the parsed model gives the same bytes"
        );
        // Without the announced codes (an empty 0x9202), the same result.
        assert_eq!(AllProps::parse(&raw, ext.generation(), &[]).unwrap(), all);
        for d in all.descriptors() {
            let PropForm::Enum { settable, .. } = &d.form else {
                continue;
            };
            assert_eq!(
                settable.is_some(),
                ext.generation() == Generation::V3,
                "{name} {:#06x}",
                d.code
            );
        }
    }
}

#[test]
fn real_9209_controls_inside_on_2_00_absent_on_3_00() {
    let Some((ext, raw)) = real("ILCE-5100") else {
        return;
    };
    let all = AllProps::parse(&raw, Generation::V2, &ext.announced()).unwrap();
    let controls: Vec<(u16, u8)> = all
        .descriptors()
        .filter(|d| d.get_set & 0x80 != 0)
        .map(|d| (d.code, d.get_set))
        .collect();
    assert_eq!(
        controls,
        [
            (0xD2C1, 0x81),
            (0xD2C2, 0x81),
            (0xD2C3, 0x81),
            (0xD2C8, 0x81),
            (0xD2C5, 0x83),
            (0xD2C7, 0x81)
        ]
    );
    let Some((ext, raw)) = real("DSC-RX100M7") else {
        return;
    };
    let all = AllProps::parse(&raw, Generation::V3, &ext.announced()).unwrap();
    assert!(all.descriptors().all(|d| d.get_set <= 1));
    assert!(all.descriptors().all(|d| !ext.controls.contains(&d.code)));
    // 0x500C (flash mode): 4 values shown, 5 settable: two different lists.
    let flash = all.descriptors().find(|d| d.code == 0x500C).unwrap();
    let PropForm::Enum { values, settable } = &flash.form else {
        panic!("{flash:?}")
    };
    assert_eq!(
        (values.len(), settable.as_ref().map(Vec::len)),
        (4, Some(5))
    );
}

/// Reading by the wrong generation goes wrong: the version, not the bytes, decides.
#[test]
fn real_9209_read_by_the_wrong_generation_does_not_fit() {
    for (name, _, count) in BODIES {
        let Some((ext, raw)) = real(name) else {
            continue;
        };
        let wrong = match ext.generation() {
            Generation::V2 => Generation::V3,
            Generation::V3 => Generation::V2,
        };
        let all = AllProps::parse(&raw, wrong, &ext.announced()).unwrap();
        assert!(
            all.skipped().count() > 0 || all.descriptors().count() != count,
            "{name}"
        );
    }
}

/// Splices `extra` into a 0x9209 dataset before descriptor `at` (byte offsets of the
/// descriptors from a clean parse), bumping the count.
fn splice(raw: &[u8], all: &AllProps, at: usize, extra: &[u8]) -> (Vec<u8>, usize) {
    let mut offsets = vec![8usize];
    let mut pos = 8;
    for d in all.descriptors() {
        let mut v = Vec::new();
        d.encode(all.generation, &mut v);
        pos += v.len();
        offsets.push(pos);
    }
    let off = offsets[at];
    let mut v = raw[..off].to_vec();
    v.extend_from_slice(extra);
    v.extend_from_slice(&raw[off..]);
    let n = u32::from_le_bytes([v[0], v[1], v[2], v[3]]) + 1;
    v[..4].copy_from_slice(&n.to_le_bytes());
    (v, off)
}

/// The resync rule on the real bytes: an unreadable descriptor spliced in before each
/// descriptor in turn costs exactly its own bytes, never the rest of the list.
#[test]
fn real_9209_unreadable_descriptors_are_skipped_and_the_rest_kept() {
    let junk: [(&str, Vec<u8>); 4] = [
        // Data type 0x0000, no value bytes, form flag 0.
        (
            "type 0x0000",
            vec![0x99, 0xD2, 0x00, 0x00, 0x01, 0x01, 0x00],
        ),
        // Data type 0x0000 and nothing after the head.
        ("bare type 0x0000", vec![0x9A, 0xD2, 0x00, 0x00, 0x00, 0x01]),
        // Unknown data type 0x0123 with four value bytes.
        (
            "unknown type",
            vec![0x9B, 0xD2, 0x23, 0x01, 0x01, 0x01, 1, 2, 3, 4, 0],
        ),
        // A known type with form flag 7.
        (
            "bad form flag",
            vec![0x9C, 0xD2, 0x02, 0x00, 0x01, 0x01, 1, 1, 7, 0, 0],
        ),
    ];
    for (name, _, count) in BODIES {
        let Some((ext, raw)) = real(name) else {
            continue;
        };
        let g = ext.generation();
        let clean = AllProps::parse(&raw, g, &ext.announced()).unwrap();
        for (what, extra) in &junk {
            for at in 0..=count {
                let (v, off) = splice(&raw, &clean, at, extra);
                for announced in [ext.announced(), Vec::new()] {
                    let all = AllProps::parse(&v, g, &announced).unwrap();
                    let skipped: Vec<_> = all.skipped().collect();
                    assert_eq!(skipped.len(), 1, "{name} {what} before #{at}: {skipped:?}");
                    assert_eq!((skipped[0].offset, &skipped[0].bytes), (off, extra));
                    assert!(matches!(skipped[0].reason, SkipReason::Unreadable(_)));
                    assert!(
                        all.descriptors().eq(clean.descriptors()),
                        "{name} {what} before #{at}"
                    );
                    let mut again = Vec::new();
                    all.encode(&mut again);
                    assert_eq!(again, v);
                }
            }
        }
    }
}

#[test]
fn real_9209_duplicated_code_is_skipped_first_kept() {
    for (name, _, count) in BODIES {
        let Some((ext, raw)) = real(name) else {
            continue;
        };
        let g = ext.generation();
        let clean = AllProps::parse(&raw, g, &ext.announced()).unwrap();
        let first = clean.descriptors().nth(3).unwrap();
        let mut dup = first.clone();
        dup.current = PropValue::Int(0);
        let mut extra = Vec::new();
        dup.encode(g, &mut extra);
        let (v, off) = splice(&raw, &clean, count - 1, &extra);
        let all = AllProps::parse(&v, g, &ext.announced()).unwrap();
        assert!(all.descriptors().eq(clean.descriptors()), "{name}");
        let s: Vec<_> = all.skipped().collect();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].offset, s[0].code), (off, Some(first.code)));
        let SkipReason::Duplicate { first_offset } = s[0].reason else {
            panic!("{:?}", s[0].reason)
        };
        let (_, first_off) = splice(&raw, &clean, 3, &[]);
        assert_eq!(first_offset, first_off);
    }
}

#[test]
fn a5100_9202_vector() {
    let Some(c) = shared("usb-issues/a5100_9202_data.bin") else {
        return;
    };
    let info = ExtDeviceInfo::parse(&c[12..]).unwrap();
    assert_eq!(info.version, SDIO_VERSION_2);
    assert_eq!(info.properties.len(), 31);
    assert_eq!(
        info.controls,
        vec![0xD2C1, 0xD2C2, 0xD2C3, 0xD2C8, 0xD2C5, 0xD2C7]
    );
    let mut v = Vec::new();
    info.encode(&mut v);
    assert_eq!(v, &c[12..]);
}

#[test]
fn a5000_9209_entry_from_sony_usb_md() {
    let b = [
        0x01, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x50, 0x02, 0x00, 0x01, 0x01, 0x02, 0x10, 0x02, 0x04,
        0x00, 0x02, 0x03, 0x10, 0x13,
    ];
    let p = parse_all_props(&b, Generation::V2).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].code, 0x5004);
    assert_eq!(p[0].current, PropValue::Int(0x10));
    assert_eq!(
        p[0].form,
        PropForm::Enum {
            values: [2, 3, 0x10, 0x13].map(PropValue::Int).to_vec(),
            settable: None
        }
    );
    let mut v = Vec::new();
    encode_all_props(&p, Generation::V2, &mut v);
    assert_eq!(v, b);
}

#[test]
fn signed_values_and_hostile_counts() {
    let d = PropDesc {
        code: 0xD224,
        data_type: DataType::INT16,
        get_set: 1,
        is_enabled: 1,
        default: PropValue::Int(0),
        current: PropValue::Int(-1700),
        form: PropForm::Range {
            min: PropValue::Int(-2000),
            max: PropValue::Int(2000),
            step: PropValue::Int(100),
        },
    };
    let mut v = Vec::new();
    encode_all_props(std::slice::from_ref(&d), Generation::V3, &mut v);
    assert_eq!(parse_all_props(&v, Generation::V3).unwrap(), vec![d]);
    let hostile = [
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x04, 0x50, 0x04, 0x40, 1, 1, 0xff, 0xff, 0xff, 0xff,
    ];
    // The header promises 2^32 descriptors; the one present cannot be read: it is
    // skipped, nothing is allocated for the promise.
    let all = AllProps::parse(&hostile, Generation::V2, &[]).unwrap();
    assert_eq!(all.descriptors().count(), 0);
    assert_eq!(all.skipped().count(), 1);
    assert!(AllProps::parse(&hostile[..7], Generation::V2, &[]).is_err());
}

#[test]
fn ext_cmd_start_vector() {
    let Some(p) = shared("ptpip-sony/start_9280_data.bin") else {
        return;
    };
    let cmd = ExtCmd::parse(&p[12..]).unwrap();
    assert_eq!(
        (cmd.sub_command, cmd.direction, cmd.payload),
        (2, 0, &[1u8, 1][..])
    );
    let mut v = Vec::new();
    cmd.encode(&mut v);
    assert_eq!(v, &p[12..]);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A value that fits `t` (sign-extended for signed types, as the reader yields).
    fn value(t: DataType) -> BoxedStrategy<PropValue> {
        if t == DataType::STR {
            return prop_oneof!["[ -~]{0,40}", "\\PC{0,20}"]
                .prop_map(PropValue::Str)
                .boxed();
        }
        let size = t.scalar_size().unwrap();
        let signed = t.0 & 1 == 1;
        let scalar = any::<i128>().prop_map(move |v| {
            if size == 16 {
                return v;
            }
            let shift = 128 - 8 * size as u32;
            if signed {
                (v << shift) >> shift
            } else {
                ((v as u128) << shift >> shift) as i128
            }
        });
        if t.is_array() {
            proptest::collection::vec(scalar, 0..6)
                .prop_map(PropValue::Array)
                .boxed()
        } else {
            scalar.prop_map(PropValue::Int).boxed()
        }
    }

    fn data_type() -> impl Strategy<Value = DataType> {
        prop_oneof![
            (1u16..=10).prop_map(DataType),
            (0x4001u16..=0x400A).prop_map(DataType),
            Just(DataType::STR),
        ]
    }

    /// Any code: the layout follows the generation, so even codes below 0x200 (which
    /// the old byte-peeking heuristic took for a second list's count) round-trip.
    fn prop_desc(g: Generation) -> impl Strategy<Value = PropDesc> {
        (data_type(), any::<u16>())
            .prop_flat_map(move |(t, code)| {
                let settable = match g {
                    Generation::V2 => Just(None).boxed(),
                    Generation::V3 => proptest::collection::vec(value(t), 0..6)
                        .prop_map(Some)
                        .boxed(),
                };
                let form =
                    prop_oneof![
                        Just(PropForm::None),
                        (value(t), value(t), value(t))
                            .prop_map(|(min, max, step)| PropForm::Range { min, max, step }),
                        (proptest::collection::vec(value(t), 0..6), settable)
                            .prop_map(|(values, settable)| PropForm::Enum { values, settable }),
                    ];
                (
                    Just(t),
                    Just(code),
                    any::<u8>(),
                    any::<u8>(),
                    value(t),
                    value(t),
                    form,
                )
            })
            .prop_map(
                |(data_type, code, get_set, is_enabled, default, current, form)| PropDesc {
                    code,
                    data_type,
                    get_set,
                    is_enabled,
                    default,
                    current,
                    form,
                },
            )
    }

    proptest! {
        #[test]
        fn all_props_round_trip(
            (g, mut props) in prop_oneof![Just(Generation::V2), Just(Generation::V3)]
                .prop_flat_map(|g| (Just(g), proptest::collection::vec(prop_desc(g), 0..6)))
        ) {
            // A repeated code is skipped by design: keep the first of each.
            let mut seen = std::collections::HashSet::new();
            props.retain(|p| seen.insert(p.code));
            let mut v = Vec::new();
            encode_all_props(&props, g, &mut v);
            prop_assert_eq!(parse_all_props(&v, g), Ok(props));
            let all = AllProps::parse(&v, g, &[]).unwrap();
            let mut again = Vec::new();
            all.encode(&mut again);
            prop_assert_eq!(again, v);
        }

        #[test]
        fn ext_device_info_round_trips(version: u16, p in proptest::collection::vec(any::<u16>(), 0..50), c in proptest::collection::vec(any::<u16>(), 0..50)) {
            let e = ExtDeviceInfo { version, properties: p, controls: c };
            let mut v = Vec::new();
            e.encode(&mut v);
            prop_assert_eq!(ExtDeviceInfo::parse(&v), Ok(e));
        }

        #[test]
        fn ext_cmd_round_trips(sub_command: u16, direction: u16, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let c = ExtCmd { sub_command, direction, payload: &payload };
            let mut v = Vec::new();
            c.encode(&mut v);
            prop_assert_eq!(ExtCmd::parse(&v), Ok(c));
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_all_props(&b, Generation::V2);
            let _ = parse_all_props(&b, Generation::V3);
            let _ = ExtDeviceInfo::parse(&b);
            let _ = ExtCmd::parse(&b);
        }

        /// Any bytes after a valid count/reserved header, where the descriptor parser
        /// does the work.
        #[test]
        fn random_descriptors_never_panic(n in 0u32..5, b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut v = n.to_le_bytes().to_vec();
            v.extend_from_slice(&[0; 4]);
            v.extend_from_slice(&b);
            for g in [Generation::V2, Generation::V3] {
                let _ = AllProps::parse(&v, g, &[0x5004, 0xD2C1]);
                let _ = AllProps::parse(&v, g, &[]);
            }
        }
    }
}
