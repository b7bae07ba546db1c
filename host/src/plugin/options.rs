//! A plugin's options (its `options` table in the config) in WIT form:
//! nested tables flattened to dotted keys, lists typed by their elements.

use anyhow::{bail, Result};
use serde_json::{Map, Value};

use super::bindings::types::OptionValue;

/// The WIT form of an `options` table.
///
/// # Errors
/// A list that mixes strings and numbers, or holds tables or lists.
pub fn to_wit(options: &Map<String, Value>) -> Result<Vec<(String, OptionValue)>> {
    let mut out = Vec::new();
    flatten("", options, &mut out)?;
    Ok(out)
}

fn flatten(prefix: &str, table: &Map<String, Value>, out: &mut Vec<(String, OptionValue)>) -> Result<()> {
    for (key, value) in table {
        let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let v = match value {
            Value::Object(inner) => {
                flatten(&key, inner, out)?;
                continue;
            }
            Value::Bool(b) => OptionValue::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => OptionValue::Integer(i),
                None => OptionValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => OptionValue::Text(s.clone()),
            Value::Array(items) => list(&key, items)?,
            Value::Null => continue,
        };
        out.push((key, v));
    }
    Ok(())
}

fn list(key: &str, items: &[Value]) -> Result<OptionValue> {
    if items.iter().all(Value::is_i64) {
        return Ok(OptionValue::Integers(items.iter().filter_map(Value::as_i64).collect()));
    }
    if items.iter().all(Value::is_number) {
        return Ok(OptionValue::Floats(items.iter().filter_map(Value::as_f64).collect()));
    }
    if items.iter().all(Value::is_string) {
        return Ok(OptionValue::Texts(items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()));
    }
    bail!("`{key}`: a list option must hold only numbers or only strings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_tables_and_types_lists() {
        let v: Value = serde_json::json!({
            "momentum": 0.5, "interval": 2, "name": "x", "on": true,
            "milestones": [4, 8], "betas": [0.9, 1], "tags": ["a"], "inner": {"gamma": 0.1}
        });
        let got = to_wit(v.as_object().unwrap()).unwrap();
        let find = |k: &str| got.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert!(matches!(find("momentum"), OptionValue::Float(f) if f == 0.5));
        assert!(matches!(find("interval"), OptionValue::Integer(2)));
        assert!(matches!(find("milestones"), OptionValue::Integers(v) if v == vec![4, 8]));
        assert!(matches!(find("betas"), OptionValue::Floats(v) if v == vec![0.9, 1.0]));
        assert!(matches!(find("inner.gamma"), OptionValue::Float(_)));
        let bad: Value = serde_json::json!({"mixed": [1, "a"]});
        assert!(to_wit(bad.as_object().unwrap()).unwrap_err().to_string().contains("mixed"));
    }
}
