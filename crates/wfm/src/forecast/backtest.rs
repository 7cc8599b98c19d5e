//! Forecast accuracy and rolling-origin backtests.

use chrono::NaiveDate;

use super::methods::Training;
use super::Method;
use crate::series::QueueSeries;

/// Accuracy of one forecast against what happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Weighted absolute percentage error: sum |actual - forecast| / sum actual.
    pub wape: f64,
    /// Mean absolute percentage error over intervals with calls.
    pub mape: f64,
    /// Mean absolute scaled error: the mean absolute error over the in-sample mean absolute
    /// error of the same slot one week earlier (below 1 beats that naive forecast).
    pub mase: f64,
}

/// Scores `forecast` against `actual` (unobserved actuals are skipped); `None` when nothing was
/// observed or nothing was called.
pub fn accuracy(
    training: &Training<'_>,
    forecast: &[f64],
    actual: &[Option<f64>],
) -> Option<Accuracy> {
    let (mut abs_error, mut total, mut count) = (0.0, 0.0, 0.0);
    let (mut ape, mut ape_count) = (0.0, 0.0);
    for (f, a) in forecast.iter().zip(actual) {
        if let Some(a) = a {
            abs_error += (f - a).abs();
            total += a;
            count += 1.0;
            if *a > 0.0 {
                ape += (f - a).abs() / a;
                ape_count += 1.0;
            }
        }
    }
    if count == 0.0 || total <= 0.0 {
        return None;
    }
    let week = 7 * training.spd;
    let (mut naive_error, mut naive_count) = (0.0, 0.0);
    for t in week..training.values.len() {
        if let (Some(a), Some(b)) = (training.values[t], training.values[t - week]) {
            naive_error += (a - b).abs();
            naive_count += 1.0;
        }
    }
    let scale = if naive_count > 0.0 { naive_error / naive_count } else { f64::NAN };
    Some(Accuracy {
        wape: abs_error / total,
        mape: if ape_count > 0.0 { ape / ape_count } else { f64::NAN },
        mase: abs_error / count / scale,
    })
}

/// One method's accuracy at one origin.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestRow {
    /// Queue.
    pub queue: String,
    /// Method.
    pub method: Method,
    /// First forecast day (the training ends the day before).
    pub origin: NaiveDate,
    /// Scores.
    pub accuracy: Accuracy,
}

/// Training days a backtest origin needs before it.
pub const MIN_TRAINING_DAYS: usize = 14;

/// Rolling-origin backtest: for each of the last `origins` weeks, train on everything before it
/// and forecast its first `test_days` days with every method.
pub fn backtest(
    series: &QueueSeries,
    methods: &[Method],
    origins: usize,
    test_days: usize,
) -> Vec<BacktestRow> {
    let spd = series.slots_per_day();
    let days = series.days();
    let first_weekday = series.first_day.weekday_from_monday();
    let full = Training { values: &series.calls, spd, first_weekday };
    let mut rows = Vec::new();
    for origin in (1..=origins).rev() {
        let Some(train_days) = days.checked_sub(7 * origin) else { continue };
        if train_days < MIN_TRAINING_DAYS {
            continue;
        }
        let test_days = test_days.min(days - train_days);
        let training = full.first_days(train_days);
        let actual = &series.calls[train_days * spd..(train_days + test_days) * spd];
        for method in methods {
            let forecast = method.predict(&training, test_days);
            if let Some(accuracy) = accuracy(&training, &forecast, actual) {
                rows.push(BacktestRow {
                    queue: series.queue.clone(),
                    method: *method,
                    origin: series.date(train_days),
                    accuracy,
                });
            }
        }
    }
    rows
}

/// Mean WAPE per method over the rows, in the order of `methods`; methods without rows are left
/// out.
pub fn mean_wape(rows: &[BacktestRow], methods: &[Method]) -> Vec<(Method, f64)> {
    methods
        .iter()
        .filter_map(|m| {
            let values: Vec<f64> =
                rows.iter().filter(|r| r.method == *m).map(|r| r.accuracy.wape).collect();
            (!values.is_empty()).then(|| (*m, values.iter().sum::<f64>() / values.len() as f64))
        })
        .collect()
}

trait WeekdayIndex {
    fn weekday_from_monday(&self) -> usize;
}

impl WeekdayIndex for NaiveDate {
    fn weekday_from_monday(&self) -> usize {
        chrono::Datelike::weekday(self).num_days_from_monday() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores() {
        let history: Vec<Option<f64>> = [10.0, 20.0, 12.0, 18.0].iter().map(|v| Some(*v)).collect();
        // Four days of training have no slot a week earlier: MASE has no scale.
        let training = Training { values: &history, spd: 1, first_weekday: 0 };
        let a = accuracy(&training, &[10.0, 30.0], &[Some(20.0), Some(20.0)]).unwrap();
        assert!((a.wape - 0.5).abs() < 1e-12);
        assert!((a.mape - 0.5).abs() < 1e-12);
        assert!(a.mase.is_nan());
        assert!(accuracy(&training, &[1.0], &[None]).is_none());
        let weeks: Vec<Option<f64>> =
            (0..14).map(|d| Some(if d < 7 { 10.0 } else { 14.0 })).collect();
        let training = Training { values: &weeks, spd: 1, first_weekday: 0 };
        let a = accuracy(&training, &[12.0], &[Some(14.0)]).unwrap();
        assert!((a.mase - 0.5).abs() < 1e-12, "{}", a.mase);
    }
}
