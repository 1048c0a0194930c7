//! Live-view pipeline figures: counters plus fixed-size rings of recent decode times
//! and latencies (frame complete → written). Recording a sample never allocates;
//! percentiles are computed only when a stats line is made.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RING: usize = 2048;

/// Recent durations in microseconds.
struct Ring {
    v: Box<[u32; RING]>,
    next: usize,
    len: usize,
}

impl Ring {
    fn new() -> Self {
        Ring {
            v: Box::new([0; RING]),
            next: 0,
            len: 0,
        }
    }

    fn push(&mut self, d: Duration) {
        self.v[self.next] = d.as_micros().min(u32::MAX as u128) as u32;
        self.next = (self.next + 1) % RING;
        self.len = (self.len + 1).min(RING);
    }

    fn percentiles(&self) -> Option<(f64, f64)> {
        if self.len == 0 {
            return None;
        }
        let mut s = self.v[..self.len].to_vec();
        s.sort_unstable();
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
        Some((at(0.50), at(0.99)))
    }
}

/// Shared counters, updated by the pipeline threads.
pub struct Stats {
    started: Instant,
    /// Live-view objects received from the camera.
    pub captured: AtomicU64,
    /// Pictures handed to the sink.
    pub written: AtomicU64,
    /// Placeholder pictures handed to the sink.
    pub placeholders: AtomicU64,
    /// Objects that held no usable JPEG.
    pub bad_frames: AtomicU64,
    /// Reconnections to the camera.
    pub reconnects: AtomicU64,
    /// Frames recorded to the file.
    pub recorded: AtomicU64,
    /// Frames dropped before decoding (decoder busy).
    pub dropped_decode: Arc<AtomicU64>,
    /// Frames dropped before writing (sink busy).
    pub dropped_write: Arc<AtomicU64>,
    decode: Mutex<Ring>,
    latency: Mutex<Ring>,
}

/// A point-in-time copy for the stats line and `--stats-json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Seconds since the start.
    pub seconds: f64,
    /// Live-view objects received.
    pub captured: u64,
    /// Pictures handed to the sink.
    pub written: u64,
    /// Placeholder pictures handed to the sink.
    pub placeholders: u64,
    /// Objects that held no usable JPEG.
    pub bad_frames: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Frames recorded.
    pub recorded: u64,
    /// Frames dropped on the way.
    pub dropped: u64,
    /// Objects received per second.
    pub fps_in: f64,
    /// Pictures written per second.
    pub fps_out: f64,
    /// Median decode time.
    pub decode_ms_p50: Option<f64>,
    /// 99th percentile decode time.
    pub decode_ms_p99: Option<f64>,
    /// Median time from object received to picture written.
    pub latency_ms_p50: Option<f64>,
    /// 99th percentile time from object received to picture written.
    pub latency_ms_p99: Option<f64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            captured: AtomicU64::new(0),
            written: AtomicU64::new(0),
            placeholders: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            dropped_decode: Arc::new(AtomicU64::new(0)),
            dropped_write: Arc::new(AtomicU64::new(0)),
            decode: Mutex::new(Ring::new()),
            latency: Mutex::new(Ring::new()),
        }
    }
}

fn lock(m: &Mutex<Ring>) -> std::sync::MutexGuard<'_, Ring> {
    // A panicking stage cannot leave a ring half-written in a way that matters.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Stats {
    /// Adds one decode time.
    pub fn add_decode(&self, d: Duration) {
        lock(&self.decode).push(d);
    }

    /// Adds one object-to-sink time.
    pub fn add_latency(&self, d: Duration) {
        lock(&self.latency).push(d);
    }

    /// The counters now, with rates and percentiles.
    pub fn snapshot(&self) -> Snapshot {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (d50, d99) = lock(&self.decode).percentiles().unzip();
        let (l50, l99) = lock(&self.latency).percentiles().unzip();
        Snapshot {
            seconds: secs,
            captured: get(&self.captured),
            written: get(&self.written),
            placeholders: get(&self.placeholders),
            bad_frames: get(&self.bad_frames),
            reconnects: get(&self.reconnects),
            recorded: get(&self.recorded),
            dropped: get(&self.dropped_decode) + get(&self.dropped_write),
            fps_in: get(&self.captured) as f64 / secs,
            fps_out: get(&self.written) as f64 / secs,
            decode_ms_p50: d50,
            decode_ms_p99: d99,
            latency_ms_p50: l50,
            latency_ms_p99: l99,
        }
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn json_num(v: Option<f64>) -> String {
    v.map_or("null".into(), |v| format!("{v:.3}"))
}

impl Snapshot {
    /// Figures over the interval since `prev` (rates) with overall totals.
    pub fn line(&self, prev: &Snapshot) -> String {
        let dt = (self.seconds - prev.seconds).max(1e-9);
        format!(
            "fps in {:.1} out {:.1}, dropped {}, bad {}, placeholders {}, decode p50 {} p99 {} ms, latency p50 {} p99 {} ms",
            (self.captured - prev.captured) as f64 / dt,
            (self.written - prev.written) as f64 / dt,
            self.dropped,
            self.bad_frames,
            self.placeholders,
            ms(self.decode_ms_p50),
            ms(self.decode_ms_p99),
            ms(self.latency_ms_p50),
            ms(self.latency_ms_p99),
        )
    }

    /// The snapshot as one JSON object.
    pub fn to_json(&self) -> String {
        format!(
            concat!(
                "{{\"seconds\":{:.3},\"captured\":{},\"written\":{},\"placeholders\":{},\"bad_frames\":{},",
                "\"reconnects\":{},\"recorded\":{},\"dropped\":{},\"fps_in\":{:.3},\"fps_out\":{:.3},",
                "\"decode_ms_p50\":{},\"decode_ms_p99\":{},\"latency_ms_p50\":{},\"latency_ms_p99\":{}}}\n"
            ),
            self.seconds,
            self.captured,
            self.written,
            self.placeholders,
            self.bad_frames,
            self.reconnects,
            self.recorded,
            self.dropped,
            self.fps_in,
            self.fps_out,
            json_num(self.decode_ms_p50),
            json_num(self.decode_ms_p99),
            json_num(self.latency_ms_p50),
            json_num(self.latency_ms_p99),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_json() {
        let s = Stats::default();
        for i in 1..=100u64 {
            s.add_decode(Duration::from_micros(i * 100));
        }
        s.captured.store(10, Ordering::Relaxed);
        let snap = s.snapshot();
        assert_eq!(snap.decode_ms_p50, Some(5.1));
        assert_eq!(snap.decode_ms_p99, Some(9.9));
        assert_eq!(snap.latency_ms_p50, None);
        let j = snap.to_json();
        assert!(
            j.contains("\"captured\":10") && j.contains("\"latency_ms_p99\":null"),
            "{j}"
        );
    }
}
