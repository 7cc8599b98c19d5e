//! The recent past of each queue, for the wallboard chart: calls waiting and the current
//! interval's service level, sampled at most every [`SAMPLE_EVERY_MS`].

use std::collections::{HashMap, VecDeque};

use serde::Serialize;
use switchboard_proto::v1 as pb;

/// Spacing of history points, in milliseconds.
pub const SAMPLE_EVERY_MS: i64 = 15_000;

/// One sample of one queue.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// When, Unix ms.
    pub at_ms: i64,
    /// Calls waiting.
    pub waiting: u32,
    /// Service level of the interval then, 0 to 1 (absent with nothing answered).
    pub service_level: Option<f64>,
}

/// Bounded history per queue.
#[derive(Debug, Default)]
pub struct History {
    points: HashMap<String, VecDeque<HistoryPoint>>,
    last_ms: Option<i64>,
    max_points: usize,
}

impl History {
    /// Keeps `minutes` of samples.
    pub fn new(minutes: u32) -> History {
        History {
            points: HashMap::new(),
            last_ms: None,
            max_points: (i64::from(minutes) * 60_000 / SAMPLE_EVERY_MS).max(1) as usize,
        }
    }

    /// Samples a snapshot if the last sample is old enough.
    pub fn record(&mut self, snapshot: &pb::StatsSnapshot) {
        if self.last_ms.is_some_and(|last| snapshot.at_unix_ms - last < SAMPLE_EVERY_MS) {
            return;
        }
        self.last_ms = Some(snapshot.at_unix_ms);
        for q in &snapshot.queues {
            let points = self.points.entry(q.queue.clone()).or_default();
            points.push_back(HistoryPoint {
                at_ms: snapshot.at_unix_ms,
                waiting: q.calls_waiting,
                service_level: q.interval.as_ref().and_then(|i| i.service_level),
            });
            while points.len() > self.max_points {
                points.pop_front();
            }
        }
    }

    /// Every queue's points, oldest first.
    pub fn series(&self) -> HashMap<String, Vec<HistoryPoint>> {
        self.points.iter().map(|(q, p)| (q.clone(), p.iter().copied().collect())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_spaced_and_bounded() {
        let mut h = History::new(1); // 4 points
        for i in 0..20 {
            let snapshot = pb::StatsSnapshot {
                at_unix_ms: i * 5_000,
                queues: vec![pb::QueueStats {
                    queue: "q".into(),
                    calls_waiting: i as u32,
                    ..Default::default()
                }],
                ..Default::default()
            };
            h.record(&snapshot);
        }
        let points = &h.series()["q"];
        let times: Vec<i64> = points.iter().map(|p| p.at_ms).collect();
        assert_eq!(times, [45_000, 60_000, 75_000, 90_000]);
        assert_eq!(points.last().unwrap().waiting, 18);
    }
}
