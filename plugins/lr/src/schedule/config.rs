//! Building a [`Schedule`] from its options: the type's name, the options
//! every type takes, and the lookup of the type in its family's table.

use hammer_sdk::Options;

use super::plateau::Plateau;
use super::window::Window;
use super::{cosine, one_cycle, plateau, step_like, Kind, Schedule};

/// The scheduler names this policy implements (MMEngine's).
pub const TYPES: &[&str] = &[
    "ConstantLR",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "CosineRestartLR",
    "LinearLR",
    "PolyLR",
    "OneCycleLR",
    "ReduceOnPlateauLR",
];

/// Options every type takes.
const COMMON: &[&str] = &["type", "by_epoch", "begin", "end"];

/// One scheduler type, as its family lists it.
pub(super) struct Spec {
    /// The MMEngine name (one of [`TYPES`]).
    pub(super) name: &'static str,
    /// The options the type takes besides [`COMMON`].
    pub(super) options: &'static [&'static str],
    /// Reads and checks those options.
    pub(super) parse: fn(&Options, &Setup) -> Result<Kind, String>,
}

/// What a type's parser gets besides its options.
pub(super) struct Setup {
    pub(super) window: Window,
    /// The optimizer's base learning rate.
    pub(super) base_lr: f64,
    /// The optimizer's base momentum (SGD's momentum, Adam's beta1), if any.
    pub(super) base_momentum: Option<f64>,
}

/// `Options::get_u64`'s result as the signed step arithmetic uses it.
pub(super) fn to_i64(key: &str, v: u64) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| format!("option `{key}` is too large ({v})"))
}

/// `v`, the value of option `key`, if it is at least 1.
pub(super) fn at_least_one(key: &str, v: i64) -> Result<i64, String> {
    if v == 0 {
        return Err(format!("`{key}` must be at least 1"));
    }
    Ok(v)
}

/// The family's entry for the type `name`.
fn spec(name: &str) -> Option<&'static Spec> {
    [step_like::SPECS, cosine::SPECS, one_cycle::SPECS, plateau::SPECS]
        .into_iter()
        .flatten()
        .find(|spec| spec.name == name)
}

impl Schedule {
    /// Builds the schedule the options describe, for an optimizer whose base
    /// learning rate is `base_lr` and base momentum `base_momentum`.
    ///
    /// # Errors
    ///
    /// A missing or unknown `type`, an option the type does not take, or a
    /// value out of range; except for `type`, the message starts with the
    /// type's name.
    pub fn from_options(options: &Options, base_lr: f64, base_momentum: Option<f64>) -> Result<Schedule, String> {
        let Some(name) = options.optional_str("type")? else {
            return Err(format!("option `type` is required: one of {}", TYPES.join(", ")));
        };
        if !TYPES.contains(&name.as_str()) {
            let hint = match closest_type(&name) {
                Some(t) => format!(" (did you mean `{t}`?)"),
                None => String::new(),
            };
            return Err(format!("unknown lr policy type `{name}`{hint}; known types: {}", TYPES.join(", ")));
        }
        let spec = spec(&name).expect("every type in TYPES is in its family's table");
        let known: Vec<&str> = COMMON.iter().chain(spec.options).copied().collect();
        options.check_known(&known).map_err(|e| format!("{name}: {e}"))?;
        Self::build(spec, options, base_lr, base_momentum).map_err(|e| format!("{name}: {e}"))
    }

    fn build(spec: &Spec, o: &Options, base_lr: f64, base_momentum: Option<f64>) -> Result<Schedule, String> {
        let window = Window::from_options(o)?;
        let kind = (spec.parse)(o, &Setup { window, base_lr, base_momentum })?;
        Ok(Schedule {
            name: spec.name.to_string(),
            plateau: Plateau::start(&kind),
            kind,
            base_lr,
            window,
            last_step: -1,
            next_global: 0,
            resumed: false,
        })
    }
}

fn closest_type(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    // Accept torch's names and case slips as hints.
    let alias = match lower.as_str() {
        "polynomiallr" => Some("PolyLR"),
        "reducelronplateau" => Some("ReduceOnPlateauLR"),
        "cosineannealingwarmrestarts" => Some("CosineRestartLR"),
        _ => None,
    };
    alias.or_else(|| hammer_sdk::options::closest_name(name, TYPES))
}

#[cfg(test)]
mod tests {
    use hammer_sdk::OptionValue;

    use crate::schedule::{Position, Schedule};
    use crate::tests::{build, options, text};

    #[test]
    fn configuration_errors_are_clear() {
        let err = |pairs: &[(&str, OptionValue)]| build(pairs).unwrap_err();
        assert_eq!(
            err(&[("type", text("CosineAnnealingLr"))]),
            "unknown lr policy type `CosineAnnealingLr` (did you mean `CosineAnnealingLR`?); known types: ConstantLR, StepLR, \
             MultiStepLR, ExponentialLR, CosineAnnealingLR, CosineRestartLR, LinearLR, PolyLR, OneCycleLR, ReduceOnPlateauLR"
        );
        assert!(err(&[]).starts_with("option `type` is required"));
        assert!(err(&[("type", text("ReduceLROnPlateau"))]).contains("did you mean `ReduceOnPlateauLR`"));
        let e = err(&[("type", text("StepLR")), ("step_size", OptionValue::Integer(2)), ("gama", OptionValue::Float(0.5))]);
        assert!(e.starts_with("StepLR: unknown option `gama` (did you mean `gamma`?)"), "{e}");
        assert_eq!(err(&[("type", text("StepLR"))]), "StepLR: option `step_size` is required (a non-negative integer)");
        assert!(err(&[("type", text("CosineAnnealingLR"))]).contains("give `T_max` (in epochs) or a finite `end`"));
        assert!(err(&[("type", text("ReduceOnPlateauLR")), ("by_epoch", OptionValue::Boolean(false))])
            .contains("only `by_epoch = true`"));
        assert!(err(&[("type", text("LinearLR")), ("begin", OptionValue::Integer(5)), ("end", OptionValue::Integer(5))])
            .contains("`end` (5) must be larger than `begin` (5)"));
        assert!(err(&[("type", text("CosineRestartLR")), ("periods", OptionValue::Integers(vec![5, 5])), (
            "restart_weights",
            OptionValue::Floats(vec![1.0])
        )])
        .contains("1 values for 2 `periods`"));
        let no_momentum = Schedule::from_options(
            &options(&[("type", text("OneCycleLR")), ("eta_max", OptionValue::Float(1.0)), ("total_steps", OptionValue::Integer(5)), (
                "cycle_momentum",
                OptionValue::Boolean(true),
            )]),
            0.1,
            None,
        );
        assert!(no_momentum.unwrap_err().contains("needs an optimizer with momentum"));
        // Without an explicit request, an optimizer without momentum just is not cycled.
        let mut s = Schedule::from_options(
            &options(&[("type", text("OneCycleLR")), ("eta_max", OptionValue::Float(1.0)), ("total_steps", OptionValue::Integer(5))]),
            0.1,
            None,
        )
        .unwrap();
        assert_eq!(s.step(Position { epoch: 0, iter: 0 }, 0.1, &mut |_| None).unwrap().1, None);
    }
}
