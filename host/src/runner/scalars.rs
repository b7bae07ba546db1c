//! The scalars of the current step: loss, learning rate, timings, metrics and
//! whatever hooks emit. They are what log lines and `scalars.jsonl` show.
//! Metrics of the last validation or test pass are named `val/<metric>` and
//! `test/<metric>` (as in MMEngine's message hub) and stay out of training lines.

/// An ordered name → value map; small, so a vector beats a hash map.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scalars {
    entries: Vec<(String, f64)>,
}

impl Scalars {
    /// Sets `name` to `value`, keeping its first position.
    pub fn set(&mut self, name: &str, value: f64) {
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name.to_string(), value)),
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// All entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), *v))
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
