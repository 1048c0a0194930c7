//! A borrowed little-endian reader and a growable writer for PTP datasets.
//!
//! Every read is bounds-checked and names what was being parsed, so a short or hostile
//! dataset gives an error like "DeviceInfo.Model: need 2 bytes at offset 91, have 1"
//! and never a panic. Arrays are capped by the bytes actually present before any
//! allocation.

use super::ParseError;

/// A cursor over borrowed bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Reads `buf`; `what` names the dataset for error messages.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes left, without reading them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn short(&self, field: &'static str, need: usize) -> ParseError {
        ParseError::Truncated {
            what: self.what,
            field,
            offset: self.pos,
            need,
            have: self.remaining(),
        }
    }

    /// Reads `n` bytes; `field` names them in the error.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ParseError> {
        if self.remaining() < n {
            return Err(self.short(field, n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads a u8; `field` names it in the error.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, ParseError> {
        Ok(self.take(1, field)?[0])
    }

    /// Reads a little-endian u16; `field` names it in the error.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, ParseError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// Reads a little-endian u32; `field` names it in the error.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, ParseError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a little-endian u64; `field` names it in the error.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, ParseError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A PTP string: u8 count of UTF-16 units including the NUL, then the units.
    pub fn string(&mut self, field: &'static str) -> Result<String, ParseError> {
        let n = self.u8(field)? as usize;
        if n == 0 {
            return Ok(String::new());
        }
        let raw = self.take(n * 2, field)?;
        let units = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0);
        Ok(char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect())
    }

    /// An array of u16 (u32 count first). The count is checked against the bytes present.
    pub fn u16_array(&mut self, field: &'static str) -> Result<Vec<u16>, ParseError> {
        let n = self.u32(field)? as usize;
        let need = n
            .checked_mul(2)
            .ok_or_else(|| self.short(field, usize::MAX))?;
        let raw = self.take(need, field)?;
        Ok(raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect())
    }

    /// An array of u32 (u32 count first). The count is checked against the bytes present.
    pub fn u32_array(&mut self, field: &'static str) -> Result<Vec<u32>, ParseError> {
        let n = self.u32(field)? as usize;
        let need = n
            .checked_mul(4)
            .ok_or_else(|| self.short(field, usize::MAX))?;
        let raw = self.take(need, field)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Appends little-endian fields to a byte vector.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Writer { out }
    }

    fn buf(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Appends a u8.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf().push(v);
        self
    }

    /// Appends a little-endian u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf().extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a little-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf().extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a little-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf().extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends bytes as they are.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf().extend_from_slice(v);
        self
    }

    /// A PTP string; longer strings are cut at 254 UTF-16 units (the format's limit).
    pub fn string(&mut self, s: &str) -> &mut Self {
        if s.is_empty() {
            return self.u8(0);
        }
        let units = utf16_prefix(s, 254);
        self.u8(units.len() as u8 + 1);
        for u in units {
            self.u16(u);
        }
        self.u16(0)
    }

    /// Appends a PTP array of u16 (count first).
    pub fn u16_array(&mut self, v: &[u16]) -> &mut Self {
        self.u32(v.len() as u32);
        for &x in v {
            self.u16(x);
        }
        self
    }

    /// Appends a PTP array of u32 (count first).
    pub fn u32_array(&mut self, v: &[u32]) -> &mut Self {
        self.u32(v.len() as u32);
        for &x in v {
            self.u32(x);
        }
        self
    }
}

/// At most `max` UTF-16 units of `s`, never ending inside a surrogate pair (a lone high
/// surrogate is invalid UTF-16).
pub(crate) fn utf16_prefix(s: &str, max: usize) -> Vec<u16> {
    let mut units: Vec<u16> = s.encode_utf16().take(max).collect();
    if units.len() == max && units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
        units.pop();
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_round_trip_and_empty() {
        let mut v = Vec::new();
        Writer::new(&mut v)
            .string("ILCE-6400")
            .string("")
            .string("Grüße");
        let mut r = Reader::new(&v, "test");
        assert_eq!(r.string("a").unwrap(), "ILCE-6400");
        assert_eq!(r.string("b").unwrap(), "");
        assert_eq!(r.string("c").unwrap(), "Grüße");
        assert_eq!(r.remaining(), 0);
    }

    /// Found by fuzz target ptp_dataset: a string cut at the 254-unit limit inside a
    /// surrogate pair was written with a lone high surrogate.
    #[test]
    fn long_string_is_cut_between_characters() {
        let s = format!("{}\u{1F4F7}tail", "a".repeat(253));
        let mut v = Vec::new();
        Writer::new(&mut v).string(&s);
        assert_eq!(v[0], 254, "253 units and the NUL");
        let back = Reader::new(&v, "test").string("s").unwrap();
        assert_eq!(back, "a".repeat(253));
        let mut again = Vec::new();
        Writer::new(&mut again).string(&back);
        assert_eq!(again, v);
    }

    #[test]
    fn hostile_array_count_is_an_error_not_an_allocation() {
        let v = [0xff, 0xff, 0xff, 0xff, 1, 2];
        let err = Reader::new(&v, "DeviceInfo")
            .u32_array("OperationsSupported")
            .unwrap_err();
        assert!(err.to_string().contains("OperationsSupported"), "{err}");
    }

    #[test]
    fn truncated_string_names_the_field() {
        let v = [5u8, b'a', 0];
        let err = Reader::new(&v, "ObjectInfo")
            .string("Filename")
            .unwrap_err();
        assert!(err.to_string().contains("ObjectInfo.Filename"), "{err}");
    }
}
