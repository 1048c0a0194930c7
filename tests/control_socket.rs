//! Camera control through the local control socket while the webcam pipeline streams
//! from the in-process emulated body: the socket's rules (malformed, oversized and
//! concurrent requests, clients that leave, stale and live sockets) and live view
//! flowing while requests run. The tests of this file run one at a time and stay a
//! binary of their own, outside tests/it: they count the process's threads and
//! descriptors, which other tests running alongside would change.

use alpha_bridge::camera::ConnectOptions;
use alpha_bridge::control::socket::{self, Client, Server, SocketError};
use alpha_bridge::control::{self as ctl, ControlStats};
use alpha_bridge::emulator::testcard::read_counter_yuyv;
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::pipeline::source::{CameraSource, Control};
use alpha_bridge::pipeline::{self, Options, Output, Summary};
use alpha_bridge::sink::{FrameSink, Picture, SinkError};
use alpha_bridge::transport::Transport;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Live pictures the webcam wrote: (time, counter read back, mean luma), and the last
/// picture itself (YUYV, its width).
#[derive(Default)]
struct Seen {
    frames: Vec<(Instant, Option<u32>, f64)>,
    last: Vec<u8>,
    width: u32,
}

struct Sink(Arc<Mutex<Seen>>);

impl FrameSink for Sink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        if let Picture::Yuyv {
            width,
            height,
            data,
        } = pic
        {
            let counter = read_counter_yuyv(data, *width, *height);
            let luma: u64 = data.iter().step_by(2).map(|&y| y as u64).sum();
            let mean = luma as f64 / (data.len() / 2) as f64;
            let mut seen = self.0.lock().unwrap();
            seen.frames.push((Instant::now(), counter, mean));
            seen.last.clear();
            seen.last.extend_from_slice(data);
            seen.width = *width;
        }
        Ok(())
    }

    fn name(&self) -> String {
        "test sink".into()
    }
}

struct Webcam {
    stop: Arc<AtomicBool>,
    run: Option<JoinHandle<Summary>>,
    sock: PathBuf,
    seen: Arc<Mutex<Seen>>,
    emu: Arc<UsbEmulator>,
    stats: Arc<ControlStats>,
    _dir: tempfile::TempDir,
}

impl Webcam {
    fn start(body: Body) -> Webcam {
        let dir = tempfile::tempdir().unwrap();
        let rt = dir.path().join("run");
        let sock = rt.join("cam.sock");
        let stills = dir.path().join("stills");
        let emu = Arc::new(UsbEmulator::new(body));
        let e = emu.clone();
        let open = Box::new(move || e.connect().map(|h| Box::new(h) as Box<dyn Transport>));
        let stats = Arc::new(ControlStats::default());
        let (tx, port) = ctl::channel(stats.clone());
        let path = sock.clone();
        let start = Box::new(move |_serial: &str| {
            let l = socket::bind(&path).unwrap();
            Some(Server::start(l, path.clone(), tx.clone(), stills.clone()).unwrap())
        });
        let source = CameraSource::new("emulated", open, ConnectOptions::default())
            .with_control(Control::new(port, start));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let opts = Options {
            output: Output::Yuyv(Box::new(Sink(seen.clone()))),
            reconnect: false,
            ..Options::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let run = std::thread::spawn(move || pipeline::run(Box::new(source), opts, s).unwrap());
        let w = Webcam {
            stop,
            run: Some(run),
            sock,
            seen,
            emu,
            stats,
            _dir: dir,
        };
        let t = Instant::now();
        while w.frames() < 3 {
            assert!(t.elapsed() < Duration::from_secs(20), "no live view");
            std::thread::sleep(Duration::from_millis(20));
        }
        w
    }

    fn frames(&self) -> usize {
        self.seen.lock().unwrap().frames.len()
    }

    fn client(&self) -> Client {
        Client::connect(&self.sock).unwrap()
    }

    fn ask(&self, v: Value) -> Value {
        self.client().ask(&v).unwrap()
    }

    fn stop(mut self) -> Summary {
        self.stop.store(true, Ordering::SeqCst);
        self.run.take().unwrap().join().unwrap()
    }
}

impl Drop for Webcam {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(r) = self.run.take() {
            let _ = r.join();
        }
    }
}

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// Threads and open descriptors of this process, once they have stayed the same for
/// half a second (or equal `want`, when given, for as long).
fn settled(want: Option<(usize, usize)>, limit: Duration) -> (usize, usize) {
    let t = Instant::now();
    let sample = || (count("/proc/self/task"), count("/proc/self/fd"));
    let mut last = sample();
    let mut same = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = sample();
        same = if now == last { same + 1 } else { 0 };
        last = now;
        let good = want.is_none_or(|w| w == now);
        if (good && same >= 5) || t.elapsed() > limit {
            return now;
        }
    }
}

fn line(s: &mut UnixStream) -> Value {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        out.push(b[0]);
    }
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

#[test]
fn malformed_unknown_and_oversized_requests_get_an_error_reply_and_the_server_goes_on() {
    let _one = serial();
    let w = Webcam::start(Body::ilce_6400());
    let mut s = UnixStream::connect(&w.sock).unwrap();
    for (req, kind, says) in [
        ("this is not json", "usage", "not a JSON object"),
        ("[1,2]", "usage", "a JSON object"),
        (r#"{"cmd":"teleport","id":5}"#, "usage", "unknown cmd"),
        (
            r#"{"cmd":"get","name":"warp"}"#,
            "usage",
            "no setting named",
        ),
        (
            r#"{"cmd":"set","name":"iso","value":"lots"}"#,
            "usage",
            "not a valid iso value",
        ),
        (
            r#"{"cmd":"set","name":"mode","value":"M"}"#,
            "usage",
            "read-only",
        ),
        ("\u{0}\u{1}\u{ff}", "usage", "not a JSON object"),
    ] {
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        let r = line(&mut s);
        assert_eq!(r["ok"], json!(false), "{req}: {r}");
        assert_eq!(r["kind"], json!(kind), "{req}: {r}");
        assert!(r["error"].as_str().unwrap().contains(says), "{req}: {r}");
    }
    // The id comes back when it could be read.
    s.write_all(b"{\"cmd\":\"teleport\",\"id\":5}\n").unwrap();
    assert_eq!(line(&mut s)["id"], json!(5));
    // The same connection still answers a good request.
    s.write_all(b"{\"cmd\":\"get\",\"name\":\"iso\",\"id\":\"a\"}\n")
        .unwrap();
    let r = line(&mut s);
    assert_eq!(
        (&r["ok"], &r["id"], &r["value"]),
        (&json!(true), &json!("a"), &json!("auto"))
    );
    // An endless line: an error, then the connection is closed.
    let mut big = UnixStream::connect(&w.sock).unwrap();
    let _ = big.write_all(&vec![b'x'; 64 * 1024]);
    let r = line(&mut big);
    assert!(
        r["error"].as_str().unwrap().contains("longer than 4096"),
        "{r}"
    );
    let mut rest = Vec::new();
    big.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(
        big.read_to_end(&mut rest).unwrap(),
        0,
        "closed after the error"
    );
    // Others are served as before.
    assert_eq!(
        w.ask(json!({"cmd":"get","name":"wb"}))["value"],
        json!("auto")
    );
    let frames = w.frames();
    std::thread::sleep(Duration::from_millis(300));
    assert!(w.frames() > frames, "live view kept flowing");
}

#[test]
fn many_clients_at_once_each_get_their_own_answers() {
    let _one = serial();
    let w = Webcam::start(Body::ilce_6400());
    let before = w.frames();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let sock = w.sock.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&sock).unwrap();
                for k in 0..5 {
                    let id = i * 100 + k;
                    let r = c
                        .ask(&json!({"cmd": if k % 2 == 0 {"get"} else {"list"}, "name": "iso", "id": id}))
                        .unwrap();
                    assert_eq!(r["ok"], json!(true), "{r}");
                    assert_eq!(r["id"], json!(id), "{r}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // The 80 answers can all come within one frame interval: wait (bounded) for the
    // next frame rather than expect one to have arrived already.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while w.frames() <= before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(w.frames() > before, "live view kept flowing");
    assert_eq!(w.stats.requests.load(Ordering::Relaxed), 80);
}

#[test]
fn clients_that_leave_mid_request_leave_no_thread_and_no_descriptor_behind() {
    let _one = serial();
    let w = Webcam::start(Body::ilce_6400());
    // One request first, so every lazily started thread exists.
    assert_eq!(w.ask(json!({"cmd":"list"}))["ok"], json!(true));
    let base = settled(None, Duration::from_secs(10));
    for i in 0..40 {
        let mut s = UnixStream::connect(&w.sock).unwrap();
        match i % 4 {
            // A whole request, gone before the answer (a half-press waits for focus).
            0 if i % 20 == 0 => s
                .write_all(b"{\"cmd\":\"press\",\"action\":\"af\"}\n")
                .unwrap(),
            0 => s
                .write_all(b"{\"cmd\":\"set\",\"name\":\"wb\",\"value\":\"shade\"}\n")
                .unwrap(),
            1 => s
                .write_all(b"{\"cmd\":\"get\",\"name\":\"iso\"}\n")
                .unwrap(),
            // Half a line.
            2 => s.write_all(b"{\"cmd\":\"ge").unwrap(),
            // A subscriber that leaves.
            _ => s.write_all(b"{\"cmd\":\"subscribe\"}\n").unwrap(),
        }
        drop(s);
    }
    // The AF requests finish on the camera (up to 2 s each for focus), then all is back.
    let now = settled(Some(base), Duration::from_secs(30));
    assert_eq!(now, base, "threads and descriptors (before, after)");
    let r = w.ask(json!({"cmd":"get","name":"iso"}));
    assert_eq!(r["ok"], json!(true), "{r}");
}

#[test]
fn a_stale_socket_is_replaced_a_live_one_refused_and_modes_are_private() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let rt = dir.path().join("alpha-bridge");
    let path = rt.join("123.sock");
    let l = socket::bind(&path).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&rt), mode(&path)), (0o700, 0o600));
    assert!(matches!(socket::bind(&path), Err(SocketError::InUse(_))));
    drop(l); // the file stays: a stale socket of a process that died
    assert!(path.exists());
    let _l = socket::bind(&path).unwrap();
    // A directory open to others is refused.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = socket::bind(&open.join("1.sock")).unwrap_err();
    assert!(e.to_string().contains("chmod 700"), "{e}");
    // A file in the way is not removed.
    std::fs::write(rt.join("x.sock"), b"keep").unwrap();
    assert!(socket::bind(&rt.join("x.sock")).is_err());
    assert_eq!(std::fs::read(rt.join("x.sock")).unwrap(), b"keep");
}

#[test]
fn a_subscriber_sees_the_changes_another_client_makes() {
    let _one = serial();
    let w = Webcam::start(Body::ilce_6400());
    let mut sub = w.client();
    sub.send(&json!({"cmd":"subscribe"})).unwrap();
    let ok = sub.next(Some(Duration::from_secs(5))).unwrap().unwrap();
    assert_eq!(ok["subscribed"], json!(true));
    let r = w.ask(json!({"cmd":"set","name":"wb","value":"cloudy"}));
    assert_eq!(
        (&r["ok"], &r["value"]),
        (&json!(true), &json!("cloudy")),
        "{r}"
    );
    let t = Instant::now();
    loop {
        let e = sub.next(Some(Duration::from_secs(5))).unwrap().unwrap();
        if e["name"] == json!("wb") {
            assert_eq!(e, json!({"event":"changed","name":"wb","value":"cloudy"}));
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5));
    }
    let s = w.stop();
    assert!(s.stats.captured > 3);
}

/// Round trip from request to the body's confirmation, through the socket, with live
/// view running; printed for the issue's note (not asserted: timing is not a test).
#[test]
fn round_trips_with_live_view_running() {
    let _one = serial();
    let w = Webcam::start(Body::ilce_6400());
    let before = w.frames();
    let mut c = w.client();
    let mut times = Vec::new();
    for v in ["cloudy", "daylight", "auto", "shade", "5600K", "auto"] {
        let t = Instant::now();
        let r = c.ask(&json!({"cmd":"set","name":"wb","value":v})).unwrap();
        times.push(t.elapsed());
        assert_eq!(r["ok"], json!(true), "{r}");
    }
    times.sort();
    eprintln!(
        "set wb through the socket, request to confirmed value: median {:?}, max {:?} ({} live frames meanwhile)",
        times[times.len() / 2],
        times[times.len() - 1],
        w.frames() - before
    );
    assert!(w.frames() > before);
    let _ = &w.emu;
}

/// Mean luma of the live frames written after `since`, waiting for at least `n`.
fn luma_after(w: &Webcam, since: Instant, n: usize) -> f64 {
    let t = Instant::now();
    loop {
        {
            let seen = w.seen.lock().unwrap();
            let l: Vec<f64> = seen
                .frames
                .iter()
                .filter(|f| f.0 > since)
                .map(|f| f.2)
                .collect();
            if l.len() >= n {
                return l[l.len() - n..].iter().sum::<f64>() / n as f64;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no live frames");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Every control against a 2.00 body (ILCE-5100, polled, notch steps), a 3.00 body
/// (DSC-RX100M7, direct writes, power zoom) and the 3.00 ZV-E10, through the socket
/// with live view running; the picture's brightness follows exposure compensation.
#[test]
fn every_control_on_each_generation_through_the_socket() {
    let _one = serial();
    for (body, zoom, mf) in [
        (Body::ilce_5100(), false, false),
        (Body::dsc_rx100m7(), true, true),
        (Body::zv_e10(), true, true),
    ] {
        let model = body.model.clone();
        let w = Webcam::start(body);
        let mut c = w.client();
        let mut ask = |v: Value| -> (Value, Duration) {
            let t = Instant::now();
            let r = c.ask(&v).unwrap();
            (r, t.elapsed())
        };
        let mut times = Vec::new();
        for (name, value, shown) in [
            ("iso", "400", "400"),
            ("shutter", "1/250", "1/250"),
            ("aperture", "5.6", "f/5.6"),
            ("ev", "-0.7", "-0.7"),
            ("wb", "daylight", "daylight"),
            ("wb", "5600K", "5600K"),
            ("focus", "manual", "manual"),
        ] {
            let (r, t) = ask(json!({"cmd":"set","name":name,"value":value}));
            assert_eq!(
                (&r["ok"], &r["value"]),
                (&json!(true), &json!(shown)),
                "{model} {name} {value}: {r}"
            );
            times.push((format!("set {name} {value}"), t));
            // Read back on its own too.
            let (g, _) = ask(json!({"cmd":"get","name":name}));
            assert_eq!(g["value"], json!(shown), "{model}: {g}");
        }
        let (r, t) = ask(json!({"cmd":"press","action":"focus-step","steps":3}));
        if mf {
            assert_eq!(r["ok"], json!(true), "{model}: {r}");
            times.push(("focus-step 3".into(), t));
        } else {
            assert_eq!(r["kind"], json!("unsupported"), "{model}: {r}");
        }
        let (r, _) = ask(json!({"cmd":"set","name":"focus","value":"af-s"}));
        assert_eq!(r["ok"], json!(true), "{model}: {r}");
        let (r, t) =
            ask(json!({"cmd":"press","action":"af-point","x":0.25,"y":0.5,"unit":"fraction"}));
        if mf {
            assert_eq!(
                r["done"],
                json!("AF point moved to 160,240 of 640x480"),
                "{model}: {r}"
            );
            times.push(("af-point".into(), t));
        }
        let (r, t) = ask(json!({"cmd":"press","action":"af"}));
        assert_eq!(r["done"], json!("focused"), "{model}: {r}");
        times.push(("af".into(), t));
        for dir in ["in", "stop", "out", "stop"] {
            let (r, t) = ask(json!({"cmd":"press","action":"zoom","dir":dir}));
            if zoom {
                assert_eq!(r["ok"], json!(true), "{model} zoom {dir}: {r}");
                times.push((format!("zoom {dir}"), t));
            } else {
                assert_eq!(r["ok"], json!(false), "{model} zoom {dir}: {r}");
            }
        }
        for (state, rec) in [("start", "on"), ("stop", "off")] {
            let (r, t) = ask(json!({"cmd":"press","action":"movie","state":state}));
            assert_eq!(r["ok"], json!(true), "{model} movie {state}: {r}");
            times.push((format!("movie {state}"), t));
            let (g, _) = ask(json!({"cmd":"get","name":"recording"}));
            assert_eq!(g["value"], json!(rec), "{model}: {g}");
        }
        // Brightness moves with exposure compensation.
        let (r, _) = ask(json!({"cmd":"set","name":"ev","value":"-2.0"}));
        assert_eq!(r["ok"], json!(true), "{model}: {r}");
        let dark = luma_after(&w, Instant::now() + Duration::from_millis(300), 3);
        let (r, _) = ask(json!({"cmd":"set","name":"ev","value":"+2.0"}));
        assert_eq!(r["ok"], json!(true), "{model}: {r}");
        let bright = luma_after(&w, Instant::now() + Duration::from_millis(300), 3);
        assert!(
            bright > dark + 10.0,
            "{model}: mean luma at -2.0 EV {dark:.1}, at +2.0 EV {bright:.1}"
        );
        eprintln!(
            "{model}: request → confirmed: {}; luma -2 EV {dark:.0} / +2 EV {bright:.0}",
            times
                .iter()
                .map(|(n, t)| format!("{n} {:.0} ms", ms(*t)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let s = w.stop();
        assert!(s.stats.captured > 10, "{model}");
    }
}

/// A still taken while live view runs is saved byte for byte as the body served it,
/// with live frames before and after, and the live-view gap is reported.
#[test]
fn a_still_during_live_view_is_saved_byte_identical_with_live_frames_around_it() {
    let _one = serial();
    for body in [Body::ilce_5100(), Body::dsc_rx100m7()] {
        let model = body.model.clone();
        let w = Webcam::start(body);
        let out = tempfile::tempdir().unwrap();
        let asked = Instant::now();
        let r = w.ask(json!({"cmd":"capture","dir": out.path().to_str().unwrap()}));
        let answered = Instant::now();
        assert_eq!(r["ok"], json!(true), "{model}: {r}");
        let path = PathBuf::from(r["path"].as_str().unwrap());
        assert_eq!(path.parent(), Some(out.path()));
        let saved = std::fs::read(&path).unwrap();
        let served = w.emu.stats().last_still().expect("the body served a still");
        assert_eq!(w.emu.stats().stills_served(), 1);
        assert!(
            saved == served,
            "{model}: saved {} bytes, served {}",
            saved.len(),
            served.len()
        );
        assert_eq!(&saved[..2], &[0xFF, 0xD8]);
        assert_eq!(r["bytes"], json!(saved.len()));
        let gap = r["live_view_gap_ms"].as_f64().expect("a gap is reported");
        // Live frames before the request and after the answer.
        luma_after(&w, answered, 3);
        {
            let seen = w.seen.lock().unwrap();
            assert!(
                seen.frames.iter().any(|f| f.0 < asked),
                "{model}: no live frame before"
            );
            assert!(seen.frames.iter().filter(|f| f.0 > answered).count() >= 3);
        }
        let names: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.len(),
            1,
            "{model}: only the still, no partial file: {names:?}"
        );
        let stills = w.stats.stills.load(Ordering::Relaxed);
        let s = w.stop();
        assert_eq!(stills, 1);
        eprintln!(
            "{model}: still of {} bytes in {:.0} ms, live-view gap {gap:.0} ms, {} placeholder pictures",
            saved.len(),
            ms(answered - asked),
            s.stats.placeholders
        );
    }
}

/// The last picture written once `n` pictures came after `since` (YUYV, and its width).
fn picture_after(w: &Webcam, since: Instant, n: usize) -> (Vec<u8>, u32) {
    let t = Instant::now();
    loop {
        {
            let seen = w.seen.lock().unwrap();
            if seen.frames.iter().filter(|f| f.0 > since).count() >= n {
                return (seen.last.clone(), seen.width);
            }
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no live frames");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where the focus box is in `after`: the centre of the pixels that turned bright green
/// (low Cb and Cr, as the emulated body draws the box) since `before`. A green already
/// there (the test card's own green) is not counted. `None` when nothing turned green.
fn box_centre(before: &[u8], after: &[u8], width: u32) -> Option<(f64, f64)> {
    let green = |d: &[u8], i: usize| d[i + 1] < 90 && d[i + 3] < 90;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (pair, i) in (0..after.len().min(before.len())).step_by(4).enumerate() {
        if green(after, i) && !green(before, i) {
            let (x, y) = (pair as u32 * 2 % width, pair as u32 * 2 / width);
            (x0, y0) = (x0.min(x), y0.min(y));
            (x1, y1) = (x1.max(x + 2), y1.max(y + 1));
        }
    }
    (x1 > 0).then(|| ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0))
}

/// `af-point X Y` through the socket moves the focus box the body draws to that point
/// of the picture the webcam writes, on a 2.00 body (ILCE-6400) and a 3.00 body
/// (ZV-E10); an ILCE-5100, which has no movable AF point over USB, refuses it.
#[test]
fn the_focus_box_is_drawn_where_af_point_puts_it_and_moves_when_asked_again() {
    let _one = serial();
    const TOLERANCE: f64 = 6.0;
    for body in [Body::ilce_6400(), Body::zv_e10(), Body::ilce_5100()] {
        let model = body.model.clone();
        let movable = model != "ILCE-5100";
        let w = Webcam::start(body);
        let (mut before, width) = picture_after(&w, Instant::now(), 1);
        let height = (before.len() / 2) as u32 / width;
        // Points off the card's own green bar, away from the counter strip at the bottom.
        for (x, y) in [(256.0, 170.0), (768.0, 340.0), (512.0, 240.0)] {
            let r = w.ask(json!({"cmd":"press","action":"af-point","x":x,"y":y,"unit":"pixel"}));
            if !movable {
                assert_eq!(r["ok"], json!(false), "{model}: {r}");
                eprintln!("{model}: af-point refused: {}", r["error"]);
                break;
            }
            assert_eq!(r["ok"], json!(true), "{model}: {r}");
            let (after, _) = picture_after(&w, Instant::now() + Duration::from_millis(300), 2);
            let (cx, cy) = box_centre(&before, &after, width)
                .unwrap_or_else(|| panic!("{model}: no focus box appeared for {x},{y}"));
            eprintln!(
                "{model}: af-point {x},{y} of {width}x{height} -> box centred at {cx:.1},{cy:.1} ({})",
                r["done"]
            );
            assert!(
                (cx - x).abs() <= TOLERANCE && (cy - y).abs() <= TOLERANCE,
                "{model}: asked {x},{y}, the box is centred at {cx:.1},{cy:.1}"
            );
            before = after;
        }
        w.stop();
    }
}
