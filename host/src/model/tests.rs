use super::*;
use crate::config::ModelConfig;
use tch::Kind;

fn cfg(kind: &str) -> ModelConfig {
    let mut tree = serde_json::json!({ "type": kind });
    if kind == "lenet" || kind.starts_with("resnet") {
        tree["num_classes"] = 10.into();
    }
    serde_json::from_value(tree).unwrap()
}

fn names(m: &Model) -> Vec<&str> {
    m.state().iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn the_mlp_has_only_parameters() {
    let m = Model::build(&cfg("mlp"), Device::Cpu).unwrap();
    assert_eq!(m.parameters().len(), 6);
    assert_eq!(names(&m), ["classifier.bias", "classifier.weight", "mlp.0.bias", "mlp.0.weight", "mlp.2.bias", "mlp.2.weight"]);
}

#[test]
fn resnet18_has_torchvisions_names_and_buffers_apart_from_parameters() {
    let m = Model::build(&cfg("resnet18"), Device::Cpu).unwrap();
    // torchvision's resnet18: 62 parameters, 60 buffers (20 BatchNorms × 3).
    assert_eq!(m.parameters().len(), 62);
    assert_eq!(m.state().len(), 122);
    let n = names(&m);
    for key in [
        "conv1.weight",
        "bn1.num_batches_tracked",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_var",
        "layer4.1.bn2.bias",
        "fc.weight",
    ] {
        assert!(n.contains(&key), "{key} missing");
    }
    assert!(!n.contains(&"layer1.0.downsample.0.weight"));
    let get = |k: &str| m.state().iter().find(|(n, _)| n == k).unwrap().1.shallow_clone();
    assert_eq!(get("conv1.weight").size(), [64, 3, 7, 7]);
    assert_eq!(get("fc.weight").size(), [10, 512]);
    assert_eq!(get("bn1.num_batches_tracked").kind(), Kind::Int64);
    assert!(m.parameters().iter().all(|(n, t)| t.requires_grad() && !n.contains("running")));
}

#[test]
fn resnet50_is_made_of_bottlenecks() {
    let m = Model::build(&cfg("resnet50"), Device::Cpu).unwrap();
    assert_eq!(m.parameters().len(), 161);
    let get = |k: &str| m.state().iter().find(|(n, _)| n == k).unwrap().1.shallow_clone();
    assert_eq!(get("layer1.0.conv3.weight").size(), [256, 64, 1, 1]);
    assert_eq!(get("layer1.0.downsample.0.weight").size(), [256, 64, 1, 1]);
    assert_eq!(get("fc.weight").size(), [10, 2048]);
}

#[test]
fn batchnorm_counts_and_tracks_in_train_mode_only() {
    let mut c = cfg("resnet18");
    c.cifar_stem = true;
    let m = Model::build(&c, Device::Cpu).unwrap();
    let get = |k: &str| m.state().iter().find(|(n, _)| n == k).unwrap().1.shallow_clone();
    assert_eq!(get("conv1.weight").size(), [64, 3, 3, 3]);
    let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    let eval1 = m.forward_t(&x, false).unwrap();
    assert_eq!(eval1.size(), [2, 10]);
    assert_eq!(i64::try_from(get("bn1.num_batches_tracked")).unwrap(), 0);
    let _ = m.forward_t(&x, true).unwrap();
    assert_eq!(i64::try_from(get("layer3.1.bn2.num_batches_tracked")).unwrap(), 1);
    assert!(f64::try_from(get("bn1.running_mean").abs().sum(Kind::Float)).unwrap() > 0.0);
    // The running statistics moved, so eval mode now gives another output.
    let eval2 = m.forward_t(&x, false).unwrap();
    assert!(f64::try_from((eval1 - eval2).abs().max()).unwrap() > 0.0);
}

#[test]
fn state_dicts_round_trip_and_num_batches_tracked_may_be_absent() {
    let a = Model::build(&cfg("resnet18"), Device::Cpu).unwrap();
    let mut b = Model::build(&cfg("resnet18"), Device::Cpu).unwrap();
    let _ = a.forward_t(&Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu)), true).unwrap();
    let without: Vec<(String, Tensor)> = a
        .state()
        .iter()
        .filter(|(n, _)| !n.ends_with("num_batches_tracked"))
        .map(|(n, t)| (n.clone(), t.copy()))
        .collect();
    b.load_state_dict(&without).unwrap();
    for ((n, x), (_, y)) in a.state().iter().zip(b.state()) {
        if !n.ends_with("num_batches_tracked") {
            assert!(x.equal(y), "{n}");
        }
    }
    let mut wrong = without;
    wrong.retain(|(n, _)| n != "fc.bias");
    wrong.push(("fc.extra".into(), Tensor::zeros([1], (Kind::Float, Device::Cpu))));
    let err = b.load_state_dict(&wrong).unwrap_err().to_string();
    assert!(err.contains("missing `fc.bias`") && err.contains("unexpected `fc.extra`"), "{err}");
}

#[test]
fn lenet_fits_its_image_size() {
    let mut c = cfg("lenet");
    c.in_channels = 1;
    c.image_size = 28;
    let m = Model::build(&c, Device::Cpu).unwrap();
    let get = |k: &str| m.state().iter().find(|(n, _)| n == k).unwrap().1.shallow_clone();
    assert_eq!(get("fc1.weight").size(), [120, 16 * 4 * 4]);
    let y = m.forward_t(&Tensor::randn([3, 1, 28, 28], (Kind::Float, Device::Cpu)), true).unwrap();
    assert_eq!(y.size(), [3, 10]);
    c.image_size = 8;
    assert!(Model::build(&c, Device::Cpu).unwrap_err().to_string().contains("at least 12"));
}
