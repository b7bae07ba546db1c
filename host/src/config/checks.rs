//! Semantic checks of a deserialized config that serde cannot express: the
//! training length and validation schedule, the optimizer's keys, gradient
//! clipping, and the names and ranges of every built-by-name section.

use super::validate::{key_error, ConfigError};
use super::{ClipGradConfig, Config, DataLoaderConfig, OptimizerConfig, PluginConfig, TrainConfig};

/// Semantic checks of a deserialized config that serde cannot express: the
/// training length and validation schedule, the optimizer's keys, gradient
/// clipping, and the names and ranges of every built-by-name section.
///
/// # Errors
/// The first problem found, naming its key path.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    check_model(config)?;
    for (name, loader) in [
        ("train_dataloader", &config.train_dataloader),
        ("val_dataloader", &config.val_dataloader),
        ("test_dataloader", &config.test_dataloader),
    ] {
        if let Some(loader) = loader {
            check_dataloader(name, loader)?;
        }
    }
    check_train_cfg(&config.train_cfg, config.train_dataloader.is_some())?;
    check_optimizer(&config.optim.optimizer)?;
    if let Some(clip) = &config.optim.clip_grad {
        check_clip_grad(clip)?;
    }
    at_least_one("optim.accumulative_counts", u64::from(config.optim.accumulative_counts))?;
    for (index, metric) in config.val_evaluator.iter().enumerate() {
        one_of(
            &format!("val_evaluator.{index}.type"),
            "metric",
            &metric.kind,
            &["accuracy", "loss"],
        )?;
    }
    if config.checkpoint.max_keep_ckpts < -1 {
        return Err(key_error(
            "checkpoint.max_keep_ckpts",
            format!("must be -1 (keep all) or a count, found {}", config.checkpoint.max_keep_ckpts),
        ));
    }
    at_least_one("log.interval", config.log.interval)?;
    if !valid_device(&config.env.device) {
        return Err(key_error(
            "env.device",
            format!(
                "unknown device `{}`; expected `cpu`, `cuda`, `cuda:N` (N a GPU index) or `auto`",
                config.env.device
            ),
        ));
    }
    at_least_one("env.num_threads", u64::from(config.env.num_threads))?;
    let dist = &config.env.dist_cfg;
    one_of("env.dist_cfg.backend", "c10d backend", &dist.backend, &["auto", "gloo", "nccl"])?;
    for (key, value) in [("env.dist_cfg.timeout", dist.timeout), ("env.dist_cfg.bucket_cap_mb", dist.bucket_cap_mb)] {
        if !(value.is_finite() && value > 0.0) {
            return Err(key_error(key, format!("must be a positive number, found {value}")));
        }
    }
    for (i, plugin) in config.plugins.iter().enumerate() {
        check_plugin(i, plugin)?;
    }
    Ok(())
}

fn check_plugin(i: usize, plugin: &PluginConfig) -> Result<(), ConfigError> {
    let key = |k: &str| format!("plugins.{i}.{k}");
    if plugin.name.is_none() && plugin.path.is_none() {
        return Err(ConfigError::with_key(
            format!("plugins.{i}"),
            format!("missing config key `plugins.{i}.name`: a plugin needs a `name` (looked up in the plugin path) or a `path`"),
        ));
    }
    one_of(&key("on_error"), "error policy", &plugin.on_error, &["abort", "disable"])?;
    if plugin.priority > 100 {
        return Err(key_error(&key("priority"), format!("must be from 0 (first) to 100 (last), found {}", plugin.priority)));
    }
    at_least_one(&key("timeout_ms"), plugin.timeout_ms)?;
    at_least_one(&key("memory_mb"), plugin.memory_mb)
}

fn check_model(config: &Config) -> Result<(), ConfigError> {
    let model = &config.model;
    one_of("model.type", "model", &model.kind, crate::model::MODEL_TYPES)?;
    one_of("env.amp", "precision", &config.env.amp, &["none", "bf16", "fp16"])?;
    if model.kind == "torchscript" && model.path.is_none() {
        return Err(key_error("model.path", "a `torchscript` model needs `path`, the file `torch.jit.save` wrote".to_string()));
    }
    one_of(
        "model.activation",
        "activation",
        &model.activation,
        &["relu", "silu", "tanh", "gelu", "none"],
    )?;
    for (key, value) in [
        ("model.in_features", model.in_features),
        ("model.in_channels", model.in_channels),
        ("model.image_size", model.image_size),
        ("model.hidden", model.hidden),
        ("model.num_classes", model.num_classes),
    ] {
        if value < 1 {
            return Err(key_error(key, format!("must be at least 1, found {value}")));
        }
    }
    one_of("loss.type", "loss", &config.loss.kind, &["cross_entropy", "mse"])
}

fn check_dataloader(name: &str, loader: &DataLoaderConfig) -> Result<(), ConfigError> {
    crate::data::check_config(&format!("{name}.dataset"), &loader.dataset).map_err(|(key, message)| {
        if message.starts_with("missing config key") { ConfigError::with_key(key, message) } else { key_error(&key, message) }
    })?;
    at_least_one(&format!("{name}.num_workers"), loader.num_workers as u64)?;
    at_least_one(&format!("{name}.batch_size"), loader.batch_size as u64)
}

fn check_train_cfg(cfg: &TrainConfig, training: bool) -> Result<(), ConfigError> {
    let (unit, wanted, other) = if cfg.by_epoch {
        (
            "epoch",
            ("max_epochs", cfg.max_epochs.map(u64::from)),
            ("max_iters", cfg.max_iters.is_some()),
        )
    } else {
        ("iteration", ("max_iters", cfg.max_iters), ("max_epochs", cfg.max_epochs.is_some()))
    };
    if other.1 {
        return Err(key_error(
            &format!("train_cfg.{}", other.0),
            format!(
                "not allowed when `train_cfg.by_epoch` is {}; training is counted in {unit}s, \
                 so use `train_cfg.{}`",
                cfg.by_epoch, wanted.0
            ),
        ));
    }
    match wanted.1 {
        Some(n) => at_least_one(&format!("train_cfg.{}", wanted.0), n)?,
        None if training => {
            let key = format!("train_cfg.{}", wanted.0);
            return Err(ConfigError::with_key(
                key.clone(),
                format!(
                    "missing config key `{key}`: the length of training is required when \
                     `train_cfg.by_epoch` is {}",
                    cfg.by_epoch
                ),
            ));
        }
        None => {}
    }
    if let Some(interval) = cfg.val_interval {
        at_least_one("train_cfg.val_interval", interval)?;
    }
    if let Some(workflow) = &cfg.workflow {
        for other in ["val_begin", "val_interval"] {
            let given = if other == "val_begin" {
                cfg.val_begin.is_some()
            } else {
                cfg.val_interval.is_some()
            };
            if given {
                return Err(key_error(
                    "train_cfg.workflow",
                    format!(
                        "cannot be combined with `train_cfg.{other}`: the workflow already says \
                         when to validate"
                    ),
                ));
            }
        }
        for (index, (phase, count)) in workflow.iter().enumerate() {
            one_of(
                &format!("train_cfg.workflow.{index}.0"),
                "workflow phase",
                phase,
                &["train", "val"],
            )?;
            at_least_one(&format!("train_cfg.workflow.{index}.1"), *count)?;
        }
        if !workflow.iter().any(|(phase, _)| phase == "train") {
            return Err(key_error("train_cfg.workflow", "needs at least one `train` entry"));
        }
    }
    Ok(())
}

fn check_optimizer(opt: &OptimizerConfig) -> Result<(), ConfigError> {
    let kind = opt.kind.to_ascii_lowercase();
    let applicable: &[&str] = match kind.as_str() {
        "sgd" => &["lr", "momentum", "dampening", "nesterov", "weight_decay"],
        "adam" | "adamw" => &["lr", "betas", "eps", "weight_decay", "amsgrad"],
        _ => {
            return Err(key_error(
                "optim.optimizer.type",
                format!("unknown optimizer `{}`; expected one of `sgd`, `adam`, `adamw`", opt.kind),
            ));
        }
    };
    let given = [
        ("momentum", opt.momentum.is_some()),
        ("dampening", opt.dampening.is_some()),
        ("nesterov", opt.nesterov.is_some()),
        ("weight_decay", opt.weight_decay.is_some()),
        ("betas", opt.betas.is_some()),
        ("eps", opt.eps.is_some()),
        ("amsgrad", opt.amsgrad.is_some()),
    ];
    for (name, present) in given {
        if present && !applicable.contains(&name) {
            let list: Vec<String> = applicable.iter().map(|k| format!("`{k}`")).collect();
            return Err(key_error(
                &format!("optim.optimizer.{name}"),
                format!(
                    "does not apply to optimizer `{}` (its keys are `type`, {})",
                    opt.kind,
                    list.join(", ")
                ),
            ));
        }
    }
    non_negative("optim.optimizer.lr", opt.lr)?;
    for (name, value) in [
        ("momentum", opt.momentum),
        ("dampening", opt.dampening),
        ("weight_decay", opt.weight_decay),
        ("eps", opt.eps),
    ] {
        if let Some(value) = value {
            non_negative(&format!("optim.optimizer.{name}"), value)?;
        }
    }
    if let Some((beta1, beta2)) = opt.betas {
        for (index, beta) in [beta1, beta2].into_iter().enumerate() {
            if !(0.0..1.0).contains(&beta) {
                return Err(key_error(
                    &format!("optim.optimizer.betas.{index}"),
                    format!("must be in [0, 1), found {beta}"),
                ));
            }
        }
    }
    if opt.nesterov == Some(true)
        && (opt.momentum.unwrap_or(0.0) <= 0.0 || opt.dampening.unwrap_or(0.0) != 0.0)
    {
        return Err(key_error(
            "optim.optimizer.nesterov",
            "Nesterov momentum requires `momentum` > 0 and `dampening` = 0",
        ));
    }
    Ok(())
}

fn check_clip_grad(clip: &ClipGradConfig) -> Result<(), ConfigError> {
    match clip.kind.as_str() {
        "norm" => {
            if clip.clip_value.is_some() {
                return Err(key_error(
                    "optim.clip_grad.clip_value",
                    "does not apply to clipping by `norm` (use `max_norm`, or `type = \"value\"`)",
                ));
            }
            let Some(max_norm) = clip.max_norm else {
                return Err(ConfigError::with_key(
                    "optim.clip_grad.max_norm",
                    "missing config key `optim.clip_grad.max_norm`: required when \
                     `optim.clip_grad.type` is `norm`",
                ));
            };
            non_negative("optim.clip_grad.max_norm", max_norm)?;
            if let Some(norm_type) = clip.norm_type {
                if norm_type.is_nan() || norm_type <= 0.0 {
                    return Err(key_error(
                        "optim.clip_grad.norm_type",
                        format!("must be positive (or `inf`), found {norm_type}"),
                    ));
                }
            }
            Ok(())
        }
        "value" => {
            for (name, present) in
                [("max_norm", clip.max_norm.is_some()), ("norm_type", clip.norm_type.is_some())]
            {
                if present {
                    return Err(key_error(
                        &format!("optim.clip_grad.{name}"),
                        "does not apply to clipping by `value` (use `clip_value`, or `type = \"norm\"`)",
                    ));
                }
            }
            let Some(clip_value) = clip.clip_value else {
                return Err(ConfigError::with_key(
                    "optim.clip_grad.clip_value",
                    "missing config key `optim.clip_grad.clip_value`: required when \
                     `optim.clip_grad.type` is `value`",
                ));
            };
            non_negative("optim.clip_grad.clip_value", clip_value)
        }
        other => Err(key_error(
            "optim.clip_grad.type",
            format!("unknown clipping type `{other}`; expected `norm` or `value`"),
        )),
    }
}

/// `value` must be one of `valid`; `what` names the kind of thing in messages.
fn one_of(key: &str, what: &str, value: &str, valid: &[&str]) -> Result<(), ConfigError> {
    if valid.contains(&value) {
        return Ok(());
    }
    let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
    let expected = match list.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
        [] => String::new(),
    };
    Err(key_error(key, format!("unknown {what} `{value}`; expected {expected}")))
}

fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value >= 1 {
        Ok(())
    } else {
        Err(key_error(key, format!("must be at least 1, found {value}")))
    }
}

fn non_negative(key: &str, value: f64) -> Result<(), ConfigError> {
    if value >= 0.0 {
        Ok(())
    } else {
        Err(key_error(key, format!("must be a non-negative number, found {value}")))
    }
}

/// `cpu`, `cuda`, `cuda:N` or `auto`.
pub(crate) fn valid_device(device: &str) -> bool {
    match device {
        "cpu" | "cuda" | "auto" => true,
        _ => device
            .strip_prefix("cuda:")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
    }
}
