//! Wi-Fi faults for the PC Remote mode, switchable while a session runs: latency and
//! jitter before every answer, lost packets (as the retransmission delay a TCP sender
//! pays for one), a stalled socket (the body stops answering but keeps the connection),
//! and a reset (both connections cut at once). Real shaping (`tc netem` in a network
//! namespace) exercises the host's TCP; these switches make the same effects
//! deterministic enough for tests and demos.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// What a lost segment costs a TCP sender: Linux's minimum retransmission timeout.
pub const RETRANSMIT_DELAY: Duration = Duration::from_millis(200);

/// The switches. All off by default.
#[derive(Debug, Default)]
pub struct NetFaults {
    delay_us: AtomicU64,
    jitter_us: AtomicU64,
    /// Chance per answer, in 1/1000, of one retransmission delay.
    loss_permille: AtomicU32,
    stalled: AtomicBool,
    rng: AtomicU64,
}

impl NetFaults {
    /// No faults: no delay, no loss, not stalled.
    pub fn new() -> NetFaults {
        NetFaults {
            rng: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
            ..NetFaults::default()
        }
    }

    /// Every answer waits `delay` plus a uniform share of `jitter`.
    pub fn set_latency(&self, delay: Duration, jitter: Duration) {
        self.delay_us.store(
            u64::try_from(delay.as_micros()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
        self.jitter_us.store(
            u64::try_from(jitter.as_micros()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// `percent` of the answers pay one retransmission delay (0 to 100).
    pub fn set_loss(&self, percent: f64) {
        let p = (percent.clamp(0.0, 100.0) * 10.0).round() as u32;
        self.loss_permille.store(p, Ordering::SeqCst);
    }

    /// While stalled the body reads nothing and answers nothing; the connection stays
    /// open (the host has to notice by its own timeout).
    pub fn set_stalled(&self, on: bool) {
        self.stalled.store(on, Ordering::SeqCst);
    }

    /// Whether the body is stalled now.
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::SeqCst)
    }

    fn next_random(&self) -> u64 {
        // xorshift64*: reproducible, no dependency, good enough for jitter.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// How long the next answer waits.
    pub fn next_delay(&self) -> Duration {
        let mut us = self.delay_us.load(Ordering::Relaxed);
        let jitter = self.jitter_us.load(Ordering::Relaxed);
        if jitter > 0 {
            us = us.saturating_add(self.next_random() % (jitter + 1));
        }
        let loss = self.loss_permille.load(Ordering::Relaxed);
        let mut d = Duration::from_micros(us);
        if loss > 0 && self.next_random() % 1000 < u64::from(loss) {
            d += RETRANSMIT_DELAY;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_jitter_and_loss_stay_in_bounds() {
        let f = NetFaults::new();
        assert_eq!(f.next_delay(), Duration::ZERO);
        f.set_latency(Duration::from_millis(20), Duration::from_millis(10));
        for _ in 0..1000 {
            let d = f.next_delay();
            assert!(
                d >= Duration::from_millis(20) && d <= Duration::from_millis(30),
                "{d:?}"
            );
        }
        f.set_latency(Duration::ZERO, Duration::ZERO);
        f.set_loss(10.0);
        let lost = (0..10_000)
            .filter(|_| f.next_delay() >= RETRANSMIT_DELAY)
            .count();
        assert!((700..1300).contains(&lost), "{lost} of 10000");
        f.set_stalled(true);
        assert!(f.is_stalled());
    }
}
