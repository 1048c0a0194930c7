//! What a Sony body's USB mode means for this program and what to change on the camera
//! (docs/protocol/sony-usb.md#usb-modes): telling PC Remote from MTP by DeviceInfo, and
//! the menu path to PC Remote for the body's menu generation. Pure: no I/O.
//!
//! The menu names come from Sony's help guides as far as we could check them; they vary
//! by model and firmware, so every path says so.

use crate::ptp::codes::vendor;
use crate::ptp::dataset::DeviceInfo;
use crate::ptp::OpCode;

/// Bodies that enumerate in PC Remote mode but give no live view over USB
/// (libgphoto2's capability flags, docs/protocol/sony-usb.md#bodies-without-usb-live-view).
pub const NO_USB_LIVE_VIEW: &[&str] = &["ILCE-6000", "ILCE-7", "ILCE-7R"];

/// Bodies with the menu system Sony introduced with the a7S III in 2020 (PC Remote under
/// Network → Transfer/Remote, the USB mode under Setup → USB).
const MENU_2020: &[&str] = &[
    "ILCE-7SM3",
    "ILCE-1",
    "ILCE-1M2",
    "ILCE-7M4",
    "ILCE-7M5",
    "ILCE-7RM5",
    "ILCE-7CM2",
    "ILCE-7CR",
    "ILCE-6700",
    "ILCE-9M3",
    "ZV-E1",
    "ZV-E10M2",
    "ZV-1M2",
    "ILME-FX3",
    "ILME-FX30",
    "ILME-FX2",
];

/// Which menu layout a body has, judged from its model name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuGeneration {
    /// Bodies before 2020 (a6000 … a6600, a7 III, a7R IV, ZV-1, ZV-E10, RX100):
    /// MENU → Setup → USB Connection.
    Classic,
    /// The 2020 menu (a7S III, a1, a7 IV and later).
    Menu2020,
    /// Model not known (no name, or a body newer than this list): both paths are given.
    Unknown,
}

/// The menu generation of `model` as DeviceInfo or the USB product string spells it.
pub fn menu_generation(model: &str) -> MenuGeneration {
    let m = model.trim().to_ascii_uppercase();
    if m.is_empty() {
        MenuGeneration::Unknown
    } else if MENU_2020.contains(&m.as_str()) {
        MenuGeneration::Menu2020
    } else if m.starts_with("ILCE-") || m.starts_with("DSC-") || m.starts_with("ZV-") {
        MenuGeneration::Classic
    } else {
        MenuGeneration::Unknown
    }
}

const CLASSIC_PATH: &str = "MENU → Setup → USB Connection → \"PC Remote\"";
const PATH_2020: &str = "MENU → Network → Transfer/Remote → PC Remote Function → \
PC Remote → On, and MENU → Setup → USB → USB Connection Mode → \"PC Remote\"";

/// What to do on the camera to reach PC Remote, for `model`'s menu generation.
pub fn pc_remote_steps(model: &str) -> String {
    let path = match menu_generation(model) {
        MenuGeneration::Classic => CLASSIC_PATH.to_string(),
        MenuGeneration::Menu2020 => PATH_2020.to_string(),
        MenuGeneration::Unknown => {
            format!("{CLASSIC_PATH}; on bodies from 2020 on (a7S III, a1, a7 IV and later): {PATH_2020}")
        }
    };
    format!(
        "change the USB Connection setting to PC Remote: on the camera {path} (menu names \
         vary by model), then replug the cable"
    )
}

/// What to do on the camera to reach Mass Storage, the mode `alpha-bridge pair` uses.
pub fn mass_storage_steps(model: &str) -> String {
    let setting = match menu_generation(model) {
        MenuGeneration::Classic => "MENU → Setup → USB Connection",
        MenuGeneration::Menu2020 => "MENU → Setup → USB → USB Connection Mode",
        MenuGeneration::Unknown => {
            "MENU → Setup → USB Connection (2020+ bodies: Setup → USB → USB Connection Mode)"
        }
    };
    format!("for pairing (`alpha-bridge pair`) set {setting} to \"Mass Storage\"")
}

/// What a body answering over a Still Image interface is, from its DeviceInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PtpFace {
    /// Sony's vendor extension (0x11) with the SDIO operations: PC Remote.
    PcRemote,
    /// MTP (file transfer): the MTP or Microsoft vendor id, a "microsoft.com" extension
    /// string, or a Sony id without the SDIO operations.
    Mtp,
}

/// Tells PC Remote from MTP (docs/protocol/sony-usb.md#telling-pc-remote-from-mtp).
pub fn ptp_face(info: &DeviceInfo) -> PtpFace {
    let mtp_string = info
        .vendor_extension_desc
        .to_ascii_lowercase()
        .contains("microsoft.com");
    let sdio = info.supports(OpCode::SDIO_GET_EXT_DEVICE_INFO)
        || info.supports(OpCode::SDIO_CONNECT)
        // An empty operation list says nothing either way.
        || info.operations_supported.is_empty();
    if info.vendor_extension_id == vendor::SONY && sdio && !mtp_string {
        PtpFace::PcRemote
    } else {
        PtpFace::Mtp
    }
}

/// Whether `model` gives live view over USB (false for ILCE-6000, ILCE-7, ILCE-7R).
pub fn has_usb_live_view(model: &str) -> bool {
    !NO_USB_LIVE_VIEW.contains(&model.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn di(vendor_id: u32, desc: &str, ops: &[u16]) -> DeviceInfo {
        DeviceInfo {
            vendor_extension_id: vendor_id,
            vendor_extension_desc: desc.into(),
            operations_supported: ops.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn generations_by_model() {
        assert_eq!(menu_generation("ILCE-6400"), MenuGeneration::Classic);
        assert_eq!(menu_generation("ILCE-7M3"), MenuGeneration::Classic);
        assert_eq!(menu_generation("DSC-RX100M7"), MenuGeneration::Classic);
        assert_eq!(menu_generation("ilce-7m4"), MenuGeneration::Menu2020);
        assert_eq!(menu_generation(" ILCE-7SM3 "), MenuGeneration::Menu2020);
        assert_eq!(menu_generation("ZV-E10M2"), MenuGeneration::Menu2020);
        assert_eq!(menu_generation(""), MenuGeneration::Unknown);
        assert_eq!(menu_generation("Sony 054c:0c34"), MenuGeneration::Unknown);
    }

    #[test]
    fn menu_paths_per_generation_say_they_vary() {
        let c = pc_remote_steps("ILCE-6400");
        assert!(
            c.contains("MENU → Setup → USB Connection → \"PC Remote\""),
            "{c}"
        );
        assert!(!c.contains("Transfer/Remote"), "{c}");
        let n = pc_remote_steps("ILCE-7M4");
        assert!(
            n.contains("Network → Transfer/Remote → PC Remote Function"),
            "{n}"
        );
        assert!(n.contains("Setup → USB → USB Connection Mode"), "{n}");
        assert!(!n.contains("Setup → USB Connection →"), "{n}");
        let u = pc_remote_steps("");
        assert!(
            u.contains("Setup → USB Connection →") && u.contains("Transfer/Remote"),
            "{u}"
        );
        for s in [c, n, u] {
            assert!(
                s.starts_with("change the USB Connection setting to PC Remote"),
                "{s}"
            );
            assert!(s.contains("(menu names vary by model)"), "{s}");
            assert!(s.ends_with("replug the cable"), "{s}");
        }
        assert!(mass_storage_steps("ILCE-6400").contains("alpha-bridge pair"));
        assert!(mass_storage_steps("ILCE-7M4").contains("USB Connection Mode"));
    }

    #[test]
    fn pc_remote_is_told_from_mtp() {
        let sdio = [0x1001, 0x9201, 0x9202];
        assert_eq!(
            ptp_face(&di(0x11, "Sony PTP Extensions", &sdio)),
            PtpFace::PcRemote
        );
        assert_eq!(ptp_face(&di(0x11, "", &[])), PtpFace::PcRemote);
        assert_eq!(ptp_face(&di(0xFFFF_FFFF, "", &sdio)), PtpFace::Mtp);
        assert_eq!(
            ptp_face(&di(0x06, "microsoft.com: 1.0", &[0x1001])),
            PtpFace::Mtp
        );
        assert_eq!(
            ptp_face(&di(0x11, "microsoft.com: 1.0; sony.net: 1.0", &sdio)),
            PtpFace::Mtp
        );
        // Sony's id but none of the SDIO operations: not PC Remote.
        assert_eq!(ptp_face(&di(0x11, "", &[0x1001, 0x1002])), PtpFace::Mtp);
    }

    #[test]
    fn bodies_without_usb_live_view() {
        assert!(!has_usb_live_view("ILCE-6000"));
        assert!(!has_usb_live_view("ILCE-7R"));
        assert!(has_usb_live_view("ILCE-7RM2"));
        assert!(has_usb_live_view("ILCE-6400"));
    }
}
