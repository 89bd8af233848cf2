//! Stickers: the few of Meta's that Switchboard knows, by Meta's ids, so that a bot
//! written against Messenger recognizes them (the like sticker above all), and how a
//! `sticker_id` is read (a JSON number or a string of digits, as SDKs send either).
//! The images are Switchboard's own, served by the HTTP face; an id outside the
//! catalog is refused, since there would be nothing to show.

use crate::Refusal;
use serde_json::Value;

/// A sticker of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sticker {
    /// Meta's id.
    pub id: u64,
    /// What it shows, for the image's label.
    pub name: &'static str,
    /// Which of the images draws it.
    pub art: StickerArt,
    /// Width and height of its image, in pixels.
    pub size: u32,
}

/// The drawings behind the catalog (one may be shown at several sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickerArt {
    /// Messenger's blue thumbs-up.
    Like,
}

/// Meta's like sticker, the one the 👍 button of a client sends.
pub const LIKE: u64 = 369_239_263_222_822;

/// Every sticker Switchboard knows: the like sticker and its larger variants (a
/// longer press in Meta's clients sends a bigger one).
pub const CATALOG: [Sticker; 3] = [
    Sticker { id: LIKE, name: "Like", art: StickerArt::Like, size: 84 },
    Sticker { id: 369_239_343_222_814, name: "Like (medium)", art: StickerArt::Like, size: 128 },
    Sticker { id: 369_239_383_222_810, name: "Like (large)", art: StickerArt::Like, size: 192 },
];

/// The catalog's sticker with this id.
pub fn sticker(id: u64) -> Option<&'static Sticker> {
    CATALOG.iter().find(|sticker| sticker.id == id)
}

/// A `sticker_id` as the Send API or a person's client gives it: a number or a
/// string of digits naming a sticker of the catalog; `field` names it in refusals.
pub fn parse_sticker_id(value: &Value, field: &str) -> Result<&'static Sticker, Refusal> {
    let id = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) if !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        _ => None,
    };
    let id = id.ok_or_else(|| Refusal::invalid_param(format!("Param {field} must be a sticker id (a number)")))?;
    sticker(id).ok_or_else(|| Refusal::invalid_param(format!("Param {field}: {id} is not a sticker this server knows")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_numbers_or_digit_strings_of_the_catalog() {
        assert_eq!(parse_sticker_id(&json!(369239263222822u64), "sticker_id").unwrap().id, LIKE);
        assert_eq!(parse_sticker_id(&json!("369239383222810"), "sticker_id").unwrap().size, 192);
        for bad in [json!(1), json!("1"), json!(""), json!("36923926322282x"), json!(-3), json!(1.5), json!(null), json!(["1"]), json!("9".repeat(40))] {
            let refusal = parse_sticker_id(&bad, "message[sticker_id]").unwrap_err();
            assert_eq!(refusal.code, 100, "{bad}");
            assert!(refusal.message.contains("message[sticker_id]"), "{}", refusal.message);
        }
    }

    #[test]
    fn the_catalog_has_one_entry_per_id() {
        for (i, a) in CATALOG.iter().enumerate() {
            assert!(CATALOG[i + 1..].iter().all(|b| b.id != a.id));
        }
    }
}
