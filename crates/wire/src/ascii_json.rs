//! Serialization as Meta does it for webhook bodies: every non-ASCII character is
//! escaped as `\uXXXX` with lowercase hex (astral characters as surrogate pairs).
//! Receivers sign-check the exact bytes, so this must be the only renderer of
//! webhook payloads.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};
use std::io;

struct AsciiFormatter;

impl Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..index])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = index + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // The remaining methods keep serde_json's compact output.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        CompactFormatter.begin_array(w)
    }
}

/// Renders `value` as compact JSON with non-ASCII characters escaped.
pub fn to_ascii_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    value
        .serialize(&mut serializer)
        .expect("serializing plain data into a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_non_ascii_as_lowercase_utf16_units() {
        let bytes = to_ascii_json(&json!({"text": "äöå 😊 \"q\""}));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"text":"\u00e4\u00f6\u00e5 \ud83d\ude0a \"q\""}"#
        );
    }

    #[test]
    fn ascii_round_trips_unchanged() {
        let value = json!({"a": [1, 2, {"b": "c/d"}], "e": null});
        let bytes = to_ascii_json(&value);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(), value);
        assert!(bytes.is_ascii());
    }
}
