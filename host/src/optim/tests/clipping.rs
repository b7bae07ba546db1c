//! Gradient clipping: by total norm (2 and infinity), by value, and the
//! `clip_grad` section's checks.

use tch::Tensor;

use super::{fixed_values, optimizer_config, params_from, set_grads};
use crate::config::ClipGradConfig;
use crate::optim::{clip_grad_norm, GradClipper, Optimizer};

#[test]
fn clipping() {
    let values = [fixed_values(1, &[3]), fixed_values(2, &[2, 2])];
    let cfg = optimizer_config("sgd", 0.1);
    let mut o = Optimizer::new(&cfg, params_from(&values)).unwrap();
    assert_eq!(
        clip_grad_norm(o.params(), 1.0, 2.0),
        0.0,
        "no gradients: norm 0"
    );

    let grads = vec![
        Some(Tensor::from_slice(&[3.0f32, 0.0, 0.0])),
        Some(Tensor::from_slice(&[0.0f32, 4.0, 0.0, 0.0]).view([2, 2])),
    ];
    set_grads(&mut o, &grads);
    let norm = clip_grad_norm(o.params(), 1.0, 2.0);
    assert!((norm - 5.0).abs() < 1e-6, "{norm}");
    let clipped: Vec<f64> = o
        .params()
        .iter()
        .map(|p| p.grad().norm().double_value(&[]))
        .collect();
    assert!(
        (clipped[0] - 0.6).abs() < 1e-6 && (clipped[1] - 0.8).abs() < 1e-6,
        "{clipped:?}"
    );

    set_grads(&mut o, &grads);
    assert!((clip_grad_norm(o.params(), 10.0, f64::INFINITY) - 4.0).abs() < 1e-6);
    assert!(
        o.params()[1].grad().equal(grads[1].as_ref().unwrap()),
        "a small norm changed the gradient"
    );

    let clipper = GradClipper::new(Some(&ClipGradConfig {
        kind: "Value".into(),
        max_norm: None,
        norm_type: None,
        clip_value: Some(1.5),
    }))
    .unwrap();
    assert_eq!(clipper, GradClipper::Value { clip_value: 1.5 });
    assert_eq!(clipper.clip(o.params()), None);
    assert_eq!(o.params()[1].grad().max().double_value(&[]), 1.5);

    assert_eq!(GradClipper::new(None).unwrap(), GradClipper::Off);
    let no_max = ClipGradConfig {
        kind: "norm".into(),
        max_norm: None,
        norm_type: None,
        clip_value: None,
    };
    assert!(GradClipper::new(Some(&no_max)).is_err());
    let norm = ClipGradConfig {
        max_norm: Some(1.0),
        ..no_max
    };
    assert_eq!(
        GradClipper::new(Some(&norm)).unwrap(),
        GradClipper::Norm {
            max_norm: 1.0,
            norm_type: 2.0
        }
    );
}
