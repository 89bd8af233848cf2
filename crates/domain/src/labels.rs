//! Custom labels (reference §9.6): the rules for a label's name and how many a Page
//! may hold. Pure: it must not store or know HTTP.

use crate::params::Params;
use crate::Refusal;

/// Longest label name, in characters (Meta publishes no limit; ours).
pub const MAX_LABEL_NAME_CHARS: usize = 100;
/// Most labels one Page may hold (Meta publishes no limit; ours).
pub const MAX_LABELS_PER_PAGE: u32 = 1_000;

/// The name of a new label: `page_label_name` (v12+), else the older `name` that
/// messaging-apis still sends; trimmed, not empty, at most
/// [`MAX_LABEL_NAME_CHARS`], without control characters.
pub fn parse_label_name(params: &Params) -> Result<String, Refusal> {
    let key = if params.contains("page_label_name") { "page_label_name" } else { "name" };
    let name = params.str(key)?.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).ok_or_else(|| Refusal::missing_param("page_label_name"))?;
    if name.chars().count() > MAX_LABEL_NAME_CHARS {
        return Err(Refusal::invalid_param(format!("Param {key} must be at most {MAX_LABEL_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(Refusal::invalid_param(format!("Param {key} must not contain control characters")));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name(value: serde_json::Value) -> Result<String, Refusal> {
        parse_label_name(&Params(value.as_object().unwrap().clone()))
    }

    #[test]
    fn a_label_name_is_given_trimmed_and_bounded() {
        assert_eq!(name(json!({"page_label_name": " vip "})).unwrap(), "vip");
        assert_eq!(name(json!({"name": "old key"})).unwrap(), "old key");
        assert_eq!(name(json!({"page_label_name": "new", "name": "old"})).unwrap(), "new");
        assert!(name(json!({})).unwrap_err().message.contains("page_label_name"));
        assert!(name(json!({"page_label_name": "  "})).is_err());
        assert!(name(json!({"page_label_name": "x".repeat(MAX_LABEL_NAME_CHARS)})).is_ok());
        assert!(name(json!({"page_label_name": "é".repeat(MAX_LABEL_NAME_CHARS + 1)})).unwrap_err().message.contains("at most 100"));
        assert!(name(json!({"page_label_name": "a\nb"})).is_err());
        assert!(name(json!({"page_label_name": {"x": 1}})).is_err());
    }
}
