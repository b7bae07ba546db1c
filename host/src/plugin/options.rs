//! A plugin's options (its `options` table in the config) in WIT form:
//! nested tables flattened to dotted keys, lists typed by their elements
//! (an empty list by the type its bundle's manifest declares).

use anyhow::{bail, Result};
use serde_json::{Map, Value};

use super::bindings::types::OptionValue;
use crate::bundle::{Manifest, OptionType};

/// The WIT form of an `options` table; `manifest`, when the plugin came
/// from a bundle, types the lists that are empty.
///
/// # Errors
/// A list that mixes strings and numbers, or holds tables or lists.
pub fn to_wit(options: &Map<String, Value>, manifest: Option<&Manifest>) -> Result<Vec<(String, OptionValue)>> {
    let mut out = Vec::new();
    flatten("", options, manifest, &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    table: &Map<String, Value>,
    manifest: Option<&Manifest>,
    out: &mut Vec<(String, OptionValue)>,
) -> Result<()> {
    for (key, value) in table {
        let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let v = match value {
            Value::Object(inner) => {
                flatten(&key, inner, manifest, out)?;
                continue;
            }
            Value::Bool(b) => OptionValue::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => OptionValue::Integer(i),
                None => OptionValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => OptionValue::Text(s.clone()),
            Value::Array(items) if items.is_empty() => {
                match manifest.and_then(|m| m.options.get(&key)).map(|spec| spec.ty) {
                    Some(OptionType::Floats) => OptionValue::Floats(Vec::new()),
                    Some(OptionType::Strings) => OptionValue::Texts(Vec::new()),
                    _ => OptionValue::Integers(Vec::new()),
                }
            }
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
        let got = to_wit(v.as_object().unwrap(), None).unwrap();
        let find = |k: &str| got.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert!(matches!(find("momentum"), OptionValue::Float(f) if f == 0.5));
        assert!(matches!(find("interval"), OptionValue::Integer(2)));
        assert!(matches!(find("milestones"), OptionValue::Integers(v) if v == vec![4, 8]));
        assert!(matches!(find("betas"), OptionValue::Floats(v) if v == vec![0.9, 1.0]));
        assert!(matches!(find("inner.gamma"), OptionValue::Float(_)));
        let bad: Value = serde_json::json!({"mixed": [1, "a"]});
        assert!(to_wit(bad.as_object().unwrap(), None).unwrap_err().to_string().contains("mixed"));
    }

    #[test]
    fn an_empty_list_has_the_type_the_manifest_declares() {
        let manifest = crate::bundle::Manifest::from_toml(
            "name = \"p\"\nversion = \"0.1.0\"\nkind = \"hook\"\ninterface = \"0.1.0\"\nsha256 = \"\"\n\
             [options.tags]\ntype = \"strings\"\n[options.weights]\ntype = \"floats\"\n[options.steps]\ntype = \"integers\"\n",
        )
        .unwrap();
        let v: Value = serde_json::json!({"tags": [], "weights": [], "steps": [], "other": []});
        let got = to_wit(v.as_object().unwrap(), Some(&manifest)).unwrap();
        let find = |k: &str| got.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert!(matches!(find("tags"), OptionValue::Texts(v) if v.is_empty()));
        assert!(matches!(find("weights"), OptionValue::Floats(v) if v.is_empty()));
        assert!(matches!(find("steps"), OptionValue::Integers(v) if v.is_empty()));
        // Without a declared type (a bare component), an empty list is integers.
        assert!(matches!(find("other"), OptionValue::Integers(v) if v.is_empty()));
    }
}
