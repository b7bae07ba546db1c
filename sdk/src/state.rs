//! A small binary format for `save_state`/`load_state`: a 4-byte tag naming
//! the plugin's format, a little-endian `u32` version, then fields written in
//! a fixed order (integers and floats little-endian, lists and texts with a
//! `u64` length first). Reading checks the tag, the version, every length and
//! that nothing is left over, so a state from another plugin or a truncated
//! one is refused with a clear error instead of being misread.
//!
//! ```
//! use hammer_sdk::state::{StateReader, StateWriter};
//! let mut w = StateWriter::new(*b"DEMO", 1);
//! w.write_u64(42).write_f64s(&[0.5, 1.5]);
//! let bytes = w.finish();
//!
//! let mut r = StateReader::new(&bytes, *b"DEMO", 1)?;
//! assert_eq!(r.read_u64()?, 42);
//! assert_eq!(r.read_f64s()?, vec![0.5, 1.5]);
//! r.finish()?;
//! # Ok::<(), String>(())
//! ```

/// Builds a state blob; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct StateWriter {
    buf: Vec<u8>,
}

impl StateWriter {
    /// Starts a blob with the format's `tag` and `version`.
    pub fn new(tag: [u8; 4], version: u32) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&tag);
        buf.extend_from_slice(&version.to_le_bytes());
        StateWriter { buf }
    }

    /// Appends a `u64`.
    pub fn write_u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends an `i64`.
    pub fn write_i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends an `f64` (bit-exact, NaN and infinities included).
    pub fn write_f64(&mut self, v: f64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a boolean (one byte).
    pub fn write_bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(u8::from(v));
        self
    }

    /// Appends an optional `f64` (a presence byte, then the value if present).
    pub fn write_opt_f64(&mut self, v: Option<f64>) -> &mut Self {
        self.write_bool(v.is_some());
        if let Some(v) = v {
            self.write_f64(v);
        }
        self
    }

    /// Appends a list of `f64` (its length, then the values).
    pub fn write_f64s(&mut self, v: &[f64]) -> &mut Self {
        self.write_u64(v.len() as u64);
        self.buf.reserve(v.len() * 8);
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
        self
    }

    /// Appends a text (its length in bytes, then UTF-8).
    pub fn write_str(&mut self, s: &str) -> &mut Self {
        self.write_u64(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// The finished blob.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads a blob written by [`StateWriter`], field by field in the same order.
#[derive(Debug, Clone)]
pub struct StateReader<'a> {
    data: &'a [u8],
    pos: usize,
    version: u32,
}

impl<'a> StateReader<'a> {
    /// Checks the tag and that the blob's version is at most `max_version`
    /// (older versions stay readable if the plugin handles them; see [`version`](Self::version)).
    pub fn new(data: &'a [u8], tag: [u8; 4], max_version: u32) -> Result<Self, String> {
        if data.len() < 8 {
            return Err(format!(
                "state is {} bytes, too short for a {} state",
                data.len(),
                String::from_utf8_lossy(&tag)
            ));
        }
        if data[..4] != tag {
            return Err(format!(
                "state is not a {} state (its tag is {:?})",
                String::from_utf8_lossy(&tag),
                String::from_utf8_lossy(&data[..4])
            ));
        }
        let version = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        if version == 0 || version > max_version {
            return Err(format!(
                "{} state version {version} is not supported (this plugin reads versions 1 to {max_version})",
                String::from_utf8_lossy(&tag)
            ));
        }
        Ok(StateReader { data, pos: 8, version })
    }

    /// The blob's format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            format!("state is truncated: {what} needs {n} bytes at offset {}, {} left", self.pos, self.data.len() - self.pos)
        })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn eight(&mut self, what: &str) -> Result<[u8; 8], String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(a)
    }

    /// Reads a `u64`.
    pub fn read_u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.eight("an integer")?))
    }

    /// Reads an `i64`.
    pub fn read_i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.eight("an integer")?))
    }

    /// Reads an `f64`.
    pub fn read_f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.eight("a float")?))
    }

    /// Reads a boolean.
    pub fn read_bool(&mut self) -> Result<bool, String> {
        match self.take(1, "a boolean")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("state is corrupt: byte {b} at offset {} is not a boolean", self.pos - 1)),
        }
    }

    /// Reads an optional `f64`.
    pub fn read_opt_f64(&mut self) -> Result<Option<f64>, String> {
        if self.read_bool()? {
            Ok(Some(self.read_f64()?))
        } else {
            Ok(None)
        }
    }

    fn length(&mut self, unit: usize, what: &str) -> Result<usize, String> {
        let n = self.read_u64()?;
        let left = (self.data.len() - self.pos) as u64;
        if n.saturating_mul(unit as u64) > left {
            return Err(format!("state is truncated: {what} of length {n} does not fit in the {left} bytes left"));
        }
        Ok(n as usize)
    }

    /// Reads a list of `f64`.
    pub fn read_f64s(&mut self) -> Result<Vec<f64>, String> {
        let n = self.length(8, "a list of floats")?;
        let bytes = self.take(n * 8, "a list of floats")?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }

    /// Reads a text.
    pub fn read_str(&mut self) -> Result<String, String> {
        let n = self.length(1, "a text")?;
        let bytes = self.take(n, "a text")?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "state is corrupt: a text is not UTF-8".to_string())
    }

    /// Checks that every byte was read.
    pub fn finish(self) -> Result<(), String> {
        if self.pos == self.data.len() {
            Ok(())
        } else {
            Err(format!("state has {} unexpected trailing bytes", self.data.len() - self.pos))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut w = StateWriter::new(*b"TEST", 2);
        w.write_u64(7)
            .write_i64(-3)
            .write_f64(f64::INFINITY)
            .write_bool(true)
            .write_opt_f64(None)
            .write_opt_f64(Some(-0.0))
            .write_f64s(&[1.0, f64::MIN_POSITIVE])
            .write_str("best_acc");
        let b = w.finish();
        let mut r = StateReader::new(&b, *b"TEST", 2).unwrap();
        assert_eq!(r.version(), 2);
        assert_eq!(r.read_u64().unwrap(), 7);
        assert_eq!(r.read_i64().unwrap(), -3);
        assert_eq!(r.read_f64().unwrap(), f64::INFINITY);
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_opt_f64().unwrap(), None);
        assert_eq!(r.read_opt_f64().unwrap().unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(r.read_f64s().unwrap(), vec![1.0, f64::MIN_POSITIVE]);
        assert_eq!(r.read_str().unwrap(), "best_acc");
        r.finish().unwrap();
    }

    #[test]
    fn refuses_foreign_future_truncated_and_padded_states() {
        let mut w = StateWriter::new(*b"TEST", 1);
        w.write_f64s(&[1.0, 2.0]);
        let b = w.finish();
        assert!(StateReader::new(&b, *b"OTHR", 1).unwrap_err().contains("not a OTHR state"));
        let newer = StateWriter::new(*b"TEST", 3).finish();
        assert!(StateReader::new(&newer, *b"TEST", 2).unwrap_err().contains("version 3"));
        let mut r = StateReader::new(&b[..b.len() - 1], *b"TEST", 1).unwrap();
        assert!(r.read_f64s().unwrap_err().contains("truncated"));
        let mut padded = b.clone();
        padded.push(0);
        let mut r = StateReader::new(&padded, *b"TEST", 1).unwrap();
        r.read_f64s().unwrap();
        assert!(r.finish().unwrap_err().contains("trailing"));
        assert!(StateReader::new(&[], *b"TEST", 1).is_err());
    }
}
