//! A metric that observes the run: at `compute` it reports the learning
//! rate it reads from the host's scalars (`seen_lr`) and the number of
//! batches it processed (`batches`), and emits `observer/batches`.

use hammer_sdk::{emit_scalar, export_metric, scalar, Metric, Options, Tensor};

#[derive(Default)]
struct Observer {
    batches: u64,
}

impl Metric for Observer {
    fn setup(&mut self, options: &Options) -> Result<(), String> {
        options.check_known(&[])
    }

    fn reset(&mut self) {
        self.batches = 0;
    }

    fn process(&mut self, _output: &Tensor, _targets: &Tensor, _loss: f64) -> Result<(), String> {
        self.batches += 1;
        Ok(())
    }

    fn compute(&mut self) -> Result<Vec<(String, f64)>, String> {
        let lr = scalar("lr").ok_or("no `lr` scalar: a metric should see the run's scalars")?;
        emit_scalar("observer/batches", self.batches as f64);
        Ok(vec![("seen_lr".into(), lr), ("batches".into(), self.batches as f64)])
    }
}

export_metric!(Observer);
