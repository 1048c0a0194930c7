//! Dump and replay tests on the shared Sony vectors (MANIFEST.md §2).

use super::*;
use crate::frame::extract;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/liveview");

fn vector(name: &str) -> Option<Vec<u8>> {
    let path = format!("{VECTORS}/{name}");
    std::fs::read(&path)
        .map_err(|e| eprintln!("skipping: vector {path} not readable ({e})"))
        .ok()
}

const DATASETS: [&str; 5] = [
    "rx100m7_multi.ds0",
    "rx100m7_multi.ds1",
    "a9ii.ds0",
    "a9ii.ds1",
    "a9ii.ds2",
];

fn all(replay: &mut Replay) -> Vec<Result<(ReplayKind, Vec<u8>), String>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for _ in 0..100 {
        match replay.next_into(&mut buf) {
            Ok(Some(k)) => out.push(Ok((k, buf.clone()))),
            Ok(None) => return out,
            Err(e) => out.push(Err(e.to_string())),
        }
    }
    out
}

#[test]
fn dump_then_replay_gives_the_same_objects_in_order() {
    let Some(objects) = DATASETS
        .iter()
        .map(|n| vector(&format!("{n}.bin")))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut w = DumpWriter::new(dir.path()).unwrap();
    for o in &objects[..3] {
        w.write(o).unwrap();
    }
    // A second writer continues the numbering instead of overwriting.
    let mut w = DumpWriter::new(dir.path()).unwrap();
    let p = w.write(&objects[3]).unwrap();
    assert_eq!(p.file_name().unwrap(), "lv-000004.bin");
    w.write(&objects[4]).unwrap();
    w.write(&[]).unwrap(); // a "not ready" empty object is dumped as is
    assert_eq!(w.written(), 3);
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names[0], "lv-000001.bin");
    assert_eq!(names.len(), 6, "temporary files left behind: {names:?}");

    let mut r = Replay::open(dir.path()).unwrap();
    let got = all(&mut r);
    let mut want: Vec<_> = objects
        .iter()
        .map(|o| Ok((ReplayKind::Object, o.clone())))
        .collect();
    want.push(Ok((ReplayKind::Object, vec![])));
    assert_eq!(got, want);
    for (o, name) in objects.iter().zip(DATASETS) {
        let f = extract(o).unwrap();
        let jpg = vector(&format!("{name}.jpg")).unwrap();
        assert_eq!(f.jpeg, &jpg[..]);
    }
}

#[test]
fn jpeg_directory_and_mjpeg_file() {
    let Some(jpgs) = DATASETS
        .iter()
        .map(|n| vector(&format!("{n}.jpg")))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    // Numeric order, not byte order; other files are ignored.
    for (i, j) in jpgs.iter().enumerate() {
        let ext = if i % 2 == 0 { "jpg" } else { "JPEG" };
        std::fs::write(frames.join(format!("f{}.{ext}", 8 + i)), j).unwrap();
    }
    std::fs::write(frames.join("notes.txt"), "x").unwrap();
    std::fs::write(frames.join(".hidden.jpg"), "x").unwrap();
    let want: Vec<_> = jpgs
        .iter()
        .map(|j| Ok((ReplayKind::Jpeg, j.clone())))
        .collect();
    assert_eq!(all(&mut Replay::open(&frames).unwrap()), want);

    // A single .jpg, with junk after its EOI that replay cuts off.
    let one = dir.path().join("one.jpg");
    let mut junk = jpgs[0].clone();
    junk.extend_from_slice(&[0xFF, 0xD9, 0, 0]);
    std::fs::write(&one, &junk).unwrap();
    assert_eq!(all(&mut Replay::open(&one).unwrap()), want[..1]);

    // MJPEG: read through a tiny window so every frame crosses refills.
    let mjpeg = dir.path().join("x.mjpg");
    std::fs::write(&mjpeg, jpgs.concat()).unwrap();
    let mut r = Replay::open(&mjpeg).unwrap();
    if let Source::Stream(s) = &mut r.source {
        s.chunk = 1000;
    }
    assert_eq!(all(&mut r), want);

    // A cut last frame is reported once, then the replay ends.
    let mut cut = jpgs.concat();
    cut.truncate(cut.len() - 100);
    std::fs::write(&mjpeg, &cut).unwrap();
    let got = all(&mut Replay::open(&mjpeg).unwrap());
    assert_eq!(got[..4], want[..4]);
    assert_eq!(got.len(), 5);
    let err = got[4].as_ref().unwrap_err();
    assert!(
        err.contains("incomplete")
            && err.contains(&format!("byte {}", cut.len() - (jpgs[4].len() - 100))),
        "{err}"
    );

    // Junk instead of a JPEG start: an error, not a panic or a hunt.
    std::fs::write(&mjpeg, b"hello world").unwrap();
    let got = all(&mut Replay::open(&mjpeg).unwrap());
    assert_eq!(got.len(), 1);
    assert!(got[0].as_ref().unwrap_err().contains("at byte 0"));
}

#[test]
fn capture_files_of_back_to_back_datasets() {
    let cases = [
        ("liveview-rx100m7-multipleimages.bin", &DATASETS[..2], true),
        ("liveview-rx100m7-singleimage.bin", &DATASETS[..1], true),
        (
            "liveview-a9ii-multipleimages.dechunked.bin",
            &DATASETS[2..],
            false,
        ),
        ("liveview-a9ii-multipleimages.bin", &[][..], false),
    ];
    for (file, parts, incomplete) in cases {
        let path = format!("{VECTORS}/{file}");
        if !Path::new(&path).exists() {
            eprintln!("skipping: {path} missing");
            return;
        }
        for chunk in [READ_CHUNK, 4096, 1] {
            let mut r = Replay::open(&path).unwrap();
            if let Source::Stream(s) = &mut r.source {
                s.chunk = chunk;
            }
            let got = all(&mut r);
            let oks: Vec<_> = got
                .iter()
                .filter_map(|g| g.as_ref().ok())
                .cloned()
                .collect();
            let want: Vec<_> = parts
                .iter()
                .map(|n| (ReplayKind::Object, vector(&format!("{n}.bin")).unwrap()))
                .collect();
            assert_eq!(oks, want, "{file}");
            let errs: Vec<_> = got.iter().filter_map(|g| g.as_ref().err()).collect();
            match (incomplete, parts.is_empty()) {
                (true, _) => assert!(
                    errs.len() == 1 && errs[0].contains("incomplete"),
                    "{errs:?}"
                ),
                (false, true) => {
                    // Raw a9ii: the header lies, so nothing is replayed and nothing hangs.
                    assert!(
                        errs.len() == 1 && errs[0].contains("bad live-view dataset header"),
                        "{errs:?}"
                    )
                }
                (false, false) => assert!(errs.is_empty(), "{errs:?}"),
            }
            assert!(got.last().unwrap().is_ok() || !errs.is_empty());
        }
    }
}

#[test]
fn looping_repeats_and_never_spins_on_errors() {
    let path = format!("{VECTORS}/liveview-rx100m7-singleimage.bin");
    let raw = format!("{VECTORS}/liveview-a9ii-multipleimages.bin");
    if !Path::new(&path).exists() || !Path::new(&raw).exists() {
        return;
    }
    let mut r = Replay::open(&path).unwrap().with_loop(true);
    let mut buf = Vec::new();
    let mut pattern = String::new();
    for _ in 0..6 {
        pattern.push(match r.next_into(&mut buf) {
            Ok(Some(ReplayKind::Object)) => 'o',
            Ok(Some(ReplayKind::Jpeg)) => 'j',
            Ok(None) => 'n',
            Err(_) => 'e',
        });
    }
    assert_eq!(pattern, "oeoeoe");
    assert_eq!(r.items(), 3);
    let mut r = Replay::open(&raw).unwrap().with_loop(true);
    assert!(r.next_into(&mut buf).is_err());
    assert!(matches!(r.next_into(&mut buf), Ok(None)));
}

#[test]
fn open_refuses_what_it_cannot_replay() {
    let dir = tempfile::tempdir().unwrap();
    let e = Replay::open(dir.path()).unwrap_err();
    assert!(matches!(e, ReplayError::NoItems(_)), "{e}");
    std::fs::write(dir.path().join("a.bin"), [0u8; 4]).unwrap();
    std::fs::write(dir.path().join("b.jpg"), [0u8; 4]).unwrap();
    assert!(matches!(
        Replay::open(dir.path()),
        Err(ReplayError::Mixed(_))
    ));
    let txt = dir.path().join("x.txt");
    std::fs::write(&txt, "x").unwrap();
    let e = Replay::open(&txt).unwrap_err();
    assert!(e.to_string().contains(".mjpeg"), "{e}");
    assert!(matches!(
        Replay::open(dir.path().join("missing.mjpeg")),
        Err(ReplayError::Io { .. })
    ));
    // Over the item cap: refused from its size, without reading it (sparse file).
    let big = tempfile::tempdir().unwrap();
    let f = File::create(big.path().join("lv-000001.bin")).unwrap();
    f.set_len(MAX_ITEM_BYTES as u64 + 1).unwrap();
    std::fs::write(big.path().join("lv-000002.bin"), [1, 2, 3]).unwrap();
    let got = all(&mut Replay::open(big.path()).unwrap());
    assert!(
        got[0].as_ref().unwrap_err().contains("above the"),
        "{got:?}"
    );
    assert_eq!(got[1], Ok((ReplayKind::Object, vec![1, 2, 3])));
}

#[test]
fn natural_order() {
    let mut v = vec![
        "lv-1000000.bin",
        "lv-999999.bin",
        "lv-000010.bin",
        "lv-000002.bin",
        "a",
        "lv-2.bin",
    ];
    v.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        v,
        [
            "a",
            "lv-2.bin",
            "lv-000002.bin",
            "lv-000010.bin",
            "lv-999999.bin",
            "lv-1000000.bin"
        ]
    );
}

fn synth_jpeg(seed: u8) -> Vec<u8> {
    let px: Vec<u8> = (0..48 * 32 * 3)
        .map(|i| (i as u8).wrapping_mul(seed))
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&px, 48, 32, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

#[test]
fn a_corrupt_jpeg_in_an_mjpeg_stream_is_one_error_and_the_rest_plays() {
    let frames: Vec<Vec<u8>> = (1..=6).map(synth_jpeg).collect();
    let mut bytes = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let mut f = f.clone();
        if i == 2 {
            // Its header is garbage: the framing of this frame is lost.
            f[2..8].copy_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
        }
        if i == 4 {
            // Junk between two frames.
            bytes.extend_from_slice(&[0xFF, 0x00, 0xFF, 0xFF, 7, 7]);
        }
        bytes.extend_from_slice(&f);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.mjpeg");
    std::fs::write(&path, &bytes).unwrap();
    for chunk in [READ_CHUNK, 1000, 7, 1] {
        let mut r = Replay::open(&path).unwrap();
        if let Source::Stream(s) = &mut r.source {
            s.chunk = chunk;
        }
        let got = all(&mut r);
        let oks: Vec<_> = got.iter().filter_map(|g| g.as_ref().ok()).collect();
        let want: Vec<_> = [0, 1, 3, 4, 5]
            .iter()
            .map(|&i| (ReplayKind::Jpeg, frames[i].clone()))
            .collect();
        assert_eq!(oks, want.iter().collect::<Vec<_>>(), "chunk {chunk}");
        let errs: Vec<_> = got.iter().filter_map(|g| g.as_ref().err()).collect();
        assert_eq!(errs.len(), 2, "chunk {chunk}: {errs:?}");
        let at = frames[0].len() + frames[1].len();
        assert!(errs[0].contains(&format!("at byte {at}")), "{errs:?}");
    }
}
