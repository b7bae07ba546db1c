//! An extension's failure: what stops a run when a hook, a metric or a
//! learning-rate policy — native or a plugin — fails, naming it and the
//! phase. The runner keys its emergency checkpoint on this type, whatever
//! raised it.

use std::fmt;

/// An extension failed and the run stops: names the extension, the phase and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionFailure {
    /// What failed: `plugin`, `hook`, `metric`, `learning-rate policy`.
    pub kind: &'static str,
    /// The extension's name.
    pub name: String,
    /// The phase (or call) it failed at.
    pub phase: String,
    /// What happened, with the guest's backtrace when there is one.
    pub message: String,
}

impl fmt::Display for ExtensionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}` failed at `{}`: {}", self.kind, self.name, self.phase, self.message)
    }
}

impl std::error::Error for ExtensionFailure {}

impl ExtensionFailure {
    /// Whether `err` is an extension's failure.
    pub fn is(err: &anyhow::Error) -> bool {
        err.downcast_ref::<Self>().is_some()
    }

    /// `err`, an error of the extension `name` (a `kind`) at `phase`, as an
    /// extension failure; one already (a plugin's, which names itself) is kept.
    pub fn wrap(err: anyhow::Error, kind: &'static str, name: &str, phase: &str) -> anyhow::Error {
        if Self::is(&err) {
            return err;
        }
        anyhow::Error::new(Self { kind, name: name.to_string(), phase: phase.to_string(), message: format!("{err:#}") })
    }

    /// What kind of extension failed, read back from a failure's message
    /// (another rank's, which arrives as text).
    pub fn kind_in(message: &str) -> &str {
        message.split_once(" `").map_or("extension", |(kind, _)| kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_extension_and_the_phase_and_is_wrapped_once() {
        let native = ExtensionFailure::wrap(anyhow::anyhow!("boom"), "hook", "nan-check", "after_train_iter");
        assert_eq!(native.to_string(), "hook `nan-check` failed at `after_train_iter`: boom");
        assert!(ExtensionFailure::is(&native));
        let again = ExtensionFailure::wrap(native, "metric", "other", "after_val_iter");
        assert_eq!(again.to_string(), "hook `nan-check` failed at `after_train_iter`: boom");
        assert!(!ExtensionFailure::is(&anyhow::anyhow!("a checkpoint write failed")));
        assert_eq!(ExtensionFailure::kind_in(&again.to_string()), "hook");
        assert_eq!(ExtensionFailure::kind_in("learning-rate policy `x` failed at `y`: z"), "learning-rate policy");
    }
}
