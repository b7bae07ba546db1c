//! Reading a config file and its `_base_` files into one tree.
//!
//! A config is a TOML file (JSON when its name ends in `.json`). Its top-level
//! `_base_` key names other config files — one string or a list — resolved
//! relative to the including file. The bases are loaded (recursively), merged
//! in order, and the file itself is deep-merged on top:
//! - a table merges key by key, recursively;
//! - anything else (numbers, strings, lists) replaces the base's value;
//! - a table with `_delete_ = true` replaces the base's table entirely.
//!
//! `_base_` and `_delete_` keys never reach the result. Files that include
//! each other in a cycle are an error naming the cycle.
//!
//! The tree is a [`serde_json::Value`], which cannot hold non-finite numbers:
//! TOML's `inf`, `-inf` and `nan` are kept as the strings `"inf"`, `"-inf"`
//! and `"nan"`, which [`super::validate`] reads back as floats where a float
//! is expected. TOML dates and times are rejected.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::validate::ConfigError;

/// The key listing the files a config inherits from.
const BASE_KEY: &str = "_base_";
/// The key that makes a table replace, rather than merge into, its base.
const DELETE_KEY: &str = "_delete_";

/// Reads the config file at `path` and its `_base_` files, recursively, into
/// one deep-merged tree without `_base_` or `_delete_` keys.
///
/// # Errors
/// A missing or unreadable file, a TOML or JSON syntax error (with the file,
/// line and column), a TOML date or time, a malformed `_base_` or `_delete_`,
/// or files that include each other in a cycle.
pub fn load_tree(path: &Path) -> Result<Value, ConfigError> {
    let mut stack = Vec::new();
    load_recursive(path, None, &mut stack)
}

/// One file on the stack of files being loaded: its canonical path (to detect
/// cycles) and the path as the user would recognise it (for messages).
struct Open {
    canonical: PathBuf,
    shown: PathBuf,
}

fn load_recursive(
    path: &Path,
    included_by: Option<&Path>,
    stack: &mut Vec<Open>,
) -> Result<Value, ConfigError> {
    if !path.is_file() {
        let mut message = format!("config file `{}` not found", path.display());
        if let Some(parent) = included_by {
            message.push_str(&format!(" (named in `_base_` of `{}`)", parent.display()));
        }
        return Err(ConfigError::new(message));
    }
    let canonical = std::fs::canonicalize(path).map_err(|err| {
        ConfigError::new(format!("cannot read config file `{}`: {err}", path.display()))
    })?;
    if let Some(start) = stack.iter().position(|open| open.canonical == canonical) {
        let cycle: Vec<String> = stack[start..]
            .iter()
            .map(|open| format!("`{}`", open.shown.display()))
            .chain(std::iter::once(format!("`{}`", path.display())))
            .collect();
        return Err(ConfigError::new(format!(
            "config files include each other in a cycle through `_base_`: {}",
            cycle.join(" -> ")
        )));
    }

    let mut tree = parse_file(path)?;
    let bases = take_bases(&mut tree, path)?;

    stack.push(Open { canonical, shown: path.to_path_buf() });
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    let mut merged = Value::Object(Map::new());
    for base in bases {
        let base_path = dir.join(&base);
        let base_tree = load_recursive(&base_path, Some(path), stack)?;
        merge(&mut merged, base_tree, &mut Vec::new(), &base_path)?;
    }
    stack.pop();

    merge(&mut merged, tree, &mut Vec::new(), path)?;
    Ok(merged)
}

/// Parses one file, TOML or JSON by its extension, into a tree whose top level
/// is a table.
fn parse_file(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        ConfigError::new(format!("cannot read config file `{}`: {err}", path.display()))
    })?;
    let is_json = path
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
    if is_json {
        let tree: Value = serde_json::from_str(&text).map_err(|err| {
            let full = err.to_string();
            let suffix = format!(" at line {} column {}", err.line(), err.column());
            let message = full.strip_suffix(&suffix).unwrap_or(&full);
            ConfigError::new(format!(
                "{}:{}:{}: invalid JSON: {message}",
                path.display(),
                err.line(),
                err.column()
            ))
        })?;
        if !tree.is_object() {
            return Err(ConfigError::new(format!(
                "{}: the top level of a config must be a JSON object (a table of keys)",
                path.display()
            )));
        }
        Ok(tree)
    } else {
        let table: toml::Table = toml::from_str(&text).map_err(|err| {
            // toml's message may span lines ("invalid string\nexpected ...").
            let message = err
                .message()
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            match err.span() {
                Some(span) => {
                    let (line, column) = line_column(&text, span.start);
                    ConfigError::new(format!(
                        "{}:{line}:{column}: invalid TOML: {message}",
                        path.display()
                    ))
                }
                None => ConfigError::new(format!("{}: invalid TOML: {message}", path.display())),
            }
        })?;
        let mut key = Vec::new();
        table_to_json(table, &mut key, path)
    }
}

/// The 1-based line and column (counted in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn table_to_json(
    table: toml::Table,
    key: &mut Vec<String>,
    path: &Path,
) -> Result<Value, ConfigError> {
    let mut map = Map::new();
    for (name, value) in table {
        key.push(name.clone());
        let value = toml_to_json(value, key, path)?;
        key.pop();
        map.insert(name, value);
    }
    Ok(Value::Object(map))
}

fn toml_to_json(
    value: toml::Value,
    key: &mut Vec<String>,
    path: &Path,
) -> Result<Value, ConfigError> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => float_to_json(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(_) => {
            return Err(ConfigError::with_key(
                key.join("."),
                format!(
                    "{}: config key `{}`: TOML dates and times are not supported in configs; \
                     quote the value to make it a string",
                    path.display(),
                    key.join(".")
                ),
            ));
        }
        toml::Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                key.push(index.to_string());
                out.push(toml_to_json(item, key, path)?);
                key.pop();
            }
            Value::Array(out)
        }
        toml::Value::Table(table) => table_to_json(table, key, path)?,
    })
}

/// A float as a JSON number, or, when it is not finite, as the string `inf`,
/// `-inf` or `nan` (see the module documentation).
pub(crate) fn float_to_json(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(number) => Value::Number(number),
        None if f.is_nan() => Value::String("nan".into()),
        None if f > 0.0 => Value::String("inf".into()),
        None => Value::String("-inf".into()),
    }
}

/// Removes the top-level `_base_` key of `tree` and returns the files it names.
fn take_bases(tree: &mut Value, path: &Path) -> Result<Vec<String>, ConfigError> {
    let Some(map) = tree.as_object_mut() else { return Ok(Vec::new()) };
    let bad = || {
        ConfigError::with_key(
            BASE_KEY,
            format!(
                "{}: config key `{BASE_KEY}` must be a file name or a list of file names",
                path.display()
            ),
        )
    };
    match map.remove(BASE_KEY) {
        None => Ok(Vec::new()),
        Some(Value::String(base)) => Ok(vec![base]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(base) => Ok(base),
                _ => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// Deep-merges `child` into `base`; `key` is the path of `base` in the tree
/// and `path` the file `child` comes from (both for messages).
fn merge(
    base: &mut Value,
    child: Value,
    key: &mut Vec<String>,
    path: &Path,
) -> Result<(), ConfigError> {
    match (base, child) {
        (Value::Object(base_map), Value::Object(mut child_map)) => {
            if take_delete(&mut child_map, key, path)? {
                let mut replacement = Value::Object(child_map);
                strip_delete(&mut replacement, key, path)?;
                *base_map = match replacement {
                    Value::Object(map) => map,
                    _ => unreachable!("a table stays a table"),
                };
                return Ok(());
            }
            for (name, value) in child_map {
                key.push(name.clone());
                match base_map.get_mut(&name) {
                    Some(existing) => merge(existing, value, key, path)?,
                    None => {
                        let mut value = value;
                        strip_delete(&mut value, key, path)?;
                        base_map.insert(name, value);
                    }
                }
                key.pop();
            }
            Ok(())
        }
        (base, mut child) => {
            strip_delete(&mut child, key, path)?;
            *base = child;
            Ok(())
        }
    }
}

/// Removes the `_delete_` key of a table and returns its value.
fn take_delete(
    map: &mut Map<String, Value>,
    key: &[String],
    path: &Path,
) -> Result<bool, ConfigError> {
    match map.remove(DELETE_KEY) {
        None => Ok(false),
        Some(Value::Bool(delete)) => Ok(delete),
        Some(_) => {
            let mut full: Vec<&str> = key.iter().map(String::as_str).collect();
            full.push(DELETE_KEY);
            let full = full.join(".");
            Err(ConfigError::with_key(
                full.clone(),
                format!("{}: config key `{full}` must be true or false", path.display()),
            ))
        }
    }
}

/// Removes every `_delete_` key inside a value that has nothing to merge with.
fn strip_delete(value: &mut Value, key: &mut Vec<String>, path: &Path) -> Result<(), ConfigError> {
    match value {
        Value::Object(map) => {
            take_delete(map, key, path)?;
            for (name, item) in map.iter_mut() {
                key.push(name.clone());
                strip_delete(item, key, path)?;
                key.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                key.push(index.to_string());
                strip_delete(item, key, path)?;
                key.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn plain_toml_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "a.toml",
            "[model]\ntype = \"mlp\"\nhidden = 8\n[optim.clip_grad]\nnorm_type = inf\nmax_norm = 1.5\n",
        );
        let tree = load_tree(&path).unwrap();
        assert_eq!(
            tree,
            json!({
                "model": {"type": "mlp", "hidden": 8},
                "optim": {"clip_grad": {"norm_type": "inf", "max_norm": 1.5}},
            })
        );
    }

    #[test]
    fn bases_merge_in_order_then_the_file_on_top() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "base/model.toml",
            "[model]\ntype = \"mlp\"\nhidden = 8\nlayers = 2\n\
             [optim.optimizer]\ntype = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n\
             val_evaluator = [{ type = \"accuracy\" }, { type = \"loss\" }]\n",
        );
        write(
            dir.path(),
            "base/schedule.toml",
            "[train_cfg]\nmax_epochs = 5\n[model]\nhidden = 16\n",
        );
        let path = write(
            dir.path(),
            "configs/job.toml",
            "_base_ = [\"../base/model.toml\", \"../base/schedule.toml\"]\n\
             val_evaluator = [{ type = \"loss\" }]\n\
             [model]\nlayers = 3\n\
             [optim.optimizer]\n_delete_ = true\ntype = \"adam\"\nlr = 0.001\n\
             [train_cfg]\nval_interval = 2\n",
        );
        let tree = load_tree(&path).unwrap();
        assert_eq!(
            tree,
            json!({
                "model": {"type": "mlp", "hidden": 16, "layers": 3},
                "optim": {"optimizer": {"type": "adam", "lr": 0.001}},
                "val_evaluator": [{"type": "loss"}],
                "train_cfg": {"max_epochs": 5, "val_interval": 2},
            })
        );
    }

    #[test]
    fn single_string_base_and_recursive_bases() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "c.toml", "[env]\nseed = 1\ndevice = \"cpu\"\n");
        write(dir.path(), "sub/b.toml", "_base_ = \"../c.toml\"\n[env]\nseed = 2\n");
        let path = write(dir.path(), "a.toml", "_base_ = \"sub/b.toml\"\n[env]\nnum_threads = 4\n");
        let tree = load_tree(&path).unwrap();
        assert_eq!(tree, json!({"env": {"seed": 2, "device": "cpu", "num_threads": 4}}));
    }

    #[test]
    fn delete_false_merges_and_delete_keys_never_survive() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.toml", "[log]\ninterval = 5\nprogress_bar = false\n");
        let path = write(
            dir.path(),
            "a.toml",
            "_base_ = [\"b.toml\"]\n[log]\n_delete_ = false\ninterval = 7\n\
             [env]\n_delete_ = true\nseed = 3\n",
        );
        let tree = load_tree(&path).unwrap();
        assert_eq!(
            tree,
            json!({"log": {"interval": 7, "progress_bar": false}, "env": {"seed": 3}})
        );
    }

    #[test]
    fn delete_replaces_a_non_table_too() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.toml", "train_cfg = 3\n");
        let path =
            write(dir.path(), "a.toml", "_base_ = \"b.toml\"\n[train_cfg]\nmax_epochs = 2\n");
        assert_eq!(load_tree(&path).unwrap(), json!({"train_cfg": {"max_epochs": 2}}));
    }

    #[test]
    fn diamond_is_not_a_cycle() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "d.toml", "[env]\nseed = 1\n");
        write(dir.path(), "b.toml", "_base_ = \"d.toml\"\n");
        write(dir.path(), "c.toml", "_base_ = \"d.toml\"\n");
        let path = write(dir.path(), "a.toml", "_base_ = [\"b.toml\", \"c.toml\"]\n");
        assert_eq!(load_tree(&path).unwrap(), json!({"env": {"seed": 1}}));
    }

    #[test]
    fn cycle_is_an_error_naming_the_cycle() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.toml", "_base_ = \"b.toml\"\n");
        write(dir.path(), "b.toml", "_base_ = [\"c.toml\"]\n");
        write(dir.path(), "c.toml", "_base_ = [\"a.toml\"]\n");
        let err = load_tree(&dir.path().join("a.toml")).unwrap_err().to_string();
        assert!(err.starts_with("config files include each other in a cycle"), "{err}");
        let a = dir.path().join("a.toml");
        let c = dir.path().join("c.toml");
        assert!(err.contains(&format!("`{}` -> ", a.display())), "{err}");
        assert!(err.ends_with(&format!("`{}` -> `{}`", c.display(), a.display())), "{err}");

        write(dir.path(), "self.toml", "_base_ = \"self.toml\"\n");
        let err = load_tree(&dir.path().join("self.toml")).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let err = load_tree(&missing).unwrap_err().to_string();
        assert_eq!(err, format!("config file `{}` not found", missing.display()));

        let path = write(dir.path(), "a.toml", "_base_ = \"gone.toml\"\n");
        let err = load_tree(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "config file `{}` not found (named in `_base_` of `{}`)",
                dir.path().join("gone.toml").display(),
                path.display()
            )
        );
    }

    #[test]
    fn toml_syntax_error_has_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "bad.toml", "[model]\ntype = \"mlp\"\nhidden = = 3\n");
        let err = load_tree(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:3:10: invalid TOML: ", path.display())), "{err}");
        assert!(err.contains("invalid string; expected"), "{err}");
        assert!(!err.contains('\n'), "{err}");

        let path = write(dir.path(), "dup.toml", "[env]\nseed = 1\nseed = 2\n");
        let err = load_tree(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:3:1: invalid TOML: ", path.display())), "{err}");
        assert!(err.contains("duplicate key"), "{err}");
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 3), (2, 1));
        assert_eq!(line_column("ab\néd", 5), (2, 2));
        assert_eq!(line_column("ab\n", 99), (2, 1));
    }

    #[test]
    fn json_files_and_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.toml", "[model]\ntype = \"mlp\"\nhidden = 8\n");
        let path =
            write(dir.path(), "a.json", "{\"_base_\": \"b.toml\", \"model\": {\"hidden\": 4}}");
        assert_eq!(load_tree(&path).unwrap(), json!({"model": {"type": "mlp", "hidden": 4}}));

        let path = write(dir.path(), "bad.json", "{\n  \"model\": {\n    \"type\": mlp\n  }\n}\n");
        let err = load_tree(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:3:13: invalid JSON: ", path.display())), "{err}");
        assert!(!err.contains(" at line "), "{err}");

        let path = write(dir.path(), "list.json", "[1, 2]");
        let err = load_tree(&path).unwrap_err().to_string();
        assert!(err.contains("top level of a config must be a JSON object"), "{err}");
    }

    #[test]
    fn datetimes_and_bad_special_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a.toml", "[log]\nwhen = 1979-05-27\n");
        let err = load_tree(&path).unwrap_err().to_string();
        assert!(
            err.contains("config key `log.when`: TOML dates and times are not supported"),
            "{err}"
        );

        let path = write(dir.path(), "b.toml", "_base_ = 3\n");
        let err = load_tree(&path).unwrap_err().to_string();
        assert!(err.contains("`_base_` must be a file name or a list of file names"), "{err}");

        let path = write(dir.path(), "c.toml", "[env]\n_delete_ = \"yes\"\n");
        let err = load_tree(&path).unwrap_err().to_string();
        assert!(err.contains("config key `env._delete_` must be true or false"), "{err}");
    }
}
