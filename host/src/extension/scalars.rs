//! The scalars of the current step: loss, learning rate, timings, metrics and
//! whatever hooks emit. They are what log lines and `scalars.jsonl` show.
//! Metrics of the last validation or test pass are named `val/<metric>` and
//! `test/<metric>` (as in MMEngine's message hub) and stay out of training lines.
//! A log record holds what was set since the previous record.

/// An ordered name → value map; small, so a vector beats a hash map.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scalars {
    /// Name, value, and whether it was set since the last [`Scalars::take_fresh`].
    entries: Vec<(String, f64, bool)>,
}

impl Scalars {
    /// Sets `name` to `value`, keeping its first position.
    pub fn set(&mut self, name: &str, value: f64) {
        match self.entries.iter_mut().find(|(n, ..)| n == name) {
            Some(entry) => {
                entry.1 = value;
                entry.2 = true;
            }
            None => self.entries.push((name.to_string(), value, true)),
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries.iter().find(|(n, ..)| n == name).map(|(_, v, _)| *v)
    }

    /// All entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.entries.iter().map(|(n, v, _)| (n.as_str(), *v))
    }

    /// The entries set since the last call (by the runner or by plugins),
    /// which the next log record shows; marks them seen.
    pub fn take_fresh(&mut self) -> Vec<(String, f64)> {
        let mut fresh = Vec::new();
        for (n, v, is_fresh) in &mut self.entries {
            if std::mem::take(is_fresh) {
                fresh.push((n.clone(), *v));
            }
        }
        fresh
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_entries_are_those_set_since_the_last_take() {
        let mut s = Scalars::default();
        s.set("loss", 1.0);
        s.set("best/accuracy", 90.0);
        assert_eq!(s.take_fresh(), vec![("loss".to_string(), 1.0), ("best/accuracy".to_string(), 90.0)]);
        s.set("loss", 0.5);
        assert_eq!(s.take_fresh(), vec![("loss".to_string(), 0.5)]);
        assert_eq!(s.get("best/accuracy"), Some(90.0));
        assert!(s.take_fresh().is_empty());
    }
}
