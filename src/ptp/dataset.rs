//! PTP datasets (docs/protocol/ptp-usb.md#datasets): DeviceInfo, ObjectInfo, StorageInfo,
//! with parse and encode. Parsing takes the bytes a device sent and never trusts a count or
//! length.

use super::codec::{Reader, Writer};
use super::codes::{ObjectFormat, OpCode};
use super::ParseError;

/// DeviceInfo (GetDeviceInfo data).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// PTP version times 100.
    pub standard_version: u16,
    /// Vendor extension id (Sony: 0x11).
    pub vendor_extension_id: u32,
    /// Vendor extension version.
    pub vendor_extension_version: u16,
    /// Vendor extension description.
    pub vendor_extension_desc: String,
    /// Functional mode.
    pub functional_mode: u16,
    /// Operation codes the device supports.
    pub operations_supported: Vec<u16>,
    /// Event codes the device sends.
    pub events_supported: Vec<u16>,
    /// Property codes the device has.
    pub device_properties_supported: Vec<u16>,
    /// Formats it can capture.
    pub capture_formats: Vec<u16>,
    /// Formats it stores.
    pub image_formats: Vec<u16>,
    /// Manufacturer name.
    pub manufacturer: String,
    /// Model name.
    pub model: String,
    /// Firmware version.
    pub device_version: String,
    /// Serial number.
    pub serial_number: String,
}

impl DeviceInfo {
    /// Reads a DeviceInfo dataset.
    pub fn parse(b: &[u8]) -> Result<DeviceInfo, ParseError> {
        let mut r = Reader::new(b, "DeviceInfo");
        Ok(DeviceInfo {
            standard_version: r.u16("StandardVersion")?,
            vendor_extension_id: r.u32("VendorExtensionID")?,
            vendor_extension_version: r.u16("VendorExtensionVersion")?,
            vendor_extension_desc: r.string("VendorExtensionDesc")?,
            functional_mode: r.u16("FunctionalMode")?,
            operations_supported: r.u16_array("OperationsSupported")?,
            events_supported: r.u16_array("EventsSupported")?,
            device_properties_supported: r.u16_array("DevicePropertiesSupported")?,
            capture_formats: r.u16_array("CaptureFormats")?,
            image_formats: r.u16_array("ImageFormats")?,
            manufacturer: r.string("Manufacturer")?,
            model: r.string("Model")?,
            device_version: r.string("DeviceVersion")?,
            serial_number: r.string("SerialNumber")?,
        })
    }

    /// Appends the dataset to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u16(self.standard_version)
            .u32(self.vendor_extension_id)
            .u16(self.vendor_extension_version)
            .string(&self.vendor_extension_desc)
            .u16(self.functional_mode)
            .u16_array(&self.operations_supported)
            .u16_array(&self.events_supported)
            .u16_array(&self.device_properties_supported)
            .u16_array(&self.capture_formats)
            .u16_array(&self.image_formats)
            .string(&self.manufacturer)
            .string(&self.model)
            .string(&self.device_version)
            .string(&self.serial_number);
    }

    /// Whether `op` is among the supported operations.
    pub fn supports(&self, op: OpCode) -> bool {
        self.operations_supported.contains(&op.0)
    }
}

/// ObjectInfo (GetObjectInfo data).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Storage the object is on.
    pub storage_id: u32,
    /// Object format.
    pub format: ObjectFormat,
    /// Protection status.
    pub protection_status: u16,
    /// Bytes; `0xFFFF_FFFF` when the object is 4 GiB or larger.
    pub compressed_size: u32,
    /// Thumbnail format.
    pub thumb_format: u16,
    /// Thumbnail size in bytes.
    pub thumb_compressed_size: u32,
    /// Thumbnail width.
    pub thumb_pix_width: u32,
    /// Thumbnail height.
    pub thumb_pix_height: u32,
    /// Image width.
    pub image_pix_width: u32,
    /// Image height.
    pub image_pix_height: u32,
    /// Image bit depth.
    pub image_bit_depth: u32,
    /// Handle of the parent folder.
    pub parent: u32,
    /// Association type (folders).
    pub association_type: u16,
    /// Association description.
    pub association_desc: u32,
    /// Sequence number.
    pub sequence_number: u32,
    /// File name.
    pub filename: String,
    /// Capture date (PTP date string).
    pub capture_date: String,
    /// Modification date (PTP date string).
    pub modification_date: String,
    /// Keywords.
    pub keywords: String,
}

impl ObjectInfo {
    /// Reads an ObjectInfo dataset.
    pub fn parse(b: &[u8]) -> Result<ObjectInfo, ParseError> {
        let mut r = Reader::new(b, "ObjectInfo");
        let mut o = ObjectInfo {
            storage_id: r.u32("StorageID")?,
            format: ObjectFormat(r.u16("ObjectFormat")?),
            protection_status: r.u16("ProtectionStatus")?,
            compressed_size: r.u32("ObjectCompressedSize")?,
            thumb_format: r.u16("ThumbFormat")?,
            thumb_compressed_size: r.u32("ThumbCompressedSize")?,
            thumb_pix_width: r.u32("ThumbPixWidth")?,
            thumb_pix_height: r.u32("ThumbPixHeight")?,
            image_pix_width: r.u32("ImagePixWidth")?,
            image_pix_height: r.u32("ImagePixHeight")?,
            image_bit_depth: r.u32("ImageBitDepth")?,
            parent: r.u32("ParentObject")?,
            association_type: r.u16("AssociationType")?,
            association_desc: r.u32("AssociationDesc")?,
            sequence_number: r.u32("SequenceNumber")?,
            filename: r.string("Filename")?,
            ..ObjectInfo::default()
        };
        // Some devices end the dataset after the file name; the dates are optional.
        if r.remaining() > 0 {
            o.capture_date = r.string("CaptureDate")?;
        }
        if r.remaining() > 0 {
            o.modification_date = r.string("ModificationDate")?;
        }
        if r.remaining() > 0 {
            o.keywords = r.string("Keywords")?;
        }
        Ok(o)
    }

    /// Appends the dataset to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u32(self.storage_id)
            .u16(self.format.0)
            .u16(self.protection_status)
            .u32(self.compressed_size)
            .u16(self.thumb_format)
            .u32(self.thumb_compressed_size)
            .u32(self.thumb_pix_width)
            .u32(self.thumb_pix_height)
            .u32(self.image_pix_width)
            .u32(self.image_pix_height)
            .u32(self.image_bit_depth)
            .u32(self.parent)
            .u16(self.association_type)
            .u32(self.association_desc)
            .u32(self.sequence_number)
            .string(&self.filename)
            .string(&self.capture_date)
            .string(&self.modification_date)
            .string(&self.keywords);
    }

    /// Whether this object is a folder.
    pub fn is_folder(&self) -> bool {
        self.format == ObjectFormat::ASSOCIATION
    }
}

/// StorageInfo (GetStorageInfo data).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageInfo {
    /// Storage type.
    pub storage_type: u16,
    /// File system type.
    pub filesystem_type: u16,
    /// Access capability.
    pub access_capability: u16,
    /// Capacity in bytes.
    pub max_capacity: u64,
    /// Free space in bytes.
    pub free_space_bytes: u64,
    /// Free space in images.
    pub free_space_images: u32,
    /// Storage description.
    pub description: String,
    /// Volume label.
    pub volume_label: String,
}

impl StorageInfo {
    /// Reads a StorageInfo dataset.
    pub fn parse(b: &[u8]) -> Result<StorageInfo, ParseError> {
        let mut r = Reader::new(b, "StorageInfo");
        Ok(StorageInfo {
            storage_type: r.u16("StorageType")?,
            filesystem_type: r.u16("FilesystemType")?,
            access_capability: r.u16("AccessCapability")?,
            max_capacity: r.u64("MaxCapacity")?,
            free_space_bytes: r.u64("FreeSpaceInBytes")?,
            free_space_images: r.u32("FreeSpaceInImages")?,
            description: r.string("StorageDescription")?,
            volume_label: r.string("VolumeLabel")?,
        })
    }

    /// Appends the dataset to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        Writer::new(out)
            .u16(self.storage_type)
            .u16(self.filesystem_type)
            .u16(self.access_capability)
            .u64(self.max_capacity)
            .u64(self.free_space_bytes)
            .u32(self.free_space_images)
            .string(&self.description)
            .string(&self.volume_label);
    }
}

/// A PTP date string `YYYYMMDDThhmmss[.s][Z|±hhmm]`, as calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtpDate {
    /// Year.
    pub year: u16,
    /// Month (1 to 12).
    pub month: u8,
    /// Day of the month.
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
}

impl PtpDate {
    /// Parses the first 15 characters (as libgphoto2 does); `None` when absent or bogus.
    pub fn parse(s: &str) -> Option<PtpDate> {
        let b = s.as_bytes();
        if b.len() < 15 || b[8] != b'T' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            let t = s.get(r)?;
            if !t.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        };
        let d = PtpDate {
            year: num(0..4)?,
            month: num(4..6)? as u8,
            day: num(6..8)? as u8,
            hour: num(9..11)? as u8,
            minute: num(11..13)? as u8,
            second: num(13..15)? as u8,
        };
        let valid = (1..=12).contains(&d.month)
            && (1..=31).contains(&d.day)
            && d.hour < 24
            && d.minute < 60
            && d.second < 61;
        valid.then_some(d)
    }

    /// The date as a PTP date string (YYYYMMDDThhmmss).
    pub fn format(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_device_info() -> DeviceInfo {
        DeviceInfo {
            standard_version: 100,
            vendor_extension_id: 0x11,
            vendor_extension_version: 100,
            vendor_extension_desc: "Sony PTP Extensions".into(),
            functional_mode: 0,
            operations_supported: vec![0x1001, 0x1002, 0x9201, 0x9202],
            events_supported: vec![0xC201, 0xC203],
            device_properties_supported: vec![0x5004],
            capture_formats: vec![],
            image_formats: vec![0x3801],
            manufacturer: "Sony Corporation".into(),
            model: "ILCE-6400".into(),
            device_version: "2.00".into(),
            serial_number: "00000000000000003282933003547562".into(),
        }
    }

    #[test]
    fn device_info_round_trip_and_every_truncation_fails_cleanly() {
        let d = sample_device_info();
        let mut v = Vec::new();
        d.encode(&mut v);
        assert_eq!(DeviceInfo::parse(&v).unwrap(), d);
        for cut in 0..v.len() {
            assert!(DeviceInfo::parse(&v[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn object_info_round_trip_and_optional_dates() {
        let o = ObjectInfo {
            storage_id: 0x0001_0001,
            format: ObjectFormat::EXIF_JPEG,
            compressed_size: 123_456,
            parent: 7,
            filename: "DSC00001.JPG".into(),
            capture_date: "20261125T101112".into(),
            modification_date: "20261125T101112".into(),
            ..Default::default()
        };
        let mut v = Vec::new();
        o.encode(&mut v);
        assert_eq!(ObjectInfo::parse(&v).unwrap(), o);
        // Ending right after the file name is accepted.
        let mut short = Vec::new();
        ObjectInfo {
            capture_date: String::new(),
            modification_date: String::new(),
            ..o.clone()
        }
        .encode(&mut short);
        short.truncate(short.len() - 3);
        assert_eq!(ObjectInfo::parse(&short).unwrap().filename, "DSC00001.JPG");
    }

    #[test]
    fn storage_info_round_trip() {
        let s = StorageInfo {
            storage_type: 4,
            filesystem_type: 2,
            access_capability: 0,
            max_capacity: 64 << 30,
            free_space_bytes: 10 << 30,
            free_space_images: 999,
            description: "Memory Card 1".into(),
            volume_label: String::new(),
        };
        let mut v = Vec::new();
        s.encode(&mut v);
        assert_eq!(StorageInfo::parse(&v).unwrap(), s);
    }

    #[test]
    fn dates() {
        let d = PtpDate::parse("20261125T101112.0+0100").unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (2026, 11, 25, 10, 11, 12)
        );
        assert_eq!(d.format(), "20261125T101112");
        assert_eq!(PtpDate::parse(""), None);
        assert_eq!(PtpDate::parse("2026-11-25T10:11"), None);
        assert_eq!(PtpDate::parse("20261325T101112"), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// PTP strings: at most 254 UTF-16 units and no NUL (the format's limits).
        fn ptp_string() -> impl Strategy<Value = String> {
            prop_oneof!["[ -~]{0,60}", "\\PC{0,40}", "[a-z]{254}"]
        }

        fn u16s() -> impl Strategy<Value = Vec<u16>> {
            proptest::collection::vec(any::<u16>(), 0..40)
        }

        fn device_info() -> impl Strategy<Value = DeviceInfo> {
            (
                (
                    any::<u16>(),
                    any::<u32>(),
                    any::<u16>(),
                    ptp_string(),
                    any::<u16>(),
                ),
                (u16s(), u16s(), u16s(), u16s(), u16s()),
                (ptp_string(), ptp_string(), ptp_string(), ptp_string()),
            )
                .prop_map(
                    |((sv, vx, vv, vd, fm), (ops, ev, dp, cf, imf), (m, mo, dv, sn))| DeviceInfo {
                        standard_version: sv,
                        vendor_extension_id: vx,
                        vendor_extension_version: vv,
                        vendor_extension_desc: vd,
                        functional_mode: fm,
                        operations_supported: ops,
                        events_supported: ev,
                        device_properties_supported: dp,
                        capture_formats: cf,
                        image_formats: imf,
                        manufacturer: m,
                        model: mo,
                        device_version: dv,
                        serial_number: sn,
                    },
                )
        }

        fn object_info() -> impl Strategy<Value = ObjectInfo> {
            (
                (
                    any::<u32>(),
                    any::<u16>(),
                    any::<u16>(),
                    any::<u32>(),
                    any::<u16>(),
                    any::<u32>(),
                ),
                (
                    any::<u32>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<u32>(),
                ),
                (any::<u16>(), any::<u32>(), any::<u32>()),
                (ptp_string(), ptp_string(), ptp_string(), ptp_string()),
            )
                .prop_map(
                    |(
                        (sid, f, ps, cs, tf, tcs),
                        (tw, th, iw, ih, bd, par),
                        (at, ad, sq),
                        (name, cd, md, kw),
                    )| {
                        ObjectInfo {
                            storage_id: sid,
                            format: ObjectFormat(f),
                            protection_status: ps,
                            compressed_size: cs,
                            thumb_format: tf,
                            thumb_compressed_size: tcs,
                            thumb_pix_width: tw,
                            thumb_pix_height: th,
                            image_pix_width: iw,
                            image_pix_height: ih,
                            image_bit_depth: bd,
                            parent: par,
                            association_type: at,
                            association_desc: ad,
                            sequence_number: sq,
                            filename: name,
                            capture_date: cd,
                            modification_date: md,
                            keywords: kw,
                        }
                    },
                )
        }

        fn storage_info() -> impl Strategy<Value = StorageInfo> {
            (
                any::<u16>(),
                any::<u16>(),
                any::<u16>(),
                any::<u64>(),
                any::<u64>(),
                any::<u32>(),
                ptp_string(),
                ptp_string(),
            )
                .prop_map(|(st, fs, ac, mc, fb, fi, d, l)| StorageInfo {
                    storage_type: st,
                    filesystem_type: fs,
                    access_capability: ac,
                    max_capacity: mc,
                    free_space_bytes: fb,
                    free_space_images: fi,
                    description: d,
                    volume_label: l,
                })
        }

        proptest! {
            #[test]
            fn device_info_round_trips(d in device_info()) {
                let mut v = Vec::new();
                d.encode(&mut v);
                prop_assert_eq!(DeviceInfo::parse(&v), Ok(d));
            }

            #[test]
            fn object_info_round_trips(o in object_info()) {
                let mut v = Vec::new();
                o.encode(&mut v);
                prop_assert_eq!(ObjectInfo::parse(&v), Ok(o));
            }

            #[test]
            fn storage_info_round_trips(s in storage_info()) {
                let mut v = Vec::new();
                s.encode(&mut v);
                prop_assert_eq!(StorageInfo::parse(&v), Ok(s));
            }

            #[test]
            fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = DeviceInfo::parse(&b);
                let _ = ObjectInfo::parse(&b);
                let _ = StorageInfo::parse(&b);
                let _ = PtpDate::parse(&String::from_utf8_lossy(&b));
            }
        }
    }
}
