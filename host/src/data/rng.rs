//! Per-sample random numbers that depend on (seed, epoch, sample index) only,
//! never on which worker thread draws them or when.

/// SplitMix64 (Steele, Lea and Flood): tiny, fast, and good enough for
/// augmentation choices.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator of sample `index` in epoch `epoch` of a run seeded with
    /// `seed`: each component is mixed in turn, so nearby triples diverge.
    pub fn for_sample(seed: u64, epoch: u64, index: u64) -> Self {
        let mut g = Self::new(seed);
        let a = g.next_u64();
        let mut g = Self::new(a ^ epoch.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let b = g.next_u64();
        Self::new(b ^ index.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A fair coin.
    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn same_triple_same_numbers_different_triples_differ() {
        let draw = |s, e, i| SplitMix64::for_sample(s, e, i).next_u64();
        assert_eq!(draw(0, 1, 2), draw(0, 1, 2));
        assert_ne!(draw(0, 1, 2), draw(0, 2, 1));
        assert_ne!(draw(0, 1, 2), draw(1, 1, 2));
        let mut g = SplitMix64::new(7);
        assert!((0..1000).all(|_| g.below(9) < 9));
    }
}
