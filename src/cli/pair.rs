//! `alpha-bridge pair`: register this computer (GUID + host name) with a Sony camera in
//! USB Mass Storage mode, or print the identity (`--show`).
//!
//! The identity changes only on success: the GUID (the stored one, `--guid`, or a new
//! default one when none is stored) is written to the config file only after the
//! camera accepted it; a failed pairing, `--show` and a bad `--guid` leave the file as
//! it was. The hidden `--camera emulated` pairs with the in-process emulated body (Mass
//! Storage front) over a memory pipe, keeping its registry in `--emulator-state DIR`.

use alpha_bridge::config::{self, Config, Identity};
use alpha_bridge::emulator::msc::{MscConfig, MscEmulator};
use alpha_bridge::emulator::registry::Registry;
use alpha_bridge::pair::{self, PairError, PairOutcome};
use alpha_bridge::transport::{memory, usb, ErrorKind};
use anyhow::{anyhow, bail, Context};
use std::path::Path;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct PairArgs {
    /// Register this GUID (32 hex digits; dashes or colons allowed) instead of the
    /// stored one; it is stored for offload once the camera accepted it.
    #[arg(long, value_name = "GUID", value_parser = super::parse_guid_arg)]
    pub guid: Option<[u8; 16]>,
    /// Print this computer's GUID (plain and as a gphoto2 setting) and exit; changes
    /// nothing.
    #[arg(long, conflicts_with_all = ["guid", "camera", "emulator_state"])]
    pub show: bool,
    /// Which camera to pair when several are connected: its USB serial number (as
    /// `alpha-bridge list` shows it) or BUS:ADDRESS (as lsusb shows them); emulated pairs
    /// the built-in emulated body. Default: the first Sony body in Mass Storage mode.
    #[arg(long, value_name = "CAMERA")]
    pub camera: Option<String>,
    /// State directory of the emulated camera's registry (with `--camera emulated`).
    #[arg(long, value_name = "DIR", hide = true)]
    pub emulator_state: Option<PathBuf>,
}

pub(crate) fn run(args: &PairArgs) -> anyhow::Result<()> {
    let emulated = args.camera.as_deref() == Some("emulated");
    if args.emulator_state.is_some() && !emulated {
        return Err(super::usage(
            "--emulator-state only applies to --camera emulated",
        ));
    }
    if let Some(d) = &args.emulator_state {
        super::paths::dir_to_write("--emulator-state", d)?;
    }
    let dir = config::default_config_dir()?;
    // Read before the camera: a file we cannot read is reported now and never edited.
    let cfg = Config::load(&dir).context("cannot read this computer's identity")?;
    cfg.warn_unknown_keys();

    if args.show {
        print_identity(&cfg);
        return Ok(());
    }

    let id = match (args.guid, cfg.identity()) {
        (Some(guid), _) => Identity {
            guid,
            host_name: cfg.host_name(),
        },
        (None, Some(stored)) => stored,
        (None, None) => config::new_identity(&cfg)?,
    };
    let outcome = if emulated {
        pair_emulated(&id, args.emulator_state.as_deref())?
    } else {
        pair_usb(&id, args.camera.as_deref())?
    };
    println!("paired: {}", outcome.summary());
    if outcome.busy_retries > 0 {
        println!(
            "(the camera was busy {} before it accepted)",
            super::count(outcome.busy_retries as u64, "time")
        );
    }
    // The camera accepted this GUID: only now is it stored.
    let hex = id.guid_hex();
    match config::store_pairing(&dir, &id.guid) {
        Ok(true) => {
            if let Some(old) = cfg.guid.filter(|g| *g != id.guid) {
                log::info!("GUID changed from {} to {hex}", config::guid_hex(&old));
            }
            println!("stored GUID {hex} in {}", cfg.path().display());
        }
        Ok(false) => {}
        Err(e) => {
            return Err(anyhow!(e).context(format!(
                "the camera accepted GUID {hex} but it could not be stored; fix that, \
                 then run `alpha-bridge pair --guid {hex}` again"
            )))
        }
    }
    println!("next:");
    for (i, step) in outcome.next_steps().iter().enumerate() {
        println!("  {}. {step}", i + 1);
    }
    Ok(())
}

/// The stored identity, or what `pair` would register; reads only.
fn print_identity(cfg: &Config) {
    let (guid, stored) = match cfg.guid {
        Some(g) => (Some(g), true),
        // What `pair` would use (config::default_guid); random without a MAC, so
        // nothing worth printing then.
        None => (
            config::default_route_mac().map(config::guid_from_mac),
            false,
        ),
    };
    match guid {
        Some(g) => {
            println!("GUID:            {}", config::guid_hex(&g));
            println!("gphoto2 setting: {}", config::gphoto2_setting(&g));
        }
        None => println!("GUID:            none stored"),
    }
    println!("host name:       {}", cfg.host_name());
    println!("config file:     {}", cfg.path().display());
    if stored {
        println!(
            "(add the gphoto2 line to ~/.gphoto/settings to let gphoto2 use the same pairing)"
        );
    } else {
        let what = if guid.is_some() {
            "this GUID"
        } else {
            "a new random GUID (no network interface with a MAC address holds the default route)"
        };
        println!(
            "not paired yet: nothing is stored; `alpha-bridge pair` (camera in Mass Storage \
             mode) registers {what} and stores it once the camera accepted it"
        );
    }
}

/// Pairs a real camera over USB.
fn pair_usb(id: &Identity, camera: Option<&str>) -> anyhow::Result<PairOutcome> {
    let selector: usb::Selector = camera
        .unwrap_or("first")
        .parse()
        .unwrap_or(usb::Selector::First);
    match usb::open(&selector, usb::InterfaceClass::MassStorage) {
        Ok(mut t) => pair::pair(&mut t, id).map_err(advise),
        Err(e) if e.kind == ErrorKind::NotFound => {
            // A Sony body in another USB mode: say exactly what to switch.
            let devices = usb::list_sony().unwrap_or_default();
            for d in &devices {
                let mode = match d.mode {
                    usb::UsbMode::Ptp => pair::UsbMode::Ptp,
                    usb::UsbMode::SelectMode => pair::UsbMode::ModeChooser,
                    usb::UsbMode::UvcStreaming => pair::UsbMode::UvcStreaming,
                    _ => continue,
                };
                if let Some(advice) = pair::wrong_mode_advice(mode) {
                    bail!(
                        "the {} is connected, but not in Mass Storage mode: {advice}",
                        d.display_name()
                    );
                }
            }
            Err(anyhow!(e))
        }
        Err(e) => Err(anyhow!(e)),
    }
}

/// Plain advice for a failed pairing, by what failed.
fn advise(e: PairError) -> anyhow::Error {
    let hint = match e.transport_kind() {
        Some(ErrorKind::Disconnected) => {
            Some("check the cable and that the camera is on, in Mass Storage mode, then try again")
        }
        Some(ErrorKind::Timeout) => Some(
            "the camera stopped answering: unplug it, switch it off and on, and try again",
        ),
        Some(ErrorKind::PermissionDenied) => {
            Some("this user may not open the camera: install the udev rule (see README)")
        }
        Some(ErrorKind::Busy) => {
            Some("another program holds the camera (a file manager may have mounted its card): unmount or close it")
        }
        _ => None,
    };
    match hint {
        Some(h) => anyhow!("{e}; {h}"),
        None => anyhow!(e),
    }
}

/// Pairs with the in-process emulated body over a memory pipe.
fn pair_emulated(id: &Identity, state: Option<&Path>) -> anyhow::Result<PairOutcome> {
    let registry = match state {
        Some(d) => Registry::open(d).with_context(|| {
            format!("cannot open the emulated camera's state in {}", d.display())
        })?,
        None => Registry::in_memory(),
    };
    let (mut host, mut dev, _faults) = memory::pair(512);
    let emulator_registry = registry.clone();
    let emulator = std::thread::Builder::new()
        .name("msc-emulator".into())
        .spawn(move || MscEmulator::new(MscConfig::default(), emulator_registry).serve(&mut dev))
        .context("cannot start the emulated camera")?;
    let result = pair::pair(&mut host, id);
    // Dropping our end is the unplug that ends the emulator.
    drop(host);
    let stats = emulator
        .join()
        .map_err(|_| anyhow!("the emulated camera crashed"))?
        .context("emulated camera")?;
    log::debug!("emulated camera: {stats:?}");
    let outcome = result.map_err(advise)?;
    if !registry.is_registered(&id.guid) {
        bail!("the emulated camera answered but did not store the GUID");
    }
    if let Some(p) = registry.path() {
        log::info!("emulated camera registry: {}", p.display());
    }
    Ok(outcome)
}
