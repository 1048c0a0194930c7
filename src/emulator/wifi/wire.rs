//! Blocking-socket glue over the shared sans-IO PTP/IP codec (`crate::ptp::ptpip`):
//! read exactly one packet at a time, write one packet per `write`. Declared lengths are
//! capped by the codec's decoder before anything is buffered.

use std::io::{self, Read, Write};

pub use crate::ptp::ptpip::Packet;
use crate::ptp::ptpip::{encode_data_header, Decoder};

/// A per-connection reader: the decoder keeps partial packets between calls.
pub struct PacketReader {
    dec: Decoder,
    buf: Vec<u8>,
}

impl PacketReader {
    /// `max_packet` caps a Data/End Data packet, header included.
    pub fn new(max_packet: u32) -> PacketReader {
        PacketReader {
            dec: Decoder::with_max_packet(max_packet),
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// The next packet; `Ok(None)` on a clean end of stream at a packet boundary. Never
    /// reads past the packet being assembled, so nothing is lost if the caller stops.
    pub fn read(&mut self, r: &mut impl Read) -> io::Result<Option<Packet>> {
        loop {
            match self.dec.decode() {
                Ok(Some(p)) => return Ok(Some(p)),
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let want = self.dec.needed().clamp(1, self.buf.len());
            let n = match r.read(&mut self.buf[..want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return if self.dec.buffered() == 0 {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed inside a ptp/ip packet",
                    ))
                };
            }
            self.dec.feed(&self.buf[..n]);
        }
    }
}

pub fn write_packet(w: &mut impl Write, p: &Packet) -> io::Result<()> {
    let mut v = Vec::new();
    p.encode(&mut v);
    w.write_all(&v)
}

/// The 12-byte head of a Data/End Data packet carrying `payload_len` bytes, so a large
/// payload can be streamed from disk without building a `Packet`.
pub fn data_head(end: bool, tid: u32, payload_len: usize) -> io::Result<[u8; 12]> {
    if u32::try_from(payload_len.saturating_add(12)).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "ptp/ip data chunk too large",
        ));
    }
    let mut v = Vec::with_capacity(12);
    encode_data_header(end, tid, payload_len, &mut v);
    let mut h = [0u8; 12];
    h.copy_from_slice(&v);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_split_packets_and_refuses_hostile_lengths() {
        let mut bytes = Vec::new();
        Packet::ProbeRequest.encode(&mut bytes);
        Packet::InitEventRequest { connection: 7 }.encode(&mut bytes);
        // A reader that returns one byte at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(1).min(b.len());
                b[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = PacketReader::new(1 << 20);
        let mut t = Trickle(&bytes);
        assert_eq!(r.read(&mut t).unwrap(), Some(Packet::ProbeRequest));
        assert_eq!(
            r.read(&mut t).unwrap(),
            Some(Packet::InitEventRequest { connection: 7 })
        );
        assert_eq!(r.read(&mut t).unwrap(), None);
        let mut hostile: &[u8] = &[0xff, 0xff, 0xff, 0x7f, 10, 0, 0, 0];
        assert!(PacketReader::new(1 << 20).read(&mut hostile).is_err());
        let mut cut: &[u8] = &[8, 0, 0];
        assert!(PacketReader::new(1 << 20).read(&mut cut).is_err());
    }
}
