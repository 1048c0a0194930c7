//! Live-view request pacing, as pure arithmetic on instants so it is testable without
//! sleeping. Sony: at most 30 fps and never more than two GetObject requests within
//! 33 ms (docs/protocol/sony-usb.md#pacing); "not ready" answers back off, bounded.

use std::time::{Duration, Instant};

/// Two requests may not fall within this window.
pub const WINDOW: Duration = Duration::from_millis(33);
/// Longest wait between retries while the camera says "not ready".
pub const MAX_BACKOFF: Duration = Duration::from_millis(200);
const MIN_BACKOFF: Duration = Duration::from_millis(5);

/// Decides when the next live-view request may go out.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// The last two request times, newest last.
    recent: [Option<Instant>; 2],
    /// Earliest time for the next request after a success (frame interval).
    next_after_frame: Option<Instant>,
    backoff: Duration,
    frame_interval: Duration,
}

impl Pacer {
    /// `max_fps` caps the request rate after successful frames (at most 30).
    pub fn new(max_fps: u32) -> Self {
        let fps = max_fps.clamp(1, 30);
        Pacer {
            recent: [None, None],
            next_after_frame: None,
            backoff: MIN_BACKOFF,
            frame_interval: Duration::from_secs(1) / fps,
        }
    }

    /// The earliest instant the next request may be sent.
    pub fn next_request_at(&self, now: Instant) -> Instant {
        let mut t = now;
        if let Some(oldest) = self.recent[0] {
            t = t.max(oldest + WINDOW);
        }
        if let Some(n) = self.next_after_frame {
            t = t.max(n);
        }
        t
    }

    /// Records that a request went out at `at`.
    pub fn sent(&mut self, at: Instant) {
        self.recent = [self.recent[1], Some(at)];
    }

    /// A frame arrived; the next request waits for the frame interval (measured from the
    /// request that produced it) and the backoff resets.
    pub fn frame(&mut self, requested_at: Instant) {
        // Ask a little early so a frame that becomes ready on time is not missed by a
        // whole interval; the 33 ms window still bounds the rate. Asking exactly one
        // interval later let the request phase drift past the camera's frame clock
        // (sleep overshoot), skipping about one frame a second (found by the soak run).
        self.next_after_frame = Some(requested_at + self.frame_interval.mul_f32(0.9));
        self.backoff = MIN_BACKOFF;
    }

    /// The camera was not ready; returns how long to wait before the next try.
    pub fn not_ready(&mut self, now: Instant) -> Duration {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.next_after_frame = Some(now + wait);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_two_requests_within_33ms_even_when_asked_to_hurry() {
        let t0 = Instant::now();
        let mut p = Pacer::new(30);
        let mut now = t0;
        let mut sent = Vec::new();
        for _ in 0..50 {
            let at = p.next_request_at(now);
            p.sent(at);
            sent.push(at);
            // The camera is "not ready" half of the time, ready otherwise.
            if sent.len() % 2 == 0 {
                p.frame(at);
            } else {
                p.not_ready(at);
            }
            now = at;
        }
        for w in sent.windows(3) {
            assert!(
                w[2] - w[0] >= WINDOW,
                "three requests within {:?}",
                w[2] - w[0]
            );
        }
        let span = *sent.last().unwrap() - sent[0];
        // Two requests per window: over k windows at most 2k + 2 requests.
        let rate = (sent.len() - 2) as f64 / span.as_secs_f64();
        assert!(rate <= 2.0 / WINDOW.as_secs_f64() + 0.5, "rate {rate}");
    }

    #[test]
    fn backoff_grows_and_is_bounded_then_resets() {
        let now = Instant::now();
        let mut p = Pacer::new(30);
        let waits: Vec<_> = (0..10).map(|_| p.not_ready(now)).collect();
        assert_eq!(waits[0], MIN_BACKOFF);
        assert!(waits.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);
        p.frame(now);
        assert_eq!(p.not_ready(now), MIN_BACKOFF);
    }

    #[test]
    fn a_host_that_wakes_a_little_late_still_gets_every_frame() {
        // A 30 fps camera clock; every host sleep overshoots by 300 µs and a transfer
        // takes 2 ms. Asking exactly one interval after the last request made the
        // request phase drift past a frame boundary every ~110 frames.
        let t0 = Instant::now();
        let interval = Duration::from_secs(1) / 30;
        let mut p = Pacer::new(30);
        let (mut now, mut last, mut skipped, mut served, mut requests) = (t0, None, 0, 0, 0);
        while served < 600 {
            let at = p.next_request_at(now) + Duration::from_micros(300);
            p.sent(at);
            requests += 1;
            let newest = ((at - t0).as_nanos() / interval.as_nanos()) as u64;
            if last.is_some_and(|l| newest <= l) {
                p.not_ready(at);
                now = at;
                continue;
            }
            skipped += last.map_or(0, |l| newest - l - 1);
            last = Some(newest);
            served += 1;
            p.frame(at);
            now = at + Duration::from_millis(2);
        }
        assert_eq!(skipped, 0);
        assert!(
            requests < 2 * served,
            "{requests} requests for {served} frames"
        );
    }

    #[test]
    fn frame_rate_cap_is_respected() {
        let t0 = Instant::now();
        let mut p = Pacer::new(10);
        p.sent(t0);
        p.frame(t0);
        assert!(p.next_request_at(t0) >= t0 + Duration::from_millis(79));
    }
}
