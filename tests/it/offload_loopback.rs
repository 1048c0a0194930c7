//! Offload end to end over loopback against a scripted fake PTP/IP camera
//! (tests/it/support/fake_ptpip.rs): byte-identical downloads in both data styles, Init
//! Fail → "not paired", a drop mid-object resumed by the next activation, hostile
//! names, a 4 GiB-or-more declared size, a full disk (a tmpfs in a private mount
//! namespace, root only) and SSDP discovery (inside a network namespace, root only).
//! Nothing here touches a real interface.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::fake_ptpip::{Content, FakeCamera, FakeConfig, FakeObject, GUID};
use crate::support::netns;
use alpha_bridge::offload::{self, NoProgress, OffloadConfig, OffloadError, Summary};

fn config(dest: &Path) -> OffloadConfig {
    let mut c = OffloadConfig::new(dest.to_path_buf(), GUID, "test-host".into());
    c.chunk = offload::MIN_CHUNK;
    c.tcp.io_timeout = Duration::from_secs(10);
    c
}

fn run(cam: &FakeCamera, dest: &Path) -> Result<Summary, OffloadError> {
    offload::offload_camera(
        cam.addr,
        &config(dest),
        &mut NoProgress,
        &AtomicBool::new(false),
    )
}

fn random_bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Every regular file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn objects() -> Vec<FakeObject> {
    let mut mp4 = FakeObject::file(
        5,
        "C0001.MP4",
        Content::Pattern {
            len: 200_001,
            seed: 9,
        },
    );
    mp4.capture_date = "20261124T235959".into();
    vec![
        FakeObject::folder(1, "2026-11-25"),
        FakeObject::file(2, "DSC00001.JPG", Content::Bytes(random_bytes(1000, 1))),
        FakeObject::file(
            3,
            "DSC00002.ARW",
            Content::Pattern {
                len: 3 * (1 << 20) + 123,
                seed: 3,
            },
        ),
        // Exactly one chunk.
        FakeObject::file(4, "DSC00003.JPG", Content::Bytes(random_bytes(1 << 20, 4))),
        mp4,
    ]
}

fn check_downloaded(dest: &Path, objs: &[FakeObject]) {
    for o in objs.iter().filter(|o| !o.folder) {
        let day = &o.capture_date;
        let p = dest
            .join(format!("{}-{}-{}", &day[0..4], &day[4..6], &day[6..8]))
            .join(&o.name);
        assert!(o.content.matches_file(&p), "{} differs", p.display());
        // mtime from the capture date (local time of the camera, read in our zone).
        let m = std::fs::metadata(&p).unwrap().modified().unwrap();
        let secs = m.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let utc_guess = if day.starts_with("20261125") {
            1_795_601_472
        } else {
            1_795_564_799
        };
        assert!(
            (secs - utc_guess).abs() <= 15 * 3600,
            "{}: mtime {secs}",
            p.display()
        );
    }
}

#[test]
fn full_download_is_byte_identical_in_both_data_styles_then_skipped() {
    for last_in_end in [false, true] {
        let objs = objects();
        let cam = FakeCamera::start(FakeConfig {
            objects: objs.clone(),
            last_chunk_in_end_data: last_in_end,
            data_packet: 100_000,
            ..FakeConfig::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let s = run(&cam, dir.path()).unwrap();
        assert_eq!((s.downloaded, s.skipped), (4, 0), "{s:?}");
        check_downloaded(dir.path(), &objs);
        let all = files(dir.path());
        assert!(
            all.iter().all(|p| !p.to_string_lossy().ends_with(".part")),
            "{all:?}"
        );
        assert_eq!(all.len(), 5, "4 files + ledger: {all:?}");

        let log = cam.log_after(1);
        let pos = |needle: &str| log.iter().position(|l| l.starts_with(needle));
        let start = pos("ext 2 [01, 01]").expect("sony start");
        let storage = pos("op 0x1004").expect("GetStorageIDs");
        assert!(start < storage, "{log:?}");
        assert!(pos("cmd-probe-answered").is_some(), "{log:?}");
        assert!(pos("event-probe-answered").is_some(), "{log:?}");
        assert!(!log.iter().any(|l| l.starts_with("bad")), "{log:?}");
        let n = log.len();
        assert_eq!(log[n - 5], "ext 5 []", "{log:?}");
        assert_eq!(log[n - 4], "op 0x9281 [4]", "{log:?}");
        assert_eq!(log[n - 3], "op 0x1003 []", "{log:?}");
        assert_eq!(log[n - 2], "host closed", "{log:?}");
        // Chunked: the 3 MiB object took four GetPartialObject calls.
        assert_eq!(
            log.iter().filter(|l| l.starts_with("partial 3 ")).count(),
            4
        );

        // A second activation: everything is there already.
        let before = cam.log_after(1).len();
        let s = run(&cam, dir.path()).unwrap();
        assert_eq!((s.downloaded, s.skipped), (0, 4), "{s:?}");
        let log = cam.log_after(2);
        assert!(
            !log[before..].iter().any(|l| l.starts_with("partial")),
            "{log:?}"
        );

        // The user moves the pictures away: the ledger still knows them.
        for p in files(dir.path()) {
            if p.extension().is_some_and(|e| e == "JPG") {
                std::fs::remove_file(p).unwrap();
            }
        }
        let s = run(&cam, dir.path()).unwrap();
        assert_eq!((s.downloaded, s.skipped), (0, 4), "{s:?}");
    }
}

#[test]
fn an_unknown_guid_is_told_to_pair() {
    let cam = FakeCamera::start(FakeConfig {
        guid: *b"some-other-guid!",
        objects: objects(),
        ..FakeConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let e = run(&cam, dir.path()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "this camera is not paired with this computer: run `alpha-bridge pair`"
    );
    assert!(matches!(e, OffloadError::NotPaired));
    assert_eq!(files(dir.path()), Vec::<PathBuf>::new());
    assert_eq!(cam.log(), vec!["init-fail".to_string()]);
}

#[test]
fn a_drop_mid_object_resumes_on_the_next_activation() {
    let big = Content::Pattern {
        len: 3 * (1 << 20) + 77,
        seed: 5,
    };
    let drop_at = (1 << 20) + (1 << 19) + 5;
    let cam = FakeCamera::start(FakeConfig {
        objects: vec![
            FakeObject::file(2, "DSC00001.JPG", Content::Bytes(random_bytes(5000, 2))),
            FakeObject::file(3, "DSC00002.ARW", big.clone()),
        ],
        drop_after: Some((3, drop_at)),
        ..FakeConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let e = run(&cam, dir.path()).unwrap_err();
    assert!(e.is_connection_lost(), "{e}");
    let day = dir.path().join("2026-11-25");
    assert!(day.join("DSC00001.JPG").is_file());
    assert!(!day.join("DSC00002.ARW").exists());
    let parts: Vec<_> = files(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert_eq!(parts.len(), 1, "{parts:?}");
    let have = std::fs::metadata(&parts[0]).unwrap().len();
    assert_eq!(have, drop_at, "everything that arrived was kept");

    let before = cam.log().len();
    let s = run(&cam, dir.path()).unwrap();
    assert_eq!((s.downloaded, s.skipped), (1, 1), "{s:?}");
    assert_eq!(s.bytes, big.len() - drop_at, "only the rest was fetched");
    assert_eq!(
        s.saved_bytes,
        big.len(),
        "the whole file is what the user has"
    );
    let log = cam.log();
    let first = log[before..]
        .iter()
        .find(|l| l.starts_with("partial 3 "))
        .unwrap();
    assert_eq!(first, &format!("partial 3 {drop_at} {}", 1 << 20));
    assert!(big.matches_file(&day.join("DSC00002.ARW")));
    let all = files(dir.path());
    assert_eq!(
        all.len(),
        3,
        "two pictures and the ledger, no duplicate: {all:?}"
    );
}

#[test]
fn hostile_names_never_leave_the_destination() {
    let names = [
        "../../evil.JPG",
        "/etc/passwd_x",
        "a\0b.JPG",
        "..",
        "sub/dir/x.JPG",
        "\u{1b}[2Jx.JPG",
        "",
        ".bashrc",
    ];
    let mut objs = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let mut o = FakeObject::file(10 + i as u32, n, Content::Bytes(random_bytes(100 + i, 7)));
        if i % 2 == 1 {
            o.capture_date = "../../../../tmp/x".into();
        }
        objs.push(o);
    }
    let cam = FakeCamera::start(FakeConfig {
        objects: objs,
        ..FakeConfig::default()
    });
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    let s = run(&cam, &dest).unwrap();
    assert_eq!(s.downloaded, names.len(), "{s:?}");
    let all = files(outer.path());
    let dest = dest.canonicalize().unwrap();
    for p in &all {
        let p = p.canonicalize().unwrap();
        assert!(p.starts_with(&dest), "{} escaped", p.display());
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.chars().any(|c| c.is_control()), "{name:?}");
        assert!(name != ".." && name != ".", "{name:?}");
    }
    assert_eq!(all.len(), names.len() + 1, "{all:?}");
    // Undated objects go to "undated", never to a path built from the bogus date.
    assert!(dest.join("undated").is_dir());
}

#[test]
fn objects_declared_4gib_or_more_come_whole_with_the_64_bit_total() {
    let mut o = FakeObject::file(2, "C0002.MP4", Content::Bytes(random_bytes(5000, 3)));
    o.declared = Some(0xFFFF_FFFF);
    let cam = FakeCamera::start(FakeConfig {
        objects: vec![o.clone()],
        ..FakeConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let s = run(&cam, dir.path()).unwrap();
    assert_eq!(s.downloaded, 1);
    assert!(o
        .content
        .matches_file(&dir.path().join("2026-11-25/C0002.MP4")));
    assert!(cam.log().iter().any(|l| l == "whole 2"), "{:?}", cam.log());
    // And it is not fetched twice.
    let s = run(&cam, dir.path()).unwrap();
    assert_eq!((s.downloaded, s.skipped), (0, 1));
}

#[test]
fn without_get_partial_object_the_whole_object_is_fetched() {
    let objs = objects();
    let cam = FakeCamera::start(FakeConfig {
        objects: objs.clone(),
        list_partial: false,
        ..FakeConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let s = run(&cam, dir.path()).unwrap();
    assert_eq!(s.downloaded, 4);
    check_downloaded(dir.path(), &objs);
}

#[test]
fn a_session_left_open_is_closed_and_reopened() {
    let objs = objects();
    let cam = FakeCamera::start(FakeConfig {
        objects: objs.clone(),
        session_already_open: true,
        ..FakeConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let s = run(&cam, dir.path()).unwrap();
    assert_eq!(s.downloaded, 4);
    let log = cam.log();
    let ops: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("op 0x100"))
        .take(3)
        .map(|s| s.as_str())
        .collect();
    assert_eq!(
        ops,
        ["op 0x1002 [1]", "op 0x1003 []", "op 0x1002 [1]"],
        "{log:?}"
    );
}

#[test]
fn a_full_disk_stops_cleanly_and_keeps_finished_files() {
    netns::on_small_tmpfs("offload_loopback::disk_full_inner");
}

#[test]
#[ignore = "run by a_full_disk_stops_cleanly_and_keeps_finished_files inside a mount namespace"]
fn disk_full_inner() {
    let Ok(mnt) = std::env::var("AB_TMPFS") else {
        return;
    };
    let dest = Path::new(&mnt).join("pics");
    let first = Content::Bytes(random_bytes(1 << 20, 8));
    let cam = FakeCamera::start(FakeConfig {
        objects: vec![
            FakeObject::file(2, "DSC00001.JPG", first.clone()),
            FakeObject::file(
                3,
                "DSC00002.ARW",
                Content::Pattern {
                    len: 8 << 20,
                    seed: 1,
                },
            ),
            FakeObject::file(4, "DSC00003.JPG", Content::Bytes(random_bytes(1000, 9))),
        ],
        ..FakeConfig::default()
    });
    let e = run(&cam, &dest).unwrap_err();
    assert!(matches!(e, OffloadError::DiskFull(_)), "{e}");
    assert!(e.to_string().contains("the disk is full"), "{e}");
    assert!(first.matches_file(&dest.join("2026-11-25/DSC00001.JPG")));
    let all = files(&dest);
    assert!(
        all.iter()
            .all(|p| !p.to_string_lossy().contains("DSC00002")),
        "partial removed: {all:?}"
    );
    // The camera was still told to finish (power-off, CloseSession).
    let log = cam.log();
    assert!(log.iter().any(|l| l == "ext 5 []"), "{log:?}");
    assert!(log.iter().any(|l| l == "op 0x1003 []"), "{log:?}");
}

#[test]
fn discovery_by_notify_and_by_m_search_in_a_network_namespace() {
    for mode in ["notify", "search", "daemon"] {
        netns::in_netns("offload_loopback::ssdp_inner", &[("AB_SSDP_MODE", mode)]);
    }
}

/// Serves the device description over HTTP until the process ends.
fn description_server(body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut req = [0u8; 2048];
            let _ = c.read(&mut req);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
#[ignore = "run by discovery_by_notify_and_by_m_search_in_a_network_namespace"]
fn ssdp_inner() {
    use alpha_bridge::ssdp::listener::ListenerConfig;
    use alpha_bridge::ssdp::message::{Kind, Message, MTP_NULL_SERVICE};
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

    if !netns::inside() {
        return;
    }
    let mode = std::env::var("AB_SSDP_MODE").unwrap();
    let objs = objects();
    let cam = FakeCamera::start(FakeConfig {
        objects: objs.clone(),
        ..FakeConfig::default()
    });
    let http = description_server(
        "<?xml version=\"1.0\"?><root><device><manufacturer>Sony Corporation</manufacturer></device></root>",
    );
    let not_sony = description_server("<root><manufacturer>Acme</manufacturer></root>");
    let ssdp_port = 21900;
    let group = Ipv4Addr::new(239, 255, 255, 250);
    let lo = Ipv4Addr::LOCALHOST;
    let location = format!("http://127.0.0.1:{http}/DeviceDescription.xml");
    let usn =
        "uuid:00000000-0001-0010-8000-98f17039c6fc::urn:microsoft-com:service:MtpNullService:1";

    // The camera side: bound to the group address (multicast only), so unicast answers
    // to the host's port reach the host's socket alone.
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    sock.set_reuse_address(true).unwrap();
    sock.set_reuse_port(true).unwrap();
    sock.bind(&SockAddr::from(SocketAddrV4::new(group, ssdp_port)))
        .unwrap();
    sock.join_multicast_v4(&group, &lo).unwrap();
    sock.set_multicast_if_v4(&lo).unwrap();
    sock.set_multicast_loop_v4(true).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let cam_udp: UdpSocket = sock.into();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let mode2 = mode.clone();
    let announcer = std::thread::spawn(move || {
        let to = SocketAddrV4::new(group, ssdp_port);
        let noise: Vec<Vec<u8>> = vec![
            b"\xff\xfe garbage".to_vec(),
            vec![b'A'; 9000],
            Message::notify_byebye(MTP_NULL_SERVICE, usn)
                .format()
                .into_bytes(),
            // Someone else's MtpNullService: its description is not Sony's.
            Message::notify_alive(
                &format!("http://127.0.0.1:{not_sony}/d.xml"),
                MTP_NULL_SERVICE,
                "uuid:x",
                "x",
            )
            .format()
            .into_bytes(),
        ];
        let mut buf = [0u8; 2048];
        let mut n = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            // Noise now and then (the socket hears its own datagrams too, so not in
            // every round or its queue would bury the host's M-SEARCH).
            if n % 10 == 0 {
                for d in &noise {
                    let _ = cam_udp.send_to(d, to);
                }
            }
            if mode2 != "search" && n % 3 == 2 {
                let m = Message::notify_alive(
                    &location,
                    MTP_NULL_SERVICE,
                    usn,
                    "FedoraCore/2 UPnP/1.0 MINT-X/1.8.1",
                );
                let _ = cam_udp.send_to(m.format().as_bytes(), to);
            }
            n += 1;
            while let Ok((k, from)) = cam_udp.recv_from(&mut buf) {
                if let Ok(m) = Message::parse(&buf[..k]) {
                    if m.kind == Kind::Search && mode2 == "search" {
                        let a = Message::search_response(&location, MTP_NULL_SERVICE, usn, "s");
                        let _ = cam_udp.send_to(a.format().as_bytes(), from);
                    }
                }
            }
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.ssdp = ListenerConfig::loopback(ssdp_port);
    cfg.ptpip_port = cam.addr.port();
    cfg.once = mode != "daemon";
    // As a daemon: the camera keeps announcing during and after its session; it
    // must get exactly one session. Stop 2 s (≈6 more announcements) after it.
    struct StopLater(std::sync::Arc<AtomicBool>);
    impl offload::Progress for StopLater {
        fn session_done(&mut self, _: &Summary) {
            let stop = self.0.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(2));
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            });
        }
    }
    let daemon_stop = std::sync::Arc::new(AtomicBool::new(false));
    let mut progress = StopLater(daemon_stop.clone());
    let s = offload::run(&cfg, &mut progress, &daemon_stop).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    announcer.join().unwrap();
    assert_eq!(s.downloaded, 4, "{mode}: {s:?}");
    check_downloaded(dir.path(), &objs);
    let inits = cam
        .log_after(1)
        .iter()
        .filter(|l| l.starts_with("init "))
        .count();
    assert_eq!(inits, 1, "{mode}: one session per activation");
}

#[test]
#[ignore = "measurement: cargo test --release --test it offload_loopback::throughput -- --ignored --nocapture"]
fn throughput_1gib() {
    let size: u64 = std::env::var("AB_THROUGHPUT_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
        << 20;
    let big = Content::Pattern {
        len: size,
        seed: 42,
    };
    let cam = FakeCamera::start(FakeConfig {
        objects: vec![FakeObject::file(2, "BIG.MP4", big.clone())],
        data_packet: 1 << 20,
        ..FakeConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.chunk = offload::MAX_CHUNK;
    let t = SystemTime::now();
    let s =
        offload::offload_camera(cam.addr, &cfg, &mut NoProgress, &AtomicBool::new(false)).unwrap();
    let secs = t.elapsed().unwrap().as_secs_f64();
    assert_eq!(s.bytes, size);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    eprintln!(
        "throughput: {} MiB in {secs:.2} s = {:.0} MB/s; peak RSS (host + fake camera) {hwm}",
        size >> 20,
        size as f64 / secs / 1e6
    );
    assert!(big.matches_file(&dir.path().join("2026-11-25/BIG.MP4")));
}
