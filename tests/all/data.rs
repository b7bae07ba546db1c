//! Data formats, the image pipeline, loader workers and bad files, on small
//! files generated here (MNIST idx, CIFAR-10 batches, image folders, CSV).

use std::path::Path;

use hammer::config::{DataLoaderConfig, DatasetConfig};
use hammer::data::{DataLoader, Dataset};
use hammer_tests::{hammer, hammer_err, hammer_ok, stderr, stdout};
use serde_json::json;
use tch::{Device, Tensor};

/// idx bytes: magic, big-endian dimensions, data.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// An MNIST-like split of `n` 28×28 images of 4 easy classes: class `c` lights
/// up quadrant `c`.
fn write_mnist(dir: &Path, prefix: &str, n: usize) {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let c = i % 4;
        labels.push(c as u8);
        for y in 0..28 {
            for x in 0..28 {
                let quadrant = (y / 14) * 2 + x / 14;
                pixels.push(if quadrant == c { 200 + (i % 50) as u8 } else { (i * 7 % 30) as u8 });
            }
        }
    }
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), idx(&[n as u32, 28, 28], &pixels)).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), idx(&[n as u32], &labels)).unwrap();
}

/// A CIFAR-10 batch of `n` records: label `i % 10`, pixel values from `i`.
fn cifar_batch(n: usize, salt: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push((i % 10) as u8);
        out.extend((0..3072).map(|p| (p as u8).wrapping_mul(3).wrapping_add(i as u8).wrapping_add(salt)));
    }
    out
}

fn write_cifar(dir: &Path, n: usize) {
    for b in 1..=5u8 {
        std::fs::write(dir.join(format!("data_batch_{b}.bin")), cifar_batch(n, b)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), cifar_batch(n, 0)).unwrap();
}

fn dataset(value: serde_json::Value) -> DatasetConfig {
    serde_json::from_value(value).unwrap()
}

fn loader(data: serde_json::Value, batch_size: usize, workers: usize) -> DataLoader {
    let cfg: DataLoaderConfig = serde_json::from_value(json!({
        "dataset": data, "batch_size": batch_size, "shuffle": true, "num_workers": workers, "prefetch": 3
    }))
    .unwrap();
    let ds = Dataset::build(&cfg.dataset, "train_dataloader").unwrap();
    DataLoader::new(ds, &cfg, 5, Device::Cpu)
}

fn floats(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

fn longs(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t).unwrap()
}

#[test]
fn mnist_decodes_resizes_and_normalizes() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist(tmp.path(), "t10k", 8);
    let plain = Dataset::build(&dataset(json!({"type": "mnist", "root": tmp.path(), "split": "test"})), "val_dataloader").unwrap();
    let batch = plain.get_batch(&Tensor::from_slice(&[1i64, 2]), 0, 0).unwrap();
    assert_eq!(batch.inputs.size(), vec![2, 1, 28, 28]);
    assert_eq!(longs(&batch.targets), vec![1, 2]);
    // Image 1 lights up quadrant 1 (top right) with 201.
    assert_eq!(batch.inputs.double_value(&[0, 0, 0, 27]), f64::from(201.0f32 / 255.0));
    let cfg = json!({"type": "mnist", "root": tmp.path(), "split": "test", "flatten": true,
                     "pipeline": {"resolution": [14, 14], "mean": [0.5], "std": [0.5]}});
    let resized = Dataset::build(&dataset(cfg), "val_dataloader").unwrap();
    let batch = resized.get_batch(&Tensor::from_slice(&[1i64]), 0, 0).unwrap();
    assert_eq!(batch.inputs.size(), vec![1, 196]);
    let top_right = batch.inputs.double_value(&[0, 13]);
    assert!((top_right - (201.0 / 255.0 - 0.5) / 0.5).abs() < 1e-5, "{top_right}");
}

#[test]
fn cifar_batches_in_the_same_order_with_one_or_two_workers_and_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar(tmp.path(), 7);
    let data = json!({"type": "cifar10", "root": tmp.path(),
                      "pipeline": {"random_crop_padding": 4, "random_flip": true, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2]}});
    let one = loader(data.clone(), 4, 1);
    let two = loader(data, 4, 2);
    assert_eq!(one.num_samples(), 35);
    for epoch in 0..2 {
        let a: Vec<_> = one.epoch(epoch, 0).collect();
        let b: Vec<_> = two.epoch(epoch, 0).collect();
        assert_eq!(a.len(), 9);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.inputs.size(), vec![4.min(x.targets.size()[0]), 3, 32, 32]);
            assert_eq!(floats(&x.inputs), floats(&y.inputs));
            assert_eq!(longs(&x.targets), longs(&y.targets));
        }
        // Resuming at batch 5 sees exactly the same images.
        let resumed: Vec<_> = two.epoch(epoch, 5).collect();
        assert_eq!(resumed.len(), 4);
        for (x, y) in a[5..].iter().zip(&resumed) {
            assert_eq!(floats(&x.inputs), floats(&y.inputs));
        }
    }
    let (e0, e1): (Vec<_>, Vec<_>) = (one.epoch(0, 0).collect(), one.epoch(1, 0).collect());
    assert_ne!(floats(&e0[0].inputs), floats(&e1[0].inputs), "augmentation and order change with the epoch");
}

/// An 8-wide, 4-high RGB image of four 2-column stripes.
fn stripes() -> image::RgbImage {
    let colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]];
    image::RgbImage::from_fn(8, 4, |x, _| image::Rgb(colours[x as usize / 2]))
}

#[test]
fn image_folder_labels_and_center_crop_then_resize() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for class in ["b_dog", "a_cat"] {
        std::fs::create_dir(root.join(class)).unwrap();
    }
    stripes().save(root.join("a_cat/x.png")).unwrap();
    image::RgbImage::from_pixel(6, 6, image::Rgb([40, 80, 120])).save(root.join("b_dog/y.jpg")).unwrap();
    std::fs::write(root.join("b_dog/notes.txt"), "not an image").unwrap();
    let ds = Dataset::build(&dataset(json!({"type": "image_folder", "root": root, "pipeline": {"resolution": [2, 2]}})), "train_dataloader").unwrap();
    assert_eq!(ds.len(), 2);
    let batch = ds.get_batch(&Tensor::from_slice(&[0i64, 1]), 0, 0).unwrap();
    assert_eq!(longs(&batch.targets), vec![0, 1], "classes are the sorted folder names");
    assert_eq!(batch.inputs.size(), vec![2, 3, 2, 2]);
    // The centered 4×4 square holds the green and blue stripes: left column
    // green, right column blue (a plain resize would show red and yellow).
    let v = floats(&batch.inputs.get(0));
    assert_eq!(v, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
    let dog = floats(&batch.inputs.get(1));
    for (c, want) in [40.0f32, 80.0, 120.0].iter().enumerate() {
        assert!((dog[c * 4] * 255.0 - want).abs() < 4.0, "{dog:?}");
    }
}

fn mnist_job(dir: &Path, extra_dataset: &str, workers: usize) -> std::path::PathBuf {
    let text = format!(
        r#"
[model]
type = "mlp"
in_features = 784
hidden = 32
num_classes = 4

[train_dataloader]
batch_size = 16
shuffle = true
num_workers = {workers}
dataset = {{ type = "mnist", root = "mnist", flatten = true, pipeline = {{ mean = [0.1307], std = [0.3081] }} {extra_dataset} }}

[val_dataloader]
batch_size = 32
dataset = {{ type = "mnist", root = "mnist", split = "test", flatten = true, pipeline = {{ mean = [0.1307], std = [0.3081] }} }}

[train_cfg]
max_epochs = 3

[optim.optimizer]
type = "adam"
lr = 0.01

[log]
interval = 4
"#
    );
    let path = dir.join("mnist.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_short_mnist_training_run_learns_with_two_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mnist");
    std::fs::create_dir(&root).unwrap();
    write_mnist(&root, "train", 128);
    write_mnist(&root, "t10k", 32);
    mnist_job(tmp.path(), "", 2);
    let out = hammer_ok(tmp.path(), &["train", "mnist.toml", "--work-dir", "work"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("Training finished"), "{text}");
    let last_acc = hammer_tests::scalars(&tmp.path().join("work"))
        .iter()
        .filter(|r| r["mode"] == "val")
        .filter_map(|r| r["accuracy"].as_f64())
        .next_back()
        .expect("a validation accuracy");
    assert!(last_acc > 90.0, "{last_acc}");
}

#[test]
fn bad_files_name_the_file_and_position_and_can_be_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Wrong idx magic.
    let root = dir.join("mnist");
    std::fs::create_dir(&root).unwrap();
    write_mnist(&root, "train", 64);
    write_mnist(&root, "t10k", 16);
    let good = std::fs::read(root.join("train-images-idx3-ubyte")).unwrap();
    let mut wrong = good.clone();
    wrong[2] = 0x0b;
    std::fs::write(root.join("train-images-idx3-ubyte"), &wrong).unwrap();
    mnist_job(dir, "", 1);
    let err = hammer_err(dir, &["train", "mnist.toml", "--work-dir", "w1"]);
    assert!(err.contains("train-images-idx3-ubyte") && err.contains("magic") && err.contains("byte offset 0"), "{err}");
    // Truncated: an error, or skipped and counted.
    std::fs::write(root.join("train-images-idx3-ubyte"), &good[..good.len() - 100]).unwrap();
    let err = hammer_err(dir, &["train", "mnist.toml", "--work-dir", "w2"]);
    assert!(err.contains("image 63 at byte offset") && err.contains("skip_bad_samples"), "{err}");
    mnist_job(dir, ", skip_bad_samples = true", 1);
    let out = hammer_ok(dir, &["train", "mnist.toml", "--work-dir", "w3"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(text.matches("Skipped 1 bad sample(s)").count(), 3, "once per epoch:\n{text}");

    // A short CIFAR batch.
    let cifar = dir.join("cifar");
    std::fs::create_dir(&cifar).unwrap();
    write_cifar(&cifar, 3);
    let mut short = cifar_batch(3, 2);
    short.truncate(2 * 3073 + 10);
    std::fs::write(cifar.join("data_batch_2.bin"), short).unwrap();
    let err = Dataset::build(&dataset(json!({"type": "cifar10", "root": cifar})), "train_dataloader").unwrap_err().to_string();
    assert!(err.contains("data_batch_2.bin") && err.contains("record 2 at byte offset 6146"), "{err}");
    let ds = Dataset::build(&dataset(json!({"type": "cifar10", "root": cifar, "skip_bad_samples": true})), "train_dataloader").unwrap();
    assert_eq!((ds.len(), ds.skipped_at_build().0), (14, 1));

    // A ragged CSV row.
    let csv = dir.join("t.csv");
    std::fs::write(&csv, "x1,x2,label\n0.5,1.0,1\n0.1,0\n0.2,0.3,0\n").unwrap();
    let err = Dataset::build(&dataset(json!({"type": "csv", "path": csv})), "train_dataloader").unwrap_err().to_string();
    assert!(err.contains("t.csv") && err.contains("line 3"), "{err}");

    // A truncated PNG in an image folder: reported by the worker, with the file.
    let folder = dir.join("folder");
    for class in ["a", "b"] {
        std::fs::create_dir_all(folder.join(class)).unwrap();
        for i in 0..4 {
            image::RgbImage::from_pixel(5, 5, image::Rgb([i * 50, 0, 0])).save(folder.join(format!("{class}/{i}.png"))).unwrap();
        }
    }
    let png = std::fs::read(folder.join("b/2.png")).unwrap();
    std::fs::write(folder.join("b/2.png"), &png[..png.len() / 2]).unwrap();
    let job = |skip: bool| {
        format!(
            "[model]\ntype = \"mlp\"\nin_features = 48\n[train_dataloader]\nbatch_size = 3\nnum_workers = 2\n\
             dataset = {{ type = \"image_folder\", root = \"folder\", flatten = true, skip_bad_samples = {skip}, pipeline = {{ resolution = [4, 4] }} }}\n\
             [train_cfg]\nmax_epochs = 2\n"
        )
    };
    std::fs::write(dir.join("folder.toml"), job(false)).unwrap();
    let err = hammer_err(dir, &["train", "folder.toml", "--work-dir", "w4"]);
    assert!(err.contains("2.png") && err.contains("sample 6"), "{err}");
    std::fs::write(dir.join("folder.toml"), job(true)).unwrap();
    let out = hammer_ok(dir, &["train", "folder.toml", "--work-dir", "w5"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(text.matches("0 when the data set was built, 1 in this epoch").count(), 2, "{text}");
    assert!(text.contains("(first: `") && text.contains("2.png` (sample 6): cannot decode the image"), "{text}");
}

#[test]
fn csv_columns_by_name_train_and_config_errors_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut text = String::from("id,a,b,species\n");
    for i in 0..60 {
        let (a, b, s) = if i % 2 == 0 { (1.0 + i as f32 / 100.0, 0.0, "setosa") } else { (-1.0, 0.5, "virginica") };
        text.push_str(&format!("{i},{a},{b},{s}\n"));
    }
    std::fs::write(dir.join("iris.csv"), text).unwrap();
    let job = |dataset: &str| {
        format!("[model]\ntype = \"mlp\"\nin_features = 2\n[train_dataloader]\nbatch_size = 8\ndataset = {dataset}\n[train_cfg]\nmax_epochs = 1\n")
    };
    std::fs::write(dir.join("csv.toml"), job(r#"{ type = "csv", path = "iris.csv", label_column = "species", features = ["a", 2] }"#)).unwrap();
    hammer_ok(dir, &["train", "csv.toml", "--work-dir", "w"]);
    for (dataset, key) in [
        (r#"{ type = "image_folder", root = "x" }"#, "train_dataloader.dataset.pipeline"),
        (r#"{ type = "mnist", root = "x", size = 3 }"#, "train_dataloader.dataset.size"),
        (r#"{ type = "csv" }"#, "train_dataloader.dataset.path"),
        (r#"{ type = "mnist", root = "x", split = "val" }"#, "train_dataloader.dataset.split"),
        (r#"{ type = "mnist", root = "x", pipeline = { std = [0.0] } }"#, "train_dataloader.dataset.pipeline.std.0"),
        (r#"{ type = "cifar10", root = "x", pipeline = { flip = true } }"#, "train_dataloader.dataset.pipeline.flip"),
    ] {
        std::fs::write(dir.join("bad.toml"), job(dataset)).unwrap();
        let err = hammer_err(dir, &["train", "bad.toml"]);
        assert!(err.contains(key), "{dataset}: {err}");
    }
    // A missing data directory names the path.
    std::fs::write(dir.join("bad.toml"), job(r#"{ type = "cifar10", root = "nowhere" }"#)).unwrap();
    let out = hammer(dir, &["train", "bad.toml"]);
    assert!(stderr(&out).contains("nowhere"), "{}", stderr(&out));
}

/// The shipped config of each format trains for one epoch on small generated
/// files laid out where its comment says the real data set goes.
#[test]
fn the_shipped_configs_train_on_generated_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("mnist")).unwrap();
    write_mnist(&data.join("mnist"), "train", 64);
    write_mnist(&data.join("mnist"), "t10k", 16);
    std::fs::create_dir_all(data.join("cifar-10-batches-bin")).unwrap();
    write_cifar(&data.join("cifar-10-batches-bin"), 4);
    for split in ["train", "val"] {
        for (c, class) in ["n01440764", "n02102040"].iter().enumerate() {
            let folder = data.join("imagenette2-160").join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..3u8 {
                let img = image::RgbImage::from_fn(40 + u32::from(i), 30, |x, _| image::Rgb([(x * 5) as u8, (c * 200) as u8, i * 60]));
                let ext = if i == 0 { "png" } else { "JPEG" };
                img.save_with_format(folder.join(format!("{i}.{ext}")), if i == 0 { image::ImageFormat::Png } else { image::ImageFormat::Jpeg }).unwrap();
            }
        }
    }
    let mut iris = String::from("sepal_length,sepal_width,petal_length,petal_width,species\n");
    for i in 0..30 {
        let s = ["setosa", "versicolor", "virginica"][i % 3];
        iris.push_str(&format!("{},{},{},{},{s}\n", 5.0 + (i % 3) as f32, 3.0, 1.5 * (i % 3) as f32, 0.2, ));
    }
    std::fs::write(data.join("iris_train.csv"), &iris).unwrap();
    std::fs::write(data.join("iris_val.csv"), &iris).unwrap();
    for name in ["mnist", "cifar10", "image_folder", "csv"] {
        let config = configs.join(format!("{name}.toml"));
        let work = format!("w_{name}");
        let out = hammer_ok(
            dir,
            &["train", config.to_str().unwrap(), "--work-dir", &work, "--cfg-options", "train_cfg.max_epochs=1", "env.device=cpu"],
        );
        assert!(stdout(&out).contains("Training finished"), "{name}: {}", stdout(&out));
    }
}
