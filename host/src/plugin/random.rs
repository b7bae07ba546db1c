//! The randomness a plugin's WASI imports get: a generator seeded from the
//! plugin's key, not from the machine, so a plugin that draws random numbers
//! (`getrandom`, `Math.random`, Python's `random`) draws the same ones in
//! every run of the same job, as `env.seed` makes everything else repeat.

use std::convert::Infallible;

use crate::data::rng::SplitMix64;

/// A deterministic generator behind WASI's `random` interfaces.
pub(super) struct SeededRandom(SplitMix64);

impl SeededRandom {
    /// The generator of the plugin `key` (its name, or `name#2` for a second one).
    pub(super) fn for_plugin(key: &str) -> Self {
        Self(SplitMix64::new(seed_of(key)))
    }
}

/// The seed of the plugin `key`: FNV-1a of the key, stable across builds
/// and platforms (also WASI's `insecure-seed`, which hash maps use).
pub(super) fn seed_of(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl rand_core::TryRng for SeededRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.0.next_u64() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.0.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand_core::Rng;

    use super::*;

    #[test]
    fn the_same_plugin_draws_the_same_numbers() {
        let draw = |key: &str| {
            let mut r = SeededRandom::for_plugin(key);
            let mut bytes = [0u8; 13];
            r.fill_bytes(&mut bytes);
            (r.next_u64(), bytes)
        };
        assert_eq!(draw("spike"), draw("spike"));
        assert_ne!(draw("spike"), draw("spike#2"));
    }
}
