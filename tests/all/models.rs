//! The model zoo against PyTorch and torchvision (the venv's): ResNets with
//! torchvision's names, shapes and outputs in both directions, `hammer
//! export` loading strict, a TorchScript module trained by hammer matching
//! the same steps in PyTorch, LeNet learning, and bf16 autocast.

use std::path::Path;

use hammer::checkpoint::{Checkpoint, RunnerState};
use hammer::config::ModelConfig;
use hammer::model::Model;
use hammer_tests::{hammer_ok, run_python};
use tch::{Device, Kind, Tensor};

fn model_cfg(tree: serde_json::Value) -> ModelConfig {
    serde_json::from_value(tree).unwrap()
}

/// A hammer checkpoint holding `model`'s state, as the runner writes it.
fn save_checkpoint(model: &Model, path: &Path) {
    let tensors = model.state().iter().map(|(n, t)| (format!("model.{n}"), t.detach())).collect();
    let ckpt = Checkpoint { tensors, runner: RunnerState::default(), optimizer: serde_json::json!({}), config: String::new() };
    ckpt.save(path).unwrap();
}

#[test]
fn resnets_match_torchvision_names_shapes_and_outputs_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tch::manual_seed(0);
    let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    let mut cases = Vec::new();
    for (kind, cifar) in [("resnet18", false), ("resnet18", true), ("resnet34", false), ("resnet50", false)] {
        let tag = format!("{kind}{}", if cifar { "_cifar" } else { "" });
        let model = Model::build(&model_cfg(serde_json::json!({"type": kind, "num_classes": 10, "cifar_stem": cifar})), Device::Cpu).unwrap();
        // A training step's forward moves the running statistics off their
        // initial values, so eval mode really uses them.
        let _ = model.forward_t(&(&x * 2.0 + 0.5), true).unwrap();
        let out = tch::no_grad(|| model.forward_t(&x, false).unwrap());
        let ckpt = dir.join(format!("{tag}.ckpt.safetensors"));
        save_checkpoint(&model, &ckpt);
        let weights = dir.join(format!("{tag}.safetensors"));
        hammer_ok(dir, &["export", ckpt.to_str().unwrap(), "--out", weights.to_str().unwrap()]);
        Tensor::write_safetensors(&[("x", &x), ("out", &out)], dir.join(format!("{tag}.io.safetensors"))).unwrap();
        cases.push(tag);
    }
    let script = r#"
import sys, torch, torchvision
from torch import nn
from safetensors.torch import load_file, save_file
d = sys.argv[1]
for tag in sys.argv[2:]:
    name, cifar = tag.split("_")[0], tag.endswith("_cifar")
    net = getattr(torchvision.models, name)(num_classes=10)
    if cifar:
        net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    ref = net.state_dict()
    got = load_file(f"{d}/{tag}.safetensors")
    assert sorted(got) == sorted(ref), (tag, set(got) ^ set(ref))
    for k in ref:
        assert got[k].shape == ref[k].shape and got[k].dtype == ref[k].dtype, (tag, k, got[k].shape, ref[k].shape, got[k].dtype)
    net.load_state_dict(got, strict=True)
    net.eval()
    io = load_file(f"{d}/{tag}.io.safetensors")
    with torch.no_grad():
        out = net(io["x"])
    diff = (out - io["out"]).abs().max().item()
    assert diff < 1e-4, (tag, diff)
    # The other way: torchvision's weights (fresh ones, statistics moved) for hammer to load.
    net2 = getattr(torchvision.models, name)(num_classes=10)
    if cifar:
        net2.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net2.maxpool = nn.Identity()
    net2.train()
    with torch.no_grad():
        net2(io["x"] * 3.0 - 1.0)
    net2.eval()
    with torch.no_grad():
        out2 = net2(io["x"])
    save_file({k: v.contiguous() for k, v in net2.state_dict().items()}, f"{d}/{tag}.tv.safetensors")
    save_file({"out": out2}, f"{d}/{tag}.tvout.safetensors")
print("ok")
"#;
    let mut args = vec![dir.to_str().unwrap()];
    args.extend(cases.iter().map(String::as_str));
    assert_eq!(run_python(script, &args).trim(), "ok");
    for tag in &cases {
        let (kind, cifar) = (tag.split('_').next().unwrap(), tag.ends_with("_cifar"));
        let mut model = Model::build(&model_cfg(serde_json::json!({"type": kind, "num_classes": 10, "cifar_stem": cifar})), Device::Cpu).unwrap();
        let weights = Tensor::read_safetensors(dir.join(format!("{tag}.tv.safetensors"))).unwrap();
        model.load_state_dict(&weights).unwrap();
        let out = tch::no_grad(|| model.forward_t(&x, false).unwrap());
        let expected = Tensor::read_safetensors(dir.join(format!("{tag}.tvout.safetensors"))).unwrap().remove(0).1;
        let diff = f64::try_from((out - expected).abs().max()).unwrap();
        assert!(diff < 1e-4, "{tag}: torchvision's weights in hammer differ by {diff}");
    }
}

#[test]
fn a_torchscript_module_trains_as_in_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A scripted network with BatchNorm, so train mode matters.
    let script = r#"
import sys, torch
from torch import nn
torch.manual_seed(1)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh())
        self.head = nn.Linear(16, 2)
    def forward(self, x):
        return self.head(self.body(x))
torch.jit.save(torch.jit.script(Net()), sys.argv[1])
"#;
    let net = dir.join("net.pt");
    // `torch.jit.script` reads the class's source: run from a file, not `-c`.
    std::fs::write(dir.join("make_net.py"), script).unwrap();
    let out = std::process::Command::new(hammer_tests::python()).arg(dir.join("make_net.py")).arg(&net).output().unwrap();
    assert!(out.status.success(), "{}", hammer_tests::stderr(&out));
    let cfg = format!(
        r#"
model = {{ type = "torchscript", path = "{}" }}
[train_dataloader]
batch_size = 16
dataset = {{ type = "two_rings", size = 64, seed = 0 }}
[train_cfg]
by_epoch = false
max_iters = 5
[optim.optimizer]
type = "sgd"
lr = 0.1
momentum = 0.9
[checkpoint]
interval = 5
[env]
device = "cpu"
"#,
        net.display()
    );
    std::fs::write(dir.join("ts.toml"), cfg).unwrap();
    hammer_ok(dir, &["train", "ts.toml"]);
    let ckpt = dir.join("work_dirs/ts/iter_5.safetensors");
    let check = r#"
import sys, torch
from torch import nn
from safetensors.torch import load_file
torch.manual_seed(0)  # MMEngine tutorial's data set, as hammer's two_rings
labels = torch.randint(0, 2, (64,))
r = 3 * (labels + 1) + torch.randn(labels.shape)
theta = torch.rand(labels.shape) * 2 * torch.pi
x = torch.vstack([r * torch.cos(theta), r * torch.sin(theta)]).T
net = torch.jit.load(sys.argv[1])
net.train()
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for it in range(5):
    i = (it % 4) * 16
    loss = nn.functional.cross_entropy(net(x[i:i + 16]), labels[i:i + 16])
    opt.zero_grad()
    loss.backward()
    opt.step()
got = load_file(sys.argv[2])
names = [k for k, _ in net.named_parameters()]
assert sorted("model." + k for k in names) == sorted(k for k in got if k.startswith("model.")), sorted(got)
worst = max((got["model." + k] - p.detach()).abs().max().item() for k, p in net.named_parameters())
moved = max((got["model." + k] - p.detach()).abs().max().item() for k, p in torch.jit.load(sys.argv[1]).named_parameters())
assert moved > 1e-3, "hammer did not train the module"
assert worst < 1e-5, worst
print("ok")
"#;
    assert_eq!(run_python(check, &[net.to_str().unwrap(), ckpt.to_str().unwrap()]).trim(), "ok");
}

#[test]
fn lenet_learns_a_fixed_batch() {
    tch::manual_seed(0);
    let model = Model::build(&model_cfg(serde_json::json!({"type": "lenet", "in_channels": 1, "image_size": 28, "num_classes": 4})), Device::Cpu).unwrap();
    let x = Tensor::randn([8, 1, 28, 28], (Kind::Float, Device::Cpu));
    let y = Tensor::from_slice(&[0i64, 1, 2, 3, 0, 1, 2, 3]);
    let params = model.parameters().iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
    let optim_cfg: hammer::config::OptimConfig = serde_json::from_value(serde_json::json!({"optimizer": {"type": "adam", "lr": 0.003}})).unwrap();
    let (mut optimizer, _) = hammer::optim::build(&optim_cfg, params).unwrap();
    let mut losses = Vec::new();
    for _ in 0..15 {
        let loss = model.forward_t(&x, true).unwrap().cross_entropy_for_logits(&y);
        losses.push(loss.double_value(&[]));
        loss.backward();
        optimizer.step().unwrap();
        optimizer.zero_grad();
    }
    assert!(losses[14] < 0.5 * losses[0], "{losses:?}");
}

#[test]
fn bf16_autocast_trains_in_bfloat16_with_a_close_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |amp: &str| -> Vec<f64> {
        let cfg = hammer_tests::tiny_config(tmp.path(), &format!("{amp}.toml"), 640, 1, &format!("[env]\namp = \"{amp}\"\n"));
        hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap()]);
        hammer_tests::scalars(&tmp.path().join(format!("work_dirs/{amp}")))
            .iter()
            .filter(|r| r["mode"] == "train")
            .map(|r| r["loss"].as_f64().unwrap())
            .collect()
    };
    let (full, half) = (run("none"), run("bf16"));
    assert_eq!(full.len(), half.len());
    // bfloat16 rounds: the losses differ, but not by much.
    assert!(full.iter().zip(&half).any(|(a, b)| a != b), "bf16 changed nothing: {full:?}");
    for (a, b) in full.iter().zip(&half) {
        assert!((a - b).abs() < 0.05 * a.abs().max(0.1), "{full:?} vs {half:?}");
    }
    // And inside the autocast scope the model's matmuls run in bfloat16.
    let model = Model::build(&model_cfg(serde_json::json!({"type": "mlp"})), Device::Cpu).unwrap();
    let x = Tensor::randn([4, 2], (Kind::Float, Device::Cpu));
    let kind = |p| hammer::model::autocast(p, Device::Cpu, || model.forward_t(&x, true).unwrap().kind());
    assert_eq!(kind(hammer::model::Precision::Bf16), Kind::BFloat16);
    assert_eq!(kind(hammer::model::Precision::None), Kind::Float);
}

/// CIFAR-10 binary batches of random images, `n` per training file.
fn write_cifar(root: &Path, n: usize) {
    let mut state = 12345u32;
    let mut batch = |records: usize| -> Vec<u8> {
        let mut bytes = Vec::with_capacity(records * 3073);
        for i in 0..records {
            bytes.push((i % 10) as u8);
            for _ in 0..3072 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                bytes.push((state >> 16) as u8);
            }
        }
        bytes
    };
    std::fs::create_dir_all(root).unwrap();
    for i in 1..=5 {
        std::fs::write(root.join(format!("data_batch_{i}.bin")), batch(n)).unwrap();
    }
    std::fs::write(root.join("test_batch.bin"), batch(8)).unwrap();
}

#[test]
fn a_resnet_run_resumes_bit_identically_with_its_batchnorm_buffers() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar(&tmp.path().join("cifar"), 4);
    let cfg = r#"
[model]
type = "resnet18"
num_classes = 10
cifar_stem = true
[train_dataloader]
batch_size = 5
shuffle = true
[train_dataloader.dataset]
type = "cifar10"
root = "cifar"
pipeline = { mean = [0.49, 0.48, 0.45], std = [0.25, 0.24, 0.26], random_crop_padding = 4, random_flip = true }
[val_dataloader]
batch_size = 8
dataset = { type = "cifar10", root = "cifar", split = "test" }
[train_cfg]
by_epoch = false
max_iters = 4
val_interval = 2
[checkpoint]
interval = 2
by_epoch = false
[optim.optimizer]
type = "sgd"
lr = 0.05
momentum = 0.9
[env]
device = "cpu"
"#;
    std::fs::write(tmp.path().join("r18.toml"), cfg).unwrap();
    hammer_ok(tmp.path(), &["train", "r18.toml", "--work-dir", "straight"]);
    let middle = tmp.path().join("straight/iter_2.safetensors");
    hammer_ok(tmp.path(), &["train", "r18.toml", "--work-dir", "resumed", "--resume", middle.to_str().unwrap()]);
    let read = |p: &str| {
        let mut t = Tensor::read_safetensors(tmp.path().join(p)).unwrap();
        t.retain(|(n, _)| n.starts_with("model."));
        t.sort_by(|a, b| a.0.cmp(&b.0));
        t
    };
    let (a, b, mid) = (read("straight/iter_4.safetensors"), read("resumed/iter_4.safetensors"), read("straight/iter_2.safetensors"));
    assert_eq!(a.len(), 122, "parameters and buffers");
    for ((n, x), (m, y)) in a.iter().zip(&b) {
        assert_eq!(n, m);
        assert!(x.equal(y), "{n} differs after resuming");
    }
    let count = |t: &[(String, Tensor)]| i64::try_from(&t.iter().find(|(n, _)| n == "model.bn1.num_batches_tracked").unwrap().1).unwrap();
    assert_eq!((count(&mid), count(&a)), (2, 4));
    let rm = |t: &[(String, Tensor)]| t.iter().find(|(n, _)| n == "model.layer4.1.bn2.running_mean").unwrap().1.shallow_clone();
    assert!(!rm(&mid).equal(&rm(&a)), "the running statistics moved");
}

/// tch cannot list a TorchScript module's buffers, so checkpoints carry the
/// whole module: a resumed run continues with the BatchNorm statistics it had.
#[test]
fn a_torchscript_run_resumes_exactly_with_its_buffers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let script = r#"
import sys, torch
from torch import nn
torch.manual_seed(2)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.head = nn.Linear(16, 2)
    def forward(self, x):
        return self.head(self.body(x))
torch.jit.save(torch.jit.script(Net()), sys.argv[1])
"#;
    std::fs::write(dir.join("make_net.py"), script).unwrap();
    let net = dir.join("net.pt");
    let out = std::process::Command::new(hammer_tests::python()).arg(dir.join("make_net.py")).arg(&net).output().unwrap();
    assert!(out.status.success(), "{}", hammer_tests::stderr(&out));
    let cfg = format!(
        "val_evaluator = [{{ type = \"loss\" }}]\nmodel = {{ type = \"torchscript\", path = \"{}\" }}\n\
         [train_dataloader]\nbatch_size = 16\nshuffle = true\ndataset = {{ type = \"two_rings\", size = 160, seed = 0 }}\n\
         [val_dataloader]\nbatch_size = 50\ndataset = {{ type = \"two_rings\", size = 100, seed = 3407 }}\n\
         [train_cfg]\nmax_epochs = 3\n[optim.optimizer]\ntype = \"sgd\"\nlr = 0.05\nmomentum = 0.9\n\
         [checkpoint]\ninterval = 1\nmax_keep_ckpts = -1\n",
        net.display()
    );
    std::fs::write(dir.join("job.toml"), cfg).unwrap();
    hammer_ok(dir, &["train", "job.toml", "--work-dir", "straight"]);
    let middle = dir.join("straight/epoch_1.safetensors");
    hammer_ok(dir, &["train", "job.toml", "--work-dir", "resumed", "--resume", middle.to_str().unwrap()]);
    let val_losses = |work: &str| -> Vec<f64> {
        hammer_tests::scalars(&dir.join(work)).iter().filter(|r| r["mode"] == "val").map(|r| r["loss"].as_f64().unwrap()).collect()
    };
    // Validation runs in eval mode on the running statistics: equal losses mean equal buffers.
    let (a, b) = (val_losses("straight"), val_losses("resumed"));
    assert_eq!(a[1..], b[..], "straight {a:?} vs resumed {b:?}");
    assert_eq!(
        hammer_tests::model_weights(&dir.join("straight/epoch_3.safetensors")),
        hammer_tests::model_weights(&dir.join("resumed/epoch_3.safetensors"))
    );
    // `hammer export` writes the buffers too (issue 20: it dropped them), as
    // trained: the state dict loads strict and holds the statistics the
    // checkpoint's module has.
    let exported = dir.join("exported.safetensors");
    hammer_ok(dir, &["export", "straight/epoch_3.safetensors", "--out", exported.to_str().unwrap()]);
    let check = r#"
import sys, io, torch
from safetensors.torch import load_file
from safetensors import safe_open
sd = load_file(sys.argv[2])
net = torch.jit.load(sys.argv[1])
net.load_state_dict(sd, strict=True)
with safe_open(sys.argv[3], "pt") as f:
    script = f.get_tensor("script")
trained = torch.jit.load(io.BytesIO(script.numpy().tobytes()))
for name, b in trained.named_buffers():
    assert torch.equal(sd[name], b), name
fresh = dict(torch.jit.load(sys.argv[1]).named_buffers())
assert not torch.equal(sd["body.1.running_mean"], fresh["body.1.running_mean"]), "trained statistics"
print(sorted(n for n in sd if "running" in n or "num_batches" in n))
"#;
    let buffers = hammer_tests::run_python(
        check,
        &[net.to_str().unwrap(), exported.to_str().unwrap(), dir.join("straight/epoch_3.safetensors").to_str().unwrap()],
    );
    assert!(buffers.contains("body.1.running_var") && buffers.contains("body.1.num_batches_tracked"), "{buffers}");
}
