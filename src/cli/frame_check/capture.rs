//! The judge's own V4L2 consumer (`frame-check --device`): mmap streaming that copies
//! each picture out right after VIDIOC_DQBUF and hands the buffer back (VIDIOC_QBUF)
//! before judging it or sleeping, as a browser or OBS does. A consumer that keeps a
//! dequeued buffer while it is slow (`v4l2-ctl --stream-to=-` blocked on a pipe) can see
//! v4l2loopback rewrite it: v4l2loopback 0.12 lends readers the device's own buffers
//! and its writer takes them in turn without asking whether a reader still holds one.

use std::io;
use std::os::raw::c_void;
use std::path::Path;
use std::time::Duration;

use v4l::v4l2;
use v4l::v4l_sys::*;

/// An open capture stream with its buffers mapped.
pub(super) struct Capture {
    dev: v4l::Device,
    bufs: Vec<(*mut u8, usize)>,
    timeout: Duration,
}

impl Capture {
    /// Opens `path`, asks for `count` mmap buffers (v4l2-ctl and Chrome ask for 4),
    /// queues them all and starts streaming.
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    pub(super) fn open(path: &Path, count: u32, timeout: Duration) -> io::Result<Capture> {
        let dev = v4l::Device::with_path(path)?;
        let fd = dev.handle().fd();
        let mut cap = Capture {
            dev,
            bufs: Vec::new(),
            timeout,
        };
        // SAFETY: v4l2_requestbuffers is plain old data; zero is valid; the ioctl writes
        // within it.
        let granted = unsafe {
            let mut req: v4l2_requestbuffers = std::mem::zeroed();
            req.count = count;
            req.type_ = v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
            req.memory = v4l2_memory_V4L2_MEMORY_MMAP;
            v4l2::ioctl(fd, v4l2::vidioc::VIDIOC_REQBUFS, ptr(&mut req))?;
            req.count
        };
        for index in 0..granted {
            let mut b = buffer(index);
            // SAFETY: `b` is a zeroed v4l2_buffer with type, memory and index set;
            // QUERYBUF fills it. mmap maps `length` bytes of the device at the offset
            // the driver gave; the mapping is unmapped in Drop and never aliased as
            // a Rust reference while the driver could write it (only copied from).
            unsafe {
                v4l2::ioctl(fd, v4l2::vidioc::VIDIOC_QUERYBUF, ptr(&mut b))?;
                let len = b.length as usize;
                let p = v4l2::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    fd,
                    b.m.offset as libc::off_t,
                )?;
                cap.bufs.push((p.cast(), len));
            }
        }
        if cap.bufs.is_empty() {
            return Err(io::Error::other("the device granted no buffers"));
        }
        for index in 0..granted {
            cap.queue(index)?;
        }
        let mut typ = v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
        // SAFETY: STREAMON reads one u32 buffer type.
        unsafe { v4l2::ioctl(fd, v4l2::vidioc::VIDIOC_STREAMON, ptr(&mut typ))? };
        Ok(cap)
    }

    /// Buffers the driver granted.
    pub(super) fn buffers(&self) -> usize {
        self.bufs.len()
    }

    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    fn queue(&self, index: u32) -> io::Result<()> {
        let mut b = buffer(index);
        // SAFETY: a zeroed v4l2_buffer with type, memory and index set; QBUF reads it.
        unsafe {
            v4l2::ioctl(
                self.dev.handle().fd(),
                v4l2::vidioc::VIDIOC_QBUF,
                ptr(&mut b),
            )
        }
    }

    /// Waits for the next picture, copies it into `out` and gives the buffer back.
    /// Returns the bytes the driver said the picture has (`bytesused`), which may differ
    /// from `out.len()`; only `min` of the two is copied.
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    pub(super) fn next_into(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let fd = self.dev.handle().fd();
        let ms = self.timeout.as_millis().min(i32::MAX as u128) as i32;
        if self.dev.handle().poll(libc::POLLIN, ms)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no picture for {} s", self.timeout.as_secs()),
            ));
        }
        let mut b = buffer(0);
        // SAFETY: DQBUF fills the zeroed v4l2_buffer with type and memory set.
        unsafe { v4l2::ioctl(fd, v4l2::vidioc::VIDIOC_DQBUF, ptr(&mut b))? };
        let Some(&(p, len)) = self.bufs.get(b.index as usize) else {
            return Err(io::Error::other(format!(
                "the driver returned buffer {} of {}",
                b.index,
                self.bufs.len()
            )));
        };
        let used = b.bytesused as usize;
        let n = used.min(len).min(out.len());
        // SAFETY: `p` maps `len` bytes (n <= len) for as long as self lives and `out`
        // holds at least n; the copy is the one any consumer makes out of a dequeued
        // buffer (a driver writing it meanwhile changes only the bytes copied, which is
        // what the judge looks for).
        unsafe { std::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), n) };
        self.queue(b.index)?;
        Ok(used)
    }
}

impl Drop for Capture {
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    fn drop(&mut self) {
        let mut typ = v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
        // SAFETY: STREAMOFF reads one u32; each (p, len) came from a successful mmap
        // and is unmapped once.
        unsafe {
            let _ = v4l2::ioctl(
                self.dev.handle().fd(),
                v4l2::vidioc::VIDIOC_STREAMOFF,
                ptr(&mut typ),
            );
            for &(p, len) in &self.bufs {
                let _ = v4l2::munmap(p.cast(), len);
            }
        }
    }
}

/// A capture mmap buffer descriptor for `index`.
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn buffer(index: u32) -> v4l2_buffer {
    // SAFETY: v4l2_buffer is plain old data; all-zero is a valid value.
    let mut b: v4l2_buffer = unsafe { std::mem::zeroed() };
    b.type_ = v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = v4l2_memory_V4L2_MEMORY_MMAP;
    b.index = index;
    b
}

fn ptr<T>(v: &mut T) -> *mut c_void {
    (v as *mut T).cast()
}
