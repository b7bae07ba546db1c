//! A schedule's progress as bytes, for checkpoints: [`Schedule::save_state`]
//! and [`Schedule::load_state`].

use hammer_sdk::state::{StateReader, StateWriter};

use super::plateau::Plateau;
use super::Schedule;

impl Schedule {
    /// The schedule's progress as bytes (format `HELR` version 1: type name,
    /// last_step, next global step, plateau best, bad epochs, cooldown, last metric).
    pub fn save_state(&self) -> Vec<u8> {
        let mut w = StateWriter::new(*b"HELR", 1);
        w.write_str(&self.name)
            .write_i64(self.last_step)
            .write_u64(self.next_global)
            .write_f64(self.plateau.best)
            .write_u64(self.plateau.num_bad)
            .write_u64(self.plateau.cooldown_counter)
            .write_opt_f64(self.plateau.last_metric);
        w.finish()
    }

    /// Restores what `save_state` returned.
    ///
    /// # Errors
    ///
    /// Bytes that are not such a state, or the state of another type; the
    /// schedule is then unchanged.
    pub fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        let mut r = StateReader::new(state, *b"HELR", 1)?;
        let name = r.read_str()?;
        if name != self.name {
            return Err(format!("the saved state is a {name}'s, but this policy is configured as {}", self.name));
        }
        let last_step = r.read_i64()?;
        let next_global = r.read_u64()?;
        let plateau = Plateau {
            best: r.read_f64()?,
            num_bad: r.read_u64()?,
            cooldown_counter: r.read_u64()?,
            last_metric: r.read_opt_f64()?,
        };
        r.finish()?;
        self.last_step = last_step;
        self.next_global = next_global;
        self.plateau = plateau;
        self.resumed = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use hammer_sdk::OptionValue;

    use crate::schedule::Position;
    use crate::tests::{build, simulate, text};

    #[test]
    fn resume_mid_run_continues_exactly() {
        let configs: Vec<Vec<(&str, OptionValue)>> = vec![
            vec![("type", text("CosineAnnealingLR")), ("T_max", OptionValue::Integer(7)), ("by_epoch", OptionValue::Boolean(false))],
            vec![("type", text("LinearLR")), ("end", OptionValue::Integer(20)), ("by_epoch", OptionValue::Boolean(false))],
            vec![("type", text("OneCycleLR")), ("eta_max", OptionValue::Float(0.4)), ("total_steps", OptionValue::Integer(20))],
            vec![("type", text("StepLR")), ("step_size", OptionValue::Integer(2)), ("begin", OptionValue::Integer(1))],
        ];
        for config in configs {
            let mut straight = vec![build(&config).unwrap()];
            let full = simulate(&mut straight, 0.1, 0.9, 20, 5, None).unwrap();
            // Stop after iteration 37 (in the middle of epoch 7) and resume.
            let mut first = build(&config).unwrap();
            let mut lr = 0.1;
            let mut momentum = 0.9;
            for i in 0..37u64 {
                let (l, m) = first.step(Position { epoch: i / 5, iter: i }, lr, &mut |_| None).unwrap();
                lr = l;
                momentum = m.unwrap_or(momentum);
            }
            let state = first.save_state();
            let mut resumed = build(&config).unwrap();
            resumed.load_state(&state).unwrap();
            for i in 37..100u64 {
                let (l, m) = resumed.step(Position { epoch: i / 5, iter: i }, lr, &mut |_| None).unwrap();
                lr = l;
                momentum = m.unwrap_or(momentum);
                assert_eq!(lr.to_bits(), full.lr[i as usize].to_bits(), "{config:?} at iteration {i}");
                assert_eq!(momentum.to_bits(), full.momentum[i as usize].to_bits(), "{config:?} at iteration {i}");
            }
        }
    }

    #[test]
    fn state_is_checked() {
        let s = build(&[("type", text("StepLR")), ("step_size", OptionValue::Integer(3))]).unwrap();
        let mut other = build(&[("type", text("ExponentialLR")), ("gamma", OptionValue::Float(0.9))]).unwrap();
        let err = other.load_state(&s.save_state()).unwrap_err();
        assert!(err.contains("StepLR") && err.contains("ExponentialLR"), "{err}");
        assert!(other.load_state(b"nonsense").is_err());
    }
}
