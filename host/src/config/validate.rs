//! Turning a config tree into the typed [`Config`], with errors that name the
//! full key path, and the semantic checks serde cannot express.
//!
//! Key paths are dotted, list elements by their 0-based index, exactly as
//! `--cfg-options` takes them: `train_cfg.max_epochs`, `val_evaluator.0.type`.
//!
//! The messages are one paragraph each:
//! - ``unknown config key `train_cfg.max_epoch`; did you mean `max_epochs`? (valid keys here: `by_epoch`, ...)``
//! - ``config key `train_cfg.max_epochs`: expected a non-negative integer, found string "ten"``
//! - ``missing config key `model.type` ``
//! - ``config key `optim.optimizer.betas`: does not apply to optimizer `sgd` ...``

use std::fmt;

use serde_json::Value;

pub use super::checks::check;
use super::tree::Tree;
use super::Config;

/// A config that cannot be read, merged, overridden or validated: a
/// one-paragraph message naming the file or the key path at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
    key: Option<String>,
}

impl ConfigError {
    /// An error with this message and no particular key.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), key: None }
    }

    /// An error about the config key at dotted path `key`.
    pub fn with_key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { message: message.into(), key: Some(key.into()) }
    }

    /// The message, as displayed.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The dotted path of the key at fault (e.g. `val_evaluator.0.type`),
    /// when the error is about one key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

/// An error about key `key`: ``config key `key`: message``.
pub(super) fn key_error(key: &str, message: impl fmt::Display) -> ConfigError {
    ConfigError::with_key(key, format!("config key `{key}`: {message}"))
}

/// Deserializes the typed [`Config`] from a (merged and overridden) tree and
/// runs the semantic [`check`]s.
///
/// # Errors
/// An unknown key (with its full path, the closest valid name and the valid
/// names at that place), a missing key, a value of the wrong type (with what
/// was expected and what was found), or any error of [`check`].
pub fn from_tree(tree: Value) -> Result<Config, ConfigError> {
    let config: Config = serde_path_to_error::deserialize(Tree(tree)).map_err(|err| {
        let key = dotted(err.path());
        describe(&key, &err.inner().to_string())
    })?;
    check(&config)?;
    Ok(config)
}

/// Joins the segments of a serde path with dots, list indices as numbers.
fn dotted(path: &serde_path_to_error::Path) -> String {
    path.iter()
        .map(|segment| match segment {
            serde_path_to_error::Segment::Seq { index } => index.to_string(),
            serde_path_to_error::Segment::Map { key } => key.clone(),
            serde_path_to_error::Segment::Enum { variant } => variant.clone(),
            serde_path_to_error::Segment::Unknown => "?".to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// `parent.name`, or `name` at the top level.
fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// The backquoted names in `text`, in order.
fn backquoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Rephrases serde's error `message` about the value at `key`.
fn describe(key: &str, message: &str) -> ConfigError {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // serde: "unknown field `x`, expected one of `a`, `b`" / "expected `a`"
        // / "expected `a` or `b`" / "there are no fields".
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        // serde_path_to_error's path already ends with the unknown key.
        let full = if key.is_empty() { name.to_string() } else { key.to_string() };
        let valid = backquoted(expected);
        return ConfigError::with_key(full.clone(), unknown_key_message(&full, name, &valid));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let full = join(key, name);
        return ConfigError::with_key(full.clone(), format!("missing config key `{full}`"));
    }
    let shown = if key.is_empty() { "(top level)" } else { key };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                return key_error(
                    shown,
                    format!(
                        "expected {}, found {}",
                        expected_phrase(expected),
                        found_phrase(found)
                    ),
                );
            }
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        if let Some((length, expected)) = rest.split_once(", expected ") {
            return key_error(
                shown,
                format!(
                    "expected {}, found a list of {length} element{}",
                    expected_phrase(expected),
                    if length == "1" { "" } else { "s" }
                ),
            );
        }
    }
    key_error(shown, message)
}

/// The unknown-key message, with the closest valid name when one is close.
fn unknown_key_message(full: &str, name: &str, valid: &[&str]) -> String {
    let mut message = format!("unknown config key `{full}`");
    if let Some(best) = closest(name, valid) {
        message.push_str(&format!("; did you mean `{best}`?"));
    }
    if valid.is_empty() {
        message.push_str(" (this table takes no keys)");
    } else {
        let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
        message.push_str(&format!(" (valid keys here: {})", list.join(", ")));
    }
    message
}

/// The valid name closest to `name`, if it is close enough to be a typo
/// (also used for plugin option names).
pub(crate) fn closest<'a>(name: &str, valid: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    valid
        .iter()
        .map(|candidate| {
            let similarity = strsim::jaro_winkler(&lower, &candidate.to_ascii_lowercase());
            let distance = strsim::damerau_levenshtein(&lower, &candidate.to_ascii_lowercase());
            (candidate, similarity, distance)
        })
        .filter(|(candidate, similarity, distance)| {
            *similarity >= 0.8 || *distance <= (candidate.len().max(name.len()) / 3).max(1)
        })
        .min_by(|a, b| a.2.cmp(&b.2).then(b.1.total_cmp(&a.1)))
        .map(|(candidate, _, _)| *candidate)
}

/// serde's description of an expected type, in config words.
fn expected_phrase(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".to_string(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "a list".to_string(),
        "a map" => "a table".to_string(),
        _ if expected.starts_with("struct ") => "a table".to_string(),
        _ => {
            // "a tuple of size 2" (too few items), "2 elements in sequence" (too many).
            let count = expected.strip_prefix("a tuple of size ").or_else(|| {
                expected
                    .strip_suffix(" elements in sequence")
                    .or_else(|| expected.strip_suffix(" element in sequence"))
            });
            match count {
                Some(n) => format!("a list of {n} elements"),
                None => expected.to_string(),
            }
        }
    }
}

/// serde's description of an unexpected value, in config words.
fn found_phrase(found: &str) -> String {
    match found {
        "map" => return "a table".to_string(),
        "sequence" => return "a list".to_string(),
        "unit value" => return "null".to_string(),
        _ => {}
    }
    for (serde_word, word) in
        [("integer `", "integer "), ("floating point `", "float "), ("boolean `", "boolean ")]
    {
        if let Some(value) = found.strip_prefix(serde_word).and_then(|v| v.strip_suffix('`')) {
            return format!("{word}{value}");
        }
    }
    found.to_string()
}

#[cfg(test)]
mod tests;
