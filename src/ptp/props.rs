//! The typed property model of a Sony body (docs/protocol/sony-usb.md#property-model):
//! every property and control with its name, data type, current value, allowed values,
//! whether it is settable now and how the body's generation takes a new value. Built from
//! SDIO_GetAllExtDevicePropInfo (0x9209) and kept current by later 0x9209 reads and by
//! the 0xC203 "property changed" events of the interrupt pipe.
//!
//! Pure (L0): no I/O. Reading the event pipe and re-reading 0x9209 belong to the camera
//! driver (`camera::sony::Camera::poll_events` and `refresh_stale`,
//! docs/protocol/sony-usb.md#events); it feeds [`PropModel::on_event`] and
//! [`PropModel::update`].

use super::codes::{DataType, PropCode};
use super::sony::{AllProps, Generation, PropDesc, PropForm, PropValue, Skipped};
use super::ParseError;

/// Sony's "property changed" event (interrupt pipe, Param1 = property code).
pub const EVENT_PROPERTY_CHANGED: u16 = 0xC203;

/// The settings a 2.00 body only takes in notch steps (docs/protocol/sony-usb.md#writing-a-setting):
/// ISO, ShutterSpeed, FNumber, ExposureBiasCompensation.
pub const NOTCH_CODES: &[u16] = &[
    PropCode::ISO.0,
    PropCode::SHUTTER_SPEED.0,
    PropCode::F_NUMBER.0,
    PropCode::EXPOSURE_BIAS_COMPENSATION.0,
];

/// How a new value reaches the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMethod {
    /// The value itself with SDIO_SetExtDevicePropValue (0x9205): every 3.00 setting,
    /// and the 2.00 settings outside [`NOTCH_CODES`].
    Direct,
    /// The 2.00 exposure settings ([`NOTCH_CODES`]): SDIO_ControlDevice (0x9207) with a
    /// signed notch count (u8: +n up, 0x100−n down through the body's list), then
    /// re-read 0x9209 until it moved. Every other 2.00 setting is [`Direct`](Self::Direct).
    Notch,
    /// 2.00 controls (GetSet with bit 7: 0x81 button, 0x82 notch, 0x83 lock, 0x84
    /// variable): SDIO_ControlDevice (0x9207) with the control's value (1 up, 2 down).
    Control,
}

impl WriteMethod {
    /// The write method in words, for listings.
    pub fn label(self) -> &'static str {
        match self {
            WriteMethod::Direct => "0x9205 value",
            WriteMethod::Notch => "0x9207 notch",
            WriteMethod::Control => "0x9207 control",
        }
    }
}

/// What IsEnabled says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enabled {
    /// 0: greyed out on the body.
    Disabled,
    /// 1: enabled.
    Enabled,
    /// 2: shown, not changeable.
    DisplayOnly,
    /// A value the standard does not define.
    Other(u8),
}

impl Enabled {
    /// Reads the IsEnabled byte.
    pub fn of(v: u8) -> Enabled {
        match v {
            0 => Enabled::Disabled,
            1 => Enabled::Enabled,
            2 => Enabled::DisplayOnly,
            n => Enabled::Other(n),
        }
    }

    /// The state in words, for listings.
    pub fn label(self) -> &'static str {
        match self {
            Enabled::Disabled => "disabled",
            Enabled::Enabled => "enabled",
            Enabled::DisplayOnly => "display only",
            Enabled::Other(_) => "unknown",
        }
    }
}

/// One property or control of the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// Property code.
    pub code: u16,
    /// The name for a known code (libgphoto2's and PIMA 15740's names), else `None`.
    pub name: Option<&'static str>,
    /// Data type of the values.
    pub data_type: DataType,
    /// GetSet as sent: 0/1 on properties; 0x81–0x84 marks a 2.00 control.
    pub get_set: u8,
    /// Whether the body lets it change now.
    pub enabled: Enabled,
    /// The current value.
    pub current: PropValue,
    /// The allowed values as the body sent them: a range, or the enumeration (on 3.00
    /// with the settable-now list).
    pub allowed: PropForm,
    /// How to set it.
    pub write: WriteMethod,
    /// The body's protocol generation (it decides what GetSet means).
    pub generation: Generation,
    /// A 0xC203 event named it since the last 0x9209 read: `current` may be old.
    pub stale: bool,
}

impl Property {
    fn of(d: &PropDesc, g: Generation) -> Property {
        let is_control = g == Generation::V2 && d.get_set & 0x80 != 0;
        Property {
            code: d.code,
            name: name(d.code),
            data_type: d.data_type,
            get_set: d.get_set,
            enabled: Enabled::of(d.is_enabled),
            current: d.current.clone(),
            allowed: d.form.clone(),
            write: match (g, is_control) {
                (Generation::V3, _) => WriteMethod::Direct,
                (Generation::V2, true) => WriteMethod::Control,
                (Generation::V2, false) if NOTCH_CODES.contains(&d.code) => WriteMethod::Notch,
                (Generation::V2, false) => WriteMethod::Direct,
            },
            generation: g,
            stale: false,
        }
    }

    /// A 2.00 control (button, lock, notch or variable) rather than a setting.
    pub fn is_control(&self) -> bool {
        self.write == WriteMethod::Control
    }

    /// Whether the body takes a new value now. 3.00: GetSet 1 and IsEnabled 1. 2.00:
    /// controls always; properties when IsEnabled is 1 (2.00 bodies send GetSet 0 on
    /// settings they do take, such as ISO, as libgphoto2 found).
    pub fn settable_now(&self) -> bool {
        if self.is_control() {
            return true;
        }
        let enabled = self.enabled == Enabled::Enabled;
        match self.generation {
            Generation::V3 => self.get_set == 1 && enabled,
            Generation::V2 => enabled,
        }
    }
}

/// Every property of a body, in the body's order, plus what 0x9209 held that could not
/// be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropModel {
    /// Which SDIO generation the body speaks.
    pub generation: Generation,
    /// The properties, in the body's order.
    pub properties: Vec<Property>,
    /// What could not be read.
    pub skipped: Vec<Skipped>,
}

impl PropModel {
    /// The model of a parsed 0x9209 answer.
    pub fn from_all_props(all: &AllProps) -> PropModel {
        PropModel {
            generation: all.generation,
            properties: all
                .descriptors()
                .map(|d| Property::of(d, all.generation))
                .collect(),
            skipped: all.skipped().cloned().collect(),
        }
    }

    /// Reads 0x9209 data (see [`AllProps::parse`] for `announced`).
    pub fn parse(b: &[u8], g: Generation, announced: &[u16]) -> Result<PropModel, ParseError> {
        Ok(PropModel::from_all_props(&AllProps::parse(
            b, g, announced,
        )?))
    }

    /// The property with `code`, if the body has it.
    pub fn get(&self, code: u16) -> Option<&Property> {
        self.properties.iter().find(|p| p.code == code)
    }

    /// Takes a newer 0x9209 read: values, allowed values and enable states are replaced,
    /// new codes appended, stale marks cleared. Returns the codes whose current value
    /// changed or that appeared. A body may send only part of its list (3.00 bodies can
    /// answer 0x9209 with the changed properties only), so a code missing from `newer`
    /// keeps its last known state.
    pub fn update(&mut self, newer: &AllProps) -> Vec<u16> {
        let mut changed = Vec::new();
        for d in newer.descriptors() {
            let p = Property::of(d, self.generation);
            match self.properties.iter_mut().find(|q| q.code == d.code) {
                Some(q) => {
                    if q.current != p.current {
                        changed.push(d.code);
                    }
                    *q = p;
                }
                None => {
                    changed.push(d.code);
                    self.properties.push(p);
                }
            }
        }
        self.skipped = newer.skipped().cloned().collect();
        changed
    }

    /// Feeds one event from the interrupt pipe. For 0xC203 the named property is marked
    /// stale and its code returned: the caller re-reads 0x9209 (the event carries no
    /// value) and passes it to [`update`](PropModel::update). Other events: `None`.
    pub fn on_event(&mut self, code: u16, params: &[u32]) -> Option<u16> {
        if code != EVENT_PROPERTY_CHANGED {
            return None;
        }
        let prop = u16::try_from(*params.first()?).ok()?;
        if let Some(p) = self.properties.iter_mut().find(|p| p.code == prop) {
            p.stale = true;
        }
        Some(prop)
    }

    /// Whether any property waits for a re-read after an event.
    pub fn has_stale(&self) -> bool {
        self.properties.iter().any(|p| p.stale)
    }
}

/// Names for the codes Sony bodies send: PIMA 15740 names for 0x5xxx, the names
/// libgphoto2 (camlibs/ptp2/ptp.h) gives Sony's 0xDxxx codes.
pub fn name(code: u16) -> Option<&'static str> {
    let i = NAMES.binary_search_by_key(&code, |&(c, _)| c).ok()?;
    Some(NAMES[i].1)
}

/// Sorted by code (a test checks).
const NAMES: &[(u16, &str)] = &[
    (0x5001, "BatteryLevel"),
    (0x5002, "FunctionalMode"),
    (0x5003, "ImageSize"),
    (0x5004, "CompressionSetting"),
    (0x5005, "WhiteBalance"),
    (0x5006, "RGBGain"),
    (0x5007, "FNumber"),
    (0x5008, "FocalLength"),
    (0x5009, "FocusDistance"),
    (0x500A, "FocusMode"),
    (0x500B, "ExposureMeteringMode"),
    (0x500C, "FlashMode"),
    (0x500D, "ExposureTime"),
    (0x500E, "ExposureProgramMode"),
    (0x500F, "ExposureIndex"),
    (0x5010, "ExposureBiasCompensation"),
    (0x5011, "DateTime"),
    (0x5012, "CaptureDelay"),
    (0x5013, "StillCaptureMode"),
    (0x5014, "Contrast"),
    (0x5015, "Sharpness"),
    (0x5016, "DigitalZoom"),
    (0x5017, "EffectMode"),
    (0x5018, "BurstNumber"),
    (0x5019, "BurstInterval"),
    (0x501A, "TimelapseNumber"),
    (0x501B, "TimelapseInterval"),
    (0x501C, "FocusMeteringMode"),
    (0x501D, "UploadURL"),
    (0x501E, "Artist"),
    (0x501F, "CopyrightInfo"),
    (0xD001, "IrisModeSetting"),
    (0xD004, "FocalDistanceInMeter"),
    (0xD005, "FocalDistanceInFeet"),
    (0xD006, "FocalDistanceUnitSetting"),
    (0xD007, "FocusModeSetting"),
    (0xD0D9, "ImageStabilization"),
    (0xD0DB, "SilentMode"),
    (0xD0DF, "ShutterType"),
    (0xD156, "ShutterLagTiming"),
    (0xD200, "DPCCompensation"),
    (0xD201, "DRangeOptimize"),
    (0xD203, "ImageSize"),
    (0xD20D, "ShutterSpeed"),
    (0xD20E, "BatteryLevelIndicator"),
    (0xD20F, "ColorTemp"),
    (0xD210, "CCFilter"),
    (0xD211, "AspectRatio"),
    (0xD213, "FocusFound"),
    (0xD214, "Zoom"),
    (0xD215, "ObjectInMemory"),
    (0xD216, "ExposeIndex"),
    (0xD217, "AELockIndication"),
    (0xD218, "BatteryLevel"),
    (0xD219, "SensorCrop"),
    (0xD21B, "PictureEffect"),
    (0xD21C, "ABFilter"),
    (0xD21D, "MovieRecordingState"),
    (0xD21E, "ISO"),
    (0xD21F, "FELockIndication"),
    (0xD221, "LiveViewStatus"),
    (0xD222, "StillImageStoreDestination"),
    (0xD223, "DateTimeSet"),
    (0xD224, "ExposureCompensation"),
    (0xD226, "ISO2"),
    (0xD227, "FormatMediaStatus"),
    (0xD229, "ShutterSpeed2"),
    (0xD22C, "FocusArea"),
    (0xD22D, "FocusMagnifierStatus"),
    (0xD22F, "CurrentFocusMagnifierRatio"),
    (0xD230, "FocusMagnifierPosition"),
    (0xD231, "LiveViewSettingEffect"),
    (0xD235, "ManualFocusAdjustEnableStatus"),
    (0xD239, "PixelShiftShootingMode2"),
    (0xD23A, "PixelShiftShootingNumber"),
    (0xD23B, "PixelShiftShootingInterval"),
    (0xD23C, "PixelShiftShootingStatus"),
    (0xD23D, "PixelShiftShootingProgress"),
    (0xD23F, "PictureProfile"),
    (0xD240, "CreativeStyle"),
    (0xD241, "FileFormatMovie"),
    (0xD242, "RecordingSettingMovie"),
    (0xD248, "MediaSLOT1Status"),
    (0xD249, "MediaSLOT1RemainingShots"),
    (0xD24A, "MediaSLOT1ShootingTime"),
    (0xD24C, "FocalPosition"),
    (0xD24E, "AWBLockIndication"),
    (0xD24F, "IntervalRECModel"),
    (0xD250, "IntervalRECStatus"),
    (0xD251, "DeviceOverheatStatus"),
    (0xD252, "JpegQuality"),
    (0xD253, "CompressionSetting"),
    (0xD254, "FocusMagnifierSetting"),
    (0xD255, "AFTrackingSensitivity"),
    (0xD256, "MediaSLOT2Status"),
    (0xD257, "MediaSLOT2RemainingShots"),
    (0xD258, "MediaSLOT2ShootingTime"),
    (0xD25A, "PriorityMode"),
    (0xD25B, "ZoomEnableStatus"),
    (0xD25C, "ZoomScale"),
    (0xD25D, "ZoomBarInformation"),
    (0xD25E, "ZoomSpeedRange"),
    (0xD25F, "ZoomSetting"),
    (0xD260, "ZoomTypeStatus"),
    (0xD262, "WirelessFlashSetting"),
    (0xD263, "RedEyeReduction"),
    (0xD264, "RemoteControlRestrictionStatus"),
    (0xD267, "LiveViewArea"),
    (0xD268, "PcSaveImageSize"),
    (0xD269, "PcSaveImageFormat"),
    (0xD26A, "LiveViewImageQuality"),
    (0xD26B, "CustomWBCaptureArea"),
    (0xD26C, "CustomWBCaptureFrameSize"),
    (0xD26D, "CustomWBCaptureStandbyEnable"),
    (0xD26E, "CustomWBCaptureStandbyCancelEnable"),
    (0xD26F, "CustomWBCaptureEnable"),
    (0xD270, "CustomWBExecutionState"),
    (0xD271, "SettingsSaveEnable"),
    (0xD272, "SettingsReadEnable"),
    (0xD273, "SettingsSaveReadState"),
    (0xD274, "FTPSettingSaveEnable"),
    (0xD275, "FTPSettingReadEnable"),
    (0xD276, "FTPSettingSaveReadState"),
    (0xD2C1, "ShutterHalfRelease"),
    (0xD2C2, "ShutterRelease"),
    (0xD2C3, "AELButton"),
    (0xD2C4, "AFLButton"),
    (0xD2C5, "ReleaseLock"),
    (0xD2C7, "RequestOneShooting"),
    (0xD2C8, "MovieRecButtonHold"),
    (0xD2C9, "FELButton"),
    (0xD2CA, "FormatMedia"),
    (0xD2CB, "FocusMagnifier"),
    (0xD2CC, "FocusMagnifierCancel"),
    (0xD2CD, "RemoteKeyUp"),
    (0xD2CE, "RemoteKeyDown"),
    (0xD2CF, "RemoteKeyLeft"),
    (0xD2D0, "RemoteKeyRight"),
    (0xD2D1, "ManualFocusAdjust"),
    (0xD2D2, "AFMFHold"),
    (0xD2D3, "CancelPixelShiftShooting"),
    (0xD2D4, "PixelShiftShootingMode"),
    (0xD2D5, "HFRStandby"),
    (0xD2D6, "HFRRecordingCancel"),
    (0xD2D7, "FocusStepNear"),
    (0xD2D8, "FocusStepFar"),
    (0xD2D9, "AWBLButton"),
    (0xD2DC, "AFAreaPosition"),
    (0xD2DD, "ZoomOperation"),
    (0xD2DF, "CustomWBCaptureStandby"),
    (0xD2E0, "CustomWBCaptureStandbyCancel"),
    (0xD2E1, "CustomWBCapture"),
    (0xD2E2, "FormatMediaCard"),
    (0xD2E4, "RemoteTouch"),
    (0xD2E5, "RemoteTouchCancel"),
    (0xD2E9, "SaveZoomAndFocusPosition"),
    (0xD2EA, "LoadZoomAndFocusPosition"),
];

/// A value for people: integers in decimal with hex for codes ≥ 0x100, strings quoted.
pub fn format_value(v: &PropValue) -> String {
    match v {
        PropValue::Int(n) if *n >= 0x100 => format!("{n} ({n:#x})"),
        PropValue::Int(n) => n.to_string(),
        PropValue::Str(s) => format!("{s:?}"),
        PropValue::Array(a) => format!("{a:?}"),
    }
}

/// The data type's short name (u8, i16, str, u16[] …).
pub fn type_name(t: DataType) -> String {
    let base = match t.0 & 0x0FFF {
        0x1 => "i8",
        0x2 => "u8",
        0x3 => "i16",
        0x4 => "u16",
        0x5 => "i32",
        0x6 => "u32",
        0x7 => "i64",
        0x8 => "u64",
        0x9 => "i128",
        0xA => "u128",
        _ if t == DataType::STR => return "str".into(),
        _ => return format!("{:#06x}", t.0),
    };
    if t.is_array() {
        format!("{base}[]")
    } else {
        base.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::sony::tests::body;
    use crate::ptp::sony::ExtDeviceInfo;

    fn model(name: &str) -> Option<(PropModel, Vec<u8>)> {
        let ext = ExtDeviceInfo::parse(&body(name, "ext_device_info.bin")?).unwrap();
        let raw = body(name, "all_props.bin")?;
        let m = PropModel::parse(&raw, ext.generation(), &ext.announced()).unwrap();
        Some((m, raw))
    }

    fn unnamed(m: &PropModel) -> Vec<u16> {
        m.properties
            .iter()
            .filter(|p| p.name.is_none())
            .map(|p| p.code)
            .collect()
    }

    #[test]
    fn names_are_sorted_and_unique() {
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(name(0xD26A), Some("LiveViewImageQuality"));
        assert_eq!(name(0x5007), Some("FNumber"));
        assert_eq!(name(0xD2FF), None);
    }

    #[test]
    fn a5100_model_2_00() {
        let Some((m, _)) = model("ILCE-5100") else {
            return;
        };
        assert_eq!(m.generation, Generation::V2);
        assert_eq!(m.properties.len(), 36);
        assert!(m.skipped.is_empty());
        // Every code of this body but one (0xD212, undocumented) has a name.
        let unnamed = unnamed(&m);
        assert_eq!(unnamed, [0xD212]);
        let iso = m.get(0xD21E).unwrap();
        assert_eq!((iso.name, iso.write), (Some("ISO"), WriteMethod::Notch));
        assert_eq!(iso.current, PropValue::Int(0x00FF_FFFF));
        let PropForm::Enum { values, settable } = &iso.allowed else {
            panic!("{iso:?}")
        };
        assert_eq!((values.len(), settable), (29, &None));
        // GetSet 0 but IsEnabled 1: settable on 2.00 (through 0x9207).
        assert_eq!((iso.get_set, iso.settable_now()), (0, true));
        let half = m.get(0xD2C1).unwrap();
        assert_eq!(
            (half.name, half.write, half.settable_now()),
            (Some("ShutterHalfRelease"), WriteMethod::Control, true)
        );
        assert_eq!(m.get(0xD2C5).unwrap().get_set, 0x83);
        assert_eq!(m.properties.iter().filter(|p| p.is_control()).count(), 6);
        // Only the four exposure settings take notch steps; the others are written
        // directly on 2.00 too (white balance, focus mode …).
        let notch: Vec<u16> = m
            .properties
            .iter()
            .filter(|p| p.write == WriteMethod::Notch)
            .map(|p| p.code)
            .collect();
        assert!(notch.iter().all(|c| NOTCH_CODES.contains(c)), "{notch:x?}");
        assert!(
            notch.contains(&0xD21E) && notch.contains(&0x5010),
            "{notch:x?}"
        );
        let wb = m.get(0x5005).unwrap();
        assert_eq!((wb.write, wb.settable_now()), (WriteMethod::Direct, true));
        // IsEnabled 2: display only.
        let prog = m.get(0x500E).unwrap();
        assert_eq!(
            (prog.enabled, prog.settable_now()),
            (Enabled::DisplayOnly, false)
        );
        let ev = m.get(0x5010).unwrap();
        assert_eq!(ev.data_type, DataType::INT16);
        assert_eq!(ev.current, PropValue::Int(-300));
    }

    #[test]
    fn rx100m7_model_3_00() {
        let Some((m, _)) = model("DSC-RX100M7") else {
            return;
        };
        assert_eq!(m.generation, Generation::V3);
        assert_eq!(m.properties.len(), 78);
        assert!(m.properties.iter().all(|p| p.write == WriteMethod::Direct));
        assert!(!m.properties.iter().any(Property::is_control));
        let unnamed = unnamed(&m);
        // Codes libgphoto2 gives no name either.
        assert_eq!(
            unnamed,
            [
                0xD22A, 0xD236, 0xD23E, 0xD243, 0xD244, 0xD245, 0xD246, 0xD247, 0xD259, 0xD261,
                0xD278
            ]
        );
        let q = m.get(0xD26A).unwrap();
        assert_eq!(
            (q.name, q.current.clone(), q.settable_now()),
            (Some("LiveViewImageQuality"), PropValue::Int(1), true)
        );
        // 3.00 GetSet 0 means read-only even when enabled.
        let bat = m.get(0xD20E).unwrap();
        assert_eq!(
            (bat.get_set, bat.enabled, bat.settable_now()),
            (0, Enabled::Enabled, false)
        );
        let prog = m.get(0x500E).unwrap();
        let PropForm::Enum { values, settable } = &prog.allowed else {
            panic!("{prog:?}")
        };
        assert_eq!(
            (values.len(), settable.as_ref().map(Vec::len)),
            (0, Some(28))
        );
        assert_eq!(m.get(0xD278).unwrap().data_type, DataType::STR);
    }

    #[test]
    fn events_mark_stale_and_a_newer_read_updates() {
        let Some((mut m, raw)) = model("ILCE-5100") else {
            return;
        };
        // 10 00 00 00 04 00 03 c2 ff ff ff ff 1e d2 00 00: ISO changed.
        assert_eq!(m.on_event(0xC203, &[0xD21E]), Some(0xD21E));
        assert!(m.get(0xD21E).unwrap().stale && m.has_stale());
        assert_eq!(m.on_event(0x4002, &[1]), None);
        assert_eq!(m.on_event(0xC203, &[]), None);
        // The body's next 0x9209: ISO 0xFFFFFF (auto) → 400.
        let mut all = AllProps::parse(&raw, Generation::V2, &[]).unwrap();
        for e in &mut all.entries {
            if let crate::ptp::sony::Entry::Desc(d) = e {
                if d.code == 0xD21E {
                    d.current = PropValue::Int(400);
                }
            }
        }
        assert_eq!(m.update(&all), vec![0xD21E]);
        assert_eq!(m.get(0xD21E).unwrap().current, PropValue::Int(400));
        assert!(!m.has_stale());
        // A partial list keeps the others.
        let one = AllProps {
            entries: all.entries[..1].to_vec(),
            ..all.clone()
        };
        assert!(m.update(&one).is_empty());
        assert_eq!(m.properties.len(), 36);
    }

    #[test]
    fn value_and_type_display() {
        assert_eq!(format_value(&PropValue::Int(-300)), "-300");
        assert_eq!(format_value(&PropValue::Int(0xD21E)), "53790 (0xd21e)");
        assert_eq!(type_name(DataType::INT16), "i16");
        assert_eq!(type_name(DataType(0x4004)), "u16[]");
        assert_eq!(type_name(DataType(0)), "0x0000");
    }
}
