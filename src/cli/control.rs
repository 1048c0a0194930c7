//! `alpha-bridge control`: change the camera's settings, focus, zoom, record and take
//! stills. Talks to the running webcam through its control socket when there is one
//! (the webcam owns the camera); otherwise opens the camera itself for the command's
//! short life. Both ways speak the same requests (src/control/wire.rs).

use alpha_bridge::camera::control::{Controller, Outcome, Request};
use alpha_bridge::camera::settings::Setting;
use alpha_bridge::camera::{ConnectOptions, SonyCamera};
use alpha_bridge::control::socket::{self, Client};
use alpha_bridge::control::wire::{self, Line};
use alpha_bridge::control::{stills, Asked, Reply};
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::transport::{usb, Transport};
use anyhow::Context;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub(crate) struct ControlArgs {
    /// Which camera: auto (the running webcam, else the first Sony body on USB), a serial
    /// number (as `alpha-bridge list` shows it), or emulated (the built-in emulated
    /// camera, or the webcam running with it).
    #[arg(long, default_value = "auto", value_name = "CAMERA")]
    camera: String,
    /// Print each reply as one JSON object per line (for tools).
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Every setting with its value and what it can be set to.
    List,
    /// One setting's value (ev, iso, shutter, aperture, wb, focus, mode, battery,
    /// recording).
    Get { name: String },
    /// Change a setting: iso 400, iso auto, shutter 1/125, aperture 2.8, ev +0.7,
    /// wb daylight, wb 5600K, focus manual|af-s|af-c|dmf.
    Set {
        name: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Autofocus: half-press the shutter button, wait for focus, release.
    Af,
    /// Move the AF point to X Y of the live-view picture (pixels, or 0-100% as 50%).
    AfPoint { x: String, y: String },
    /// Manual focus by N steps (negative: nearer); needs focus mode manual or dmf.
    FocusStep {
        #[arg(allow_negative_numbers = true)]
        steps: i32,
    },
    /// Power zoom: in (tele), out (wide) or stop.
    Zoom {
        #[arg(value_parser = ["in", "out", "stop"])]
        dir: String,
    },
    /// Start or stop movie recording on the camera's card.
    Movie {
        #[arg(value_parser = ["start", "stop"])]
        state: String,
    },
    /// Take a still while live view keeps running and save it (default: the offload
    /// destination, ~/Pictures/alpha-bridge).
    Capture {
        /// Where to save the still.
        #[arg(long, value_name = "DIR")]
        stills: Option<PathBuf>,
    },
    /// Print every change of a setting as it happens, until Ctrl-C.
    Watch,
}

/// A number of pixels, or a percentage ("50%") as a fraction.
fn coordinate(s: &str, axis: &str) -> anyhow::Result<(f64, bool)> {
    let bad = || {
        super::usage(format!(
            "af-point {axis} {s:?}: give pixels such as 512 or a percentage such as 50%"
        ))
    };
    match s.strip_suffix('%') {
        Some(p) => {
            let v: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad());
            }
            Ok((v / 100.0, true))
        }
        None => {
            let v: f64 = s.trim().parse().map_err(|_| bad())?;
            if !v.is_finite() || v < 0.0 {
                return Err(bad());
            }
            Ok((v, false))
        }
    }
}

/// The request as the socket takes it; every usage mistake is found here, before any
/// camera or socket is touched.
fn request(a: &ControlArgs) -> anyhow::Result<Value> {
    let setting = |n: &str| {
        Setting::parse(n).ok_or_else(|| {
            super::usage(format!(
                "no setting named {n:?}; the settings are {}",
                wire::names()
            ))
        })
    };
    Ok(match &a.what {
        What::List => json!({"cmd": "list"}),
        What::Get { name } => json!({"cmd": "get", "name": setting(name)?.name()}),
        What::Set { name, value } => {
            let s = setting(name)?;
            s.parse_value(value).map_err(super::usage)?;
            json!({"cmd": "set", "name": s.name(), "value": value})
        }
        What::Af => json!({"cmd": "press", "action": "af"}),
        What::AfPoint { x, y } => {
            let ((x, fx), (y, fy)) = (coordinate(x, "X")?, coordinate(y, "Y")?);
            if fx != fy {
                return Err(super::usage(
                    "af-point: give both coordinates in pixels or both in percent",
                ));
            }
            json!({"cmd": "press", "action": "af-point", "x": x, "y": y,
                   "unit": if fx { "fraction" } else { "pixel" }})
        }
        What::FocusStep { steps } => {
            if *steps == 0 || steps.abs() > 1000 {
                return Err(super::usage(
                    "focus-step needs a number from -1000 to 1000, not 0",
                ));
            }
            json!({"cmd": "press", "action": "focus-step", "steps": steps})
        }
        What::Zoom { dir } => json!({"cmd": "press", "action": "zoom", "dir": dir}),
        What::Movie { state } => json!({"cmd": "press", "action": "movie", "state": state}),
        What::Capture { stills } => {
            let mut v = json!({"cmd": "capture"});
            if let Some(d) = stills {
                super::paths::dir_to_write("--stills", d)?;
                let abs = std::path::absolute(d).with_context(|| {
                    format!("--stills {}: cannot make it absolute", d.display())
                })?;
                v["dir"] = abs.to_string_lossy().into_owned().into();
            }
            v
        }
        What::Watch => json!({"cmd": "subscribe"}),
    })
}

pub(crate) fn run(a: &ControlArgs) -> anyhow::Result<()> {
    if a.camera.is_empty() {
        return Err(super::usage(
            "--camera needs auto, emulated or a serial number",
        ));
    }
    let req = request(a)?;
    let serial = match a.camera.as_str() {
        "auto" => None,
        "emulated" => Some(Body::ilce_6400().serial),
        s => Some(s.to_string()),
    };
    match socket::find(serial.as_deref()).map_err(|e| super::usage(e.to_string()))? {
        Some(path) => through_socket(a, &path, &req),
        None => own_camera(a, &req),
    }
}

fn through_socket(a: &ControlArgs, path: &Path, req: &Value) -> anyhow::Result<()> {
    log::debug!("asking the running webcam through {}", path.display());
    let mut c = Client::connect(path).with_context(|| {
        format!(
            "cannot reach the webcam's control socket {}",
            path.display()
        )
    })?;
    if matches!(a.what, What::Watch) {
        c.send(req)?;
        let stop = super::stop_flag()?;
        while !stop.load(Ordering::SeqCst) {
            match c.next(Some(Duration::from_millis(200))) {
                Ok(Some(v)) => {
                    if v.get("ok") == Some(&Value::Bool(false)) {
                        return fail(&v);
                    }
                    print_event(a, &v);
                }
                Ok(None) => anyhow::bail!("the webcam stopped"),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e).context("reading from the control socket"),
            }
        }
        return Ok(());
    }
    let reply = c
        .ask(req)
        .context("talking to the webcam's control socket")?;
    show(a, &reply)
}

/// Without a running webcam: this command owns the camera until it ends.
fn own_camera(a: &ControlArgs, req: &Value) -> anyhow::Result<()> {
    let line = wire::parse(&req.to_string()).map_err(|b| super::usage(b.error))?;
    let stills_dir = match &a.what {
        What::Capture { stills: Some(d) } => d.clone(),
        What::Capture { stills: None } => {
            let d = super::offload::default_dest()?;
            super::paths::dir_to_write("the default destination (change it with --stills)", &d)?;
            d
        }
        _ => PathBuf::new(),
    };
    let (_emu, t): (Option<UsbEmulator>, Box<dyn Transport>) = if a.camera == "emulated" {
        let emu = UsbEmulator::new(Body::ilce_6400());
        let h = emu.connect().context("cannot start the emulated camera")?;
        (Some(emu), Box::new(h))
    } else {
        let selector = if a.camera == "auto" {
            usb::Selector::First
        } else {
            usb::Selector::Serial(a.camera.clone())
        };
        let t = usb::open(&selector, usb::InterfaceClass::Ptp).context(
            "no webcam is running for this camera and it cannot be opened over USB \
             (connect it in PC Remote mode, or start `alpha-bridge webcam` first)",
        )?;
        (None, Box::new(t))
    };
    let opts = ConnectOptions {
        live_view_quality: None,
        ..ConnectOptions::default()
    };
    let mut cam = SonyCamera::connect(t, opts).context("cannot connect to the camera")?;
    let (id, asked) = match line {
        Line::Ask { id, asked, .. } => (id, asked),
        Line::Subscribe { .. } => return watch_own(a, &mut cam),
    };
    let started = Instant::now();
    let req = match asked {
        Asked::Camera(r) => r,
        Asked::AfPointAt { x, y, fraction } => af_point_request(&mut cam, x, y, fraction)?,
    };
    let capture = req == Request::Capture;
    let result = Controller::<()>::run(&mut cam, req);
    let reply = Reply {
        result,
        elapsed: started.elapsed(),
        live_gap: None,
    };
    let saved = match (&reply.result, capture) {
        (Ok(Outcome::Still(s)), true) => Some(stills::save(&stills_dir, s).map_err(|e| {
            format!(
                "the still could not be saved in {}: {e}",
                stills_dir.display()
            )
        })),
        _ => None,
    };
    drop(cam.close());
    show(a, &wire::reply_json(id.as_ref(), &reply, saved.as_ref()))
}

/// Maps a point of the live-view picture (one frame fetched to learn its size).
fn af_point_request(
    cam: &mut SonyCamera<Box<dyn Transport>>,
    x: f64,
    y: f64,
    fraction: bool,
) -> anyhow::Result<Request> {
    use alpha_bridge::camera::control::{grid_point, Action};
    let (w, h) = if fraction {
        (1, 1)
    } else {
        let mut buf = Vec::new();
        cam.next_live_view(&mut buf, &|| false)
            .context("cannot read a live-view picture to place the AF point in")?;
        let f =
            alpha_bridge::frame::extract(&buf).context("the live-view picture is unreadable")?;
        (u32::from(f.width), u32::from(f.height))
    };
    if x > w as f64 || y > h as f64 {
        return Err(super::usage(format!(
            "the AF point {x},{y} is outside the {w}x{h} live-view picture"
        )));
    }
    let (gx, gy) = if fraction {
        grid_point(x * 640.0, y * 480.0, 640, 480)
    } else {
        grid_point(x, y, w, h)
    };
    Ok(Request::Press(Action::AfPoint { x: gx, y: gy }))
}

fn watch_own(a: &ControlArgs, cam: &mut SonyCamera<Box<dyn Transport>>) -> anyhow::Result<()> {
    let stop = super::stop_flag()?;
    let mut c: Controller<()> = Controller::new();
    c.set_watch(true);
    if !a.json {
        println!("watching the camera's settings (Ctrl-C to stop)");
    }
    let mut first = true;
    while !stop.load(Ordering::SeqCst) {
        let _ = c.step(cam);
        for st in c.take_changes() {
            if !first {
                print_event(a, &wire::event_json(&st));
            }
        }
        first = false;
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn print_event(a: &ControlArgs, v: &Value) {
    if a.json {
        println!("{v}");
    } else if v.get("event").is_some() {
        println!("{} {}", text(v, "name"), text(v, "value"));
    } else if v.get("subscribed").is_some() {
        println!("watching the camera's settings (Ctrl-C to stop)");
    }
}

fn text(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(o) => o.to_string(),
    }
}

fn fail(v: &Value) -> anyhow::Result<()> {
    let msg = text(v, "error");
    if v.get("kind").and_then(Value::as_str) == Some("usage") {
        Err(super::usage(msg))
    } else {
        Err(anyhow::anyhow!(msg))
    }
}

/// Prints a reply (JSON with --json); a failed one is the command's error.
fn show(a: &ControlArgs, v: &Value) -> anyhow::Result<()> {
    let ok = v.get("ok") == Some(&Value::Bool(true));
    if a.json {
        println!("{v}");
        // A failure is also the exit code (and a line on standard error).
        return if ok { Ok(()) } else { fail(v) };
    }
    if !ok {
        return fail(v);
    }
    if let Some(Value::Array(list)) = v.get("settings") {
        for s in list {
            let mut line = format!("{:<10} {:<12}", text(s, "name"), text(s, "value"));
            if s.get("settable") == Some(&Value::Bool(true)) {
                if let Some(Value::Array(c)) = s.get("choices") {
                    let c: Vec<String> = c
                        .iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect();
                    if !c.is_empty() {
                        line.push_str(&format!(" (choices: {})", c.join(", ")));
                    }
                }
            } else if let Some(Value::String(w)) = s.get("why_not") {
                line.push_str(&format!(" ({w})"));
            }
            println!("{}", line.trim_end());
        }
    } else if v.get("bytes").is_some() {
        let gap = match v.get("live_view_gap_ms").and_then(Value::as_f64) {
            Some(g) => format!("; live view paused at most {g:.0} ms"),
            None => String::new(),
        };
        println!(
            "saved {} ({}{gap})",
            text(v, "path"),
            super::human_bytes(v.get("bytes").and_then(Value::as_u64).unwrap_or(0))
        );
    } else if let Some(d) = v.get("done") {
        println!("{}", d.as_str().unwrap_or_default());
    } else if v.get("name").is_some() {
        println!("{} {}", text(v, "name"), text(v, "value"));
    }
    Ok(())
}
