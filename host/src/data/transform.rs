//! The image pipeline: center crop then resize to the training resolution,
//! random crop with padding and horizontal flip, normalization.
//!
//! Images are planar `f32` (channels, rows, columns) with values in [0, 1],
//! as torchvision's `ToTensor` gives them; augmentation pads with 0 (black)
//! before normalization, as torchvision's `RandomCrop(padding=p)` does.

use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;

/// The `pipeline` of an image data set.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Training resolution `[height, width]`. Images stored at another
    /// resolution are center-cropped to its aspect ratio (the largest
    /// centered region), then resized bilinearly (Hammer's default).
    /// Required for `image_folder`; MNIST and CIFAR keep theirs without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<[usize; 2]>,
    /// Per-channel mean subtracted after scaling to [0, 1] (one value for all
    /// channels, or one per channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f64>>,
    /// Per-channel standard deviation divided by (as `mean`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<Vec<f64>>,
    /// Random crop back to the resolution after padding every side with
    /// this many black pixels (0: off), as torchvision's `RandomCrop`.
    #[serde(default)]
    pub random_crop_padding: usize,
    /// Flip horizontally with probability 1/2.
    #[serde(default)]
    pub random_flip: bool,
}

/// The per-sample part of the pipeline, resolved for a number of channels.
#[derive(Debug, Clone, Default)]
pub struct Augment {
    /// Padding of the random crop (0: none).
    pub padding: usize,
    /// Random horizontal flip.
    pub flip: bool,
    /// Mean and 1/std per channel, or none.
    pub normalize: Option<(Vec<f32>, Vec<f32>)>,
}

impl Augment {
    /// The augmentation and normalization of `cfg` for `channels` channels.
    ///
    /// # Errors
    /// `mean` or `std` with neither one nor `channels` values.
    pub fn new(cfg: &PipelineConfig, channels: usize, key: &str) -> anyhow::Result<Self> {
        let per_channel = |name: &str, v: &Option<Vec<f64>>, default: f64| -> anyhow::Result<Vec<f32>> {
            match v {
                None => Ok(vec![default as f32; channels]),
                Some(v) if v.len() == 1 => Ok(vec![v[0] as f32; channels]),
                Some(v) if v.len() == channels => Ok(v.iter().map(|&x| x as f32).collect()),
                Some(v) => anyhow::bail!(
                    "config key `{key}.pipeline.{name}`: has {} values; the images have {channels} channel(s) (give 1 or {channels})",
                    v.len()
                ),
            }
        };
        let normalize = if cfg.mean.is_some() || cfg.std.is_some() {
            let mean = per_channel("mean", &cfg.mean, 0.0)?;
            let inv = per_channel("std", &cfg.std, 1.0)?.iter().map(|s| 1.0 / s).collect();
            Some((mean, inv))
        } else {
            None
        };
        Ok(Self { padding: cfg.random_crop_padding, flip: cfg.random_flip, normalize })
    }

    /// Whether applying it leaves every image unchanged.
    pub fn is_identity(&self) -> bool {
        self.padding == 0 && !self.flip && self.normalize.is_none()
    }

    /// Appends `src` (`shape` = channels, rows, columns) to `out`, randomly
    /// cropped and flipped with `rng`, then normalized.
    pub fn apply(&self, src: &[f32], shape: [usize; 3], rng: &mut SplitMix64, out: &mut Vec<f32>) {
        let [c, h, w] = shape;
        if self.is_identity() {
            out.extend_from_slice(src);
            return;
        }
        let p = self.padding as isize;
        let (dy, dx) = if p > 0 {
            let span = 2 * self.padding as u64 + 1;
            (rng.below(span) as isize, rng.below(span) as isize)
        } else {
            (p, p)
        };
        let flip = self.flip && rng.coin();
        let start = out.len();
        for ch in 0..c {
            let plane = &src[ch * h * w..(ch + 1) * h * w];
            for y in 0..h {
                let sy = y as isize + dy - p;
                for x in 0..w {
                    let cx = if flip { w - 1 - x } else { x };
                    let sx = cx as isize + dx - p;
                    let v = if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                        0.0
                    } else {
                        plane[sy as usize * w + sx as usize]
                    };
                    out.push(v);
                }
            }
        }
        if let Some((mean, inv)) = &self.normalize {
            for (ch, plane) in out[start..].chunks_mut(h * w).enumerate() {
                for v in plane {
                    *v = (*v - mean[ch]) * inv[ch];
                }
            }
        }
    }
}

/// The largest region of aspect ratio `to` (rows, columns) centered in an
/// image of size `from`: `(top, left, rows, columns)`.
pub fn center_region(from: [usize; 2], to: [usize; 2]) -> (usize, usize, usize, usize) {
    let ([sh, sw], [th, tw]) = (from, to);
    let (ch, cw) = if sw * th > sh * tw {
        // Wider than the target: keep every row.
        (sh, ((sh * tw) as f64 / th as f64).round().max(1.0) as usize)
    } else {
        (((sw * th) as f64 / tw as f64).round().max(1.0) as usize, sw)
    };
    ((sh - ch) / 2, (sw - cw) / 2, ch, cw)
}

/// Center crop then resize: the largest centered region of `to`'s aspect
/// ratio, resized bilinearly (half-pixel centers, no antialiasing, as
/// `F.interpolate(mode="bilinear", align_corners=False)`) to `to`.
/// `src` is planar with `shape` = channels, rows, columns.
pub fn center_crop_resize(src: &[f32], shape: [usize; 3], to: [usize; 2]) -> Vec<f32> {
    let [c, h, w] = shape;
    if [h, w] == to {
        return src.to_vec();
    }
    let (top, left, ch, cw) = center_region([h, w], to);
    let [th, tw] = to;
    let taps = |out_len: usize, in_len: usize| -> Vec<(usize, usize, f32)> {
        let scale = in_len as f64 / out_len as f64;
        (0..out_len)
            .map(|o| {
                let s = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
                let i0 = (s.floor() as usize).min(in_len - 1);
                let i1 = (i0 + 1).min(in_len - 1);
                (i0, i1, (s - i0 as f64) as f32)
            })
            .collect()
    };
    let (ys, xs) = (taps(th, ch), taps(tw, cw));
    let mut out = Vec::with_capacity(c * th * tw);
    for k in 0..c {
        let plane = &src[k * h * w..(k + 1) * h * w];
        let at = |y: usize, x: usize| plane[(top + y) * w + left + x];
        for &(y0, y1, fy) in &ys {
            for &(x0, x1, fx) in &xs {
                let a = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx;
                let b = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx;
                out.push(a + (b - a) * fy);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn center_crop_keeps_the_middle_of_a_wide_image() {
        // 4 rows × 8 columns: four 2-column stripes A B C D.
        let row = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0];
        let src: Vec<f32> = (0..4).flat_map(|_| row).collect();
        assert_eq!(center_region([4, 8], [2, 2]), (0, 2, 4, 4));
        // The centered 4×4 square (B B C C) halves to B C.
        assert_eq!(center_crop_resize(&src, [1, 4, 8], [2, 2]), vec![2.0, 3.0, 2.0, 3.0]);
        // A tall image keeps its middle rows.
        assert_eq!(center_region([10, 4], [2, 2]), (3, 0, 4, 4));
        assert_eq!(center_region([28, 28], [32, 32]), (0, 0, 28, 28));
    }

    #[test]
    fn bilinear_upsampling_matches_half_pixel_centers() {
        // 1×2 → 1×4: F.interpolate gives [0, 0.25, 0.75, 1].
        let out = center_crop_resize(&[0.0, 1.0, 0.0, 1.0], [1, 2, 2], [2, 4]);
        assert_eq!(&out[..4], &[0.0, 0.25, 0.75, 1.0]);
    }

    #[test]
    fn augmentation_is_seeded_and_normalizes() {
        let cfg = PipelineConfig { random_crop_padding: 1, random_flip: true, mean: Some(vec![0.5]), std: Some(vec![0.5]), ..Default::default() };
        let aug = Augment::new(&cfg, 1, "d").unwrap();
        let src: Vec<f32> = (0..9).map(|v| v as f32 / 8.0).collect();
        let run = |i| {
            let mut out = Vec::new();
            aug.apply(&src, [1, 3, 3], &mut SplitMix64::for_sample(0, 0, i), &mut out);
            out
        };
        assert_eq!(run(3), run(3));
        assert!((0..20).any(|i| run(i) != run(3)));
        // Padding is black before normalization: (0 - 0.5) / 0.5.
        assert!((0..20).any(|i| run(i).contains(&-1.0)));
        let plain = Augment::new(&PipelineConfig { mean: Some(vec![0.5]), std: Some(vec![0.25]), ..Default::default() }, 1, "d").unwrap();
        let mut out = Vec::new();
        plain.apply(&[0.0, 0.5, 1.0, 0.75], [1, 2, 2], &mut SplitMix64::new(0), &mut out);
        assert_eq!(out, vec![-2.0, 0.0, 2.0, 1.0]);
        assert!(Augment::new(&PipelineConfig { mean: Some(vec![0.1, 0.2]), ..Default::default() }, 3, "d").is_err());
    }
}
