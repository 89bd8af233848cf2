//! Graph request parameters as SDKs really send them (reference §1.2): values that
//! are objects may arrive as JSON text (sometimes single-quoted pseudo-JSON), lists as
//! comma strings or JSON arrays, booleans as `true`, `"true"` or `1`. The HTTP face
//! merges query, form, JSON and multipart into one [`Params`]; these readers give
//! every use case the same tolerance.

use crate::Refusal;
use serde_json::{Map, Value};

/// Merged request parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Map<String, Value>);

impl Params {
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        self.0.insert(key.into(), value);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// A string parameter; numbers are accepted as their decimal text.
    pub fn str(&self, key: &str) -> Result<Option<String>, Refusal> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(Refusal::invalid_param(format!("Param {key} must be a string"))),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<String, Refusal> {
        self.str(key)?.ok_or_else(|| Refusal::missing_param(key))
    }

    /// An object parameter, given as a JSON object or as JSON text.
    pub fn object(&self, key: &str) -> Result<Option<Map<String, Value>>, Refusal> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            Some(Value::String(text)) => match parse_lenient_json(text) {
                Some(Value::Object(map)) => Ok(Some(map)),
                _ => Err(Refusal::invalid_param(format!("Param {key} must be a JSON object"))),
            },
            Some(_) => Err(Refusal::invalid_param(format!("Param {key} must be a JSON object"))),
        }
    }

    /// A list parameter: JSON array, JSON array text, or a comma string (items trimmed).
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, Refusal> {
        let bad = || Refusal::invalid_param(format!("Param {key} must be a list of strings"));
        let items_of = |values: &[Value]| -> Result<Vec<String>, Refusal> {
            values
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_string()),
                    _ => Err(bad()),
                })
                .filter(|item| !matches!(item, Ok(s) if s.is_empty()))
                .collect()
        };
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(values)) => items_of(values).map(Some),
            Some(Value::String(text)) => {
                let trimmed = text.trim();
                if trimmed.starts_with('[') {
                    match parse_lenient_json(trimmed) {
                        Some(Value::Array(values)) => items_of(&values).map(Some),
                        _ => Err(bad()),
                    }
                } else {
                    Ok(Some(
                        trimmed.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
                    ))
                }
            }
            Some(_) => Err(bad()),
        }
    }

    /// A boolean: `true`/`false`, `"true"`/`"false"`, `1`/`0`.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, Refusal> {
        let bad = || Refusal::invalid_param(format!("Param {key} must be a boolean"));
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Ok(Some(false)),
                Some(1) => Ok(Some(true)),
                _ => Err(bad()),
            },
            Some(Value::String(s)) => match s.trim() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(bad()),
            },
            Some(_) => Err(bad()),
        }
    }
}

/// Parses JSON, falling back to single-quoted pseudo-JSON as in Meta's curl examples
/// (`{'id':'123'}`): single quotes outside double-quoted strings become double quotes.
pub fn parse_lenient_json(text: &str) -> Option<Value> {
    if let Ok(value) = serde_json::from_str(text) {
        return Some(value);
    }
    let mut converted = String::with_capacity(text.len());
    let mut in_double = false;
    let mut in_single = false;
    let mut escaped = false;
    for ch in text.chars() {
        if escaped {
            converted.push(ch);
            escaped = false;
            continue;
        }
        match ch {
            '\\' => {
                escaped = true;
                converted.push(ch);
            }
            '"' if !in_single => {
                in_double = !in_double;
                converted.push(ch);
            }
            '"' if in_single => converted.push_str("\\\""),
            '\'' if !in_double => {
                in_single = !in_single;
                converted.push('"');
            }
            _ => converted.push(ch),
        }
    }
    serde_json::from_str(&converted).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> Params {
        Params(value.as_object().unwrap().clone())
    }

    #[test]
    fn objects_come_as_json_or_text_or_single_quoted_text() {
        let p = params(json!({"a": {"id": "1"}, "b": "{\"id\":\"2\"}", "c": "{'id':'3'}", "d": "nope"}));
        assert_eq!(p.object("a").unwrap().unwrap()["id"], "1");
        assert_eq!(p.object("b").unwrap().unwrap()["id"], "2");
        assert_eq!(p.object("c").unwrap().unwrap()["id"], "3");
        assert_eq!(p.object("d").unwrap_err().code, 100);
        assert_eq!(p.object("missing").unwrap(), None);
    }

    #[test]
    fn lists_come_in_three_forms() {
        let p = params(json!({"a": "messages, message_echoes", "b": "[\"x\",\"y\"]", "c": ["z"], "d": 3}));
        assert_eq!(p.list("a").unwrap().unwrap(), vec!["messages", "message_echoes"]);
        assert_eq!(p.list("b").unwrap().unwrap(), vec!["x", "y"]);
        assert_eq!(p.list("c").unwrap().unwrap(), vec!["z"]);
        assert!(p.list("d").is_err());
    }

    #[test]
    fn booleans_are_tolerant() {
        let p = params(json!({"a": true, "b": "false", "c": 1, "d": "maybe"}));
        assert_eq!(p.bool("a").unwrap(), Some(true));
        assert_eq!(p.bool("b").unwrap(), Some(false));
        assert_eq!(p.bool("c").unwrap(), Some(true));
        assert!(p.bool("d").is_err());
    }

    #[test]
    fn strings_accept_numbers() {
        let p = params(json!({"id": 263902037430900u64}));
        assert_eq!(p.str("id").unwrap().unwrap(), "263902037430900");
    }
}

/// One field of a Graph `fields=` selection: `name`, `name{sub,fields}`,
/// `name.limit(5)` (reference §1.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelection {
    pub name: String,
    pub fields: Option<Vec<FieldSelection>>,
    pub limit: Option<u32>,
}

/// How deep selections may nest (`a{b{c}}` is 3): Meta's own examples use three
/// levels; the bound keeps a hostile selection from exhausting the stack.
pub const MAX_FIELD_DEPTH: usize = 8;
/// How many fields one selection may name at all levels together: each field may cost
/// a read (`messages` per conversation), so their number is bounded too.
pub const MAX_FIELDS: usize = 100;

/// Parses `a,b{c,d.limit(2)},e.limit(5)`: commas inside braces belong to the nested
/// selection; items are trimmed (SDKs send `first_name, last_name`). Nesting deeper
/// than [`MAX_FIELD_DEPTH`] or more than [`MAX_FIELDS`] fields are refused.
pub fn parse_field_selection(text: &str) -> Result<Vec<FieldSelection>, Refusal> {
    // The braces are checked in one pass before any recursion, so the recursion
    // below is never deeper than the bound.
    let mut depth = 0usize;
    for ch in text.chars() {
        match ch {
            '{' => {
                depth += 1;
                if depth > MAX_FIELD_DEPTH - 1 {
                    return Err(Refusal::invalid_param(format!("The fields parameter nests more than {MAX_FIELD_DEPTH} levels deep")));
                }
            }
            '}' => depth = depth.checked_sub(1).ok_or_else(|| selection_syntax(text))?,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(selection_syntax(text));
    }
    let mut count = 0usize;
    parse_level(text, text, &mut count)
}

fn selection_syntax(text: &str) -> Refusal {
    let excerpt: String = text.chars().take(200).collect();
    Refusal::invalid_param(format!("Syntax error in the fields parameter: {excerpt}"))
}

fn parse_level(level: &str, whole: &str, count: &mut usize) -> Result<Vec<FieldSelection>, Refusal> {
    let bad = || selection_syntax(whole);
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (at, ch) in level.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.checked_sub(1).ok_or_else(bad)?,
            ',' if depth == 0 => {
                items.push(&level[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&level[start..]);
    let mut selection = Vec::new();
    for item in items.into_iter().map(str::trim).filter(|item| !item.is_empty()) {
        *count += 1;
        if *count > MAX_FIELDS {
            return Err(Refusal::invalid_param(format!("The fields parameter names more than {MAX_FIELDS} fields")));
        }
        let (head, nested) = match item.find('{') {
            Some(open) if item.ends_with('}') => (&item[..open], Some(parse_level(&item[open + 1..item.len() - 1], whole, count)?)),
            Some(_) => return Err(bad()),
            None => (item, None),
        };
        let (name, limit) = match head.split_once(".limit(") {
            Some((name, rest)) => (name, Some(rest.strip_suffix(')').and_then(|n| n.trim().parse().ok()).ok_or_else(bad)?)),
            None => (head, None),
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(bad());
        }
        selection.push(FieldSelection { name: name.to_string(), fields: nested, limit });
    }
    Ok(selection)
}

#[cfg(test)]
mod selection_tests {
    use super::*;

    #[test]
    fn nested_selections_and_limits() {
        let parsed = parse_field_selection("id, messages.limit(2){message,from},participants").unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].name, "messages");
        assert_eq!(parsed[1].limit, Some(2));
        assert_eq!(parsed[1].fields.as_ref().unwrap().iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["message", "from"]);
        assert!(parse_field_selection("messages{message").is_err());
        assert!(parse_field_selection("a.limit(x)").is_err());
        assert!(parse_field_selection("bad name").is_err());
    }

    #[test]
    fn nesting_and_breadth_are_bounded() {
        let nest = |levels: usize| "messages{".repeat(levels - 1) + "id" + &"}".repeat(levels - 1);
        assert!(parse_field_selection(&nest(MAX_FIELD_DEPTH)).is_ok());
        let refusal = parse_field_selection(&nest(MAX_FIELD_DEPTH + 1)).unwrap_err();
        assert_eq!(refusal.code, 100);
        assert!(refusal.message.contains("levels deep"), "{}", refusal.message);
        // Far past any stack: refused by the first pass, without recursing.
        assert!(parse_field_selection(&nest(100_000)).is_err());
        assert!(parse_field_selection(&vec!["id"; MAX_FIELDS].join(",")).is_ok());
        assert!(parse_field_selection(&vec!["id"; MAX_FIELDS + 1].join(",")).unwrap_err().message.contains("more than"));
        assert!(parse_field_selection("}{").is_err());
    }
}
