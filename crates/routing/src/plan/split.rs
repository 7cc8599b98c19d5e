//! Smooth weighted round robin (nginx's algorithm): a deterministic split whose proportions
//! are exact over every cycle of `sum(weights)` picks, interleaved rather than in runs.
//!
//! The state is periodic: every pick adds `sum(weights)` to `current` and takes it off the
//! winner, and a cycle of `sum(weights)` picks takes off exactly `weight` times from each
//! branch, so after a whole cycle `current` is all zeros again. The state after `n` picks
//! is therefore the state after `n mod sum(weights)` picks from the start, which is what a
//! journal needs to restore a split: a count of picks.

/// The running state of one split.
#[derive(Clone, Debug)]
pub(crate) struct SmoothWeighted {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl SmoothWeighted {
    pub(crate) fn new(weights: &[u32]) -> SmoothWeighted {
        let weights: Vec<i64> = weights.iter().map(|w| i64::from(*w)).collect();
        SmoothWeighted { total: weights.iter().sum(), current: vec![0; weights.len()], weights }
    }

    /// Puts a fresh split where it would be after `picks` picks.
    pub(crate) fn fast_forward(&mut self, picks: u64) {
        let Ok(total) = u64::try_from(self.total) else { return };
        if total == 0 {
            return;
        }
        for _ in 0..picks % total {
            self.next();
        }
    }

    /// The index of the next branch.
    pub(crate) fn next(&mut self) -> usize {
        let mut best = 0;
        for i in 0..self.weights.len() {
            self.current[i] += self.weights[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= self.total;
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_are_exact_every_cycle_and_interleaved() {
        let mut split = SmoothWeighted::new(&[5, 1, 1]);
        let picks: Vec<usize> = (0..7).map(|_| split.next()).collect();
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0]);
        let mut split = SmoothWeighted::new(&[70, 20, 10]);
        let mut counts = [0; 3];
        for _ in 0..10_000 {
            counts[split.next()] += 1;
        }
        assert_eq!(counts, [7_000, 2_000, 1_000]);
    }

    /// The periodicity [`SmoothWeighted::fast_forward`] relies on, for every weight vector
    /// of up to four branches with weights 1 to 6 and a few percentage splits: after a whole cycle the state is the
    /// initial one, so `n` picks and `n mod total` picks leave the same state.
    #[test]
    fn a_whole_cycle_returns_to_the_initial_state() {
        let mut cases: Vec<Vec<u32>> = vec![vec![70, 30], vec![70, 20, 10], vec![33, 33, 34]];
        for len in 1..=4u32 {
            for code in 0..6u32.pow(len) {
                cases.push((0..len).map(|i| code / 6u32.pow(i) % 6 + 1).collect());
            }
        }
        for weights in &cases {
            let total = weights.iter().map(|w| u64::from(*w)).sum::<u64>();
            let mut stepped = SmoothWeighted::new(weights);
            for n in 0..3 * total {
                if n % total == 0 {
                    assert!(stepped.current.iter().all(|c| *c == 0), "{weights:?} after {n}");
                }
                let mut forwarded = SmoothWeighted::new(weights);
                forwarded.fast_forward(n);
                assert_eq!(forwarded.current, stepped.current, "{weights:?} after {n}");
                stepped.next();
            }
        }
        assert_eq!(cases.len(), 3 + 6 + 36 + 216 + 1296);
    }
}
