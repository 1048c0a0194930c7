//! Sony vendor datasets (docs/protocol/sony-usb.md): the 0x9202 code lists, the 0x9209
//! all-properties dump, and the ExtCmd block carried by 0x9280/0x9281.

use super::codec::{Reader, Writer};
use super::codes::DataType;
use super::ParseError;

/// Protocol version 2.00 (pre-2020 bodies).
pub const SDIO_VERSION_2: u16 = 0x00C8;
/// Protocol version 3.00 (2020+ bodies).
pub const SDIO_VERSION_3: u16 = 0x012C;

/// SDIO_GetExtDeviceInfo (0x9202) data: the version and code lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtDeviceInfo {
    pub version: u16,
    pub properties: Vec<u16>,
    pub controls: Vec<u16>,
}

impl ExtDeviceInfo {
    pub fn parse(b: &[u8]) -> Result<ExtDeviceInfo, ParseError> {
        let mut r = Reader::new(b, "ExtDeviceInfo");
        let version = r.u16("Version")?;
        let properties = r.u16_array("Properties")?;
        // Some bodies end after the property list.
        let controls = if r.remaining() >= 4 {
            r.u16_array("Controls")?
        } else {
            Vec::new()
        };
        Ok(ExtDeviceInfo {
            version,
            properties,
            controls,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u16(self.version)
            .u16_array(&self.properties)
            .u16_array(&self.controls);
    }
}

/// A property value as sent by the camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropValue {
    Int(i128),
    Str(String),
    Array(Vec<i128>),
}

impl PropValue {
    fn read(r: &mut Reader<'_>, t: DataType, field: &'static str) -> Result<PropValue, ParseError> {
        if t == DataType::STR {
            return Ok(PropValue::Str(r.string(field)?));
        }
        let size = t.scalar_size().ok_or_else(|| ParseError::Invalid {
            what: "property",
            reason: format!("unknown data type {:#06x}", t.0),
        })?;
        let signed = t.0 & 1 == 1;
        let scalar = |r: &mut Reader<'_>| -> Result<i128, ParseError> {
            let b = r.take(size, field)?;
            let mut a = [0u8; 16];
            a[..size].copy_from_slice(b);
            let mut v = i128::from_le_bytes(a);
            if signed && size < 16 {
                let shift = 128 - 8 * size as u32;
                v = (v << shift) >> shift;
            }
            Ok(v)
        };
        if t.is_array() {
            let n = r.u32(field)? as usize;
            if n.checked_mul(size)
                .map_or(true, |need| need > r.remaining())
            {
                return Err(ParseError::Invalid {
                    what: "property",
                    reason: format!("array of {n} elements exceeds the data"),
                });
            }
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(scalar(r)?);
            }
            return Ok(PropValue::Array(v));
        }
        Ok(PropValue::Int(scalar(r)?))
    }

    fn write(&self, w: &mut Writer<'_>, t: DataType) {
        let size = t.scalar_size().unwrap_or(0);
        match self {
            PropValue::Str(s) => {
                w.string(s);
            }
            PropValue::Int(v) => {
                w.bytes(&v.to_le_bytes()[..size]);
            }
            PropValue::Array(vs) => {
                w.u32(vs.len() as u32);
                for v in vs {
                    w.bytes(&v.to_le_bytes()[..size]);
                }
            }
        }
    }
}

/// The allowed values of a property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropForm {
    None,
    Range {
        min: PropValue,
        max: PropValue,
        step: PropValue,
    },
    Enum(Vec<PropValue>),
}

/// One Sony property descriptor (0x9203 / an entry of 0x9209).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropDesc {
    pub code: u16,
    pub data_type: DataType,
    pub get_set: u8,
    pub is_enabled: u8,
    pub default: PropValue,
    pub current: PropValue,
    pub form: PropForm,
}

impl PropDesc {
    fn read(r: &mut Reader<'_>) -> Result<PropDesc, ParseError> {
        let code = r.u16("PropertyCode")?;
        let data_type = DataType(r.u16("DataType")?);
        let get_set = r.u8("GetSet")?;
        let is_enabled = r.u8("IsEnabled")?;
        let default = PropValue::read(r, data_type, "DefaultValue")?;
        let current = PropValue::read(r, data_type, "CurrentValue")?;
        let flag = r.u8("FormFlag")?;
        let read_enum = |r: &mut Reader<'_>| -> Result<Vec<PropValue>, ParseError> {
            let n = r.u16("EnumCount")? as usize;
            let mut v = Vec::with_capacity(n.min(r.remaining()));
            for _ in 0..n {
                v.push(PropValue::read(r, data_type, "EnumValue")?);
            }
            Ok(v)
        };
        let mut form = match flag {
            0 => PropForm::None,
            1 => PropForm::Range {
                min: PropValue::read(r, data_type, "RangeMin")?,
                max: PropValue::read(r, data_type, "RangeMax")?,
                step: PropValue::read(r, data_type, "RangeStep")?,
            },
            2 => PropForm::Enum(read_enum(r)?),
            f => {
                return Err(ParseError::Invalid {
                    what: "property",
                    reason: format!("{code:#06x}: form flag {f}"),
                })
            }
        };
        // 2024+ bodies append a second enumeration (the settable values): a following
        // property code is 0x5xxx/0xDxxx, so a small u16 here is a count.
        if matches!(form, PropForm::Enum(_)) && r.remaining() >= 2 {
            let peek = u16::from_le_bytes([r.rest()[0], r.rest()[1]]);
            if peek < 0x200 {
                form = PropForm::Enum(read_enum(r)?);
            }
        }
        Ok(PropDesc {
            code,
            data_type,
            get_set,
            is_enabled,
            default,
            current,
            form,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u16(self.code)
            .u16(self.data_type.0)
            .u8(self.get_set)
            .u8(self.is_enabled);
        self.default.write(&mut w, self.data_type);
        self.current.write(&mut w, self.data_type);
        match &self.form {
            PropForm::None => {
                w.u8(0);
            }
            PropForm::Range { min, max, step } => {
                w.u8(1);
                min.write(&mut w, self.data_type);
                max.write(&mut w, self.data_type);
                step.write(&mut w, self.data_type);
            }
            PropForm::Enum(vs) => {
                w.u8(2).u16(vs.len() as u16);
                for v in vs {
                    v.write(&mut w, self.data_type);
                }
            }
        }
    }
}

/// Parses SDIO_GetAllExtDevicePropInfo (0x9209) data.
pub fn parse_all_props(b: &[u8]) -> Result<Vec<PropDesc>, ParseError> {
    let mut r = Reader::new(b, "AllExtDevicePropInfo");
    let n = r.u32("Count")? as usize;
    let _reserved = r.u32("Reserved")?;
    // Each descriptor is at least 8 bytes; never reserve more than the data could hold.
    let mut v = Vec::with_capacity(n.min(r.remaining() / 8));
    for _ in 0..n {
        if r.remaining() == 0 {
            break;
        }
        v.push(PropDesc::read(&mut r)?);
    }
    Ok(v)
}

/// Encodes a 0x9209 dataset.
pub fn encode_all_props(props: &[PropDesc], out: &mut Vec<u8>) {
    Writer::new(out).u32(props.len() as u32).u32(0);
    for p in props {
        p.encode(out);
    }
}

/// ExtCmd sub-commands of plugin 4 (ExtBackupCommunicator),
/// docs/protocol/pairing.md#extcmd-sub-commands.
pub mod ext_cmd {
    pub const PLUGIN_BACKUP: u32 = 4;
    pub const GET_SUPPORTED_COMMAND_IDS: u16 = 1;
    pub const NOTIFY_BACKUP_TYPE: u16 = 2;
    pub const NOTIFY_BACKUP_FINISH: u16 = 4;
    pub const FORCE_POWER_OFF: u16 = 5;
    pub const SET_GUID: u16 = 8;
}

/// The 16-byte ExtCmd header plus payload (0x9280 data-out, 0x9281 data-in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtCmd<'a> {
    pub sub_command: u16,
    pub direction: u16,
    pub payload: &'a [u8],
}

impl<'a> ExtCmd<'a> {
    pub const HEADER_LEN: usize = 16;

    pub fn parse(b: &'a [u8]) -> Result<ExtCmd<'a>, ParseError> {
        let mut r = Reader::new(b, "ExtCmd");
        let size = r.u32("PayloadSize")? as usize;
        let sub_command = r.u16("SubCommand")?;
        let direction = r.u16("Direction")?;
        r.take(8, "Reserved")?;
        let payload = r.take(size, "Payload")?;
        Ok(ExtCmd {
            sub_command,
            direction,
            payload,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u32(self.payload.len() as u32)
            .u16(self.sub_command)
            .u16(self.direction)
            .u64(0)
            .bytes(self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(rel: &str) -> Option<Vec<u8>> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/vectors")
                .join(rel),
        )
        .ok()
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
        let p = parse_all_props(&b).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].code, 0x5004);
        assert_eq!(p[0].current, PropValue::Int(0x10));
        assert_eq!(
            p[0].form,
            PropForm::Enum([2, 3, 0x10, 0x13].map(PropValue::Int).to_vec())
        );
        let mut v = Vec::new();
        encode_all_props(&p, &mut v);
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
        encode_all_props(std::slice::from_ref(&d), &mut v);
        assert_eq!(parse_all_props(&v).unwrap(), vec![d]);
        let hostile = [
            0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x04, 0x50, 0x04, 0x40, 1, 1, 0xff, 0xff, 0xff,
            0xff,
        ];
        assert!(parse_all_props(&hostile).is_err());
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

        /// Real property codes are 0x5xxx/0xDxxx: never below 0x200, which would read
        /// as a second enumeration after an enumerated property.
        fn prop_desc() -> impl Strategy<Value = PropDesc> {
            (data_type(), 0x200u16..)
                .prop_flat_map(|(t, code)| {
                    let form = prop_oneof![
                        Just(PropForm::None),
                        (value(t), value(t), value(t))
                            .prop_map(|(min, max, step)| PropForm::Range { min, max, step }),
                        proptest::collection::vec(value(t), 0..6).prop_map(PropForm::Enum),
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
            fn all_props_round_trip(props in proptest::collection::vec(prop_desc(), 0..6)) {
                let mut v = Vec::new();
                encode_all_props(&props, &mut v);
                prop_assert_eq!(parse_all_props(&v), Ok(props));
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
                let _ = parse_all_props(&b);
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
                let _ = parse_all_props(&v);
            }
        }
    }
}
