//! Smooth weighted round robin (nginx's algorithm): a deterministic split whose proportions
//! are exact over every cycle of `sum(weights)` picks, interleaved rather than in runs.

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
}
