//! Average handle time forecast per interval.
//!
//! Handle time moves slowly and is noisy where few calls were answered, so each forecast slot
//! blends, weighted by answered calls, the same weekday and slot over the last eight weeks with
//! the same slot on every weekday, and that with the queue's overall average: a slot with few
//! calls leans on the broader averages (a credibility weighting).

use super::methods::LOOKBACK_WEEKS;
use crate::series::QueueSeries;

/// Calls of evidence that count as much as the broader average.
const CREDIBILITY_CALLS: f64 = 30.0;

/// AHT (seconds) per slot of the `horizon_days` days after the series; `None` when the queue has
/// no handle time at all.
pub fn forecast_aht(series: &QueueSeries, horizon_days: usize) -> Vec<Option<f64>> {
    let spd = series.slots_per_day();
    let days = series.days();
    let start = days.saturating_sub(LOOKBACK_WEEKS * 7);
    let mut by_position = vec![(0.0, 0.0); 7 * spd];
    let mut by_slot = vec![(0.0, 0.0); spd];
    let mut overall = (0.0, 0.0);
    let first_weekday =
        chrono::Datelike::weekday(&series.first_day).num_days_from_monday() as usize;
    for t in start * spd..days * spd {
        if let Some(aht) = series.aht_s[t] {
            let w = series.aht_weight[t];
            let pos = (first_weekday * spd + t) % (7 * spd);
            for acc in [&mut by_position[pos], &mut by_slot[t % spd], &mut overall] {
                acc.0 += w * aht;
                acc.1 += w;
            }
        }
    }
    if overall.1 <= 0.0 {
        return vec![None; horizon_days * spd];
    }
    let overall_aht = overall.0 / overall.1;
    let blend = |(sum, weight): (f64, f64), prior: f64| {
        (sum + CREDIBILITY_CALLS * prior) / (weight + CREDIBILITY_CALLS)
    };
    let n = days * spd;
    (n..n + horizon_days * spd)
        .map(|t| {
            let slot_aht = blend(by_slot[t % spd], overall_aht);
            Some(blend(by_position[(first_weekday * spd + t) % (7 * spd)], slot_aht))
        })
        .collect()
}
