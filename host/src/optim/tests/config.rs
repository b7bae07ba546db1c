//! Building an optimizer from its section: defaults per kind, and the
//! configurations refused.

use super::{fixed_values, optimizer_config, params_from};
use crate::optim::{Optimizer, OptimizerKind};

#[test]
fn config_defaults_and_errors() {
    let o = Optimizer::new(
        &optimizer_config("AdamW", 0.001),
        params_from(&[fixed_values(1, &[2])]),
    )
    .unwrap();
    assert_eq!(o.kind(), OptimizerKind::AdamW);
    assert_eq!(o.state_scalars()["hyper_parameters"]["weight_decay"], 0.01);
    assert_eq!(o.momentum(), Some(0.9));
    assert_eq!((o.lr(), o.base_lr()), (0.001, 0.001));
    let o = Optimizer::new(&optimizer_config("adam", 0.001), Vec::new()).unwrap();
    assert_eq!(o.state_scalars()["hyper_parameters"]["weight_decay"], 0.0);

    let mut bad = optimizer_config("sgd", 0.1);
    bad.nesterov = Some(true);
    assert!(Optimizer::new(&bad, Vec::new()).is_err());
    let mut bad = optimizer_config("sgd", 0.1);
    bad.betas = Some((0.9, 0.99));
    assert!(Optimizer::new(&bad, Vec::new()).is_err());
    assert!(Optimizer::new(&optimizer_config("rmsprop", 0.1), Vec::new()).is_err());
    let twice = vec![
        ("w".to_string(), fixed_values(1, &[2])),
        ("w".to_string(), fixed_values(2, &[2])),
    ];
    assert!(Optimizer::new(&optimizer_config("sgd", 0.1), twice).is_err());
}
