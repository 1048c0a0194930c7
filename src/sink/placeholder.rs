//! The picture shown while the camera is away: the last good frame dimmed, so a video
//! call keeps a live device. Allocation-free after the first frame of a size.

use crate::decode::Yuyv;

/// Default size when no frame was ever seen (Sony live view's usual size).
const DEFAULT: (u32, u32) = (1024, 680);

/// Holds the last good frame and renders the placeholder from it.
#[derive(Debug, Default)]
pub struct Placeholder {
    last: Yuyv,
    out: Yuyv,
    stale: bool,
}

impl Placeholder {
    pub fn new() -> Self {
        Placeholder::default()
    }

    /// Keeps a copy of a good frame.
    pub fn remember(&mut self, frame: &Yuyv) {
        self.last.width = frame.width;
        self.last.height = frame.height;
        self.last.data.clear();
        self.last.data.extend_from_slice(&frame.data);
        self.stale = true;
    }

    /// The placeholder picture: the last frame at 40 % brightness in grey, or a dark
    /// grey card at the default size.
    pub fn picture(&mut self) -> &Yuyv {
        if self.stale || self.out.data.is_empty() {
            self.render();
            self.stale = false;
        }
        &self.out
    }

    fn render(&mut self) {
        if self.last.data.is_empty() {
            let (w, h) = DEFAULT;
            self.out.width = w;
            self.out.height = h;
            self.out.data.clear();
            self.out.data.resize((w * h * 2) as usize, 0);
            for px in self.out.data.chunks_exact_mut(2) {
                px.copy_from_slice(&[40, 128]);
            }
            return;
        }
        self.out.width = self.last.width;
        self.out.height = self.last.height;
        self.out.data.clear();
        self.out
            .data
            .extend(self.last.data.chunks_exact(2).flat_map(|p| {
                let y = 16 + (u16::from(p[0].saturating_sub(16)) * 2 / 5) as u8;
                [y, 128]
            }));
    }
}
