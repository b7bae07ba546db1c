//! A folder per class, as torchvision's `ImageFolder`: the classes are the
//! sorted names of `root`'s subdirectories, a sample's label is its class's
//! index, and the JPEG and PNG files under each class folder (searched
//! recursively, in sorted order) are its samples. Images are decoded lazily,
//! by the loader's workers.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::transform::center_crop_resize;

/// The files of an image folder and their labels.
#[derive(Debug)]
pub struct ImageFolder {
    /// Every sample's file and label.
    pub samples: Vec<(PathBuf, i64)>,
    /// Class names, by label.
    pub classes: Vec<String>,
    /// The size every image is brought to, `[rows, columns]`.
    pub resolution: [usize; 2],
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list `{}`", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list `{}`", dir.display()))?;
    entries.sort();
    Ok(entries)
}

fn collect(dir: &Path, label: i64, out: &mut Vec<(PathBuf, i64)>) -> Result<()> {
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            collect(&path, label, out)?;
        } else if is_image(&path) {
            out.push((path, label));
        }
    }
    Ok(())
}

impl ImageFolder {
    /// The classes and files under `root`.
    ///
    /// # Errors
    /// A missing root, no class folder, or a class folder without images.
    pub fn scan(root: &Path, resolution: [usize; 2]) -> Result<Self> {
        let (mut samples, mut classes) = (Vec::new(), Vec::new());
        for dir in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
            let before = samples.len();
            collect(&dir, classes.len() as i64, &mut samples)?;
            if samples.len() == before {
                bail!("`{}`: class folder without a .jpg, .jpeg or .png file", dir.display());
            }
            classes.push(dir.file_name().unwrap_or_default().to_string_lossy().into_owned());
        }
        if classes.is_empty() {
            bail!("`{}`: no class folder (expected one subdirectory of images per class)", root.display());
        }
        Ok(Self { samples, classes, resolution })
    }

    /// Sample `index`, decoded to planar RGB in [0, 1] and center-cropped
    /// then resized to the resolution.
    ///
    /// # Errors
    /// A file that cannot be read or decoded (truncated, corrupt), named with
    /// the sample's index.
    pub fn load(&self, index: usize) -> Result<Vec<f32>> {
        let (path, _) = &self.samples[index];
        let (rgb, h, w) = decode_rgb(path).with_context(|| format!("`{}` (sample {index}): cannot decode the image", path.display()))?;
        Ok(center_crop_resize(&rgb, [3, h, w], self.resolution))
    }
}

/// The image at `path` as planar RGB `f32` in [0, 1], with its rows and columns.
///
/// # Errors
/// An unreadable or undecodable file.
pub fn decode_rgb(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let img = image::ImageReader::open(path)?.with_guessed_format()?.decode()?.to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut out = vec![0.0f32; 3 * h * w];
    for (i, px) in raw.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * h * w + i] = f32::from(px[c]) / 255.0;
        }
    }
    Ok((out, h, w))
}
