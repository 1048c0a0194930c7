//! Helpers shared by the integration tests.

pub(crate) mod capture;
pub(crate) mod cli;
pub(crate) mod fake_ptpip;
pub(crate) mod files;
pub(crate) mod netns;
pub(crate) mod observed;
pub(crate) mod pw_session;
pub(crate) mod synth;
pub(crate) mod usb_sysfs;

/// `n` bytes of a fixed pseudo-random pattern (xorshift32 from `seed`): file contents
/// that differ at every offset and between seeds, the same on every run.
pub(crate) fn pattern(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
