//! Saving and loading the optimizer's state: an exact resume, loading over
//! existing state, and errors that name what does not match.

use std::collections::HashMap;

use serde_json::Value;
use tch::{Device, Kind, Tensor};

use super::{optimizer_config, params_from, run_steps, Case, SHAPES};
use crate::config::OptimizerConfig;
use crate::optim::Optimizer;

/// SGD (plain, Nesterov with weight decay, dampening), Adam (AMSGrad,
/// weight decay) and AdamW.
fn round_trip_configs() -> Vec<OptimizerConfig> {
    let mut sgd = optimizer_config("sgd", 0.1);
    sgd.momentum = Some(0.9);
    sgd.nesterov = Some(true);
    sgd.weight_decay = Some(0.01);
    let mut sgd_damp = optimizer_config("sgd", 0.1);
    sgd_damp.momentum = Some(0.9);
    sgd_damp.dampening = Some(0.3);
    let mut adam = optimizer_config("adam", 0.01);
    adam.amsgrad = Some(true);
    adam.weight_decay = Some(0.1);
    vec![
        optimizer_config("sgd", 0.1),
        sgd,
        sgd_damp,
        adam,
        optimizer_config("adamw", 0.01),
    ]
}

/// Saving after two steps (through a safetensors file and JSON text) and
/// loading into a new optimizer continues bit-identically.
#[test]
fn state_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    for (index, cfg) in round_trip_configs().into_iter().enumerate() {
        let case = Case {
            missing: vec![(0, 2), (3, 1)],
            ..Case::new("round_trip", cfg.clone())
        };
        let initial = case.initial(index);
        let steps: Vec<_> = case
            .grads(index)
            .into_iter()
            .zip([0.1, 0.05, 0.05, 0.02, 0.01])
            .collect();

        let mut straight = Optimizer::new(&cfg, params_from(&initial)).unwrap();
        straight.set_momentum(0.8);
        run_steps(&mut straight, &steps);

        let mut first = Optimizer::new(&cfg, params_from(&initial)).unwrap();
        first.set_momentum(0.8);
        run_steps(&mut first, &steps[..2]);
        let path = dir.path().join(format!("state{index}.safetensors"));
        let mut saved = first.state_tensors();
        saved.extend(
            first
                .param_names()
                .iter()
                .cloned()
                .zip(first.params().iter().map(Tensor::shallow_clone)),
        );
        Tensor::write_safetensors(&saved, &path).unwrap();
        let scalars: Value = serde_json::from_str(&first.state_scalars().to_string()).unwrap();
        drop(first);

        let loaded: HashMap<String, Tensor> = Tensor::read_safetensors(&path)
            .unwrap()
            .into_iter()
            .collect();
        let values: Vec<Tensor> = (0..SHAPES.len())
            .map(|j| loaded[&format!("p{j}")].copy())
            .collect();
        let mut resumed = Optimizer::new(&cfg, params_from(&values)).unwrap();
        resumed.load_state(&loaded, &scalars).unwrap();
        assert_eq!(resumed.lr(), 0.05, "{}", cfg.kind);
        assert_eq!(resumed.momentum(), Some(0.8), "{}", cfg.kind);
        assert_eq!(resumed.steps(), 2);
        run_steps(&mut resumed, &steps[2..]);

        for (a, b) in straight.params().iter().zip(resumed.params()) {
            assert!(a.equal(b), "{}: parameters differ after resuming", cfg.kind);
        }
        let a = straight.state_tensors();
        let b = resumed.state_tensors();
        assert_eq!(a.len(), b.len());
        for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
            assert_eq!(na, nb);
            assert!(
                ta.equal(tb),
                "{}: state {na} differs after resuming",
                cfg.kind
            );
        }
        assert_eq!(straight.state_scalars(), resumed.state_scalars());
    }
}

/// Loading copies into existing state tensors too (an optimizer that has
/// already stepped), and drops state the checkpoint does not have.
#[test]
fn load_state_overwrites_existing_state() {
    let mut cfg = optimizer_config("adam", 0.01);
    cfg.amsgrad = Some(true);
    let case = Case {
        missing: vec![(0, 1), (1, 1)],
        ..Case::new("overwrite", cfg.clone())
    };
    let initial = case.initial(7);
    let steps: Vec<_> = case.grads(7).into_iter().map(|g| (g, 0.01)).collect();
    let mut a = Optimizer::new(&cfg, params_from(&initial)).unwrap();
    run_steps(&mut a, &steps[..2]); // p1 has no state yet
    let tensors: HashMap<String, Tensor> = a
        .state_tensors()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();
    let scalars = a.state_scalars();

    let mut b = Optimizer::new(&cfg, params_from(&initial)).unwrap();
    run_steps(&mut b, &steps[2..]); // every parameter has state
    let exp_avg = b
        .state_tensors()
        .into_iter()
        .find(|(n, _)| n == "p0.exp_avg")
        .unwrap()
        .1;
    b.load_state(&tensors, &scalars).unwrap();
    assert!(
        exp_avg.equal(&tensors["p0.exp_avg"]),
        "state was not copied in place"
    );
    let names: Vec<String> = b.state_tensors().into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.iter().any(|n| n.starts_with("p1.")),
        "stale state kept: {names:?}"
    );
    assert_eq!(b.state_scalars()["params"], scalars["params"]);
}

fn saved_state(cfg: &OptimizerConfig) -> (HashMap<String, Tensor>, Value) {
    let case = Case::new("errors", cfg.clone());
    let mut o = Optimizer::new(cfg, params_from(&case.initial(3))).unwrap();
    run_steps(
        &mut o,
        &case
            .grads(3)
            .into_iter()
            .take(2)
            .map(|g| (g, 0.1))
            .collect::<Vec<_>>(),
    );
    (
        o.state_tensors()
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect(),
        o.state_scalars(),
    )
}

#[test]
fn load_state_errors_name_the_problem() {
    let mut sgd = optimizer_config("sgd", 0.1);
    sgd.momentum = Some(0.9);
    let adam = optimizer_config("adam", 0.1);
    let fresh = |cfg: &OptimizerConfig| {
        Optimizer::new(
            cfg,
            params_from(&Case::new("errors", cfg.clone()).initial(3)),
        )
        .unwrap()
    };
    let err = |o: &mut Optimizer, t: &HashMap<String, Tensor>, s: &Value| {
        let before = o.state_scalars();
        let e = format!("{:#}", o.load_state(t, s).unwrap_err());
        assert_eq!(o.state_scalars(), before, "a failed load changed the state");
        e
    };

    let (tensors, scalars) = saved_state(&sgd);
    let e = err(&mut fresh(&adam), &tensors, &scalars);
    assert!(e.contains("`sgd`") && e.contains("`adam`"), "{e}");

    let mut missing = tensors.clone_shallow();
    missing.remove("p1.momentum_buffer");
    let e = err(&mut fresh(&sgd), &missing, &scalars);
    assert!(
        e.contains("`p1.momentum_buffer`") && e.contains("missing"),
        "{e}"
    );

    let mut wrong = tensors.clone_shallow();
    wrong.insert(
        "p2.momentum_buffer".into(),
        Tensor::zeros([3], (Kind::Float, Device::Cpu)),
    );
    let e = err(&mut fresh(&sgd), &wrong, &scalars);
    assert!(
        e.contains("`p2.momentum_buffer`") && e.contains("shape"),
        "{e}"
    );

    let mut renamed = scalars.clone();
    let params = renamed["params"].as_object_mut().unwrap();
    let p0 = params.remove("p0").unwrap();
    params.insert("fc.weight".into(), p0);
    let e = err(&mut fresh(&sgd), &tensors, &renamed);
    assert!(e.contains("`fc.weight`"), "{e}");

    // Adam saved without AMSGrad, loaded with it: `max_exp_avg_sq` is missing.
    let (tensors, scalars) = saved_state(&adam);
    let mut amsgrad = adam.clone();
    amsgrad.amsgrad = Some(true);
    let e = err(&mut fresh(&amsgrad), &tensors, &scalars);
    assert!(e.contains("`p0.max_exp_avg_sq`"), "{e}");
}

/// Copies of the tensor handles (sharing the storage).
trait CloneShallow {
    fn clone_shallow(&self) -> Self;
}

impl CloneShallow for HashMap<String, Tensor> {
    fn clone_shallow(&self) -> Self {
        self.iter()
            .map(|(k, v)| (k.clone(), v.shallow_clone()))
            .collect()
    }
}
