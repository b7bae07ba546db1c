//! `accuracy`: top-k classification accuracy in percent.
//!
//! Option `topk`: an integer or a list of integers (default 1). Results are
//! named `accuracy` when `topk` is just 1, else `accuracy_top1`,
//! `accuracy_top5`, ... Everything is computed in the host (`topk`,
//! `reshape`, `eq`, `sum`); no tensor is copied into the plugin.
//!
//! The model's output is `[batch, classes]` scores; the targets are class
//! indices `[batch]` (or one-hot / soft labels `[batch, classes]`, reduced
//! with `argmax`).

use hammer_sdk::{export_metric, Metric, Options, Tensor};

/// Parses `topk`: positive, deduplicated, in the given order.
pub fn parse_topk(options: &Options) -> Result<Vec<u32>, String> {
    options.check_known(&["topk"])?;
    let raw = options.get_i64_list("topk", &[1])?;
    if raw.is_empty() {
        return Err("option `topk` must not be empty".into());
    }
    let mut ks: Vec<u32> = Vec::new();
    for k in raw {
        let k = u32::try_from(k).ok().filter(|&k| k > 0).ok_or_else(|| format!("option `topk` values must be positive integers, found {k}"))?;
        if !ks.contains(&k) {
            ks.push(k);
        }
    }
    Ok(ks)
}

/// The result names for `ks`.
pub fn result_names(ks: &[u32]) -> Vec<String> {
    if ks == [1] {
        vec!["accuracy".to_string()]
    } else {
        ks.iter().map(|k| format!("accuracy_top{k}")).collect()
    }
}

/// The metric.
#[derive(Default)]
pub struct Accuracy {
    ks: Vec<u32>,
    correct: Vec<f64>,
    total: f64,
}

impl Metric for Accuracy {
    fn setup(&mut self, options: &Options) -> Result<(), String> {
        self.ks = parse_topk(options)?;
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.correct = vec![0.0; self.ks.len()];
        self.total = 0.0;
    }

    fn process(&mut self, output: &Tensor, targets: &Tensor, _loss: f64) -> Result<(), String> {
        let shape = output.shape();
        let [batch, classes] = shape[..] else {
            return Err(format!("accuracy needs the model's output as [batch, classes], found shape {shape:?}"));
        };
        let target_shape = targets.shape();
        // Class indices as a column [batch, 1], compared against each row's top k.
        let column = if target_shape == [batch] {
            targets.reshape(&[-1, 1])?
        } else if target_shape == shape {
            targets.argmax(-1)?.reshape(&[-1, 1])?
        } else {
            return Err(format!(
                "accuracy needs targets of shape [{batch}] (class indices) or [{batch}, {classes}], found {target_shape:?}"
            ));
        };
        for (i, &k) in self.ks.iter().enumerate() {
            if u64::from(k) > classes {
                return Err(format!("topk {k} is larger than the number of classes ({classes})"));
            }
            let hits = output.topk(k)?.eq(&column)?;
            self.correct[i] += hits.sum();
        }
        self.total += batch as f64;
        Ok(())
    }

    fn compute(&mut self) -> Result<Vec<(String, f64)>, String> {
        if self.total == 0.0 {
            return Err("accuracy: no sample was processed in this pass".into());
        }
        Ok(result_names(&self.ks)
            .into_iter()
            .zip(&self.correct)
            .map(|(name, c)| (name, 100.0 * c / self.total))
            .collect())
    }
}

export_metric!(Accuracy);

#[cfg(test)]
mod tests {
    use super::*;
    use hammer_sdk::OptionValue;

    fn topk(v: OptionValue) -> Result<Vec<u32>, String> {
        parse_topk(&Options::new(vec![("topk".into(), v)]))
    }

    #[test]
    fn topk_forms_and_names() {
        assert_eq!(parse_topk(&Options::default()).unwrap(), vec![1]);
        assert_eq!(result_names(&[1]), vec!["accuracy"]);
        assert_eq!(topk(OptionValue::Integers(vec![1, 5, 5])).unwrap(), vec![1, 5]);
        assert_eq!(result_names(&[1, 5]), vec!["accuracy_top1", "accuracy_top5"]);
        assert_eq!(result_names(&[3]), vec!["accuracy_top3"]);
        assert!(topk(OptionValue::Integer(0)).unwrap_err().contains("positive"));
        assert!(topk(OptionValue::Text("1".into())).unwrap_err().contains("list of integers"));
    }
}
