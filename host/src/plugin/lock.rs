//! `plugins.lock`: exactly which plugin code a job ran — name, version and
//! sha256 of each plugin — written into the work dir by every run, checked
//! on `--resume` and by `--locked LOCKFILE`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::checkpoint::atomic::write_atomic;

/// Name of the lock file in a work dir.
pub const LOCK_FILE: &str = "plugins.lock";

/// How errors name a job's own lock, when it resumes.
pub const JOB_LOCK: &str = "the job's plugins.lock";

/// The plugins of a run, in config order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// One entry per plugin.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<Locked>,
}

/// One plugin as a run used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// The key its state is saved under (its name; `name#2` for a second one).
    pub key: String,
    /// The bundle's version, when it came from a bundle.
    pub version: Option<String>,
    /// sha256 of the component.
    pub sha256: String,
    /// Where it was found (a path, or `store`).
    pub source: String,
}

impl Lock {
    /// Reads a lock file.
    ///
    /// # Errors
    /// A missing or malformed file, named.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read lock file `{}`", path.display()))?;
        toml::from_str(&text).with_context(|| format!("`{}` is not a plugins.lock file", path.display()))
    }

    /// Writes the lock file atomically.
    ///
    /// # Errors
    /// An I/O error.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = format!(
            "# The plugins this job ran, pinned by sha256 (written by hammer; see `hammer train --locked`).\n{}",
            toml::to_string_pretty(self).context("serializing plugins.lock")?
        );
        write_atomic(path, text.as_bytes())
    }

    /// Checks that `used` (this run's plugins) are exactly the locked ones.
    ///
    /// # Errors
    /// A plugin missing from either side, or whose code changed (both
    /// digests named); `what` names the lock in the message.
    pub fn check(&self, used: &[Locked], what: &str) -> Result<()> {
        for plugin in used {
            self.check_plugin(plugin, what)?;
        }
        self.check_complete(used, what)
    }

    /// Checks one plugin against its locked entry (before it is instantiated).
    /// Against the job's own lock ([`JOB_LOCK`]), the message says how to
    /// resume with a changed plugin.
    ///
    /// # Errors
    /// Not locked, or its code changed.
    pub fn check_plugin(&self, plugin: &Locked, what: &str) -> Result<()> {
        let Some(locked) = self.plugins.iter().find(|l| l.key == plugin.key) else {
            bail!("plugin `{}` is not in {what}; the job ran without it", plugin.key);
        };
        if locked.sha256 != plugin.sha256 {
            let version = |v: &Option<String>| v.as_deref().map(|v| format!(" (version {v})")).unwrap_or_default();
            let way_out = if what == JOB_LOCK { "; to resume with it, pass `--relock`" } else { "" };
            bail!(
                "plugin `{}` changed since {what} was written: it had sha256 {}{}, `{}` has {}{}{way_out}",
                plugin.key,
                locked.sha256,
                version(&locked.version),
                plugin.source,
                plugin.sha256,
                version(&plugin.version),
            );
        }
        Ok(())
    }

    /// Checks that no locked plugin is missing from `used`.
    ///
    /// # Errors
    /// The first locked plugin this run does not have.
    pub fn check_complete(&self, used: &[Locked], what: &str) -> Result<()> {
        if let Some(missing) = self.plugins.iter().find(|l| !used.iter().any(|u| u.key == l.key)) {
            bail!(
                "plugin `{}` (sha256 {}) is in {what} but not in this run; add it back to the config",
                missing.key,
                missing.sha256
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(key: &str, sha: &str) -> Locked {
        Locked { key: key.into(), version: Some("0.1.0".into()), sha256: sha.into(), source: "store".into() }
    }

    #[test]
    fn round_trips_and_detects_drift() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        let lock = Lock { plugins: vec![locked("ema", "aa"), locked("lr", "bb")] };
        lock.write(&path).unwrap();
        let back = Lock::read(&path).unwrap();
        assert_eq!(back, lock);
        back.check(&lock.plugins, "the lock").unwrap();
        let err = back.check(&[locked("ema", "aa"), locked("lr", "cc")], "the lock").unwrap_err().to_string();
        assert!(err.contains("`lr` changed") && err.contains("bb") && err.contains("cc"), "{err}");
        let err = back.check(&[locked("ema", "aa")], "the lock").unwrap_err().to_string();
        assert!(err.contains("`lr` (sha256 bb) is in the lock but not in this run"), "{err}");
        let err = back.check(&[locked("x", "aa")], "the lock").unwrap_err().to_string();
        assert!(err.contains("`x` is not in the lock"), "{err}");
    }
}
