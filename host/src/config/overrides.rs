//! Command-line overrides of config keys, as MMEngine's `--cfg-options`.
//!
//! Each option is `key.path=value`, split on the first `=`. The dotted path
//! creates missing tables on the way; a numeric segment indexes into an
//! existing list (`val_evaluator.0.type=loss`). The value is typed:
//!
//! | value                                | becomes                        |
//! |--------------------------------------|--------------------------------|
//! | `true`, `false` (any case)           | a boolean                      |
//! | `3`, `-2`                            | an integer                     |
//! | `0.5`, `1e-3`                        | a float                        |
//! | `inf`, `-inf`, `nan`                 | the string, read back as a float where a float is expected |
//! | `[a, b]`, `(a, b)` or `a,b`          | a list of typed values; brackets nest: `[["train",2],["val",1]]` |
//! | `"..."` or `'...'`                   | the string inside the quotes   |
//! | `null`, `None`                       | removes the key                |
//! | anything else                        | the string as written (trimmed)|

use anyhow::{anyhow, bail};
use serde_json::{Map, Value};

/// Applies `--cfg-options` to a config tree, in order.
///
/// # Errors
/// An option without `=`, with an empty key or key segment, whose path goes
/// through a value that is not a table (or a list, for a numeric segment),
/// that indexes a list out of range, or whose value is malformed (e.g. an
/// unclosed bracket or quote).
pub fn apply(tree: &mut Value, options: &[String]) -> anyhow::Result<()> {
    for option in options {
        apply_one(tree, option)
            .map_err(|err| anyhow!("invalid --cfg-options `{option}`: {err}"))?;
    }
    Ok(())
}

fn apply_one(tree: &mut Value, option: &str) -> anyhow::Result<()> {
    let Some((key, raw)) = option.split_once('=') else {
        bail!("expected `key.path=value`");
    };
    let key = key.trim();
    if key.is_empty() {
        bail!("the key before `=` is empty");
    }
    let segments: Vec<&str> = key.split('.').map(str::trim).collect();
    if segments.iter().any(|s| s.is_empty()) {
        bail!("the key `{key}` has an empty segment");
    }
    let value = parse_value(raw)?;
    set(tree, &segments, value)
}

/// Sets (or, for `null`, removes) the value at `segments` in `tree`.
fn set(tree: &mut Value, segments: &[&str], value: Value) -> anyhow::Result<()> {
    let (last, parents) = segments.split_last().expect("a key has at least one segment");
    let mut node = tree;
    for (depth, segment) in parents.iter().enumerate() {
        let here = &segments[..depth];
        node = match node {
            Value::Object(map) => {
                if value.is_null() && !map.contains_key(*segment) {
                    return Ok(()); // nothing to remove
                }
                let child =
                    map.entry(segment.to_string()).or_insert_with(|| Value::Object(Map::new()));
                if child.is_null() {
                    *child = Value::Object(Map::new());
                }
                child
            }
            Value::Array(items) => {
                let index = list_index(items.len(), segment, here)?;
                &mut items[index]
            }
            other => bail!(not_a_table(here, segment, other)),
        };
    }
    let here = parents;
    match node {
        Value::Object(map) => {
            if value.is_null() {
                map.remove(*last);
            } else {
                map.insert(last.to_string(), value);
            }
        }
        Value::Array(items) => {
            let index = list_index(items.len(), last, here)?;
            if value.is_null() {
                items.remove(index);
            } else {
                items[index] = value;
            }
        }
        other => bail!(not_a_table(here, last, other)),
    }
    Ok(())
}

/// The index a segment names in a list of `len` items at path `here`.
fn list_index(len: usize, segment: &str, here: &[&str]) -> anyhow::Result<usize> {
    let path = here.join(".");
    let index: usize = segment
        .parse()
        .map_err(|_| anyhow!("`{path}` is a list; index it with a number, not `{segment}`"))?;
    if index >= len {
        bail!("index {index} is out of range: `{path}` has {len} element(s)");
    }
    Ok(index)
}

fn not_a_table(here: &[&str], segment: &str, value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    };
    format!("cannot set `{segment}` inside `{}`, which is {kind}, not a table", here.join("."))
}

/// Parses an override's value (see the module documentation).
pub(crate) fn parse_value(raw: &str) -> anyhow::Result<Value> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(Value::String(String::new()));
    }
    let parts = split_top_level(text)?;
    if parts.len() == 1 {
        return parse_item(parts[0]);
    }
    parse_list(&parts, text)
}

/// Items separated by top-level commas; a trailing comma is allowed.
fn parse_list(parts: &[&str], whole: &str) -> anyhow::Result<Value> {
    let mut items = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        if part.trim().is_empty() {
            if index + 1 == parts.len() && index > 0 {
                break; // trailing comma
            }
            bail!("empty element in the list `{whole}`");
        }
        items.push(parse_item(part)?);
    }
    Ok(Value::Array(items))
}

/// Walks the brackets and commas of `text` outside quotes, calling `at`
/// with each one's byte index, the character and the bracket depth after it;
/// stops early when `at` says so.
///
/// # Errors
/// A bracket closing another kind, an unmatched one, an unclosed bracket or
/// quote (the last two only when the walk reached the end).
fn scan(text: &str, mut at: impl FnMut(usize, char, usize) -> std::ops::ControlFlow<()>) -> anyhow::Result<()> {
    let mut open: Vec<char> = Vec::new();
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '[' | '(' => open.push(c),
            ']' | ')' => {
                let expected = if c == ']' { '[' } else { '(' };
                match open.pop() {
                    Some(o) if o == expected => {}
                    Some(o) => bail!("`{c}` closes `{o}` in `{text}`"),
                    None => bail!("unmatched `{c}` in `{text}`"),
                }
            }
            ',' => {}
            _ => continue,
        }
        if at(i, c, open.len()).is_break() {
            return Ok(());
        }
    }
    if let Some(q) = quote {
        bail!("unclosed {q} in `{text}`");
    }
    if let Some(o) = open.last() {
        bail!("unclosed `{o}` in `{text}`");
    }
    Ok(())
}

/// Splits `text` on commas outside brackets and quotes.
fn split_top_level(text: &str) -> anyhow::Result<Vec<&str>> {
    let mut parts = Vec::new();
    let mut start = 0;
    scan(text, |i, c, depth| {
        if c == ',' && depth == 0 {
            parts.push(&text[start..i]);
            start = i + 1;
        }
        std::ops::ControlFlow::Continue(())
    })?;
    parts.push(&text[start..]);
    Ok(parts)
}

/// One value without top-level commas: a bracketed list, a quoted string or
/// a scalar.
fn parse_item(item: &str) -> anyhow::Result<Value> {
    let item = item.trim();
    if let Some(first @ ('[' | '(')) = item.chars().next() {
        let close = if first == '[' { ']' } else { ')' };
        if !item.ends_with(close) || matching_close(item) != Some(item.len() - 1) {
            bail!("unexpected text after the list in `{item}`");
        }
        let inner = item[1..item.len() - 1].trim();
        if inner.is_empty() {
            return Ok(Value::Array(Vec::new()));
        }
        return parse_list(&split_top_level(inner)?, item);
    }
    if let Some(q @ ('"' | '\'')) = item.chars().next() {
        if item.len() >= 2 && item.ends_with(q) && !item[1..item.len() - 1].contains(q) {
            return Ok(Value::String(item[1..item.len() - 1].to_string()));
        }
        bail!("unexpected text around the quoted string `{item}`");
    }
    Ok(parse_scalar(item))
}

/// The byte index of the bracket closing the one `text` starts with.
fn matching_close(text: &str) -> Option<usize> {
    let mut close = None;
    let closes = |i, c, depth| {
        if matches!(c, ']' | ')') && depth == 0 {
            close = Some(i);
            return std::ops::ControlFlow::Break(());
        }
        std::ops::ControlFlow::Continue(())
    };
    scan(text, closes).ok()?;
    close
}

fn parse_scalar(text: &str) -> Value {
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text == "null" || text == "None" {
        return Value::Null;
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = text.parse::<f64>() {
        if f.is_finite() {
            return super::load::float_to_json(f);
        }
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied(tree: Value, options: &[&str]) -> Value {
        let mut tree = tree;
        let options: Vec<String> = options.iter().map(|s| s.to_string()).collect();
        apply(&mut tree, &options).unwrap();
        tree
    }

    fn error(tree: Value, option: &str) -> String {
        let mut tree = tree;
        apply(&mut tree, &[option.to_string()]).unwrap_err().to_string()
    }

    fn value(raw: &str) -> Value {
        parse_value(raw).unwrap()
    }

    #[test]
    fn scalars_are_typed() {
        assert_eq!(value("true"), json!(true));
        assert_eq!(value("False"), json!(false));
        assert_eq!(value("3"), json!(3));
        assert_eq!(value("-42"), json!(-42));
        assert_eq!(value("0.5"), json!(0.5));
        assert_eq!(value("1e-3"), json!(0.001));
        assert_eq!(value("-2.5E2"), json!(-250.0));
        assert_eq!(value("inf"), json!("inf"));
        assert_eq!(value("cuda:0"), json!("cuda:0"));
        assert_eq!(value("  adamw "), json!("adamw"));
        assert_eq!(value(""), json!(""));
        assert_eq!(value("null"), Value::Null);
        assert_eq!(value("None"), Value::Null);
    }

    #[test]
    fn quoted_strings_stay_strings() {
        assert_eq!(value("\"3\""), json!("3"));
        assert_eq!(value("'true'"), json!("true"));
        assert_eq!(value("\"a, b\""), json!("a, b"));
        assert_eq!(value("'[x]'"), json!("[x]"));
        assert_eq!(value("\"None\""), json!("None"));
    }

    #[test]
    fn lists_and_nested_lists() {
        assert_eq!(value("[1, 2, 3]"), json!([1, 2, 3]));
        assert_eq!(value("1,2.5,x"), json!([1, 2.5, "x"]));
        assert_eq!(value("(0.9, 0.999)"), json!([0.9, 0.999]));
        assert_eq!(value("[]"), json!([]));
        assert_eq!(value("[a,]"), json!(["a"]));
        assert_eq!(value("a,"), json!(["a"]));
        assert_eq!(value("[[\"train\",2],[\"val\",1]]"), json!([["train", 2], ["val", 1]]));
        assert_eq!(value("[[train, 2], ['val', 1]]"), json!([["train", 2], ["val", 1]]));
        assert_eq!(value("[true, \"x,y\", [1, [2]]]"), json!([true, "x,y", [1, [2]]]));
    }

    #[test]
    fn malformed_values() {
        for (raw, part) in [
            ("[1, 2", "unclosed `[`"),
            ("[1, 2)", "`)` closes `[`"),
            ("1, 2]", "unmatched `]`"),
            ("\"abc", "unclosed \""),
            ("[1] 2", "unexpected text after the list"),
            ("[1,,2]", "empty element"),
            ("\"a\"b", "unexpected text around the quoted string"),
        ] {
            let err = parse_value(raw).unwrap_err().to_string();
            assert!(err.contains(part), "{raw}: {err}");
        }
    }

    #[test]
    fn dotted_paths_create_tables() {
        let tree = applied(
            json!({"model": {"type": "mlp"}}),
            &[
                "model.hidden=8",
                "optim.optimizer.type=sgd",
                "optim.optimizer.lr=0.1",
                "env.deterministic=true",
            ],
        );
        assert_eq!(
            tree,
            json!({
                "model": {"type": "mlp", "hidden": 8},
                "optim": {"optimizer": {"type": "sgd", "lr": 0.1}},
                "env": {"deterministic": true},
            })
        );
    }

    #[test]
    fn value_split_on_the_first_equals() {
        let tree = applied(json!({}), &["log.note=a=b"]);
        assert_eq!(tree, json!({"log": {"note": "a=b"}}));
    }

    #[test]
    fn replaces_whole_values_and_later_options_win() {
        let tree = applied(
            json!({"train_cfg": {"workflow": [["train", 1]], "max_epochs": 2}, "log": {"interval": 1}}),
            &["train_cfg.workflow=[[\"train\",2],[\"val\",1]]", "log.interval=4", "log.interval=5"],
        );
        assert_eq!(
            tree,
            json!({"train_cfg": {"workflow": [["train", 2], ["val", 1]], "max_epochs": 2}, "log": {"interval": 5}})
        );
        let tree = applied(json!({"log": {"interval": 1}}), &["log=3"]);
        assert_eq!(tree, json!({"log": 3}));
    }

    #[test]
    fn null_removes_keys() {
        let tree = applied(
            json!({"optim": {"clip_grad": {"max_norm": 1}, "accumulative_counts": 2}}),
            &["optim.clip_grad=None", "optim.accumulative_counts=null", "not.there.at_all=null"],
        );
        assert_eq!(tree, json!({"optim": {}}));
    }

    #[test]
    fn numeric_segments_index_lists() {
        let tree = applied(
            json!({"val_evaluator": [{"type": "accuracy"}, {"type": "accuracy"}], "train_cfg": {"workflow": [["train", 1]]}}),
            &["val_evaluator.1.type=loss", "train_cfg.workflow.0.1=3"],
        );
        assert_eq!(
            tree,
            json!({"val_evaluator": [{"type": "accuracy"}, {"type": "loss"}], "train_cfg": {"workflow": [["train", 3]]}})
        );
        let tree = applied(json!({"a": [1, 2, 3]}), &["a.1=None"]);
        assert_eq!(tree, json!({"a": [1, 3]}));
        // A numeric segment of a table is a plain key.
        let tree = applied(json!({}), &["a.0=x"]);
        assert_eq!(tree, json!({"a": {"0": "x"}}));
    }

    #[test]
    fn errors_are_clear() {
        let tree = json!({"model": {"type": "mlp"}, "val_evaluator": [{"type": "accuracy"}]});
        assert_eq!(
            error(tree.clone(), "model.hidden"),
            "invalid --cfg-options `model.hidden`: expected `key.path=value`"
        );
        assert_eq!(
            error(tree.clone(), "=3"),
            "invalid --cfg-options `=3`: the key before `=` is empty"
        );
        assert_eq!(
            error(tree.clone(), "model..hidden=3"),
            "invalid --cfg-options `model..hidden=3`: the key `model..hidden` has an empty segment"
        );
        assert_eq!(
            error(tree.clone(), "model.type.name=x"),
            "invalid --cfg-options `model.type.name=x`: cannot set `name` inside `model.type`, \
             which is a string, not a table"
        );
        assert_eq!(
            error(tree.clone(), "val_evaluator.3.type=loss"),
            "invalid --cfg-options `val_evaluator.3.type=loss`: index 3 is out of range: \
             `val_evaluator` has 1 element(s)"
        );
        assert_eq!(
            error(tree.clone(), "val_evaluator.first.type=loss"),
            "invalid --cfg-options `val_evaluator.first.type=loss`: `val_evaluator` is a list; \
             index it with a number, not `first`"
        );
        let err = error(tree, "train_cfg.workflow=[[train,2]");
        assert!(
            err.starts_with("invalid --cfg-options `train_cfg.workflow=[[train,2]`: unclosed `[`"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }
}
