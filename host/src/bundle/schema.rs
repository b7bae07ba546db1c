//! A plugin's options checked against its manifest's schema before the run
//! starts: unknown names (with the closest known one), wrong types, and
//! defaults filled in.

use anyhow::{bail, Result};
use serde_json::{Map, Number, Value};

use super::manifest::{Manifest, OptionType};

/// Checks a plugin's `options` table against its manifest's
/// `[options.*]` schema and returns it completed: every option the config
/// sets, type-normalized (an integer given for a float option becomes a
/// float; an integral float given for an integer option becomes an
/// integer), plus the default of every option it leaves out. Nested tables
/// are flattened to dotted names (`a = { b = 1 }` is the option `a.b`), as
/// the plugin sees them; a `null` counts as not set.
///
/// A list type also accepts a single element of its type, passed on as
/// given (plugins such as `accuracy` take `topk = 1` or `topk = [1, 5]`).
///
/// # Errors
/// An unknown option (with the closest known name when one is close) or a
/// value of the wrong type (expected and found named); the message names the
/// plugin, its version and the option, e.g. ``plugin `ema` 0.1.0: option
/// `momentun` is unknown; did you mean `momentum`?``.
pub fn check_options(manifest: &Manifest, options: &Map<String, Value>) -> Result<Map<String, Value>> {
    let mut flat = Vec::new();
    flatten("", options, &mut flat);
    let mut out = Map::new();
    for (key, value) in flat {
        let Some(spec) = manifest.options.get(&key) else {
            bail!("{}", unknown_message(manifest, &key));
        };
        if value.is_null() {
            continue;
        }
        if out.contains_key(&key) {
            bail!("plugin `{}` {}: option `{key}` is set twice (as a dotted name and in a table)", manifest.name, manifest.version);
        }
        match check_value(spec.ty, value) {
            Ok(v) => {
                out.insert(key, v);
            }
            Err(found) => bail!(
                "plugin `{}` {}: option `{key}` must be {}, found {found}",
                manifest.name,
                manifest.version,
                spec.ty.phrase()
            ),
        }
    }
    for (name, spec) in &manifest.options {
        if let (false, Some(default)) = (out.contains_key(name), &spec.default) {
            out.insert(name.clone(), default.clone());
        }
    }
    Ok(out)
}

/// Nested tables as dotted keys, in order.
fn flatten<'a>(prefix: &str, table: &'a Map<String, Value>, out: &mut Vec<(String, &'a Value)>) {
    for (key, value) in table {
        let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Object(inner) if !inner.is_empty() => flatten(&key, inner, out),
            _ => out.push((key, value)),
        }
    }
}

fn unknown_message(manifest: &Manifest, key: &str) -> String {
    let mut message = format!("plugin `{}` {}: option `{key}` is unknown", manifest.name, manifest.version);
    let names: Vec<&str> = manifest.options.keys().map(String::as_str).collect();
    if names.is_empty() {
        message.push_str(" (it takes no options)");
        return message;
    }
    if let Some(best) = crate::config::validate::closest(key, &names) {
        message.push_str(&format!("; did you mean `{best}`?"));
    } else {
        let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        message.push_str(&format!(" (its options: {})", list.join(", ")));
    }
    message
}


/// `value` checked against `ty` and normalized, or a description of what
/// was found instead (`a string ("fast")`).
pub(crate) fn check_value(ty: OptionType, value: &Value) -> std::result::Result<Value, String> {
    let element = match ty {
        OptionType::Integers => Some(OptionType::Integer),
        OptionType::Floats => Some(OptionType::Float),
        OptionType::Strings => Some(OptionType::String),
        _ => None,
    };
    match (element, value) {
        (Some(element), Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(scalar(element, item).map_err(|found| format!("a list holding {found} at index {i}"))?);
            }
            Ok(Value::Array(out))
        }
        (Some(element), _) => scalar(element, value),
        (None, _) => scalar(ty, value),
    }
}

fn scalar(ty: OptionType, value: &Value) -> std::result::Result<Value, String> {
    let ok = match (ty, value) {
        (OptionType::Bool, Value::Bool(_)) | (OptionType::String, Value::String(_)) => Some(value.clone()),
        (OptionType::Integer, Value::Number(n)) if n.is_i64() => Some(value.clone()),
        (OptionType::Integer, Value::Number(n)) => n.as_f64().and_then(integral).map(|i| Value::Number(i.into())),
        (OptionType::Float, Value::Number(n)) => n.as_f64().and_then(Number::from_f64).map(Value::Number),
        _ => None,
    };
    ok.ok_or_else(|| describe(value))
}

/// `f` as an `i64` when it is a whole number in range.
fn integral(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; anything at or above it is out of range.
    (f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63)).then_some(f as i64)
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("an integer ({n})"),
        Value::Number(n) => format!("a float ({n})"),
        Value::String(s) => format!("a string ({s:?})"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a table".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::manifest::tests::EMA;
    use super::*;

    fn ema() -> Manifest {
        Manifest::from_toml(EMA).unwrap()
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn fills_defaults_and_normalizes() {
        let out = check_options(&ema(), &map(json!({ "momentum": 1, "names": ["a", "b"] }))).unwrap();
        assert_eq!(
            Value::Object(out.clone()),
            json!({ "momentum": 1.0, "interval": 1, "begin_iter": 0, "names": ["a", "b"] })
        );
        assert!(!out["momentum"].is_i64(), "an integer given for a float option becomes a float");
        let out = check_options(&ema(), &Map::new()).unwrap();
        assert_eq!(Value::Object(out), json!({ "momentum": 0.0002, "interval": 1, "begin_iter": 0 }));
        let out = check_options(&ema(), &map(json!({ "interval": 4.0, "names": "one", "begin_iter": null }))).unwrap();
        assert_eq!(Value::Object(out), json!({ "momentum": 0.0002, "interval": 4, "begin_iter": 0, "names": "one" }));
    }

    #[test]
    fn unknown_options_name_the_closest() {
        let e = check_options(&ema(), &map(json!({ "momentun": 0.1 }))).unwrap_err().to_string();
        assert_eq!(e, "plugin `ema` 0.1.0: option `momentun` is unknown; did you mean `momentum`?");
        let e = check_options(&ema(), &map(json!({ "zzz": 1 }))).unwrap_err().to_string();
        assert_eq!(e, "plugin `ema` 0.1.0: option `zzz` is unknown (its options: `begin_iter`, `interval`, `momentum`, `names`)");
        let mut bare = ema();
        bare.options.clear();
        let e = check_options(&bare, &map(json!({ "x": 1 }))).unwrap_err().to_string();
        assert_eq!(e, "plugin `ema` 0.1.0: option `x` is unknown (it takes no options)");
        let e = check_options(&ema(), &map(json!({ "momentum": { "fast": 1 } }))).unwrap_err().to_string();
        assert!(e.contains("option `momentum.fast` is unknown"), "{e}");
    }

    #[test]
    fn wrong_types_name_expected_and_found() {
        let e = check_options(&ema(), &map(json!({ "momentum": "fast" }))).unwrap_err().to_string();
        assert_eq!(e, "plugin `ema` 0.1.0: option `momentum` must be a float, found a string (\"fast\")");
        let e = check_options(&ema(), &map(json!({ "interval": 1.5 }))).unwrap_err().to_string();
        assert_eq!(e, "plugin `ema` 0.1.0: option `interval` must be an integer, found a float (1.5)");
        let e = check_options(&ema(), &map(json!({ "names": ["a", 2] }))).unwrap_err().to_string();
        assert_eq!(e, "plugin `ema` 0.1.0: option `names` must be a list of strings, found a list holding an integer (2) at index 1");
        let e = check_options(&ema(), &map(json!({ "interval": true }))).unwrap_err().to_string();
        assert!(e.ends_with("must be an integer, found a boolean (true)"), "{e}");
        let e = check_options(&ema(), &map(json!({ "interval": [1] }))).unwrap_err().to_string();
        assert!(e.ends_with("must be an integer, found a list"), "{e}");
        assert!(check_options(&ema(), &map(json!({ "interval": 1e300 }))).is_err());
    }

    #[test]
    fn dotted_options_match_nested_tables() {
        let mut m = ema();
        m.options.insert("window.size".into(), super::super::manifest::OptionSpec { ty: OptionType::Integers, default: None, doc: String::new() });
        let out = check_options(&m, &map(json!({ "window": { "size": [1, 2] } }))).unwrap();
        assert_eq!(out["window.size"], json!([1, 2]));
        let out = check_options(&m, &map(json!({ "window.size": [3] }))).unwrap();
        assert_eq!(out["window.size"], json!([3]));
    }
}
