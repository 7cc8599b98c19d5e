//! The point-forecast methods over one queue's training values.
//!
//! Every method sees the same thing: calls per slot of consecutive local days (`None` where
//! unobserved: closed days, holidays left out, daylight-saving gaps) and predicts the days right
//! after. Positions of the week that were closed throughout the recent history forecast zero.

use super::holt_winters;

/// Training data of one queue: `values[day * spd + slot]`, day 0 being weekday `first_weekday`
/// (0 = Monday).
#[derive(Debug, Clone, Copy)]
pub struct Training<'a> {
    /// Calls per slot.
    pub values: &'a [Option<f64>],
    /// Slots per day.
    pub spd: usize,
    /// Weekday of day 0, Monday = 0.
    pub first_weekday: usize,
}

/// How far back the methods look for the same weekday (weeks).
pub const LOOKBACK_WEEKS: usize = 8;

impl Training<'_> {
    /// Whole days of training.
    pub fn days(&self) -> usize {
        self.values.len() / self.spd
    }

    /// Position in the week (0 .. 7 * spd) of absolute slot index `t` (which may lie beyond the
    /// training, for the forecast).
    pub fn week_position(&self, t: usize) -> usize {
        (self.first_weekday * self.spd + t) % (7 * self.spd)
    }

    /// The same truncated to its first `days` days.
    pub fn first_days(&self, days: usize) -> Training<'_> {
        Training { values: &self.values[..days.min(self.days()) * self.spd], ..*self }
    }

    /// Open positions of the week: some call was seen there in the last [`LOOKBACK_WEEKS`] weeks
    /// in which that position was observed.
    pub fn open_mask(&self) -> Vec<bool> {
        let week = 7 * self.spd;
        let mut open = vec![false; week];
        let mut seen = vec![0usize; week];
        for t in (0..self.values.len()).rev() {
            let pos = self.week_position(t);
            if let Some(v) = self.values[t] {
                if seen[pos] < LOOKBACK_WEEKS {
                    seen[pos] += 1;
                    open[pos] |= v > 0.0;
                }
            }
        }
        open
    }

    /// The observed values at the same position of the week as absolute slot `t`, most recent
    /// first, with how many days back each lies from `t`.
    fn same_position(&self, t: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let week = 7 * self.spd;
        let n = self.values.len();
        // The latest training slot at the same position of the week.
        let back = (t + 1 - n).div_ceil(week).max(1) * week;
        let first = t.checked_sub(back);
        std::iter::successors(first, move |i| i.checked_sub(week))
            .filter_map(move |i| self.values[i].map(|v| ((t - i) / self.spd, v)))
    }
}

/// Seasonal naive: the same slot on the latest observed same weekday.
pub fn seasonal_naive(training: &Training<'_>, horizon_days: usize) -> Vec<f64> {
    let n = training.values.len();
    (n..n + horizon_days * training.spd)
        .map(|t| training.same_position(t).next().map_or(0.0, |(_, v)| v))
        .collect()
}

/// The plain average of the same slot on the last four observed same weekdays: the benchmark a
/// planner's spreadsheet uses.
pub fn average_of_four(training: &Training<'_>, horizon_days: usize) -> Vec<f64> {
    let n = training.values.len();
    (n..n + horizon_days * training.spd)
        .map(|t| {
            let (sum, count) = training
                .same_position(t)
                .take(4)
                .fold((0.0, 0.0), |(s, c), (_, v)| (s + v, c + 1.0));
            if count > 0.0 {
                sum / count
            } else {
                0.0
            }
        })
        .collect()
}

/// Weight of the k-th most recent same weekday relative to the one before it.
const RECENCY_DECAY: f64 = 0.9;
/// Same weekdays the weighted average reaches back to.
const WEIGHTED_WEEKS: usize = 12;
/// Largest daily growth the trend adjustment will extrapolate (about 7 % a week).
const MAX_DAILY_GROWTH: f64 = 0.01;

/// Weighted average of the same weekday and slot over the last twelve weeks, most recent weighted
/// most, each value first carried to the target day by the trend of daily volume (a log-linear fit
/// of fully observed days with a level per weekday). Outlier days are left out first.
pub fn weighted_average(training: &Training<'_>, horizon_days: usize) -> Vec<f64> {
    let cleaned = without_outlier_days(training);
    let training = &Training { values: &cleaned, ..*training };
    let growth = daily_growth(training);
    let n = training.values.len();
    (n..n + horizon_days * training.spd)
        .map(|t| {
            let (mut sum, mut weights, mut weight) = (0.0, 0.0, 1.0);
            for (days_back, v) in training.same_position(t).take(WEIGHTED_WEEKS) {
                sum += weight * v * (growth * days_back as f64).exp();
                weights += weight;
                weight *= RECENCY_DECAY;
            }
            if weights > 0.0 {
                sum / weights
            } else {
                0.0
            }
        })
        .collect()
}

/// Log growth of daily volume per day over the last twelve weeks: least squares of the log
/// day total against the day, with one intercept per weekday. Days with any open slot
/// unobserved are left out.
pub fn daily_growth(training: &Training<'_>) -> f64 {
    day_fit(training).growth
}

/// The log-linear fit of day totals: growth per day and each fitted day's residual.
struct DayFit {
    growth: f64,
    /// (day, residual of the log total).
    residuals: Vec<(usize, f64)>,
}

fn day_fit(training: &Training<'_>) -> DayFit {
    let open = training.open_mask();
    let spd = training.spd;
    let days = training.days();
    let start = days.saturating_sub(12 * 7);
    let mut by_weekday: Vec<Vec<(usize, f64)>> = vec![Vec::new(); 7];
    for day in start..days {
        let mut total = 0.0;
        let mut complete = true;
        for slot in 0..spd {
            let t = day * spd + slot;
            if open[training.week_position(t)] {
                match training.values[t] {
                    Some(v) => total += v,
                    None => complete = false,
                }
            }
        }
        if complete && total > 0.0 {
            by_weekday[(training.first_weekday + day) % 7].push((day, total.ln()));
        }
    }
    let mean = |points: &[(usize, f64)]| {
        let n = points.len() as f64;
        (
            points.iter().map(|p| p.0 as f64).sum::<f64>() / n,
            points.iter().map(|p| p.1).sum::<f64>() / n,
        )
    };
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for points in by_weekday.iter().filter(|p| p.len() >= 2) {
        let (mx, my) = mean(points);
        for (x, y) in points {
            sxy += (*x as f64 - mx) * (y - my);
            sxx += (*x as f64 - mx).powi(2);
        }
    }
    let growth =
        if sxx > 0.0 { (sxy / sxx).clamp(-MAX_DAILY_GROWTH, MAX_DAILY_GROWTH) } else { 0.0 };
    let mut residuals = Vec::new();
    for points in by_weekday.iter().filter(|p| p.len() >= 3) {
        let (mx, my) = mean(points);
        for (x, y) in points {
            residuals.push((*x, y - my - growth * (*x as f64 - mx)));
        }
    }
    DayFit { growth, residuals }
}

/// A day whose total strays this many robust standard deviations from its weekday's trend line
/// is an outlier (an unlisted special day: outage, campaign, the catch-up after a holiday).
const OUTLIER_SIGMAS: f64 = 2.5;

/// The training values with outlier days set to unobserved, so that one odd day does not steer
/// a forecast for weeks. The spread is the median absolute residual (scaled to a standard
/// deviation), which the outliers themselves cannot inflate.
pub fn without_outlier_days(training: &Training<'_>) -> Vec<Option<f64>> {
    let fit = day_fit(training);
    let mut values = training.values.to_vec();
    if fit.residuals.len() < 10 {
        return values;
    }
    let mut absolute: Vec<f64> = fit.residuals.iter().map(|r| r.1.abs()).collect();
    absolute.sort_by(f64::total_cmp);
    let sigma = 1.4826 * absolute[absolute.len() / 2];
    for (day, residual) in &fit.residuals {
        if residual.abs() > OUTLIER_SIGMAS * sigma {
            values[day * training.spd..(day + 1) * training.spd].fill(None);
        }
    }
    values
}

/// Double-seasonal Holt-Winters; see [`holt_winters`].
pub fn holt_winters(training: &Training<'_>, horizon_days: usize) -> Vec<f64> {
    holt_winters::forecast(training, horizon_days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week_of(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|v| Some(*v)).collect()
    }

    #[test]
    fn naive_and_average_look_back_by_weeks() {
        // One slot per day, three weeks starting on a Monday; week k has value 10k + weekday.
        let values: Vec<Option<f64>> =
            (0..21).map(|d| Some(10.0 * (d / 7) as f64 + (d % 7) as f64)).collect();
        let training = Training { values: &values, spd: 1, first_weekday: 0 };
        assert_eq!(seasonal_naive(&training, 2), vec![20.0, 21.0]);
        assert_eq!(average_of_four(&training, 2), vec![10.0, 11.0]);
        // A missing Monday is skipped, not read as zero.
        let mut gappy = values.clone();
        gappy[14] = None;
        let training = Training { values: &gappy, spd: 1, first_weekday: 0 };
        assert_eq!(seasonal_naive(&training, 1), vec![10.0]);
        assert_eq!(average_of_four(&training, 1), vec![5.0]);
    }

    #[test]
    fn growth_is_recovered_from_day_totals() {
        // Two slots a day, five weeks of 1 % daily growth on a weekday pattern.
        let values: Vec<f64> = (0..35)
            .flat_map(|d| {
                let level = 100.0 * (1.0 + (d % 7) as f64) * (0.01 * d as f64).exp();
                [level * 0.4, level * 0.6]
            })
            .collect();
        let values = week_of(&values);
        let training = Training { values: &values, spd: 2, first_weekday: 3 };
        assert!((daily_growth(&training) - 0.01).abs() < 1e-9);
        let forecast = weighted_average(&training, 1);
        let expect = 100.0 * (1.0 + 0.0) * (0.01f64 * 35.0).exp() * 0.4;
        assert!((forecast[0] - expect).abs() < 1e-6 * expect, "{} vs {expect}", forecast[0]);
    }

    #[test]
    fn closed_positions_are_found() {
        let values: Vec<Option<f64>> =
            (0..14).flat_map(|d| [Some(0.0), if d % 7 == 6 { None } else { Some(5.0) }]).collect();
        let training = Training { values: &values, spd: 2, first_weekday: 0 };
        let open = training.open_mask();
        assert!(!open[0] && open[1] && !open[13]);
    }
}
