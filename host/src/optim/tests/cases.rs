//! The scenarios compared with PyTorch: SGD (momentum, dampening, Nesterov,
//! weight decay), Adam and AdamW (weight decay, AMSGrad), gradient clipping,
//! float64, and changes of learning rate and momentum between steps. A case's
//! position in the list seeds its values.

use tch::Kind;

use super::{optimizer_config, Case};
use crate::config::ClipGradConfig;

/// Every scenario, in a fixed order (the order seeds the values).
pub(super) fn cases() -> Vec<Case> {
    let sgd = |lr| optimizer_config("sgd", lr);
    let mut out = vec![Case::new("sgd_plain", sgd(0.1))];

    let mut c = sgd(0.05);
    c.momentum = Some(0.9);
    c.dampening = Some(0.1);
    c.weight_decay = Some(0.01);
    out.push(Case::new("sgd_momentum_dampening_wd", c));

    let mut c = sgd(0.05);
    c.momentum = Some(0.9);
    c.nesterov = Some(true);
    c.weight_decay = Some(1e-3);
    let mut case = Case::new("sgd_nesterov", c);
    case.lrs = vec![0.05, 0.05, 0.02, 0.01, 0.01];
    case.momenta = Some(vec![0.9, 0.9, 0.8, 0.85, 0.95]);
    case.missing = vec![(1, 2)];
    out.push(case);

    let mut case = Case::new("adam", optimizer_config("Adam", 0.01));
    case.missing = vec![(0, 1), (3, 2)];
    case.lrs = vec![0.01, 0.01, 0.01, 0.005, 0.002];
    out.push(case);

    let mut c = optimizer_config("adam", 0.02);
    c.weight_decay = Some(0.1);
    c.amsgrad = Some(true);
    c.betas = Some((0.8, 0.99));
    c.eps = Some(1e-6);
    let mut case = Case::new("adam_wd_amsgrad", c);
    case.momenta = Some(vec![0.8, 0.8, 0.85, 0.9, 0.9]);
    out.push(case);

    // AdamW's default weight decay (0.01) is left to each side's default.
    let mut case = Case::new("adamw", optimizer_config("adamw", 0.01));
    case.missing = vec![(2, 0)];
    out.push(case);

    let mut c = optimizer_config("adamw", 0.01);
    c.weight_decay = Some(0.05);
    c.amsgrad = Some(true);
    out.push(Case::new("adamw_wd_amsgrad", c));

    let mut c = sgd(0.1);
    c.momentum = Some(0.5);
    let mut case = Case::new("clip_norm_sgd", c);
    case.clip = Some(ClipGradConfig {
        kind: "norm".into(),
        max_norm: Some(2.0),
        norm_type: None,
        clip_value: None,
    });
    case.missing = vec![(4, 1)];
    out.push(case);

    let mut case = Case::new("clip_inf_norm_sgd", sgd(0.1));
    case.clip = Some(ClipGradConfig {
        kind: "norm".into(),
        max_norm: Some(0.5),
        norm_type: Some(f64::INFINITY),
        clip_value: None,
    });
    out.push(case);

    // Double precision: the scalar operands are f64 too.
    let mut c = sgd(0.05);
    c.momentum = Some(0.9);
    c.nesterov = Some(true);
    c.weight_decay = Some(1e-3);
    out.push(Case {
        dtype: Kind::Double,
        ..Case::new("sgd_nesterov_f64", c)
    });
    let mut c = optimizer_config("adam", 0.01);
    c.weight_decay = Some(0.1);
    c.amsgrad = Some(true);
    out.push(Case {
        dtype: Kind::Double,
        ..Case::new("adam_wd_amsgrad_f64", c)
    });
    let mut case = Case::new("clip_norm_adamw_f64", optimizer_config("adamw", 0.01));
    case.clip = Some(ClipGradConfig {
        kind: "norm".into(),
        max_norm: Some(1.0),
        norm_type: Some(3.0),
        clip_value: None,
    });
    out.push(Case {
        dtype: Kind::Double,
        ..case
    });

    let mut case = Case::new("clip_value_sgd", sgd(0.1));
    case.clip = Some(ClipGradConfig {
        kind: "value".into(),
        max_norm: None,
        norm_type: None,
        clip_value: Some(0.5),
    });
    out.push(case);
    out
}
