//! The schedulers' math, free of any host call so it is tested natively.
//!
//! Each scheduler follows MMEngine's `_ParamScheduler` (itself modelled on
//! `torch.optim.lr_scheduler`):
//!
//! * a *global step* counts every scheduler step since the start of training:
//!   the epoch (`by_epoch = true`) or the iteration (`by_epoch = false`);
//! * inside the window `begin <= global < end` each step increments
//!   `last_step` (−1 before the first) and computes the new value with the
//!   scheduler's *chainable* formula, which takes the current learning rate
//!   (so several policies in a row compose, as MMEngine's scheduler lists do);
//! * the first step inside the window (`last_step == 0`) applies the initial
//!   value, as torch does when a scheduler is constructed;
//! * outside the window, and between steps, the learning rate is unchanged.
//!
//! `ReduceOnPlateauLR` differs as in MMEngine: it steps only when a
//! validation result is there, never at construction.

use std::f64::consts::PI;

use hammer_sdk::state::{StateReader, StateWriter};
use hammer_sdk::Options;

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

/// How OneCycleLR interpolates inside a phase.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Anneal {
    Cos,
    Linear,
}

impl Anneal {
    fn apply(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            // torch's _annealing_cos, operation for operation.
            Anneal::Cos => {
                let cos_out = (PI * pct).cos() + 1.0;
                end + (start - end) / 2.0 * cos_out
            }
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

/// Which anchor a OneCycleLR phase starts or ends at.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Anchor {
    Initial,
    Max,
    Min,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct CyclePhase {
    end_step: f64,
    lr: (Anchor, Anchor),
    /// Momentum anchors: (start, end), `true` = max_momentum, `false` = base_momentum.
    momentum: (bool, bool),
}

/// The `rule` of a monitored metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Smaller is better.
    Less,
    /// Larger is better.
    Greater,
}

/// The scheduler-specific part.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Constant { factor: f64, total_iters: i64 },
    Step { step_size: i64, gamma: f64 },
    MultiStep { milestones: Vec<i64>, gamma: f64 },
    Exponential { gamma: f64 },
    CosineAnnealing { t_max: i64, eta_min: f64 },
    CosineRestart { periods: Vec<i64>, cumulative: Vec<i64>, weights: Vec<f64>, eta_min: f64 },
    Linear { start: f64, end: f64, total_iters: i64 },
    Poly { eta_min: f64, power: f64, total_iters: i64 },
    OneCycle {
        total_steps: i64,
        phases: Vec<CyclePhase>,
        anneal: Anneal,
        initial_lr: f64,
        max_lr: f64,
        min_lr: f64,
        /// (base_momentum, max_momentum) when momentum cycles.
        momentum: Option<(f64, f64)>,
    },
    Plateau {
        monitor: String,
        rule: Rule,
        factor: f64,
        patience: u64,
        threshold: f64,
        threshold_rel: bool,
        cooldown: u64,
        min_value: f64,
        eps: f64,
        val_interval: u64,
    },
}

/// ReduceOnPlateauLR's running bookkeeping (saved in the state).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Plateau {
    best: f64,
    num_bad: u64,
    cooldown_counter: u64,
    /// The last metric value consumed, to recognise a stale one after a resume.
    last_metric: Option<f64>,
}

/// Where the loop is, as far as a schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Training epochs completed before the current one.
    pub epoch: u64,
    /// Training iterations completed before the current one.
    pub iter: u64,
}

/// One configured scheduler and its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    name: String,
    kind: Kind,
    base_lr: f64,
    by_epoch: bool,
    begin: u64,
    end: Option<u64>,
    /// Steps taken inside the window, minus one (−1: none yet).
    last_step: i64,
    /// Global steps below this one have been processed.
    next_global: u64,
    plateau: Plateau,
    /// Set by `load_state`, cleared by the next step: the first metric seen
    /// after a resume may be the one already consumed before the checkpoint.
    resumed: bool,
}

/// `Options::get_u64`'s result as the signed step arithmetic uses it.
fn to_i64(key: &str, v: u64) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| format!("option `{key}` is too large ({v})"))
}

/// A metric rule: explicit `rule`, else inferred from the monitored name.
pub fn parse_rule(options: &Options, monitor: &str, default: Option<Rule>) -> Result<Rule, String> {
    let inferred = default.unwrap_or(if monitor.to_lowercase().contains("loss") { Rule::Less } else { Rule::Greater });
    let default_name = match inferred {
        Rule::Less => "less",
        Rule::Greater => "greater",
    };
    Ok(match options.get_choice("rule", &["greater", "less"], default_name)?.as_str() {
        "less" => Rule::Less,
        _ => Rule::Greater,
    })
}

impl Schedule {
    /// Builds the schedule the options describe, for an optimizer whose base
    /// learning rate is `base_lr` and base momentum `base_momentum`.
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
        let specific: &[&str] = match name.as_str() {
            "ConstantLR" => &["factor", "total_iters"],
            "StepLR" => &["step_size", "gamma"],
            "MultiStepLR" => &["milestones", "gamma"],
            "ExponentialLR" => &["gamma"],
            "CosineAnnealingLR" => &["T_max", "eta_min", "eta_min_ratio"],
            "CosineRestartLR" => &["periods", "restart_weights", "eta_min", "eta_min_ratio"],
            "LinearLR" => &["start_factor", "end_factor", "total_iters"],
            "PolyLR" => &["eta_min", "power", "total_iters"],
            "OneCycleLR" => &[
                "eta_max",
                "max_lr",
                "total_steps",
                "pct_start",
                "anneal_strategy",
                "div_factor",
                "final_div_factor",
                "three_phase",
                "cycle_momentum",
                "base_momentum",
                "max_momentum",
            ],
            "ReduceOnPlateauLR" => &[
                "monitor",
                "rule",
                "factor",
                "patience",
                "threshold",
                "threshold_rule",
                "threshold_mode",
                "cooldown",
                "min_value",
                "eps",
                "val_interval",
            ],
            _ => unreachable!(),
        };
        let known: Vec<&str> = COMMON.iter().chain(specific).copied().collect();
        options.check_known(&known).map_err(|e| format!("{name}: {e}"))?;
        Self::build(&name, options, base_lr, base_momentum).map_err(|e| format!("{name}: {e}"))
    }

    fn build(name: &str, o: &Options, base_lr: f64, base_momentum: Option<f64>) -> Result<Schedule, String> {
        let by_epoch = o.get_bool("by_epoch", true)?;
        let begin = o.get_u64("begin", 0)?;
        let end = match o.optional_f64("end")? {
            None => None,
            Some(e) if e == f64::INFINITY => None,
            Some(_) => Some(o.require_u64("end")?),
        };
        if let Some(end) = end {
            if end <= begin {
                return Err(format!("`end` ({end}) must be larger than `begin` ({begin})"));
            }
        }
        let unit = if by_epoch { "epochs" } else { "iterations" };
        // MMEngine derives the length of warm-up-like schedules from the
        // window (end - begin - 1); torch's default is 5 steps.
        let window_total = |key: &str| -> Result<i64, String> {
            match o.optional_u64(key)? {
                Some(t) => to_i64(key, t),
                None => Ok(match end {
                    Some(e) => (e - begin - 1) as i64,
                    None => 5,
                }),
            }
        };
        let eta_min = |key_ratio: &str| -> Result<f64, String> {
            match (o.optional_f64("eta_min")?, o.optional_f64(key_ratio)?) {
                (Some(_), Some(_)) => Err(format!("give either `eta_min` or `{key_ratio}`, not both")),
                (Some(m), None) => Ok(m),
                (None, Some(r)) => Ok(base_lr * r),
                (None, None) => Ok(0.0),
            }
        };
        let kind = match name {
            "ConstantLR" => {
                let factor = o.get_f64("factor", 1.0 / 3.0)?;
                if !(0.0..=1.0).contains(&factor) {
                    return Err(format!("`factor` must be between 0 and 1, found {factor}"));
                }
                Kind::Constant { factor, total_iters: window_total("total_iters")? }
            }
            "StepLR" => {
                let step_size = to_i64("step_size", o.require_u64("step_size")?)?;
                if step_size == 0 {
                    return Err("`step_size` must be at least 1".into());
                }
                Kind::Step { step_size, gamma: o.get_f64("gamma", 0.1)? }
            }
            "MultiStepLR" => {
                let milestones = o.require_i64_list("milestones")?;
                if milestones.iter().any(|&m| m < 0) {
                    return Err("`milestones` must be non-negative".into());
                }
                Kind::MultiStep { milestones, gamma: o.get_f64("gamma", 0.1)? }
            }
            "ExponentialLR" => Kind::Exponential { gamma: o.require_f64("gamma")? },
            "CosineAnnealingLR" => {
                let t_max = match o.optional_u64("T_max")? {
                    Some(t) => to_i64("T_max", t)?,
                    None => match end {
                        Some(e) => (e - begin) as i64,
                        None => return Err(format!("give `T_max` (in {unit}) or a finite `end`")),
                    },
                };
                if t_max == 0 {
                    return Err("`T_max` must be at least 1".into());
                }
                Kind::CosineAnnealing { t_max, eta_min: eta_min("eta_min_ratio")? }
            }
            "CosineRestartLR" => {
                let periods = o.require_i64_list("periods")?;
                if periods.is_empty() || periods.iter().any(|&p| p < 1) {
                    return Err("`periods` must be a non-empty list of positive integers".into());
                }
                let weights = o.get_f64_list("restart_weights", &vec![1.0; periods.len()])?;
                if weights.len() != periods.len() {
                    return Err(format!(
                        "`restart_weights` has {} values for {} `periods`; give one per period",
                        weights.len(),
                        periods.len()
                    ));
                }
                let cumulative = periods
                    .iter()
                    .scan(0i64, |acc, &p| {
                        *acc += p;
                        Some(*acc)
                    })
                    .collect();
                Kind::CosineRestart { periods, cumulative, weights, eta_min: eta_min("eta_min_ratio")? }
            }
            "LinearLR" => {
                let start = o.get_f64("start_factor", 1.0 / 3.0)?;
                let endf = o.get_f64("end_factor", 1.0)?;
                if !(start > 0.0 && start <= 1.0) {
                    return Err(format!("`start_factor` must be in (0, 1], found {start}"));
                }
                if !(0.0..=1.0).contains(&endf) {
                    return Err(format!("`end_factor` must be between 0 and 1, found {endf}"));
                }
                let total_iters = window_total("total_iters")?;
                if total_iters == 0 {
                    return Err("`total_iters` must be at least 1".into());
                }
                Kind::Linear { start, end: endf, total_iters }
            }
            "PolyLR" => {
                let total_iters = window_total("total_iters")?;
                if total_iters == 0 {
                    return Err("`total_iters` must be at least 1".into());
                }
                Kind::Poly { eta_min: o.get_f64("eta_min", 0.0)?, power: o.get_f64("power", 1.0)?, total_iters }
            }
            "OneCycleLR" => one_cycle(o, begin, end, unit, base_momentum)?,
            "ReduceOnPlateauLR" => {
                if !by_epoch {
                    return Err("only `by_epoch = true` is supported (as in MMEngine): it steps after validation epochs".into());
                }
                let monitor = o.get_str("monitor", "loss")?;
                let rule = parse_rule(o, &monitor, Some(Rule::Less))?;
                let factor = o.get_f64("factor", 0.1)?;
                if factor >= 1.0 {
                    return Err(format!("`factor` must be < 1.0, found {factor}"));
                }
                let threshold = o.get_f64("threshold", 1e-4)?;
                if threshold < 0.0 {
                    return Err(format!("`threshold` must be >= 0, found {threshold}"));
                }
                if o.contains("threshold_rule") && o.contains("threshold_mode") {
                    return Err("give either `threshold_rule` or its alias `threshold_mode`, not both".into());
                }
                let key = if o.contains("threshold_mode") { "threshold_mode" } else { "threshold_rule" };
                let threshold_rel = o.get_choice(key, &["rel", "abs"], "rel")? == "rel";
                let val_interval = o.get_u64("val_interval", 1)?;
                if val_interval == 0 {
                    return Err("`val_interval` must be at least 1".into());
                }
                Kind::Plateau {
                    monitor,
                    rule,
                    factor,
                    patience: o.get_u64("patience", 10)?,
                    threshold,
                    threshold_rel,
                    cooldown: o.get_u64("cooldown", 0)?,
                    min_value: o.get_f64("min_value", 0.0)?,
                    eps: o.get_f64("eps", 1e-8)?,
                    val_interval,
                }
            }
            _ => unreachable!(),
        };
        let best = match &kind {
            Kind::Plateau { rule: Rule::Greater, .. } => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        };
        Ok(Schedule {
            name: name.to_string(),
            kind,
            base_lr,
            by_epoch,
            begin,
            end,
            last_step: -1,
            next_global: 0,
            plateau: Plateau { best, num_bad: 0, cooldown_counter: 0, last_metric: None },
            resumed: false,
        })
    }

    /// The scheduler's MMEngine name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the schedule counts epochs (else iterations).
    pub fn by_epoch(&self) -> bool {
        self.by_epoch
    }

    /// The host scalar the schedule reads, if any (`val/<monitor>`).
    pub fn monitored_scalar(&self) -> Option<String> {
        match &self.kind {
            Kind::Plateau { monitor, .. } => Some(format!("val/{monitor}")),
            _ => None,
        }
    }

    /// The learning rate (and momentum, if the schedule sets it) for the
    /// training iteration at `pos`, given the current learning rate. `scalar` reads a
    /// host scalar (only ReduceOnPlateauLR uses it).
    pub fn step(
        &mut self,
        pos: Position,
        mut lr: f64,
        scalar: &mut dyn FnMut(&str) -> Option<f64>,
    ) -> Result<(f64, Option<f64>), String> {
        let global = if self.by_epoch { pos.epoch } else { pos.iter };
        let mut new_momentum = None;
        if global < self.next_global {
            // Already stepped for this epoch (or the host went back): unchanged.
            return Ok((lr, None));
        }
        if matches!(self.kind, Kind::Plateau { .. }) {
            // Steps of a plateau schedule happen at validation results only;
            // intermediate epochs have nothing to catch up on.
            self.next_global = global + 1;
            lr = self.plateau_step(global, lr, scalar);
            self.resumed = false;
            return Ok((lr, None));
        }
        while self.next_global <= global {
            let g = self.next_global;
            self.next_global += 1;
            if g >= self.begin && self.end.is_none_or(|e| g < e) {
                self.last_step += 1;
                let (l, m) = self.value(lr)?;
                lr = l;
                if m.is_some() {
                    new_momentum = m;
                }
            }
        }
        self.resumed = false;
        Ok((lr, new_momentum))
    }

    /// The chainable formula at `self.last_step`, from the current lr.
    fn value(&self, lr: f64) -> Result<(f64, Option<f64>), String> {
        let t = self.last_step;
        let base = self.base_lr;
        let lr = match &self.kind {
            Kind::Constant { factor, total_iters } => {
                if t == 0 {
                    lr * factor
                } else if t != *total_iters {
                    lr
                } else {
                    lr * (1.0 / factor)
                }
            }
            Kind::Step { step_size, gamma } => {
                if t == 0 || t % step_size != 0 {
                    lr
                } else {
                    lr * gamma
                }
            }
            Kind::MultiStep { milestones, gamma } => {
                let count = milestones.iter().filter(|&&m| m == t).count();
                if count == 0 {
                    lr
                } else {
                    lr * gamma.powf(count as f64)
                }
            }
            Kind::Exponential { gamma } => {
                if t == 0 {
                    lr
                } else {
                    lr * gamma
                }
            }
            Kind::CosineAnnealing { t_max, eta_min } => {
                let tm = *t_max as f64;
                if t == 0 {
                    lr
                } else if (t - 1 - t_max).rem_euclid(2 * t_max) == 0 {
                    lr + (base - eta_min) * (1.0 - (PI / tm).cos()) / 2.0
                } else {
                    (1.0 + (PI * t as f64 / tm).cos()) / (1.0 + (PI * (t - 1) as f64 / tm).cos()) * (lr - eta_min)
                        + eta_min
                }
            }
            Kind::CosineRestart { periods, cumulative, weights, eta_min } => {
                match cumulative.iter().position(|&c| t < c) {
                    None => lr,
                    Some(idx) => {
                        let restart = if idx == 0 { 0 } else { cumulative[idx - 1] };
                        let period = periods[idx] as f64;
                        let step = t - restart;
                        if step == 0 {
                            base * weights[idx]
                        } else {
                            (1.0 + (PI * step as f64 / period).cos()) / (1.0 + (PI * (step - 1) as f64 / period).cos())
                                * (lr - eta_min)
                                + eta_min
                        }
                    }
                }
            }
            Kind::Linear { start, end, total_iters } => {
                if t == 0 {
                    lr * start
                } else if t > *total_iters {
                    lr
                } else {
                    lr * (1.0 + (end - start) / (*total_iters as f64 * start + (t - 1) as f64 * (end - start)))
                }
            }
            Kind::Poly { eta_min, power, total_iters } => {
                if t == 0 || t > *total_iters {
                    lr
                } else {
                    (lr - eta_min) * (1.0 - 1.0 / (total_iters - t + 1) as f64).powf(*power) + eta_min
                }
            }
            Kind::OneCycle { total_steps, phases, anneal, initial_lr, max_lr, min_lr, momentum } => {
                if t > *total_steps {
                    return Err(format!(
                        "OneCycleLR stepped {} times but `total_steps` is {total_steps}: make `total_steps` (or `end`) cover the whole training",
                        t + 1
                    ));
                }
                let anchor = |a: Anchor| match a {
                    Anchor::Initial => *initial_lr,
                    Anchor::Max => *max_lr,
                    Anchor::Min => *min_lr,
                };
                let mut start_step = 0.0;
                let tf = t as f64;
                for (i, phase) in phases.iter().enumerate() {
                    if tf <= phase.end_step || i == phases.len() - 1 {
                        let pct = (tf - start_step) / (phase.end_step - start_step);
                        let lr = anneal.apply(anchor(phase.lr.0), anchor(phase.lr.1), pct);
                        let m = momentum.map(|(base_m, max_m)| {
                            let pick = |is_max: bool| if is_max { max_m } else { base_m };
                            anneal.apply(pick(phase.momentum.0), pick(phase.momentum.1), pct)
                        });
                        return Ok((lr, m));
                    }
                    start_step = phase.end_step;
                }
                unreachable!("OneCycleLR has at least one phase")
            }
            Kind::Plateau { .. } => unreachable!("plateau schedules step in plateau_step"),
        };
        Ok((lr, None))
    }

    /// ReduceOnPlateauLR at the start of training epoch `global`: consumes the
    /// validation result of the epoch before, if there is one.
    fn plateau_step(&mut self, global: u64, lr: f64, scalar: &mut dyn FnMut(&str) -> Option<f64>) -> f64 {
        let Kind::Plateau {
            monitor,
            rule,
            factor,
            patience,
            threshold,
            threshold_rel,
            cooldown,
            min_value,
            eps,
            val_interval,
        } = &self.kind
        else {
            unreachable!()
        };
        // MMEngine steps in after_val_epoch, when `global` training epochs are
        // done; validation runs every `val_interval` epochs.
        if global == 0 || !global.is_multiple_of(*val_interval) {
            return lr;
        }
        let Some(metric) = scalar(&format!("val/{monitor}")) else {
            return lr; // no validation yet (before val_begin)
        };
        if self.resumed && self.plateau.last_metric.map(f64::to_bits) == Some(metric.to_bits()) {
            return lr; // the value consumed before the checkpoint, restored with it
        }
        if !(self.begin <= global && self.end.is_none_or(|e| global < e)) {
            return lr;
        }
        self.plateau.last_metric = Some(metric);
        self.last_step += 1;
        let p = &mut self.plateau;
        let better = match (rule, threshold_rel) {
            (Rule::Less, true) => metric < p.best * (1.0 - threshold),
            (Rule::Less, false) => metric < p.best - threshold,
            (Rule::Greater, true) => metric > p.best * (threshold + 1.0),
            (Rule::Greater, false) => metric > p.best + threshold,
        };
        if better {
            p.best = metric;
            p.num_bad = 0;
        } else {
            p.num_bad += 1;
        }
        if p.cooldown_counter > 0 {
            p.cooldown_counter -= 1;
            p.num_bad = 0;
        }
        let mut lr = lr;
        if p.num_bad > *patience {
            let new_lr = (lr * factor).max(*min_value);
            if lr - new_lr > *eps {
                lr = new_lr;
            }
            p.cooldown_counter = *cooldown;
            p.num_bad = 0;
        }
        lr
    }

    /// The schedule's progress as bytes (format `HELR` version 1: type name,
    /// last_step, next global step, plateau best, bad epochs, cooldown, last metric).
    pub fn save_state(&self) -> Vec<u8> {
        let mut w = StateWriter::new(*b"HELR", 1);
        w.write_str(&self.name)
            .write_i64(self.last_step)
            .write_u64(self.next_global)
            .write_f64(self.plateau.best)
            .write_u64(self.plateau.num_bad)
            .write_u64(self.plateau.cooldown_counter)
            .write_opt_f64(self.plateau.last_metric);
        w.finish()
    }

    /// Restores what `save_state` returned.
    pub fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        let mut r = StateReader::new(state, *b"HELR", 1)?;
        let name = r.read_str()?;
        if name != self.name {
            return Err(format!("the saved state is a {name}'s, but this policy is configured as {}", self.name));
        }
        let last_step = r.read_i64()?;
        let next_global = r.read_u64()?;
        let plateau = Plateau {
            best: r.read_f64()?,
            num_bad: r.read_u64()?,
            cooldown_counter: r.read_u64()?,
            last_metric: r.read_opt_f64()?,
        };
        r.finish()?;
        self.last_step = last_step;
        self.next_global = next_global;
        self.plateau = plateau;
        self.resumed = true;
        Ok(())
    }
}

fn one_cycle(o: &Options, begin: u64, end: Option<u64>, unit: &str, base_momentum: Option<f64>) -> Result<Kind, String> {
    if o.contains("eta_max") && o.contains("max_lr") {
        return Err("give either `eta_max` or its alias `max_lr`, not both".into());
    }
    let max_lr = if o.contains("max_lr") { o.require_f64("max_lr")? } else { o.require_f64("eta_max")? };
    let total_steps = match o.optional_u64("total_steps")? {
        Some(t) => to_i64("total_steps", t)?,
        None => match end {
            Some(e) => (e - begin) as i64,
            None => return Err(format!("give `total_steps` (in {unit}) or a finite `end`")),
        },
    };
    if total_steps == 0 {
        return Err("`total_steps` must be at least 1".into());
    }
    let pct_start = o.get_f64("pct_start", 0.3)?;
    if !(0.0..=1.0).contains(&pct_start) {
        return Err(format!("`pct_start` must be between 0 and 1, found {pct_start}"));
    }
    let anneal = match o.get_choice("anneal_strategy", &["cos", "linear"], "cos")?.as_str() {
        "cos" => Anneal::Cos,
        _ => Anneal::Linear,
    };
    let div_factor = o.get_f64("div_factor", 25.0)?;
    let final_div_factor = o.get_f64("final_div_factor", 1e4)?;
    let three_phase = o.get_bool("three_phase", false)?;
    let total = total_steps as f64;
    let phases = if three_phase {
        vec![
            CyclePhase { end_step: pct_start * total - 1.0, lr: (Anchor::Initial, Anchor::Max), momentum: (true, false) },
            CyclePhase { end_step: 2.0 * pct_start * total - 2.0, lr: (Anchor::Max, Anchor::Initial), momentum: (false, true) },
            CyclePhase { end_step: total - 1.0, lr: (Anchor::Initial, Anchor::Min), momentum: (true, true) },
        ]
    } else {
        vec![
            CyclePhase { end_step: pct_start * total - 1.0, lr: (Anchor::Initial, Anchor::Max), momentum: (true, false) },
            CyclePhase { end_step: total - 1.0, lr: (Anchor::Max, Anchor::Min), momentum: (false, true) },
        ]
    };
    // torch cycles momentum by default; an optimizer without momentum cannot.
    let cycle = match o.optional_bool("cycle_momentum")? {
        Some(true) if base_momentum.is_none() => {
            return Err("`cycle_momentum = true` needs an optimizer with momentum (SGD's momentum or Adam's beta1)".into())
        }
        Some(c) => c,
        None => base_momentum.is_some(),
    };
    let momentum = if cycle {
        Some((o.get_f64("base_momentum", 0.85)?, o.get_f64("max_momentum", 0.95)?))
    } else {
        None
    };
    let initial_lr = max_lr / div_factor;
    Ok(Kind::OneCycle {
        total_steps,
        phases,
        anneal,
        initial_lr,
        max_lr,
        min_lr: initial_lr / final_div_factor,
        momentum,
    })
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
