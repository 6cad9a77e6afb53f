//! Canonical JSON (RFC 8785, JCS) and the hashing writer the bundle is
//! streamed through.
//!
//! Each value is canonicalised by `serde_json_canonicalizer`; the bundle's
//! outer object is written by hand, key by key, in the order JCS gives
//! ([`jcs_order`]: by UTF-16 code units), so that the streamed bytes are
//! exactly what canonicalising the whole bundle at once would give (a test
//! parses the output, canonicalises it and compares).

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::io::{self, Write};

/// The canonical (RFC 8785) bytes of `value`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json_canonicalizer::to_vec(&value)
}

/// Writes the canonical bytes of `value` to `w`.
pub fn write<T: Serialize + ?Sized, W: Write>(w: &mut W, value: &T) -> io::Result<()> {
    let bytes = to_vec(value).map_err(io::Error::other)?;
    w.write_all(&bytes)
}

/// The sha256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// JCS's order of object keys: by their UTF-16 code units (RFC 8785 §3.2.3).
pub fn jcs_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A writer that hashes (sha256) and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The writer back, with the sha256 (hex) and length of what was written.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).unwrap_or(buf);
        self.hasher.update(written);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_utf16_code_units_not_by_bytes() {
        // U+FB01 (one UTF-16 unit 0xFB01) sorts after U+1F600 (surrogates
        // 0xD83D...) in UTF-16, before it in UTF-8.
        assert_eq!(jcs_order("\u{1F600}", "\u{FB01}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FB01}"), Ordering::Greater);
        let v = serde_json::json!({"\u{FB01}": 1, "\u{1F600}": 2});
        let s = String::from_utf8(to_vec(&v).unwrap()).unwrap();
        assert_eq!(s, "{\"\u{1F600}\":2,\"\u{FB01}\":1}");
    }

    #[test]
    fn the_hashing_writer_hashes_what_it_writes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (out, hash, len) = w.finish();
        assert_eq!(out, b"abc");
        assert_eq!(len, 3);
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
