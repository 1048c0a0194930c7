//! Recorder tests. Independent judges: ffmpeg decodes every frame with errors made
//! fatal, ffprobe counts frames and reads packet timestamps (skipped without ffmpeg).

use super::*;
// The record-target fixtures the integration tests use too.
#[path = "../../../tests/it/support/files.rs"]
mod files;
use files::{mkfifo, names};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use std::process::Command;

fn jpeg(w: u16, h: u16, seed: u32) -> Vec<u8> {
    let mut s = seed | 1;
    let px: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            // Smooth gradient plus a little noise: realistic sizes, odd and even.
            ((i / 3 % usize::from(w)) as u32 * 2 + (s & 15)) as u8
        })
        .collect();
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 85);
    enc.set_sampling_factor(SamplingFactor::R_4_2_2);
    enc.encode(&px, w, h, ColorType::Rgb).unwrap();
    out
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: {tool} not installed");
    }
    ok
}

/// `ffmpeg -v error -xerror -err_detect explode`: rc 0 and nothing on stderr.
fn ffmpeg_decodes(path: &Path, format: Option<&str>) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-nostdin",
        "-v",
        "error",
        "-xerror",
        "-err_detect",
        "explode",
    ]);
    if let Some(f) = format {
        cmd.args(["-f", f]);
    }
    let out = cmd
        .arg("-i")
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "ffmpeg: {err}"
    );
}

fn ffprobe(path: &Path, format: Option<&str>, entries: &str, extra: &[&str]) -> String {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error"]);
    if let Some(f) = format {
        cmd.args(["-f", f]);
    }
    cmd.args(extra)
        .args([
            "-select_streams",
            "v:0",
            "-show_entries",
            entries,
            "-of",
            "csv=p=0",
        ])
        .arg(path);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn frames_read(path: &Path, format: Option<&str>) -> u64 {
    ffprobe(path, format, "stream=nb_read_frames", &["-count_frames"])
        .trim()
        .trim_end_matches(',')
        .parse()
        .unwrap()
}

#[test]
fn mjpeg_stream_is_the_frames_back_to_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.mjpeg");
    let frames: Vec<Vec<u8>> = (0..12).map(|i| jpeg(160, 106, i)).collect();
    let mut rec = Recorder::create(&path).unwrap();
    for (i, f) in frames.iter().enumerate() {
        rec.write(f, Duration::from_millis(33 * i as u64)).unwrap();
        assert!(!path.exists(), "final name appears before finish");
    }
    assert!(dir.path().join("out.mjpeg.partial").exists());
    let sum = rec.finish().unwrap();
    assert!(!dir.path().join("out.mjpeg.partial").exists());
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, frames.concat());
    assert_eq!(
        (sum.frames, sum.jpeg_bytes, sum.file_bytes),
        (12, bytes.len() as u64, bytes.len() as u64)
    );
    if have("ffmpeg") && have("ffprobe") {
        ffmpeg_decodes(&path, Some("mjpeg"));
        assert_eq!(frames_read(&path, Some("mjpeg")), 12);
    }
}

#[test]
fn avi_decodes_and_keeps_real_timing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Out.AVI");
    let mut rec = Recorder::create(&path).unwrap();
    // 10 frames at ~30 fps with jitter, a 1 s stall, then 10 more at ~15 fps.
    let mut times = Vec::new();
    for i in 0..10u64 {
        times.push(Duration::from_millis(i * 33 + (i % 3) * 4));
    }
    for i in 0..10u64 {
        times.push(Duration::from_millis(1300 + i * 66));
    }
    let mut expect_slots = Vec::new();
    let mut next = 0u64;
    for (i, t) in times.iter().enumerate() {
        let f = jpeg(320, 212, i as u32);
        rec.write(&f, *t).unwrap();
        let slot = (t.as_nanos() * 30 / 1_000_000_000) as u64;
        let slot = slot.max(next);
        expect_slots.push(slot);
        next = slot + 1;
    }
    let sum = rec.finish().unwrap();
    assert_eq!((sum.frames, sum.slots), (20, next));
    assert_eq!(sum.file_bytes, std::fs::metadata(&path).unwrap().len());
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize,
        bytes.len() - 8
    );
    if !(have("ffmpeg") && have("ffprobe")) {
        return;
    }
    ffmpeg_decodes(&path, None);
    assert_eq!(frames_read(&path, None), 20);
    let info = ffprobe(
        &path,
        None,
        "stream=codec_name,width,height,r_frame_rate",
        &[],
    );
    assert_eq!(info.trim(), "mjpeg,320,212,30/1");
    // Real timing: each frame's pts is the slot of its timestamp.
    let pts: Vec<u64> = ffprobe(&path, None, "packet=pts", &[])
        .lines()
        .map(|l| l.trim_end_matches(',').parse().unwrap())
        .collect();
    assert_eq!(pts, expect_slots);
}

#[test]
fn avi_stops_cleanly_at_its_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cap.avi");
    let opts = RecordOptions {
        avi_riff_bytes: 60_000,
        avi_opendml: false,
        ..RecordOptions::default()
    };
    let mut rec = Recorder::create_with(&path, opts).unwrap();
    let mut accepted = 0u64;
    let mut refused = 0;
    for i in 0..40u64 {
        match rec.write(&jpeg(160, 106, i as u32), Duration::from_millis(i * 33)) {
            Ok(true) => accepted += 1,
            Ok(false) => panic!("frame {i} skipped by the rate cap"),
            Err(e @ RecordError::AviLimit { .. }) => {
                assert!(e.to_string().contains("AVI 1.0"), "{e}");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(accepted > 3 && refused > 0, "{accepted} {refused}");
    // A gap that would need more empty chunks than the cap allows is refused too,
    // without trying to allocate for it.
    assert!(matches!(
        rec.write(&jpeg(16, 16, 1), Duration::MAX),
        Err(RecordError::AviLimit { .. })
    ));
    let sum = rec.finish().unwrap();
    assert_eq!(sum.frames, accepted);
    assert!(sum.file_bytes <= 60_000);
    if have("ffmpeg") && have("ffprobe") {
        ffmpeg_decodes(&path, None);
        assert_eq!(frames_read(&path, None), accepted);
    }
}

#[test]
fn refuses_what_is_not_one_whole_jpeg_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.avi", "a.mjpeg"] {
        let path = dir.path().join(name);
        let mut rec = Recorder::create(&path).unwrap();
        let good = jpeg(64, 48, 7);
        rec.write(&good, Duration::ZERO).unwrap();
        let mut junk = good.clone();
        junk.extend_from_slice(&[0, 1]);
        for bad in [&good[..good.len() - 1], &junk[..], &[][..], &good[2..]] {
            let e = rec.write(bad, Duration::from_millis(40)).unwrap_err();
            assert!(matches!(e, RecordError::NotJpeg { frame: 2, .. }), "{e}");
        }
        let sum = rec.finish().unwrap();
        assert_eq!(sum.frames, 1);
        if name.ends_with(".mjpeg") {
            assert_eq!(std::fs::read(&path).unwrap(), good);
        } else if have("ffprobe") {
            assert_eq!(frames_read(&path, None), 1);
        }
    }
}

#[test]
fn existing_files_are_not_replaced_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mjpeg");
    std::fs::write(&path, b"keep").unwrap();
    let e = Recorder::create(&path).unwrap_err();
    assert!(matches!(e, RecordError::Exists(_)));
    assert!(e.to_string().contains("choose another name"));
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    let opts = RecordOptions {
        overwrite: true,
        ..RecordOptions::default()
    };
    let mut rec = Recorder::create_with(&path, opts).unwrap();
    rec.write(&jpeg(64, 48, 1), Duration::ZERO).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"keep",
        "replaced before finish"
    );
    let sum = rec.finish().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), jpeg(64, 48, 1));
    assert!(sum.written && sum.frames == 1);
    assert!(matches!(
        Recorder::create_with(
            dir.path().join("y.avi"),
            RecordOptions {
                fps: 0,
                ..RecordOptions::default()
            }
        ),
        Err(RecordError::BadFps(0))
    ));
}

/// Walks the top-level RIFF chunks: they must tile the file exactly.
fn riff_chain(bytes: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        assert_eq!(&bytes[pos..pos + 4], b"RIFF", "at {pos}");
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((
            String::from_utf8_lossy(&bytes[pos + 8..pos + 12]).into_owned(),
            size + 8,
        ));
        pos += 8 + size + size % 2;
    }
    assert_eq!(pos, bytes.len());
    out
}

#[test]
fn avi_goes_on_in_opendml_riffs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.avi");
    let opts = RecordOptions {
        avi_riff_bytes: 50_000,
        ..RecordOptions::default()
    };
    let mut rec = Recorder::create_with(&path, opts).unwrap();
    let mut expect_slots = Vec::new();
    let mut next = 0u64;
    for i in 0..30u64 {
        // ~30 fps with a 2 s stall in the middle.
        let t = Duration::from_millis(i * 34 + if i >= 15 { 2000 } else { 0 });
        rec.write(&jpeg(160, 106, i as u32), t).unwrap();
        let slot = ((t.as_nanos() * 30 / 1_000_000_000) as u64).max(next);
        expect_slots.push(slot);
        next = slot + 1;
    }
    let sum = rec.finish().unwrap();
    assert_eq!((sum.frames, sum.slots), (30, next));
    let bytes = std::fs::read(&path).unwrap();
    let riffs = riff_chain(&bytes);
    assert_eq!(riffs[0].0, "AVI ");
    assert!(riffs.len() >= 4, "{riffs:?}");
    for (tag, size) in &riffs {
        assert!(*size <= 50_000, "{riffs:?}");
        assert!(tag == "AVI " || tag == "AVIX");
    }
    if !(have("ffmpeg") && have("ffprobe")) {
        return;
    }
    ffmpeg_decodes(&path, None);
    assert_eq!(frames_read(&path, None), 30);
    let pts: Vec<u64> = ffprobe(&path, None, "packet=pts", &[])
        .lines()
        .map(|l| l.trim_end_matches(',').parse().unwrap())
        .collect();
    assert_eq!(pts, expect_slots);
}

#[test]
fn real_sony_frames_record_and_probe_as_yuvj422p() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/liveview");
    let names = [
        "rx100m7_multi.ds0",
        "rx100m7_multi.ds1",
        "a9ii.ds0",
        "a9ii.ds1",
        "a9ii.ds2",
    ];
    let Ok(jpgs) = names
        .iter()
        .map(|n| std::fs::read(format!("{dir}/{n}.jpg")))
        .collect::<Result<Vec<_>, _>>()
    else {
        eprintln!("skipping: vectors missing");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for name in ["sony.avi", "sony.mjpeg"] {
        let path = tmp.path().join(name);
        let mut rec = Recorder::create(&path).unwrap();
        for (i, j) in jpgs.iter().enumerate() {
            rec.write(j, Duration::from_millis(40 * i as u64)).unwrap();
        }
        assert_eq!(rec.finish().unwrap().frames, 5);
        if !(have("ffmpeg") && have("ffprobe")) {
            return;
        }
        let fmt = name.ends_with(".mjpeg").then_some("mjpeg");
        ffmpeg_decodes(&path, fmt);
        assert_eq!(frames_read(&path, fmt), 5);
        let info = ffprobe(&path, fmt, "stream=codec_name,width,height,pix_fmt", &[]);
        assert_eq!(info.trim(), "mjpeg,640,424,yuvj422p", "{name}");
    }
}

fn overwrite() -> RecordOptions {
    RecordOptions {
        overwrite: true,
        ..RecordOptions::default()
    }
}

#[test]
fn symlinks_directories_and_devices_are_refused_even_with_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.mjpeg");
    std::fs::write(&target, b"keep").unwrap();
    let link = dir.path().join("link.mjpeg");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let dangling = dir.path().join("dangling.mjpeg");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    for (path, what) in [
        (&link, "symbolic link"),
        (&dangling, "symbolic link"),
        (&sub, "directory"),
        (&PathBuf::from("/dev/null"), "character device"),
    ] {
        let e = Recorder::create_with(path, overwrite()).unwrap_err();
        assert!(matches!(e, RecordError::NotRegular { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains(what) && msg.contains(&path.display().to_string()),
            "{msg}"
        );
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(
        !dir.path().join("nowhere").exists(),
        "a dangling link is not followed"
    );
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    // Nothing was created next to them.
    assert_eq!(
        names(dir.path()),
        ["dangling.mjpeg", "link.mjpeg", "sub", "target.mjpeg"]
    );
}

#[test]
fn a_recording_with_no_frame_leaves_the_old_file_and_makes_no_new_one() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["old.mjpeg", "old.avi"] {
        let path = dir.path().join(name);
        std::fs::write(&path, b"a good recording").unwrap();
        let sum = Recorder::create_with(&path, overwrite())
            .unwrap()
            .finish()
            .unwrap();
        assert!(!sum.written && sum.frames == 0);
        assert_eq!(std::fs::read(&path).unwrap(), b"a good recording");
        // Dropped without finish (the camera failed at once): the same.
        drop(Recorder::create_with(&path, overwrite()).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"a good recording");
    }
    for name in ["new.mjpeg", "new.avi"] {
        let sum = Recorder::create(dir.path().join(name))
            .unwrap()
            .finish()
            .unwrap();
        assert!(!sum.written);
        drop(Recorder::create(dir.path().join(name)).unwrap());
    }
    assert_eq!(
        names(dir.path()),
        ["old.avi", "old.mjpeg"],
        "no new or partial file"
    );
}

#[test]
fn a_stale_partial_is_moved_aside_and_a_live_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.avi");
    let stale = dir.path().join("x.avi.partial");
    std::fs::write(&stale, b"frames of a crashed run").unwrap();
    std::fs::write(dir.path().join("x.avi.partial.1"), b"an older one").unwrap();
    let mut rec = Recorder::create(&path).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("x.avi.partial.2")).unwrap(),
        b"frames of a crashed run"
    );
    assert_eq!(
        std::fs::read(dir.path().join("x.avi.partial.1")).unwrap(),
        b"an older one"
    );
    // A second recorder on the same name while this one runs: refused, nothing moved.
    let e = Recorder::create(&path).unwrap_err();
    assert!(matches!(e, RecordError::Busy { .. }), "{e}");
    assert!(e.to_string().contains("under way"), "{e}");
    assert!(!dir.path().join("x.avi.partial.3").exists());
    rec.write(&jpeg(64, 48, 1), Duration::ZERO).unwrap();
    assert!(rec.finish().unwrap().written);
    assert!(path.exists() && !stale.exists());
}

#[test]
fn the_final_rename_never_replaces_what_appeared_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mjpeg");
    let mut rec = Recorder::create(&path).unwrap();
    rec.write(&jpeg(64, 48, 1), Duration::ZERO).unwrap();
    std::fs::write(&path, b"someone else's").unwrap();
    let e = rec.finish().unwrap_err();
    assert!(matches!(e, RecordError::FinalNameChanged { .. }), "{e}");
    assert!(e.to_string().contains("x.mjpeg.partial"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
    assert_eq!(
        std::fs::read(dir.path().join("x.mjpeg.partial")).unwrap(),
        jpeg(64, 48, 1)
    );
    // With overwrite, a symbolic link put there meanwhile is not replaced either.
    let path = dir.path().join("y.mjpeg");
    let mut rec = Recorder::create_with(&path, overwrite()).unwrap();
    rec.write(&jpeg(64, 48, 1), Duration::ZERO).unwrap();
    std::os::unix::fs::symlink("elsewhere", &path).unwrap();
    assert!(matches!(
        rec.finish(),
        Err(RecordError::FinalNameChanged { .. })
    ));
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_fifo_is_written_through_and_an_avi_into_a_pipe_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.mjpeg");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let frames: Vec<Vec<u8>> = (0..5).map(|i| jpeg(96, 64, i)).collect();
    // Even with overwrite a FIFO is written into, not replaced.
    let mut rec = Recorder::create_with(&fifo, overwrite()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        assert!(rec.write(f, Duration::from_millis(40 * i as u64)).unwrap());
    }
    let sum = rec.finish().unwrap();
    assert!(sum.stream && sum.frames == 5);
    assert_eq!(reader.join().unwrap(), frames.concat());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(!dir.path().join("pipe.mjpeg.partial").exists());

    let avi = dir.path().join("pipe.avi");
    mkfifo(&avi);
    let e = Recorder::create(&avi).unwrap_err();
    assert!(matches!(e, RecordError::AviStream(_)), "{e}");
    assert!(e.to_string().contains("without .avi"), "{e}");
}

#[test]
fn a_reader_that_closes_the_pipe_ends_the_recording_without_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("p.mjpeg");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        // Opens, then closes at once.
        std::thread::spawn(move || drop(File::open(fifo).unwrap()))
    };
    let mut rec = Recorder::create(&fifo).unwrap();
    reader.join().unwrap();
    let e = (0..100)
        .find_map(|i| {
            rec.write(&jpeg(64, 48, 1), Duration::from_millis(40 * i))
                .err()
        })
        .expect("a write fails once the reader is gone");
    assert!(matches!(e, RecordError::PipeClosed(_)), "{e}");
}

/// Frames of a `camera_fps` camera with ±`jitter_ms` through a recorder capped at
/// `fps`, for `secs`: (slots of the recorded frames, their timestamps).
fn capped(fps: u32, camera_fps: f64, jitter_ms: f64, secs: f64) -> (Vec<u64>, Vec<f64>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = RecordOptions {
        fps,
        ..RecordOptions::default()
    };
    let mut rec = Recorder::create_with(dir.path().join("c.avi"), opts).unwrap();
    let frame = jpeg(32, 32, 1);
    let (mut slots, mut times) = (Vec::new(), Vec::new());
    let n = (secs * camera_fps) as u64;
    for k in 0..n {
        let j = if k % 2 == 0 { jitter_ms } else { -jitter_ms };
        let t = (k as f64 / camera_fps + j / 1000.0).max(0.0);
        if rec.write(&frame, Duration::from_secs_f64(t)).unwrap() {
            slots.push(rec.next_slot - 1);
            times.push(t);
        }
    }
    let sum = rec.finish().unwrap();
    assert_eq!(sum.slots, slots.last().unwrap() + 1);
    (slots, times)
}

#[test]
fn a_lower_fps_cap_thins_the_recording_and_keeps_real_timing() {
    for fps in [5u32, 10, 15, 24, 30] {
        let (slots, times) = capped(fps, 30.0, 4.0, 10.0);
        let slot = 1.0 / f64::from(fps);
        // Each frame is shown at most one slot early and never more than MAX_LATE late.
        for (s, t) in slots.iter().zip(&times) {
            let shown = *s as f64 * slot;
            assert!(
                shown > t - slot - 1e-9 && shown <= t + MAX_LATE.as_secs_f64() + 1e-9,
                "fps {fps}: frame at {t:.3} s in slot {s}"
            );
        }
        // So the file lasts as long as the run: 10 s, within a slot.
        let duration = (*slots.last().unwrap() + 1) as f64 * slot;
        assert!(
            (duration - 10.0).abs() <= slot + MAX_LATE.as_secs_f64(),
            "fps {fps}: {duration}"
        );
        // And the cap is honoured without losing more than it must.
        let want = (10.0 * f64::from(fps.min(30))) as usize;
        assert!(
            slots.len() <= want + 1 && slots.len() + 2 >= want,
            "fps {fps}: {} frames",
            slots.len()
        );
    }
    // A cap at the camera's rate keeps every frame despite jitter.
    assert_eq!(capped(30, 30.0, 6.0, 10.0).0.len(), 300);
    // And despite a busy machine fetching one frame 40 ms late now and then.
    let dir = tempfile::tempdir().unwrap();
    let mut rec = Recorder::create(dir.path().join("stall.avi")).unwrap();
    let frame = jpeg(32, 32, 1);
    for k in 0..300u64 {
        let late = if k % 50 == 10 { 40 } else { 0 };
        let jitter = if k % 2 == 0 { 5 } else { 0 };
        let t = Duration::from_micros(k * 33_333 + (late + jitter) * 1000);
        assert!(rec.write(&frame, t).unwrap(), "frame {k} skipped");
    }
    assert_eq!(rec.finish().unwrap().frames, 300);
}
