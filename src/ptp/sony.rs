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
    /// SDIO protocol version (200, 300).
    pub version: u16,
    /// Property codes the body has.
    pub properties: Vec<u16>,
    /// Control codes the body has.
    pub controls: Vec<u16>,
}

impl ExtDeviceInfo {
    /// Reads the 0x9202 answer.
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

    /// What to go on when 0x9202 stayed empty after every retry (libgphoto2 does the
    /// same): a 2.00 body whose properties are DeviceInfo's DevicePropertiesSupported.
    /// 2.00 bodies list their controls inside 0x9209, so none are lost here.
    pub fn fallback(device_properties: &[u16]) -> ExtDeviceInfo {
        ExtDeviceInfo {
            version: SDIO_VERSION_2,
            properties: device_properties.to_vec(),
            controls: Vec::new(),
        }
    }

    /// Which generation the version belongs to.
    pub fn generation(&self) -> Generation {
        Generation::of_version(self.version)
    }

    /// Every code announced: properties, then controls.
    pub fn announced(&self) -> Vec<u16> {
        let mut v = self.properties.clone();
        v.extend_from_slice(&self.controls);
        v
    }

    /// Appends the dataset to `out`.
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
    /// An integer of any of the PTP integer types.
    Int(i128),
    /// A string.
    Str(String),
    /// An array of integers.
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
            if n.checked_mul(size).is_none_or(|need| need > r.remaining()) {
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
    /// Any value of the type.
    None,
    /// Values from `min` to `max` in steps of `step`.
    Range {
        /// Smallest value.
        min: PropValue,
        /// Largest value.
        max: PropValue,
        /// Step between values.
        step: PropValue,
    },
    /// `values`: the values the body shows. `settable`: on 3.00 bodies, a second list
    /// sent right after the first, of the values settable now; `None` on 2.00 bodies,
    /// which send one list.
    Enum {
        /// The values the body shows.
        values: Vec<PropValue>,
        /// The values settable now (3.00 bodies only).
        settable: Option<Vec<PropValue>>,
    },
}

/// How a body lays out 0x9209 and takes new values, decided by the version in the data
/// of 0x9202 (docs/protocol/sony-usb.md#sdio-versions), never by the bytes of 0x9209.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Generation {
    /// Protocol 2.00 (answers 0x00C8, or anything below 0x012C): one enumeration list
    /// per descriptor, controls (GetSet 0x81/0x83) listed inside 0x9209.
    V2,
    /// Protocol 3.00 (answers 0x012C or later): two enumeration lists per descriptor.
    V3,
}

impl Generation {
    /// The generation of an SDIO version number.
    pub fn of_version(version: u16) -> Generation {
        if version >= SDIO_VERSION_3 {
            Generation::V3
        } else {
            Generation::V2
        }
    }

    /// "2.00" / "3.00".
    pub fn label(self) -> &'static str {
        match self {
            Generation::V2 => "2.00",
            Generation::V3 => "3.00",
        }
    }
}

/// One Sony property descriptor (0x9203 / an entry of 0x9209).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropDesc {
    /// Property code.
    pub code: u16,
    /// Data type of the values.
    pub data_type: DataType,
    /// 0: read only, 1: settable; 0x81 to 0x84 mark a 2.00 control.
    pub get_set: u8,
    /// 0: disabled, 1: enabled, 2: display only.
    pub is_enabled: u8,
    /// Factory default.
    pub default: PropValue,
    /// Current value.
    pub current: PropValue,
    /// The allowed values.
    pub form: PropForm,
}

impl PropDesc {
    /// Reads one descriptor laid out for `generation`.
    pub fn read(r: &mut Reader<'_>, generation: Generation) -> Result<PropDesc, ParseError> {
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
        let form = match flag {
            0 => PropForm::None,
            1 => PropForm::Range {
                min: PropValue::read(r, data_type, "RangeMin")?,
                max: PropValue::read(r, data_type, "RangeMax")?,
                step: PropValue::read(r, data_type, "RangeStep")?,
            },
            2 => PropForm::Enum {
                values: read_enum(r)?,
                settable: match generation {
                    Generation::V2 => None,
                    Generation::V3 => Some(read_enum(r)?),
                },
            },
            f => {
                return Err(ParseError::Invalid {
                    what: "property",
                    reason: format!("{code:#06x}: form flag {f}"),
                })
            }
        };
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

    /// Writes the descriptor laid out for `generation`: on 3.00 the second list is the
    /// settable one (the shown list when none is known), on 2.00 it is left out.
    pub fn encode(&self, generation: Generation, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.u16(self.code)
            .u16(self.data_type.0)
            .u8(self.get_set)
            .u8(self.is_enabled);
        self.default.write(&mut w, self.data_type);
        self.current.write(&mut w, self.data_type);
        let list = |w: &mut Writer<'_>, vs: &[PropValue]| {
            w.u16(vs.len() as u16);
            for v in vs {
                v.write(w, self.data_type);
            }
        };
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
            PropForm::Enum { values, settable } => {
                w.u8(2);
                list(&mut w, values);
                if generation == Generation::V3 {
                    list(&mut w, settable.as_deref().unwrap_or(values));
                }
            }
        }
    }
}

/// Why a 0x9209 descriptor was left out of the property list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The descriptor could not be read (data type 0x0000 or unknown, bad form flag,
    /// cut short); its end was found by the resync rule of [`AllProps::parse`].
    Unreadable(String),
    /// A second descriptor for a code already read at `first_offset`; the first wins.
    Duplicate {
        /// Where the first descriptor was.
        first_offset: usize,
    },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Unreadable(why) => write!(f, "unreadable: {why}"),
            SkipReason::Duplicate { first_offset } => {
                write!(f, "duplicate of the descriptor at offset {first_offset}")
            }
        }
    }
}

/// Bytes of 0x9209 that did not become a descriptor, kept verbatim so the dataset still
/// encodes byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Offset in the 0x9209 data.
    pub offset: usize,
    /// The code in the first two bytes, when there are two.
    pub code: Option<u16>,
    /// Why it was skipped.
    pub reason: SkipReason,
    /// The bytes skipped.
    pub bytes: Vec<u8>,
}

/// One entry of 0x9209 in the order the body sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A descriptor read.
    Desc(PropDesc),
    /// Bytes that could not be read as one.
    Skipped(Skipped),
}

/// SDIO_GetAllExtDevicePropInfo (0x9209) data, read by [`Generation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllProps {
    /// The generation the data was read as.
    pub generation: Generation,
    /// The descriptor count in the header (skipped entries included, as the body counts).
    pub declared: u32,
    /// Reserved header field, kept as sent.
    pub reserved: u32,
    /// The entries, in the body's order.
    pub entries: Vec<Entry>,
}

/// The fixed head of a descriptor: code, data type, GetSet, IsEnabled.
const DESC_HEAD: usize = 6;

impl AllProps {
    /// Reads 0x9209 data laid out for `generation`. Only a missing 8-byte header is an
    /// error: a descriptor that cannot be read, or repeats a code, becomes a
    /// [`Skipped`] entry and the rest of the list is still read.
    ///
    /// Resync rule: after a descriptor at offset `p` that cannot be read, its length is
    /// unknown. The next descriptor is taken to start at the first offset `q >= p + 6`
    /// (the fixed head) where (1) a descriptor reads completely, (2) its code is one the
    /// body announced in 0x9202 (`announced`, properties and controls) and not read yet —
    /// or, when `announced` is empty, lies in 0x5000–0x5FFF or 0xD000–0xDFFF — and (3) the
    /// data ends right after it or another descriptor meeting (1) and (2) follows. Bytes
    /// `p..q` become one skipped entry; with no such `q` the rest is one skipped entry.
    /// The search examines at most 32 times the data's length, so hostile data cannot make
    /// it quadratic.
    pub fn parse(
        b: &[u8],
        generation: Generation,
        announced: &[u16],
    ) -> Result<AllProps, ParseError> {
        let mut r = Reader::new(b, "AllExtDevicePropInfo");
        let declared = r.u32("Count")?;
        let reserved = r.u32("Reserved")?;
        let mut p = Parse {
            b,
            generation,
            announced,
            seen: Vec::new(),
            budget: b.len().saturating_mul(32),
        };
        let mut entries = Vec::with_capacity((declared as usize).min(b.len() / 8));
        let mut pos = r.position();
        while pos < b.len() {
            let (entry, next) = match p.read_at(pos) {
                Ok((d, len)) => {
                    let end = pos + len;
                    match p.seen.iter().find(|&&(c, _)| c == d.code) {
                        Some(&(_, first_offset)) => (
                            Entry::Skipped(Skipped {
                                offset: pos,
                                code: Some(d.code),
                                reason: SkipReason::Duplicate { first_offset },
                                bytes: b[pos..end].to_vec(),
                            }),
                            end,
                        ),
                        None => {
                            p.seen.push((d.code, pos));
                            (Entry::Desc(d), end)
                        }
                    }
                }
                Err(e) => {
                    let next = p.resync(pos);
                    (
                        Entry::Skipped(Skipped {
                            offset: pos,
                            code: b
                                .get(pos..pos + 2)
                                .map(|c| u16::from_le_bytes([c[0], c[1]])),
                            reason: SkipReason::Unreadable(e.to_string()),
                            bytes: b[pos..next].to_vec(),
                        }),
                        next,
                    )
                }
            };
            entries.push(entry);
            pos = next;
        }
        Ok(AllProps {
            generation,
            declared,
            reserved,
            entries,
        })
    }

    /// The descriptors that were read, in the body's order.
    pub fn descriptors(&self) -> impl Iterator<Item = &PropDesc> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Desc(d) => Some(d),
            Entry::Skipped(_) => None,
        })
    }

    /// The entries that could not be read.
    pub fn skipped(&self) -> impl Iterator<Item = &Skipped> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Skipped(s) => Some(s),
            Entry::Desc(_) => None,
        })
    }

    /// Writes the dataset back: the same bytes as parsed.
    pub fn encode(&self, out: &mut Vec<u8>) {
        Writer::new(out).u32(self.declared).u32(self.reserved);
        for e in &self.entries {
            match e {
                Entry::Desc(d) => d.encode(self.generation, out),
                Entry::Skipped(s) => out.extend_from_slice(&s.bytes),
            }
        }
    }
}

/// State of one [`AllProps::parse`].
struct Parse<'a> {
    b: &'a [u8],
    generation: Generation,
    announced: &'a [u16],
    /// Codes read so far, with their offsets.
    seen: Vec<(u16, usize)>,
    /// Bytes the resync search may still examine.
    budget: usize,
}

impl Parse<'_> {
    /// The descriptor at `pos` and its length.
    fn read_at(&self, pos: usize) -> Result<(PropDesc, usize), ParseError> {
        let mut r = Reader::new(&self.b[pos..], "property descriptor");
        let d = PropDesc::read(&mut r, self.generation).map_err(|e| with_offset(e, pos))?;
        Ok((d, r.position()))
    }

    fn plausible(&self, code: u16) -> bool {
        if self.seen.iter().any(|&(c, _)| c == code) {
            return false;
        }
        if self.announced.is_empty() {
            matches!(code >> 12, 0x5 | 0xD)
        } else {
            self.announced.contains(&code)
        }
    }

    /// Length of a descriptor at `q` meeting conditions (1) and (2) of the resync rule,
    /// charged to the budget.
    fn candidate(&mut self, q: usize) -> Option<usize> {
        let head = self.b.get(q..q + DESC_HEAD)?;
        if !self.plausible(u16::from_le_bytes([head[0], head[1]])) {
            return None;
        }
        let mut r = Reader::new(&self.b[q..], "property descriptor");
        let ok = PropDesc::read(&mut r, self.generation).is_ok();
        self.budget = self.budget.saturating_sub(r.position().max(1));
        ok.then(|| r.position())
    }

    /// Where the entry after an unreadable descriptor at `p` starts (the data's end when
    /// none is found).
    fn resync(&mut self, p: usize) -> usize {
        let end = self.b.len();
        for q in p + DESC_HEAD..end {
            if self.budget == 0 {
                break;
            }
            let Some(len) = self.candidate(q) else {
                continue;
            };
            let after = q + len;
            if after == end || self.candidate(after).is_some() {
                return q;
            }
        }
        end
    }
}

/// Makes a descriptor-relative error offset absolute.
fn with_offset(e: ParseError, base: usize) -> ParseError {
    match e {
        ParseError::Truncated {
            what,
            field,
            offset,
            need,
            have,
        } => ParseError::Truncated {
            what,
            field,
            offset: base + offset,
            need,
            have,
        },
        ParseError::Invalid { what, reason } => ParseError::Invalid {
            what,
            reason: format!("{reason} (descriptor at offset {base})"),
        },
        e => e,
    }
}

/// Parses SDIO_GetAllExtDevicePropInfo (0x9209) data laid out for `generation` and
/// returns the descriptors read (skipped entries left out; see [`AllProps::parse`]).
pub fn parse_all_props(b: &[u8], generation: Generation) -> Result<Vec<PropDesc>, ParseError> {
    Ok(AllProps::parse(b, generation, &[])?
        .descriptors()
        .cloned()
        .collect())
}

/// Encodes a 0x9209 dataset laid out for `generation`.
pub fn encode_all_props(props: &[PropDesc], generation: Generation, out: &mut Vec<u8>) {
    Writer::new(out).u32(props.len() as u32).u32(0);
    for p in props {
        p.encode(generation, out);
    }
}

/// ExtCmd sub-commands of plugin 4 (ExtBackupCommunicator),
/// docs/protocol/pairing.md#extcmd-sub-commands.
pub mod ext_cmd {
    /// ExtCmd plugin number of the backup communicator.
    pub const PLUGIN_BACKUP: u32 = 4;
    /// List the supported sub-commands.
    pub const GET_SUPPORTED_COMMAND_IDS: u16 = 1;
    /// Tell the body which backup type follows.
    pub const NOTIFY_BACKUP_TYPE: u16 = 2;
    /// Tell the body the backup has finished.
    pub const NOTIFY_BACKUP_FINISH: u16 = 4;
    /// Switch the body off.
    pub const FORCE_POWER_OFF: u16 = 5;
    /// Store an initiator GUID (pairing).
    pub const SET_GUID: u16 = 8;
}

/// The 16-byte ExtCmd header plus payload (0x9280 data-out, 0x9281 data-in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtCmd<'a> {
    /// Sub-command number.
    pub sub_command: u16,
    /// Direction field, as sent.
    pub direction: u16,
    /// Bytes after the header.
    pub payload: &'a [u8],
}

impl<'a> ExtCmd<'a> {
    /// Bytes of the header.
    pub const HEADER_LEN: usize = 16;

    /// Reads an ExtCmd data phase.
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

    /// Appends header and payload to `out`.
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
pub(crate) mod tests;
