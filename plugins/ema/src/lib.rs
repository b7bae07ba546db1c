//! `ema`: an exponential moving average of the model's weights, evaluated in
//! their place (MMEngine's `EMAHook` with `ExponentialMovingAverage`).
//!
//! Options:
//! * `momentum` (default 0.0002): MMEngine's convention,
//!   `ema = (1 - momentum) * ema + momentum * param`;
//! * `interval` (default 1): average every `interval` updates;
//! * `begin_iter` (default 0): before this many training iterations are done,
//!   the shadow weights just follow the model's.
//!
//! Needs the grant `model_parameters = true`. Phases: before-run (shadow
//! copies of the parameters), after-train-iter (update), before/after
//! val-epoch and test-epoch (swap the averaged weights in, then back),
//! after-load-checkpoint (re-initialise the shadows from loaded weights when
//! the checkpoint carried no EMA state, as MMEngine does).
//!
//! State (`HEMA` version 1, see [`hammer_sdk::state`]): the update count,
//! then per parameter its name and its shadow's values as f64.

use hammer_sdk::state::{StateReader, StateWriter};
use hammer_sdk::{export_hook, Hook, Options, Phase, StepInfo, Subscription, Tensor};

/// The options, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Weight of the new parameters in each update.
    pub momentum: f64,
    /// Average every `interval` updates.
    pub interval: u64,
    /// Iterations before averaging starts.
    pub begin_iter: u64,
}

impl Config {
    /// Parses and checks the options.
    pub fn from_options(options: &Options) -> Result<Config, String> {
        options.check_known(&["momentum", "interval", "begin_iter"])?;
        let momentum = options.get_f64("momentum", 0.0002)?;
        if !(momentum > 0.0 && momentum < 1.0) {
            return Err(format!("option `momentum` must be in (0, 1), found {momentum}"));
        }
        let interval = options.get_u64("interval", 1)?;
        if interval == 0 {
            return Err("option `interval` must be at least 1".into());
        }
        Ok(Config { momentum, interval, begin_iter: options.get_u64("begin_iter", 0)? })
    }
}

/// What an after-train-iter does to the shadows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Copy the weights (before `begin_iter`, and at the first update).
    Copy,
    /// `shadow.lerp(param, momentum)`.
    Average,
    /// Nothing (between two `interval`s).
    Skip,
}

/// MMEngine's decision for the iteration `iter` (0-based, just finished)
/// given the number of updates done so far; returns the action and whether
/// it counts as an update.
pub fn plan(config: &Config, iter: u64, updates: u64) -> (Update, bool) {
    // EMAHook._ema_started: runner.iter + 1 >= begin_iter.
    if iter + 1 < config.begin_iter {
        return (Update::Copy, false);
    }
    // BaseAveragedModel.update_parameters.
    let action = if updates == 0 {
        Update::Copy
    } else if updates.is_multiple_of(config.interval) {
        Update::Average
    } else {
        Update::Skip
    };
    (action, true)
}

/// Saved shadow values: (parameter name, values as f64) in model order.
pub type Shadows = Vec<(String, Vec<f64>)>;

/// Encodes the state: update count, then (name, values) per parameter.
pub fn encode_state(updates: u64, shadows: &[(String, Vec<f64>)]) -> Vec<u8> {
    let mut w = StateWriter::new(*b"HEMA", 1);
    w.write_u64(updates).write_u64(shadows.len() as u64);
    for (name, values) in shadows {
        w.write_str(name).write_f64s(values);
    }
    w.finish()
}

/// Decodes what [`encode_state`] wrote.
pub fn decode_state(state: &[u8]) -> Result<(u64, Shadows), String> {
    let mut r = StateReader::new(state, *b"HEMA", 1)?;
    let updates = r.read_u64()?;
    let n = r.read_u64()?;
    let mut shadows = Vec::new();
    for _ in 0..n {
        let name = r.read_str()?;
        shadows.push((name, r.read_f64s()?));
    }
    r.finish()?;
    Ok((updates, shadows))
}

fn is_float(dtype: &str) -> bool {
    matches!(dtype, "f16" | "bf16" | "f32" | "f64" | "float16" | "bfloat16" | "float32" | "float64" | "half" | "float" | "double")
}

/// One parameter and its average.
struct Pair {
    name: String,
    param: Tensor,
    shadow: Tensor,
    float: bool,
}

/// The hook.
#[derive(Default)]
pub struct Ema {
    config: Option<Config>,
    pairs: Vec<Pair>,
    updates: u64,
    /// The averages are in the model (between before- and after-val/test-epoch).
    swapped: bool,
    /// A state loaded before the shadows existed, applied at before-run.
    pending: Option<(u64, Shadows)>,
    /// `load_state` ran since the last after-load-checkpoint.
    state_loaded: bool,
}

impl Ema {
    fn config(&self) -> Result<Config, String> {
        self.config.ok_or_else(|| "ema was called before `setup`".to_string())
    }

    fn create_shadows(&mut self) -> Result<(), String> {
        let params = hammer_sdk::model_parameters().map_err(|e| {
            format!("ema needs the model's parameters: grant them with `model_parameters = true` in this plugin's config ({e})")
        })?;
        self.pairs = params
            .into_iter()
            .map(|(name, param)| {
                let float = is_float(&param.dtype());
                let shadow = param.duplicate();
                Pair { name, param, shadow, float }
            })
            .collect();
        if let Some((updates, values)) = self.pending.take() {
            self.apply_state(updates, values)?;
        }
        Ok(())
    }

    fn update(&mut self, iter: u64) -> Result<(), String> {
        let config = self.config()?;
        let (action, counts) = plan(&config, iter, self.updates);
        for p in &self.pairs {
            let result = match action {
                Update::Copy => p.shadow.copy_from(&p.param),
                Update::Average if p.float => p.shadow.lerp(&p.param, config.momentum),
                Update::Average => p.shadow.copy_from(&p.param),
                Update::Skip => Ok(()),
            };
            result.map_err(|e| format!("updating the average of `{}`: {e}", p.name))?;
        }
        if counts {
            self.updates += 1;
        }
        Ok(())
    }

    fn swap(&mut self) -> Result<(), String> {
        for p in &self.pairs {
            p.shadow.swap(&p.param).map_err(|e| format!("swapping the average of `{}` in: {e}", p.name))?;
        }
        self.swapped = !self.swapped;
        Ok(())
    }

    fn apply_state(&mut self, updates: u64, values: Shadows) -> Result<(), String> {
        if values.len() != self.pairs.len() {
            return Err(format!(
                "the saved EMA has {} parameters, the model {}: was the model changed?",
                values.len(),
                self.pairs.len()
            ));
        }
        for (p, (name, v)) in self.pairs.iter().zip(&values) {
            if *name != p.name {
                return Err(format!("the saved EMA has parameter `{name}` where the model has `{}`", p.name));
            }
            p.shadow.load_values(v).map_err(|e| format!("restoring the average of `{name}`: {e}"))?;
        }
        self.updates = updates;
        Ok(())
    }
}

impl Hook for Ema {
    fn setup(&mut self, options: &Options) -> Result<Vec<Subscription>, String> {
        self.config = Some(Config::from_options(options)?);
        Ok([
            Phase::BeforeRun,
            Phase::AfterLoadCheckpoint,
            Phase::AfterTrainIter,
            Phase::BeforeValEpoch,
            Phase::AfterValEpoch,
            Phase::BeforeTestEpoch,
            Phase::AfterTestEpoch,
        ]
        .map(Subscription::at)
        .to_vec())
    }

    fn on_phase(&mut self, info: &StepInfo) -> Result<(), String> {
        match info.phase {
            Phase::BeforeRun => self.create_shadows(),
            Phase::AfterLoadCheckpoint => {
                if !self.state_loaded && !self.pairs.is_empty() {
                    // No EMA in the checkpoint: start the average from the loaded weights.
                    for p in &self.pairs {
                        p.shadow.copy_from(&p.param).map_err(|e| format!("copying `{}`: {e}", p.name))?;
                    }
                }
                self.state_loaded = false;
                Ok(())
            }
            Phase::AfterTrainIter => self.update(info.iter),
            Phase::BeforeValEpoch | Phase::BeforeTestEpoch if !self.swapped => self.swap(),
            Phase::AfterValEpoch | Phase::AfterTestEpoch if self.swapped => self.swap(),
            _ => Ok(()),
        }
    }

    fn save_state(&self) -> Vec<u8> {
        // Outside evaluation the shadows hold the averages; inside, the model does.
        let values: Shadows = self
            .pairs
            .iter()
            .map(|p| (p.name.clone(), if self.swapped { p.param.to_list() } else { p.shadow.to_list() }))
            .collect();
        encode_state(self.updates, &values)
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        let (updates, values) = decode_state(state)?;
        self.state_loaded = true;
        if self.pairs.is_empty() {
            self.pending = Some((updates, values));
            self.updates = updates;
            Ok(())
        } else {
            if self.swapped {
                self.swap()?;
            }
            self.apply_state(updates, values)
        }
    }
}

export_hook!(Ema);

#[cfg(test)]
mod tests {
    use super::*;
    use hammer_sdk::OptionValue;

    fn config(pairs: &[(&str, OptionValue)]) -> Result<Config, String> {
        Config::from_options(&Options::new(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()))
    }

    #[test]
    fn defaults_and_errors() {
        assert_eq!(config(&[]).unwrap(), Config { momentum: 0.0002, interval: 1, begin_iter: 0 });
        assert!(config(&[("momentum", OptionValue::Integer(1))]).unwrap_err().contains("(0, 1)"));
        assert!(config(&[("interval", OptionValue::Integer(0))]).unwrap_err().contains("at least 1"));
        assert!(config(&[("momentun", OptionValue::Float(0.1))]).unwrap_err().contains("did you mean `momentum`"));
    }

    /// Scalar EMA driven by `plan`, compared with MMEngine's loop written out.
    #[test]
    fn plan_matches_mmengine() {
        let c = Config { momentum: 0.25, interval: 3, begin_iter: 4 };
        let params: Vec<f64> = (0..20).map(|i| (i * i) as f64 * 0.5).collect();
        let (mut ema, mut updates) = (f64::NAN, 0);
        let (mut want, mut steps) = (f64::NAN, 0u64);
        for (iter, &p) in params.iter().enumerate() {
            let iter = iter as u64;
            let (action, counts) = plan(&c, iter, updates);
            match action {
                Update::Copy => ema = p,
                Update::Average => ema += c.momentum * (p - ema),
                Update::Skip => {}
            }
            updates += u64::from(counts);
            // MMEngine: EMAHook.after_train_iter + ExponentialMovingAverage.
            if iter + 1 >= c.begin_iter {
                if steps == 0 {
                    want = p;
                } else if steps % c.interval == 0 {
                    want = want + c.momentum * (p - want);
                }
                steps += 1;
            } else {
                want = p;
            }
            assert_eq!(ema.to_bits(), want.to_bits(), "iteration {iter}");
        }
        assert_eq!(updates, steps);
    }

    #[test]
    fn state_round_trip() {
        let shadows = vec![("w".to_string(), vec![1.0, -2.5]), ("b".to_string(), vec![])];
        let bytes = encode_state(17, &shadows);
        assert_eq!(&bytes[..4], b"HEMA");
        assert_eq!(decode_state(&bytes).unwrap(), (17, shadows));
        assert!(decode_state(&bytes[..bytes.len() - 3]).is_err());
    }
}
