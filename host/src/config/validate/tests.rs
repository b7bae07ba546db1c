//! Tests of [`super`] (validate).

use super::*;
use serde_json::json;

/// The smallest valid config, as a tree.
fn minimal() -> Value {
    json!({
        "model": {"type": "mlp"},
        "train_dataloader": {"dataset": {"type": "two_rings", "size": 100}, "batch_size": 10},
        "train_cfg": {"max_epochs": 3},
    })
}

/// `minimal()` with `value` at dotted `path` (creating tables as needed).
fn with(path: &str, value: Value) -> Value {
    let mut tree = minimal();
    set(&mut tree, path, value);
    tree
}

fn set(tree: &mut Value, path: &str, value: Value) {
    let mut node = tree;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        node =
            node.as_object_mut().unwrap().entry(part.to_string()).or_insert_with(|| json!({}));
    }
    node.as_object_mut().unwrap().insert(parts[parts.len() - 1].to_string(), value);
}

fn err(tree: Value) -> ConfigError {
    from_tree(tree).expect_err("the config should be rejected")
}

fn assert_err(tree: Value, key: &str, message: &str) {
    let e = err(tree);
    assert_eq!(e.key(), Some(key), "{e}");
    assert_eq!(e.to_string(), message);
}

fn assert_err_contains(tree: Value, key: &str, part: &str) {
    let e = err(tree);
    assert_eq!(e.key(), Some(key), "{e}");
    assert!(e.to_string().contains(part), "{e}");
    assert!(!e.to_string().contains('\n'), "{e}");
}

#[test]
fn minimal_config_gets_defaults() {
    let config = from_tree(minimal()).unwrap();
    assert_eq!(config.model.hidden, 64);
    assert_eq!(config.optim.optimizer.kind, "adam");
    assert_eq!(config.val_evaluator.len(), 1);
    assert_eq!(config.train_cfg.max_epochs, Some(3));
}

#[test]
fn non_finite_floats_are_read_back() {
    let tree = with("optim.clip_grad", json!({"max_norm": 1.0, "norm_type": "inf"}));
    let config = from_tree(tree).unwrap();
    assert_eq!(config.optim.clip_grad.unwrap().norm_type, Some(f64::INFINITY));
    // but not where a string or an integer is expected
    assert_err(
        with("train_cfg.max_epochs", json!("inf")),
        "train_cfg.max_epochs",
        "config key `train_cfg.max_epochs`: expected a non-negative integer, found string \"inf\"",
    );
}

#[test]
fn unknown_key_with_suggestion_at_a_nested_path() {
    let mut tree = minimal();
    tree["train_cfg"] = json!({"max_epoch": 3});
    assert_err(
        tree,
        "train_cfg.max_epoch",
        "unknown config key `train_cfg.max_epoch`; did you mean `max_epochs`? (valid keys here: \
         `by_epoch`, `max_epochs`, `max_iters`, `val_begin`, `val_interval`, `workflow`)",
    );
    assert_err_contains(
        with("optim.optimizer.momentom", json!(0.9)),
        "optim.optimizer.momentom",
        "unknown config key `optim.optimizer.momentom`; did you mean `momentum`?",
    );
    assert_err_contains(
        with("trian_cfg", json!({})),
        "trian_cfg",
        "unknown config key `trian_cfg`; did you mean `train_cfg`?",
    );
}

#[test]
fn unknown_key_in_a_list_and_without_suggestion() {
    let tree = with("val_evaluator", json!([{"type": "accuracy"}, {"kind": "loss"}]));
    assert_err(
        tree,
        "val_evaluator.1.kind",
        "unknown config key `val_evaluator.1.kind` (valid keys here: `type`)",
    );
    let e = err(with("env.zzzzzz", json!(1)));
    assert!(!e.to_string().contains("did you mean"), "{e}");
    assert!(
        e.to_string()
            .contains("(valid keys here: `device`, `num_threads`, `seed`, `deterministic`, `amp`, `dist_cfg`)"),
        "{e}"
    );
}

#[test]
fn closest_name() {
    assert_eq!(
        closest("max_epoch", &["by_epoch", "max_epochs", "max_iters"]),
        Some("max_epochs")
    );
    assert_eq!(closest("lrr", &["lr", "momentum"]), Some("lr"));
    assert_eq!(closest("Batch_Size", &["dataset", "batch_size"]), Some("batch_size"));
    assert_eq!(closest("zzz", &["lr", "momentum"]), None);
}

#[test]
fn wrong_type_names_expected_and_found() {
    assert_err(
        with("train_cfg.max_epochs", json!("ten")),
        "train_cfg.max_epochs",
        "config key `train_cfg.max_epochs`: expected a non-negative integer, found string \"ten\"",
    );
    assert_err(
        with("train_cfg.max_epochs", json!(-1)),
        "train_cfg.max_epochs",
        "config key `train_cfg.max_epochs`: expected a non-negative integer, found integer -1",
    );
    assert_err(
        with("env.deterministic", json!(1)),
        "env.deterministic",
        "config key `env.deterministic`: expected a boolean, found integer 1",
    );
    assert_err(
        with("optim.optimizer", json!({"type": "adam", "lr": "fast"})),
        "optim.optimizer.lr",
        "config key `optim.optimizer.lr`: expected a number, found string \"fast\"",
    );
    assert_err(
        with("train_cfg", json!(5)),
        "train_cfg",
        "config key `train_cfg`: expected a table, found integer 5",
    );
    assert_err(
        with("model.type", json!(["mlp"])),
        "model.type",
        "config key `model.type`: expected a string, found a list",
    );
    assert_err(
        with("val_evaluator", json!({"type": "loss"})),
        "val_evaluator",
        "config key `val_evaluator`: expected a list, found a table",
    );
    assert_err(
        with("train_cfg.workflow", json!([["train", 1.5]])),
        "train_cfg.workflow.0.1",
        "config key `train_cfg.workflow.0.1`: expected a non-negative integer, found float 1.5",
    );
    assert_err(
        with("optim.optimizer", json!({"type": "adam", "lr": 0.1, "betas": [0.9, 0.99, 0.1]})),
        "optim.optimizer.betas",
        "config key `optim.optimizer.betas`: expected a list of 2 elements, found a list of 3 elements",
    );
    assert_err(
        with("optim.optimizer", json!({"type": "adam", "lr": 0.1, "betas": [0.9]})),
        "optim.optimizer.betas",
        "config key `optim.optimizer.betas`: expected a list of 2 elements, found a list of 1 element",
    );
}

#[test]
fn missing_keys() {
    let mut tree = minimal();
    tree["model"] = json!({"hidden": 3});
    assert_err(tree, "model.type", "missing config key `model.type`");
    let mut tree = minimal();
    tree.as_object_mut().unwrap().remove("model");
    assert_err(tree, "model", "missing config key `model`");
    assert_err(
        with("train_dataloader", json!({"dataset": {"type": "two_rings"}, "batch_size": 1})),
        "train_dataloader.dataset.size",
        "missing config key `train_dataloader.dataset.size`",
    );
}

#[test]
fn train_cfg_length() {
    let mut tree = minimal();
    tree["train_cfg"] = json!({});
    assert_err_contains(
        tree,
        "train_cfg.max_epochs",
        "missing config key `train_cfg.max_epochs`",
    );
    // Not required without a training loader (test-only configs).
    let mut tree = minimal();
    tree["train_cfg"] = json!({});
    tree.as_object_mut().unwrap().remove("train_dataloader");
    from_tree(tree).unwrap();

    assert_err_contains(
        with("train_cfg.max_iters", json!(10)),
        "train_cfg.max_iters",
        "config key `train_cfg.max_iters`: not allowed when `train_cfg.by_epoch` is true",
    );
    let mut tree = minimal();
    tree["train_cfg"] = json!({"by_epoch": false, "max_epochs": 3, "max_iters": 10});
    assert_err_contains(
        tree,
        "train_cfg.max_epochs",
        "not allowed when `train_cfg.by_epoch` is false",
    );
    let mut tree = minimal();
    tree["train_cfg"] = json!({"by_epoch": false});
    assert_err_contains(
        tree,
        "train_cfg.max_iters",
        "missing config key `train_cfg.max_iters`",
    );
    let mut tree = minimal();
    tree["train_cfg"] = json!({"by_epoch": false, "max_iters": 100, "val_interval": 50});
    from_tree(tree).unwrap();
    assert_err(
        with("train_cfg.max_epochs", json!(0)),
        "train_cfg.max_epochs",
        "config key `train_cfg.max_epochs`: must be at least 1, found 0",
    );
    assert_err_contains(
        with("train_cfg.val_interval", json!(0)),
        "train_cfg.val_interval",
        "at least 1",
    );
}

#[test]
fn workflow() {
    from_tree(with("train_cfg.workflow", json!([["train", 2], ["val", 1]]))).unwrap();
    let mut tree = with("train_cfg.workflow", json!([["train", 2], ["val", 1]]));
    tree["train_cfg"]["val_interval"] = json!(1);
    assert_err_contains(
        tree,
        "train_cfg.workflow",
        "config key `train_cfg.workflow`: cannot be combined with `train_cfg.val_interval`",
    );
    let mut tree = with("train_cfg.workflow", json!([["train", 2]]));
    tree["train_cfg"]["val_begin"] = json!(1);
    assert_err_contains(
        tree,
        "train_cfg.workflow",
        "cannot be combined with `train_cfg.val_begin`",
    );
    assert_err(
        with("train_cfg.workflow", json!([["train", 2], ["test", 1]])),
        "train_cfg.workflow.1.0",
        "config key `train_cfg.workflow.1.0`: unknown workflow phase `test`; expected `train` or `val`",
    );
    assert_err(
        with("train_cfg.workflow", json!([["train", 0]])),
        "train_cfg.workflow.0.1",
        "config key `train_cfg.workflow.0.1`: must be at least 1, found 0",
    );
    assert_err(
        with("train_cfg.workflow", json!([["val", 1]])),
        "train_cfg.workflow",
        "config key `train_cfg.workflow`: needs at least one `train` entry",
    );
    assert_err_contains(
        with("train_cfg.workflow", json!([])),
        "train_cfg.workflow",
        "at least one `train`",
    );
}

#[test]
fn optimizer_type_and_keys() {
    for kind in ["sgd", "SGD", "Adam", "adamw"] {
        from_tree(with(
            "optim.optimizer",
            json!({"type": kind, "lr": 0.1, "weight_decay": 1e-4}),
        ))
        .unwrap();
    }
    assert_err(
        with("optim.optimizer", json!({"type": "rmsprop", "lr": 0.1})),
        "optim.optimizer.type",
        "config key `optim.optimizer.type`: unknown optimizer `rmsprop`; expected one of `sgd`, `adam`, `adamw`",
    );
    assert_err(
        with("optim.optimizer", json!({"type": "sgd", "lr": 0.1, "betas": [0.9, 0.999]})),
        "optim.optimizer.betas",
        "config key `optim.optimizer.betas`: does not apply to optimizer `sgd` (its keys are \
         `type`, `lr`, `momentum`, `dampening`, `nesterov`, `weight_decay`)",
    );
    for key in ["eps", "amsgrad"] {
        let value = if key == "eps" { json!(1e-8) } else { json!(true) };
        let mut tree = with("optim.optimizer", json!({"type": "sgd", "lr": 0.1}));
        tree["optim"]["optimizer"][key] = value;
        assert_err_contains(
            tree,
            &format!("optim.optimizer.{key}"),
            "does not apply to optimizer `sgd`",
        );
    }
    for key in ["momentum", "dampening", "nesterov"] {
        let value = if key == "nesterov" { json!(false) } else { json!(0.5) };
        let mut tree = with("optim.optimizer", json!({"type": "AdamW", "lr": 0.1}));
        tree["optim"]["optimizer"][key] = value;
        assert_err_contains(
            tree,
            &format!("optim.optimizer.{key}"),
            "does not apply to optimizer `AdamW`",
        );
    }
    assert_err_contains(
        with("optim.optimizer", json!({"type": "adam", "lr": -0.1})),
        "optim.optimizer.lr",
        "must be a non-negative number, found -0.1",
    );
    assert_err_contains(
        with("optim.optimizer", json!({"type": "adam", "lr": 0.1, "betas": [0.9, 1.0]})),
        "optim.optimizer.betas.1",
        "must be in [0, 1), found 1",
    );
}

#[test]
fn nesterov_rule() {
    from_tree(with(
        "optim.optimizer",
        json!({"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true}),
    ))
    .unwrap();
    let message = "config key `optim.optimizer.nesterov`: Nesterov momentum requires `momentum` > 0 and `dampening` = 0";
    assert_err(
        with("optim.optimizer", json!({"type": "sgd", "lr": 0.1, "nesterov": true})),
        "optim.optimizer.nesterov",
        message,
    );
    assert_err(
        with(
            "optim.optimizer",
            json!({"type": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": true}),
        ),
        "optim.optimizer.nesterov",
        message,
    );
    from_tree(with("optim.optimizer", json!({"type": "sgd", "lr": 0.1, "nesterov": false})))
        .unwrap();
}

#[test]
fn clip_grad() {
    from_tree(with("optim.clip_grad", json!({"max_norm": 1.0}))).unwrap();
    from_tree(with("optim.clip_grad", json!({"type": "value", "clip_value": 0.5}))).unwrap();
    assert_err(
        with("optim.clip_grad", json!({})),
        "optim.clip_grad.max_norm",
        "missing config key `optim.clip_grad.max_norm`: required when `optim.clip_grad.type` is `norm`",
    );
    assert_err_contains(
        with("optim.clip_grad", json!({"max_norm": 1.0, "clip_value": 0.5})),
        "optim.clip_grad.clip_value",
        "does not apply to clipping by `norm`",
    );
    assert_err(
        with("optim.clip_grad", json!({"type": "value"})),
        "optim.clip_grad.clip_value",
        "missing config key `optim.clip_grad.clip_value`: required when `optim.clip_grad.type` is `value`",
    );
    assert_err_contains(
        with("optim.clip_grad", json!({"type": "value", "clip_value": 1.0, "max_norm": 1.0})),
        "optim.clip_grad.max_norm",
        "does not apply to clipping by `value`",
    );
    assert_err(
        with("optim.clip_grad", json!({"type": "global"})),
        "optim.clip_grad.type",
        "config key `optim.clip_grad.type`: unknown clipping type `global`; expected `norm` or `value`",
    );
    assert_err_contains(
        with("optim.clip_grad", json!({"max_norm": 1.0, "norm_type": 0.0})),
        "optim.clip_grad.norm_type",
        "must be positive",
    );
}

#[test]
fn names_of_model_loss_dataset_and_metrics() {
    assert_err(
        with("model.type", json!("resnet")),
        "model.type",
        "config key `model.type`: unknown model `resnet`; expected `mlp`, `lenet`, `resnet18`, \
         `resnet34`, `resnet50` or `torchscript`",
    );
    assert_err(
        with("model.activation", json!("sigmoid")),
        "model.activation",
        "config key `model.activation`: unknown activation `sigmoid`; expected `relu`, `silu`, \
         `tanh`, `gelu` or `none`",
    );
    for activation in ["relu", "silu", "tanh", "gelu", "none"] {
        from_tree(with("model.activation", json!(activation))).unwrap();
    }
    assert_err_contains(
        with("model.hidden", json!(0)),
        "model.hidden",
        "must be at least 1, found 0",
    );
    assert_err(
        with("loss.type", json!("nll")),
        "loss.type",
        "config key `loss.type`: unknown loss `nll`; expected `cross_entropy` or `mse`",
    );
    from_tree(with("loss.type", json!("mse"))).unwrap();
    assert_err(
        with("val_dataloader", json!({"dataset": {"type": "imagenet", "size": 10}, "batch_size": 1})),
        "val_dataloader.dataset.type",
        "config key `val_dataloader.dataset.type`: unknown dataset `imagenet`; expected `two_rings`, `mnist`, `cifar10`, `image_folder` or `csv`",
    );
    assert_err(
        with("val_evaluator", json!([{"type": "accuracy"}, {"type": "f1"}])),
        "val_evaluator.1.type",
        "config key `val_evaluator.1.type`: unknown metric `f1`; expected `accuracy` or `loss`",
    );
}

#[test]
fn counts_must_be_positive() {
    assert_err(
        with("train_dataloader.batch_size", json!(0)),
        "train_dataloader.batch_size",
        "config key `train_dataloader.batch_size`: must be at least 1, found 0",
    );
    assert_err_contains(
        with("optim.accumulative_counts", json!(0)),
        "optim.accumulative_counts",
        "must be at least 1",
    );
    assert_err_contains(
        with("env.num_threads", json!(0)),
        "env.num_threads",
        "must be at least 1",
    );
    assert_err_contains(with("log.interval", json!(0)), "log.interval", "must be at least 1");
    assert_err_contains(
        with("checkpoint.max_keep_ckpts", json!(-2)),
        "checkpoint.max_keep_ckpts",
        "must be -1 (keep all) or a count",
    );
}

#[test]
fn devices() {
    for device in ["cpu", "cuda", "cuda:0", "cuda:12", "auto"] {
        from_tree(with("env.device", json!(device))).unwrap();
    }
    for device in ["gpu", "cuda:", "cuda:x", "CPU", "mps"] {
        assert_err_contains(
            with("env.device", json!(device)),
            "env.device",
            &format!("config key `env.device`: unknown device `{device}`"),
        );
    }
}

#[test]
fn plugin_entries() {
    let ok = from_tree(with("plugins", json!([{"name": "ema", "options": {"momentum": 0.01}}]))).unwrap();
    assert_eq!(ok.plugins[0].priority, 50);
    assert_eq!(ok.plugins[0].on_error, "abort");
    assert_err_contains(with("plugins", json!([{"priority": 3}])), "plugins.0", "missing config key `plugins.0.name`");
    assert_err_contains(
        with("plugins", json!([{"name": "x", "on_error": "ignore"}])),
        "plugins.0.on_error",
        "config key `plugins.0.on_error`: unknown error policy `ignore`",
    );
    assert_err_contains(with("plugins", json!([{"name": "x", "priority": 101}])), "plugins.0.priority", "from 0 (first) to 100");
    assert_err_contains(with("plugins", json!([{"name": "x", "grant": true}])), "plugins.0.grant", "unknown config key `plugins.0.grant`");
}

#[test]
fn error_messages_are_one_paragraph() {
    let e = err(with("train_cfg.max_epochs", json!("ten")));
    assert!(!e.message().contains('\n'));
}
