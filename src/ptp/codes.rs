//! Wire codes as newtypes over their integers (docs/protocol/ptp-usb.md#codes,
//! docs/protocol/sony-usb.md#sony-operation-codes).
//!
//! Unknown vendor codes survive a round trip and print as `OpCode(0x9201)`; known ones
//! print with their name, e.g. `OpCode::GET_OBJECT`.

macro_rules! wire_code {
    ($(#[$meta:meta])* $name:ident($int:ty) { $($(#[$cmeta:meta])* $konst:ident = $val:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $int);

        impl $name {
            // The names are the standard's (or Sony's) names; the doc gives the number.
            $($(#[$cmeta])* #[doc = concat!("Code ", stringify!($val), ".")] pub const $konst: $name = $name($val);)*

            /// The constant's name, if this code is one this crate knows.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($konst)),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}({:#06x})", stringify!($name), self.0),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{} ({:#06x})", n, self.0),
                    None => write!(f, "{:#06x}", self.0),
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self { $name(v) }
        }
    };
}

wire_code! {
    /// A PTP operation code (standard 0x1xxx, Sony 0x92xx).
    OpCode(u16) {
        GET_DEVICE_INFO = 0x1001,
        OPEN_SESSION = 0x1002,
        CLOSE_SESSION = 0x1003,
        GET_STORAGE_IDS = 0x1004,
        GET_STORAGE_INFO = 0x1005,
        GET_NUM_OBJECTS = 0x1006,
        GET_OBJECT_HANDLES = 0x1007,
        GET_OBJECT_INFO = 0x1008,
        GET_OBJECT = 0x1009,
        GET_THUMB = 0x100A,
        DELETE_OBJECT = 0x100B,
        GET_DEVICE_PROP_DESC = 0x1014,
        GET_DEVICE_PROP_VALUE = 0x1015,
        SET_DEVICE_PROP_VALUE = 0x1016,
        GET_PARTIAL_OBJECT = 0x101B,
        SDIO_CONNECT = 0x9201,
        SDIO_GET_EXT_DEVICE_INFO = 0x9202,
        SONY_GET_DEVICE_PROP_DESC = 0x9203,
        SONY_GET_DEVICE_PROP_VALUE = 0x9204,
        SDIO_SET_EXT_DEVICE_PROP_VALUE = 0x9205,
        SDIO_CONTROL_DEVICE = 0x9207,
        SDIO_GET_ALL_EXT_DEVICE_PROP_INFO = 0x9209,
        SDIO_GET_PARTIAL_LARGE_OBJECT = 0x9211,
        SONY_EXT_CMD_WRITE = 0x9280,
        SONY_EXT_CMD_READ = 0x9281,
        SONY_REQ_RECONNECT = 0x9282,
    }
}

wire_code! {
    /// A PTP response code (0x2xxx standard, 0xAxxx Sony).
    ResponseCode(u16) {
        OK = 0x2001,
        GENERAL_ERROR = 0x2002,
        SESSION_NOT_OPEN = 0x2003,
        INVALID_TRANSACTION_ID = 0x2004,
        OPERATION_NOT_SUPPORTED = 0x2005,
        PARAMETER_NOT_SUPPORTED = 0x2006,
        INCOMPLETE_TRANSFER = 0x2007,
        INVALID_STORAGE_ID = 0x2008,
        INVALID_OBJECT_HANDLE = 0x2009,
        DEVICE_PROP_NOT_SUPPORTED = 0x200A,
        INVALID_OBJECT_FORMAT_CODE = 0x200B,
        STORE_FULL = 0x200C,
        OBJECT_WRITE_PROTECTED = 0x200D,
        STORE_READ_ONLY = 0x200E,
        ACCESS_DENIED = 0x200F,
        NO_THUMBNAIL_PRESENT = 0x2010,
        STORE_NOT_AVAILABLE = 0x2013,
        SPECIFICATION_BY_FORMAT_UNSUPPORTED = 0x2014,
        NO_VALID_OBJECT_INFO = 0x2015,
        UNKNOWN_VENDOR_CODE = 0x2017,
        CAPTURE_ALREADY_TERMINATED = 0x2018,
        DEVICE_BUSY = 0x2019,
        INVALID_PARENT_OBJECT = 0x201A,
        INVALID_DEVICE_PROP_FORMAT = 0x201B,
        INVALID_DEVICE_PROP_VALUE = 0x201C,
        INVALID_PARAMETER = 0x201D,
        SESSION_ALREADY_OPEN = 0x201E,
        TRANSACTION_CANCELLED = 0x201F,
        SONY_AUTHENTICATION_FAILED = 0xA101,
        SONY_TEMPORARY_STORAGE_FULL = 0xA105,
        SONY_CAMERA_STATUS_ERROR = 0xA106,
    }
}

wire_code! {
    /// A PTP event code (0x4xxx standard, 0xCxxx Sony).
    EventCode(u16) {
        CANCEL_TRANSACTION = 0x4001,
        OBJECT_ADDED = 0x4002,
        OBJECT_REMOVED = 0x4003,
        STORE_ADDED = 0x4004,
        STORE_REMOVED = 0x4005,
        DEVICE_PROP_CHANGED = 0x4006,
        OBJECT_INFO_CHANGED = 0x4007,
        DEVICE_INFO_CHANGED = 0x4008,
        STORE_FULL = 0x400A,
        DEVICE_RESET = 0x400B,
        STORAGE_INFO_CHANGED = 0x400C,
        CAPTURE_COMPLETE = 0x400D,
        SONY_OBJECT_ADDED = 0xC201,
        SONY_OBJECT_REMOVED = 0xC202,
        SONY_DEVICE_PROP_CHANGED = 0xC203,
    }
}

wire_code! {
    /// An object format code (docs/protocol/ptp-usb.md#object-formats).
    ObjectFormat(u16) {
        UNDEFINED = 0x3000,
        ASSOCIATION = 0x3001,
        MPEG = 0x300B,
        EXIF_JPEG = 0x3801,
        JFIF = 0x3808,
        SONY_ARW = 0xB101,
        HEIF = 0xB110,
        MPO = 0xB301,
        MP4 = 0xB982,
    }
}

wire_code! {
    /// A Sony or standard device property code, and the Sony control codes of
    /// SDIO_ControlDevice (0x9207), which share the code space (docs/protocol/sony-usb.md).
    /// The host's one table: names for listing any code are in `ptp::props`.
    PropCode(u16) {
        WHITE_BALANCE = 0x5005,
        F_NUMBER = 0x5007,
        FOCUS_MODE = 0x500A,
        /// The mode dial.
        EXPOSURE_PROGRAM_MODE = 0x500E,
        /// Standard PTP exposure bias.
        EXPOSURE_BIAS_COMPENSATION = 0x5010,
        SHUTTER_SPEED = 0xD20D,
        /// Kelvin, used when WhiteBalance is colour temperature (0x8012).
        COLOR_TEMPERATURE = 0xD20F,
        /// 2 (or 3) once autofocus has locked.
        FOCUS_FOUND = 0xD213,
        /// At least 0x8000 once a shot is stored and can be fetched.
        OBJECT_IN_MEMORY = 0xD215,
        BATTERY_LEVEL = 0xD218,
        /// 1 recording, 0 not.
        MOVIE_RECORDING_STATE = 0xD21D,
        ISO = 0xD21E,
        LIVE_VIEW_STATUS = 0xD221,
        /// Sony's exposure compensation, used when the body lacks 0x5010.
        EXPOSURE_COMPENSATION = 0xD224,
        PRIORITY_MODE = 0xD25A,
        /// Present when the body can zoom.
        ZOOM_ENABLE_STATUS = 0xD25B,
        LIVE_VIEW_IMAGE_QUALITY = 0xD26A,
        /// Control: S1, the shutter button half-pressed (focus).
        S1 = 0xD2C1,
        /// Control: S2, the shutter button fully pressed (shoot).
        S2 = 0xD2C2,
        /// Control: the movie (record) button.
        MOVIE_BUTTON = 0xD2C8,
        /// Control: manual focus by a signed number of steps.
        MANUAL_FOCUS_ADJUST = 0xD2D1,
        /// Control: move the AF point (`(x << 16) | y` on the 640x480 grid).
        AF_POINT = 0xD2DC,
        /// Control: zoom, +1 tele, -1 wide, 0 stop.
        ZOOM = 0xD2DD,
    }
}

wire_code! {
    /// A PTP data type code (docs/protocol/ptp-usb.md#data-types).
    DataType(u16) {
        INT8 = 0x0001,
        UINT8 = 0x0002,
        INT16 = 0x0003,
        UINT16 = 0x0004,
        INT32 = 0x0005,
        UINT32 = 0x0006,
        INT64 = 0x0007,
        UINT64 = 0x0008,
        INT128 = 0x0009,
        UINT128 = 0x000A,
        STR = 0xFFFF,
    }
}

impl DataType {
    /// Size in bytes of one scalar element, or `None` for strings.
    pub fn scalar_size(self) -> Option<usize> {
        match self.0 & 0x0FFF {
            0x1 | 0x2 => Some(1),
            0x3 | 0x4 => Some(2),
            0x5 | 0x6 => Some(4),
            0x7 | 0x8 => Some(8),
            0x9 | 0xA => Some(16),
            _ => None,
        }
    }

    /// Whether this is an array type (0x4001..=0x400A).
    pub fn is_array(self) -> bool {
        (0x4001..=0x400A).contains(&self.0)
    }
}

/// Well-known object handles of Sony bodies (docs/protocol/sony-usb.md#live-view).
pub mod handle {
    /// The just-captured image held in camera RAM.
    pub const SHOT_IMAGE: u32 = 0xFFFF_C001;
    /// The live-view dataset.
    pub const LIVE_VIEW: u32 = 0xFFFF_C002;
}

/// Vendor extension ids in DeviceInfo.
pub mod vendor {
    /// Sony's PTP extension (PC Remote mode).
    pub const SONY: u32 = 0x0000_0011;
    /// MTP, also reported by Sony bodies over PTP/IP.
    pub const MTP: u32 = 0xFFFF_FFFF;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_codes_print_usefully() {
        assert_eq!(format!("{:?}", OpCode::GET_OBJECT), "OpCode::GET_OBJECT");
        assert_eq!(format!("{:?}", OpCode(0x9999)), "OpCode(0x9999)");
        assert_eq!(
            format!("{}", ResponseCode::ACCESS_DENIED),
            "ACCESS_DENIED (0x200f)"
        );
        assert_eq!(OpCode::from(0x9201), OpCode::SDIO_CONNECT);
    }

    #[test]
    fn data_type_sizes() {
        assert_eq!(DataType::UINT16.scalar_size(), Some(2));
        assert_eq!(DataType(0x4004).scalar_size(), Some(2));
        assert!(DataType(0x4004).is_array());
        assert_eq!(DataType::STR.scalar_size(), None);
    }
}
