//! Typed access to a plugin's options, with errors that say what is wrong.

use crate::OptionValue;

/// A plugin's options: its table in the config, nested tables flattened to
/// dotted keys (`schedule.gamma`).
///
/// Getters return `Err` with a message naming the option, the expected type
/// and what was found, ready to be returned from `setup`:
///
/// ```
/// # use hammer_sdk::{Options, OptionValue};
/// let options = Options::from(vec![
///     ("momentum".to_string(), OptionValue::Integer(0)),
///     ("interval".to_string(), OptionValue::Integer(2)),
/// ]);
/// options.check_known(&["momentum", "interval", "begin_iter"])?;
/// assert_eq!(options.get_f64("momentum", 0.0002)?, 0.0); // an integer is a fine float
/// assert_eq!(options.get_u64("interval", 1)?, 2);
/// assert_eq!(options.get_u64("begin_iter", 0)?, 0); // absent: the default
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Options {
    entries: Vec<(String, OptionValue)>,
}

impl From<Vec<(String, OptionValue)>> for Options {
    fn from(entries: Vec<(String, OptionValue)>) -> Self {
        Options { entries }
    }
}

/// How a value's type reads in an error message.
fn describe(value: &OptionValue) -> String {
    match value {
        OptionValue::Boolean(b) => format!("the boolean {b}"),
        OptionValue::Integer(i) => format!("the integer {i}"),
        OptionValue::Float(f) => format!("the float {f}"),
        OptionValue::Text(s) => format!("the text {s:?}"),
        OptionValue::Integers(v) => format!("a list of {} integers", v.len()),
        OptionValue::Floats(v) => format!("a list of {} floats", v.len()),
        OptionValue::Texts(v) => format!("a list of {} texts", v.len()),
    }
}

/// A float that is a whole number fitting an `i64`, as that integer.
fn integral(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; every float below it in magnitude that
    // has no fractional part converts exactly.
    if f.fract() == 0.0 && f.abs() < 9_223_372_036_854_775_808.0 {
        Some(f as i64)
    } else {
        None
    }
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The name in `known` closest to `name` (ignoring case), if it is close
/// enough to be a typo: what an "unknown name" error can suggest.
pub fn closest_name<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.chars().count() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

impl Options {
    /// Options from `(name, value)` pairs (what `setup` receives).
    pub fn new(entries: Vec<(String, OptionValue)>) -> Self {
        Options { entries }
    }

    /// The `(name, value)` pairs, in config order.
    pub fn entries(&self) -> &[(String, OptionValue)] {
        &self.entries
    }

    /// The option names, in config order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Whether no option was given.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the option `key` was given.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The raw value of `key` (the last one if the key repeats).
    pub fn get(&self, key: &str) -> Option<&OptionValue> {
        self.entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Rejects option names not in `known`, naming the closest valid one:
    /// ``unknown option `momentun` (did you mean `momentum`?); known options: momentum, interval``.
    pub fn check_known(&self, known: &[&str]) -> Result<(), String> {
        for (key, _) in &self.entries {
            if known.contains(&key.as_str()) {
                continue;
            }
            let hint = match closest_name(key, known) {
                Some(k) => format!(" (did you mean `{k}`?)"),
                None => String::new(),
            };
            let list = if known.is_empty() {
                "this plugin takes no options".to_string()
            } else {
                format!("known options: {}", known.join(", "))
            };
            return Err(format!("unknown option `{key}`{hint}; {list}"));
        }
        Ok(())
    }

    fn wrong_type(key: &str, expected: &str, found: &OptionValue) -> String {
        format!("option `{key}` must be {expected}, found {}", describe(found))
    }

    fn missing(key: &str, expected: &str) -> String {
        format!("option `{key}` is required ({expected})")
    }

    // ----- optional getters: Ok(None) when absent --------------------------------

    /// `key` as a float (an integer is accepted), or `None` when absent.
    pub fn optional_f64(&self, key: &str) -> Result<Option<f64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(OptionValue::Float(f)) => Ok(Some(*f)),
            Some(OptionValue::Integer(i)) => Ok(Some(*i as f64)),
            Some(other) => Err(Self::wrong_type(key, "a number", other)),
        }
    }

    /// `key` as an integer (a float with no fractional part is accepted), or `None` when absent.
    pub fn optional_i64(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(OptionValue::Integer(i)) => Ok(Some(*i)),
            Some(OptionValue::Float(f)) => integral(*f)
                .map(Some)
                .ok_or_else(|| Self::wrong_type(key, "an integer", &OptionValue::Float(*f))),
            Some(other) => Err(Self::wrong_type(key, "an integer", other)),
        }
    }

    /// `key` as a non-negative integer, or `None` when absent.
    pub fn optional_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.optional_i64(key)? {
            None => Ok(None),
            Some(i) => u64::try_from(i)
                .map(Some)
                .map_err(|_| format!("option `{key}` must be a non-negative integer, found {i}")),
        }
    }

    /// `key` as a boolean, or `None` when absent.
    pub fn optional_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(OptionValue::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(Self::wrong_type(key, "a boolean (true or false)", other)),
        }
    }

    /// `key` as text, or `None` when absent.
    pub fn optional_str(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(OptionValue::Text(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Self::wrong_type(key, "text", other)),
        }
    }

    /// `key` as a list of floats (integers, and a single number, are accepted), or `None`.
    pub fn optional_f64_list(&self, key: &str) -> Result<Option<Vec<f64>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(OptionValue::Floats(v)) => Ok(Some(v.clone())),
            Some(OptionValue::Integers(v)) => Ok(Some(v.iter().map(|&i| i as f64).collect())),
            Some(OptionValue::Float(f)) => Ok(Some(vec![*f])),
            Some(OptionValue::Integer(i)) => Ok(Some(vec![*i as f64])),
            Some(other) => Err(Self::wrong_type(key, "a list of numbers", other)),
        }
    }

    /// `key` as a list of integers (whole floats, and a single integer, are accepted), or `None`.
    pub fn optional_i64_list(&self, key: &str) -> Result<Option<Vec<i64>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(OptionValue::Integers(v)) => Ok(Some(v.clone())),
            Some(OptionValue::Integer(i)) => Ok(Some(vec![*i])),
            Some(value @ OptionValue::Floats(v)) => v
                .iter()
                .map(|&f| integral(f))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| Self::wrong_type(key, "a list of integers", value)),
            Some(value @ OptionValue::Float(f)) => integral(*f)
                .map(|i| Some(vec![i]))
                .ok_or_else(|| Self::wrong_type(key, "a list of integers", value)),
            Some(other) => Err(Self::wrong_type(key, "a list of integers", other)),
        }
    }

    /// `key` as a list of texts (a single text is accepted), or `None`.
    pub fn optional_str_list(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(OptionValue::Texts(v)) => Ok(Some(v.clone())),
            Some(OptionValue::Text(s)) => Ok(Some(vec![s.clone()])),
            Some(other) => Err(Self::wrong_type(key, "a list of texts", other)),
        }
    }

    // ----- getters with a default -------------------------------------------------

    /// `key` as a float (an integer is accepted), or `default` when absent.
    pub fn get_f64(&self, key: &str, default: f64) -> Result<f64, String> {
        Ok(self.optional_f64(key)?.unwrap_or(default))
    }

    /// `key` as an integer, or `default` when absent.
    pub fn get_i64(&self, key: &str, default: i64) -> Result<i64, String> {
        Ok(self.optional_i64(key)?.unwrap_or(default))
    }

    /// `key` as a non-negative integer, or `default` when absent.
    pub fn get_u64(&self, key: &str, default: u64) -> Result<u64, String> {
        Ok(self.optional_u64(key)?.unwrap_or(default))
    }

    /// `key` as a boolean, or `default` when absent.
    pub fn get_bool(&self, key: &str, default: bool) -> Result<bool, String> {
        Ok(self.optional_bool(key)?.unwrap_or(default))
    }

    /// `key` as text, or `default` when absent.
    pub fn get_str(&self, key: &str, default: &str) -> Result<String, String> {
        Ok(self.optional_str(key)?.unwrap_or_else(|| default.to_string()))
    }

    /// `key` as a list of floats, or `default` when absent.
    pub fn get_f64_list(&self, key: &str, default: &[f64]) -> Result<Vec<f64>, String> {
        Ok(self.optional_f64_list(key)?.unwrap_or_else(|| default.to_vec()))
    }

    /// `key` as a list of integers, or `default` when absent.
    pub fn get_i64_list(&self, key: &str, default: &[i64]) -> Result<Vec<i64>, String> {
        Ok(self.optional_i64_list(key)?.unwrap_or_else(|| default.to_vec()))
    }

    /// `key` as a list of texts, or `default` when absent.
    pub fn get_str_list(&self, key: &str, default: &[&str]) -> Result<Vec<String>, String> {
        Ok(self
            .optional_str_list(key)?
            .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect()))
    }

    /// `key` as one of `choices` (text), or `default` when absent.
    pub fn get_choice(&self, key: &str, choices: &[&str], default: &str) -> Result<String, String> {
        let value = self.get_str(key, default)?;
        if choices.contains(&value.as_str()) {
            return Ok(value);
        }
        let hint = match closest_name(&value, choices) {
            Some(c) => format!(" (did you mean {c:?}?)"),
            None => String::new(),
        };
        Err(format!(
            "option `{key}` must be one of {}, found {value:?}{hint}",
            choices.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
        ))
    }

    // ----- required getters -------------------------------------------------------

    /// `key` as a float; an error when absent.
    pub fn require_f64(&self, key: &str) -> Result<f64, String> {
        self.optional_f64(key)?.ok_or_else(|| Self::missing(key, "a number"))
    }

    /// `key` as an integer; an error when absent.
    pub fn require_i64(&self, key: &str) -> Result<i64, String> {
        self.optional_i64(key)?.ok_or_else(|| Self::missing(key, "an integer"))
    }

    /// `key` as a non-negative integer; an error when absent.
    pub fn require_u64(&self, key: &str) -> Result<u64, String> {
        self.optional_u64(key)?.ok_or_else(|| Self::missing(key, "a non-negative integer"))
    }

    /// `key` as a boolean; an error when absent.
    pub fn require_bool(&self, key: &str) -> Result<bool, String> {
        self.optional_bool(key)?.ok_or_else(|| Self::missing(key, "a boolean"))
    }

    /// `key` as text; an error when absent.
    pub fn require_str(&self, key: &str) -> Result<String, String> {
        self.optional_str(key)?.ok_or_else(|| Self::missing(key, "text"))
    }

    /// `key` as a list of floats; an error when absent.
    pub fn require_f64_list(&self, key: &str) -> Result<Vec<f64>, String> {
        self.optional_f64_list(key)?.ok_or_else(|| Self::missing(key, "a list of numbers"))
    }

    /// `key` as a list of integers; an error when absent.
    pub fn require_i64_list(&self, key: &str) -> Result<Vec<i64>, String> {
        self.optional_i64_list(key)?.ok_or_else(|| Self::missing(key, "a list of integers"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(entries: &[(&str, OptionValue)]) -> Options {
        Options::new(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn numbers_convert_both_ways_when_exact() {
        let o = opts(&[
            ("a", OptionValue::Integer(3)),
            ("b", OptionValue::Float(4.0)),
            ("c", OptionValue::Float(4.5)),
            ("d", OptionValue::Integer(-1)),
        ]);
        assert_eq!(o.get_f64("a", 0.0).unwrap(), 3.0);
        assert_eq!(o.get_i64("b", 0).unwrap(), 4);
        let err = o.get_i64("c", 0).unwrap_err();
        assert!(err.contains("`c` must be an integer") && err.contains("4.5"), "{err}");
        assert!(o.get_u64("d", 0).unwrap_err().contains("non-negative"));
        assert_eq!(o.get_f64("zzz", 0.25).unwrap(), 0.25);
    }

    #[test]
    fn wrong_types_are_named() {
        let o = opts(&[("flag", OptionValue::Text("yes".into()))]);
        let err = o.get_bool("flag", false).unwrap_err();
        assert_eq!(err, "option `flag` must be a boolean (true or false), found the text \"yes\"");
        assert_eq!(o.require_f64("lr").unwrap_err(), "option `lr` is required (a number)");
    }

    #[test]
    fn lists_accept_scalars_and_other_number_kinds() {
        let o = opts(&[
            ("i", OptionValue::Integer(5)),
            ("fs", OptionValue::Floats(vec![1.0, 2.0])),
            ("is", OptionValue::Integers(vec![1, 2])),
            ("bad", OptionValue::Floats(vec![1.5])),
        ]);
        assert_eq!(o.get_i64_list("i", &[]).unwrap(), vec![5]);
        assert_eq!(o.get_i64_list("fs", &[]).unwrap(), vec![1, 2]);
        assert_eq!(o.get_f64_list("is", &[]).unwrap(), vec![1.0, 2.0]);
        assert!(o.get_i64_list("bad", &[]).is_err());
        assert_eq!(o.get_f64_list("none", &[0.5]).unwrap(), vec![0.5]);
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let o = opts(&[("momentun", OptionValue::Float(0.1))]);
        let err = o.check_known(&["momentum", "interval", "begin_iter"]).unwrap_err();
        assert_eq!(
            err,
            "unknown option `momentun` (did you mean `momentum`?); known options: momentum, interval, begin_iter"
        );
        let o = opts(&[("xyzzy", OptionValue::Float(0.1))]);
        let err = o.check_known(&["momentum"]).unwrap_err();
        assert_eq!(err, "unknown option `xyzzy`; known options: momentum");
        assert!(opts(&[("interval", OptionValue::Integer(1))]).check_known(&["interval"]).is_ok());
    }

    #[test]
    fn choices() {
        let o = opts(&[("rule", OptionValue::Text("grater".into()))]);
        let err = o.get_choice("rule", &["greater", "less"], "less").unwrap_err();
        assert!(err.contains("did you mean \"greater\""), "{err}");
        assert_eq!(Options::default().get_choice("rule", &["greater", "less"], "less").unwrap(), "less");
    }
}
