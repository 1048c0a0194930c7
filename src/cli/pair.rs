//! `alpha-bridge pair`: register this computer (GUID + host name from the config file)
//! with a Sony camera in USB Mass Storage mode, or print the identity (`--show`).
//!
//! The identity is created once per computer by `config::load_or_create`; `--guid`
//! replaces it and saves it, so `offload` sends the same 16 bytes. The hidden
//! `--camera emulated` pairs with the in-process emulated body (Mass Storage front)
//! over a memory pipe, keeping its registry in `--emulator-state DIR`.

use alpha_bridge::config::{self, Identity};
use alpha_bridge::emulator::msc::{MscConfig, MscEmulator};
use alpha_bridge::emulator::registry::Registry;
use alpha_bridge::pair::{self, PairError, PairOutcome};
use alpha_bridge::transport::{memory, usb, ErrorKind};
use anyhow::{anyhow, bail, Context};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct PairArgs {
    /// Use this GUID (32 hex digits; dashes or colons allowed) instead of the stored
    /// one, and store it so offload uses it too.
    #[arg(long, value_name = "GUID", value_parser = parse_guid_arg)]
    pub guid: Option<[u8; 16]>,
    /// Print this computer's GUID (plain and as a gphoto2 setting) and exit.
    #[arg(long, conflicts_with_all = ["camera", "emulator_state"])]
    pub show: bool,
    /// The camera to pair, by USB serial number, when several are connected.
    #[arg(long, value_name = "SERIAL")]
    pub camera: Option<String>,
    /// State directory of the emulated camera's registry (with `--camera emulated`).
    #[arg(long, value_name = "DIR", hide = true)]
    pub emulator_state: Option<PathBuf>,
}

pub fn run(args: &PairArgs) -> anyhow::Result<()> {
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
    let id = identity(&dir, args.guid)?;

    if args.show {
        print_identity(&id, &dir);
        return Ok(());
    }

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
    println!("next:");
    for (i, step) in outcome.next_steps().iter().enumerate() {
        println!("  {}. {step}", i + 1);
    }
    Ok(())
}

/// The stored identity, created on first use; `--guid` replaces and stores it.
fn parse_guid_arg(s: &str) -> Result<[u8; 16], String> {
    config::parse_guid(s).map_err(|e| e.to_string())
}

fn identity(dir: &Path, guid: Option<[u8; 16]>) -> anyhow::Result<Identity> {
    let mut id = config::load_or_create(dir)
        .with_context(|| format!("cannot read or create the identity in {}", dir.display()))?;
    if let Some(guid) = guid {
        if guid != id.guid {
            let old = id.guid_hex();
            id.guid = guid;
            config::save(dir, &id)
                .with_context(|| format!("cannot store the GUID in {}", dir.display()))?;
            log::info!("GUID changed from {old} to {}", id.guid_hex());
        }
    }
    Ok(id)
}

fn print_identity(id: &Identity, dir: &Path) {
    println!("GUID:            {}", id.guid_hex());
    println!("gphoto2 setting: {}", id.gphoto2_setting());
    println!("host name:       {}", id.host_name);
    println!(
        "config file:     {}",
        dir.join(config::CONFIG_FILE).display()
    );
    println!("(add the gphoto2 line to ~/.gphoto/settings to let gphoto2 use the same pairing)");
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
