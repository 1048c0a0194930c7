//! Where frames go: a video sink ([`FrameSink`]: v4l2loopback, or a null sink), the
//! recorder ([`record`]) and the "reconnecting" picture ([`placeholder`]). A sink is
//! owned by exactly one thread.

pub mod placeholder;
pub mod record;

/// One picture for a sink, borrowed from the pipeline's buffers.
#[derive(Debug, Clone, Copy)]
pub enum Picture<'a> {
    /// Packed YUYV 4:2:2, limited range, `width * height * 2` bytes.
    Yuyv {
        width: u32,
        height: u32,
        data: &'a [u8],
    },
    /// A whole JPEG (SOI..EOI), for MJPEG pass-through.
    Jpeg {
        width: u32,
        height: u32,
        data: &'a [u8],
    },
}

/// Why a sink could not take a frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A problem with advice for the user.
    #[error("{0}")]
    Setup(String),
}

/// A consumer of pictures.
pub trait FrameSink: Send {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError>;
    /// For log lines: which device or file this is.
    fn name(&self) -> String;
}

/// Counts what it gets and throws it away (`--device none` with a video pipeline,
/// benchmarks).
#[derive(Debug, Default)]
pub struct NullSink {
    pub frames: u64,
    pub bytes: u64,
}

impl FrameSink for NullSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        let (Picture::Yuyv { data, .. } | Picture::Jpeg { data, .. }) = pic;
        self.frames += 1;
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn name(&self) -> String {
        "null sink".into()
    }
}
