//! Canonical JSON (RFC 8785, JCS) and the hashing writer the bundle is
//! streamed through.
//!
//! Typed values are canonicalised by `serde_json_canonicalizer`; a
//! `serde_json::Value` (every record, every redaction entry) by
//! [`write_value`], which walks the value in JCS order and writes straight
//! into a buffer, without the crate's buffering and sorting of every
//! object's properties, and gives the same bytes (a property test compares
//! the two). The bundle's outer object is written by hand, key by key, in
//! the order JCS gives ([`jcs_order`]: by UTF-16 code units), so that the
//! streamed bytes are exactly what canonicalising the whole bundle at once
//! would give (a test parses the output, canonicalises it and compares).

use serde::Serialize;
use serde_json::{Map, Number, Value};
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

/// Appends the canonical (RFC 8785) bytes of `value` to `out`: the same
/// bytes as [`to_vec`] gives for it.
///
/// - Object keys are in JCS order. A `serde_json::Map` iterates its keys by
///   their UTF-8 bytes, which is their order by code points; that is the
///   order by UTF-16 code units unless a key has a character outside the
///   BMP (a surrogate pair sorts before U+E000..U+FFFF), so the keys are
///   sorted by [`jcs_order`] only then (or if the map does not iterate in
///   byte order, as with `serde_json`'s `preserve_order`).
/// - Strings are escaped as JCS (and `serde_json`) escape them: `"`, `\`,
///   `\b \f \n \r \t`, other controls as `\u00xx`; nothing else.
/// - Numbers are formatted as ECMAScript formats a double: an integer of
///   at most 2^53 in magnitude (exact as a double) as its digits, any other
///   number by `serde_json_canonicalizer` itself.
pub fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), serde_json::Error> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, v)?;
            }
            out.push(b']');
        }
        Value::Object(o) => write_object(out, o)?,
    }
    Ok(())
}

/// The canonical bytes of a JSON value ([`write_value`]).
pub fn value_to_vec(value: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    write_value(&mut out, value)?;
    Ok(out)
}

/// Appends the canonical bytes of the object `o` to `out`, with the value
/// of its property `key` (if it has it) written as `raw`, which must be
/// that value's canonical bytes (made once and used for something else
/// too).
pub fn write_object_with_raw(
    out: &mut Vec<u8>,
    o: &Map<String, Value>,
    key: &str,
    raw: &[u8],
) -> Result<(), serde_json::Error> {
    write_object_as(out, o, Some((key, raw)))
}

fn write_object(out: &mut Vec<u8>, o: &Map<String, Value>) -> Result<(), serde_json::Error> {
    write_object_as(out, o, None)
}

fn write_object_as(
    out: &mut Vec<u8>,
    o: &Map<String, Value>,
    raw: Option<(&str, &[u8])>,
) -> Result<(), serde_json::Error> {
    out.push(b'{');
    if in_jcs_order(o) {
        for (i, (k, v)) in o.iter().enumerate() {
            write_property(out, i, k, v, raw)?;
        }
    } else {
        let mut props: Vec<(&String, &Value)> = o.iter().collect();
        props.sort_by(|a, b| jcs_order(a.0, b.0));
        for (i, (k, v)) in props.into_iter().enumerate() {
            write_property(out, i, k, v, raw)?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// Whether `o` iterates its keys in JCS order: by strictly increasing
/// bytes, none with a character outside the BMP (whose UTF-8 sequence, and
/// only it, has a lead byte of 0xF0 or more).
fn in_jcs_order(o: &Map<String, Value>) -> bool {
    let mut prev: Option<&str> = None;
    for k in o.keys() {
        if k.bytes().any(|b| b >= 0xF0) || prev.is_some_and(|p| p >= k.as_str()) {
            return false;
        }
        prev = Some(k);
    }
    true
}

fn write_property(
    out: &mut Vec<u8>,
    i: usize,
    key: &str,
    value: &Value,
    raw: Option<(&str, &[u8])>,
) -> Result<(), serde_json::Error> {
    if i > 0 {
        out.push(b',');
    }
    write_str(out, key);
    out.push(b':');
    match raw {
        Some((k, bytes)) if k == key => {
            out.extend_from_slice(bytes);
            Ok(())
        }
        _ => write_value(out, value),
    }
}

/// 2^53: every integer of at most this magnitude is exact as a double, and
/// ECMAScript writes an integral double below 10^21 as its digits.
const EXACT: u64 = 1 << 53;

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), serde_json::Error> {
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT) {
        write_digits(out, u, false);
        return Ok(());
    }
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
        write_digits(out, i.unsigned_abs(), i < 0);
        return Ok(());
    }
    serde_json_canonicalizer::to_writer(n, out)
}

fn write_digits(out: &mut Vec<u8>, mut u: u64, negative: bool) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

/// Appends the canonical bytes of the string `s` (quoted, escaped) to `out`.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xF) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
    use proptest::prelude::*;
    use serde_json::json;

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

    /// Numbers at the corners of ECMAScript's formatting (exponent
    /// thresholds 1e21 and 1e-7, -0, the exact-integer limit 2^53, the
    /// extremes of a double) and of `serde_json`'s number kinds.
    fn corner_number() -> impl Strategy<Value = Value> {
        let floats = [
            0.0,
            -0.0,
            1e21,
            -1e21,
            9.999999999999999e20,
            1e20,
            123456789012345680000.0,
            1e-7,
            -1e-7,
            f64::from_bits(1e-7f64.to_bits() + 1),
            f64::from_bits(1e-7f64.to_bits() - 1),
            f64::from_bits(1e21f64.to_bits() - 1),
            1e-6,
            0.000001234,
            5e-324,
            -5e-324,
            2.2250738585072014e-308,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            0.1,
            0.3,
            1.5,
            -1.5,
            100.0,
            4.35,
            0.35,
            9007199254740992.0,
            9007199254740993.0,
            18446744073709551615.0,
        ];
        let ints: [i64; 8] = [
            0,
            -1,
            1 << 53,
            (1 << 53) + 1,
            -(1 << 53),
            -(1 << 53) - 1,
            i64::MIN,
            i64::MAX,
        ];
        let uints: [u64; 5] = [0, 1 << 53, (1 << 53) + 1, u64::MAX, u64::MAX - 1];
        prop_oneof![
            prop::sample::select(floats.to_vec()).prop_map(|f| json!(f)),
            prop::sample::select(ints.to_vec()).prop_map(|i| json!(i)),
            prop::sample::select(uints.to_vec()).prop_map(|u| json!(u)),
        ]
    }

    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            corner_number(),
            any::<f64>()
                .prop_filter_map("finite", serde_json::Number::from_f64)
                .prop_map(Value::Number),
            any::<i64>().prop_map(|i| json!(i)),
            any::<u64>().prop_map(|u| json!(u)),
            any::<i32>().prop_map(|i| json!(i)),
            (-1e12f64..1e12).prop_map(|f| json!(f)),
        ]
    }

    /// Strings with what JCS escapes (controls, `"`, `\`), what it does not
    /// (`/`, DEL, non-ASCII), BMP characters above the surrogates (U+E000..)
    /// and characters outside the BMP (which sort before them in UTF-16).
    fn text(max: usize) -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(
                prop_oneof![
                    prop::char::range('\u{0}', '\u{7f}'),
                    prop::sample::select(vec![
                        'a',
                        'b',
                        'z',
                        '"',
                        '\\',
                        '/',
                        '\u{7f}',
                        'é',
                        '€',
                        '\u{2028}',
                        '\u{d7ff}',
                        '\u{e000}',
                        '\u{fb01}',
                        '\u{fffd}',
                        '\u{ffff}',
                        '\u{10000}',
                        '\u{1f600}',
                        '\u{10ffff}',
                    ]),
                    any::<char>(),
                ],
                0..max,
            )
            .prop_map(|cs| cs.into_iter().collect()),
            "[a-z_]{0,6}",
        ]
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number(),
            text(10).prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(text(5), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn the_value_writer_writes_what_the_canonicalizer_writes(v in any_json()) {
            let ours = value_to_vec(&v).unwrap();
            let theirs = serde_json_canonicalizer::to_vec(&v).unwrap();
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }

        #[test]
        fn a_raw_property_is_written_in_its_place(
            m in prop::collection::btree_map(text(5), any_json(), 1..6),
            pick in any::<prop::sample::Index>(),
        ) {
            let o: Map<String, Value> = m.into_iter().collect();
            let key = pick.get(&o.keys().cloned().collect::<Vec<_>>()).clone();
            let raw = to_vec(&o[&key]).unwrap();
            let mut ours = Vec::new();
            write_object_with_raw(&mut ours, &o, &key, &raw).unwrap();
            prop_assert_eq!(ours, to_vec(&o).unwrap());
        }
    }

    #[test]
    fn corner_numbers_and_escapes_are_written_as_the_canonicalizer_writes_them() {
        let v = json!({
            "\u{1F600}": [0.0, -0.0, 1e21, 1e-7, 1e-6, 9.999999999999999e20, 5e-324,
                          9007199254740993u64, u64::MAX, i64::MIN, -9007199254740993i64],
            "\u{FB01}": "\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f}\"\\/\u{7f}\u{2028}é😀",
            "a": {}, "": [], "b": [{}],
        });
        assert_eq!(
            String::from_utf8(value_to_vec(&v).unwrap()).unwrap(),
            String::from_utf8(serde_json_canonicalizer::to_vec(&v).unwrap()).unwrap()
        );
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
