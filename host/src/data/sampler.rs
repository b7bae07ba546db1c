//! Which samples of each epoch a rank of a distributed job loads, as
//! MMEngine's `DefaultSampler` (and torch's `DistributedSampler`) choose
//! them: the epoch's order (the seeded permutation of `seed + epoch`, the
//! same on every rank — `set_epoch`'s semantics), padded by repeating its
//! start to a multiple of the world size, then every `world_size`-th sample
//! from position `rank`.

use tch::{Device, Kind, Tensor};

/// Rank `rank`'s share of a data set split over `world_size` processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's rank.
    pub rank: usize,
    /// Number of processes sharing the data.
    pub world_size: usize,
}

impl Shard {
    /// Samples per rank for a data set of `n`: `ceil(n / world_size)`.
    pub fn len(&self, n: usize) -> usize {
        n.div_ceil(self.world_size.max(1))
    }

    /// Whether the shard of a data set of `n` is empty.
    pub fn is_empty(&self, n: usize) -> bool {
        self.len(n) == 0
    }

    /// This rank's part of `order` (a permutation of `0..n`, int64).
    pub fn select(&self, order: &Tensor) -> Tensor {
        let n = order.size()[0];
        let world = self.world_size.max(1) as i64;
        let total = self.len(n as usize) as i64 * world;
        let padded = if total > n && n > 0 {
            let repeats = (total + n - 1) / n;
            order.repeat([repeats]).narrow(0, 0, total)
        } else {
            order.shallow_clone()
        };
        let picks = Tensor::arange_start_step(self.rank as i64, total, world, (Kind::Int64, Device::Cpu));
        padded.index_select(0, &picks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(rank: usize, world_size: usize, order: &[i64]) -> Vec<i64> {
        Vec::<i64>::try_from(Shard { rank, world_size }.select(&Tensor::from_slice(order))).unwrap()
    }

    #[test]
    fn ranks_take_every_world_size_th_sample() {
        let order = [7, 3, 5, 0, 1, 2, 4, 6];
        assert_eq!(shard(0, 2, &order), vec![7, 5, 1, 4]);
        assert_eq!(shard(1, 2, &order), vec![3, 0, 2, 6]);
        assert_eq!(shard(0, 1, &order), order.to_vec());
    }

    #[test]
    fn the_order_is_padded_from_its_start() {
        // 5 samples over 2 ranks: 3 each, the 6th is the first again.
        let order = [4, 2, 0, 1, 3];
        assert_eq!(shard(0, 2, &order), vec![4, 0, 3]);
        assert_eq!(shard(1, 2, &order), vec![2, 1, 4]);
        assert_eq!(Shard { rank: 0, world_size: 2 }.len(5), 3);
        // 2 samples over 4 ranks: repeated twice.
        assert_eq!(shard(3, 4, &[1, 0]), vec![0]);
    }
}
