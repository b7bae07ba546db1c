//! hammer against PyTorch itself (the venv's torch): the tutorial's data set
//! is bit-identical, and checkpoints load into the tutorial's PyTorch model.

use hammer_tests::{hammer_ok, run_python, scalars, tiny_config};

#[test]
fn two_rings_match_the_tutorial_dataset_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rings.safetensors");
    let train = hammer::data::two_rings(10_000, 0);
    let val = hammer::data::two_rings(1_000, 3407);
    tch::Tensor::write_safetensors(
        &[("train_x", &train.inputs), ("train_y", &train.targets), ("val_x", &val.inputs), ("val_y", &val.targets)],
        &path,
    )
    .unwrap();
    let script = r#"
import sys, torch
from safetensors.torch import load_file
def my_dataset(size, seed):  # MMEngine tutorial's MyDataset
    torch.manual_seed(seed)
    labels = torch.randint(0, 2, (size,))
    r = 3 * (labels + 1) + torch.randn(labels.shape)
    theta = torch.rand(labels.shape) * 2 * torch.pi
    return torch.vstack([r * torch.cos(theta), r * torch.sin(theta)]).T, labels
got = load_file(sys.argv[1])
for split, size, seed in [("train", 10000, 0), ("val", 1000, 3407)]:
    x, y = my_dataset(size, seed)
    assert torch.equal(got[split + "_y"], y), split + " labels differ"
    assert torch.equal(got[split + "_x"], x), split + " points differ: %g" % (got[split + "_x"] - x).abs().max()
print("ok")
"#;
    assert_eq!(run_python(script, &[path.to_str().unwrap()]).trim(), "ok");
}

#[test]
fn checkpoints_load_into_the_tutorial_model_in_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 640, 2, "");
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap()]);
    let work = tmp.path().join("work_dirs/job");
    let hammer_acc = scalars(&work).iter().filter(|r| r["mode"] == "val").last().unwrap()["accuracy"].as_f64().unwrap();
    let script = r#"
import sys, torch
from torch import nn
from safetensors.torch import load_file
class MyAwesomeModel(nn.Module):  # the tutorial's model, hidden width 16
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.classifier = nn.Linear(16, 2)
    def forward(self, x):
        return self.classifier(self.mlp(x))
state = load_file(sys.argv[1])
model = MyAwesomeModel()
model.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}, strict=True)
torch.manual_seed(3407)
labels = torch.randint(0, 2, (200,))
r = 3 * (labels + 1) + torch.randn(labels.shape)
theta = torch.rand(labels.shape) * 2 * torch.pi
x = torch.vstack([r * torch.cos(theta), r * torch.sin(theta)]).T
with torch.no_grad():
    print(100.0 * (model(x).argmax(1) == labels).sum().item() / 200)
"#;
    let torch_acc: f64 = run_python(script, &[work.join("epoch_2.safetensors").to_str().unwrap()]).trim().parse().unwrap();
    assert!((torch_acc - hammer_acc).abs() < 1e-9, "PyTorch {torch_acc} vs hammer {hammer_acc}");
}
