//! Blocking-socket glue over the shared sans-IO PTP/IP codec (`crate::ptp::ptpip`):
//! packets are read through the crate's one PTP/IP reader ([`Decoder::pull`], which
//! never reads past the packet being assembled and caps every declared length before
//! buffering), and written one packet per `write`.

use std::io::{self, Read, Write};

pub(super) use crate::ptp::ptpip::Packet;
use crate::ptp::ptpip::{Decoder, PullError};

/// The next packet from `r`; `Ok(None)` on a clean end of stream at a packet boundary.
pub(super) fn read(dec: &mut Decoder, r: &mut impl Read) -> io::Result<Option<Packet>> {
    dec.pull(|b| loop {
        match r.read(b) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    })
    .map_err(|e| match e {
        PullError::Io(e) => e,
        PullError::Corrupt(p) => io::Error::new(io::ErrorKind::InvalidData, p),
        e => io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()),
    })
}

pub(super) fn write_packet(w: &mut impl Write, p: &Packet) -> io::Result<()> {
    let mut v = Vec::new();
    p.encode(&mut v)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    w.write_all(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_split_packets_and_refuses_hostile_lengths() {
        let mut bytes = Vec::new();
        Packet::ProbeRequest.encode(&mut bytes).unwrap();
        Packet::InitEventRequest { connection: 7 }
            .encode(&mut bytes)
            .unwrap();
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
        let mut r = Decoder::with_max_packet(1 << 20);
        let mut t = Trickle(&bytes);
        assert_eq!(read(&mut r, &mut t).unwrap(), Some(Packet::ProbeRequest));
        assert_eq!(
            read(&mut r, &mut t).unwrap(),
            Some(Packet::InitEventRequest { connection: 7 })
        );
        assert_eq!(read(&mut r, &mut t).unwrap(), None);
        let mut hostile: &[u8] = &[0xff, 0xff, 0xff, 0x7f, 10, 0, 0, 0];
        assert!(read(&mut Decoder::with_max_packet(1 << 20), &mut hostile).is_err());
        let mut cut: &[u8] = &[8, 0, 0];
        assert!(read(&mut Decoder::with_max_packet(1 << 20), &mut cut).is_err());
    }
}
