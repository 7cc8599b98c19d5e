//! The accuracy bar: on generated history with realistic shapes, the week-ahead forecasts beat
//! the plain average of the last four same weekdays by WAPE.

use switchboard_wfm::forecast::backtest::accuracy;
use switchboard_wfm::forecast::methods::Training;
use switchboard_wfm::forecast::{forecast_queue, ForecastOptions, Method};
use switchboard_wfm::generate::{generate_intervals, GeneratorConfig, QueueProfile};
use switchboard_wfm::history::History;
use switchboard_wfm::series::aggregate;
use switchboard_wfm::units::IntervalLength;

use chrono::{Datelike, NaiveDate};

/// WAPE of each method on the week after `train_weeks` weeks of generated history.
fn week_ahead_wape(seed: u64, start: NaiveDate, train_weeks: u32) -> Vec<(Method, f64)> {
    let config = GeneratorConfig {
        start,
        weeks: train_weeks + 1,
        seed,
        queues: vec![
            QueueProfile { name: "sales".into(), calls_per_week: 3_000.0, aht_s: 240.0 },
            QueueProfile { name: "support".into(), calls_per_week: 8_000.0, aht_s: 380.0 },
        ],
        ..GeneratorConfig::default()
    };
    let interval = IntervalLength::MIN30;
    let generated = generate_intervals(&config, interval);
    let all = aggregate(&History::Intervals(generated.rows), interval, config.tz).unwrap();
    let mut totals: Vec<(Method, f64, f64)> = Vec::new();
    for full in &all {
        let mut full = full.clone();
        full.exclude_dates(&generated.holidays);
        let train_days = full.days() - 7;
        let training_series = full.truncated(train_days);
        let spd = full.slots_per_day();
        let actual = &full.calls[train_days * spd..];
        let training = Training {
            values: &training_series.calls,
            spd,
            first_weekday: full.first_day.weekday().num_days_from_monday() as usize,
        };
        for method in
            [Method::Auto, Method::HoltWinters, Method::WeightedAverage, Method::AverageOfFour]
        {
            let options = ForecastOptions { method, horizon_days: 7, ..ForecastOptions::default() };
            let (_, choice) =
                forecast_queue(&training_series, &generated.holidays, &options).unwrap();
            let forecast = choice.method.predict(&training, 7);
            let score = accuracy(&training, &forecast, actual).unwrap();
            let total: f64 = actual.iter().flatten().sum();
            match totals.iter_mut().find(|t| t.0 == method) {
                Some(t) => {
                    t.1 += score.wape * total;
                    t.2 += total;
                }
                None => totals.push((method, score.wape * total, total)),
            }
        }
    }
    totals.into_iter().map(|(m, e, t)| (m, e / t)).collect()
}

#[test]
fn week_ahead_forecasts_beat_the_average_of_the_last_four_same_weekdays() {
    // Several seeds and seasons; the test weeks include holiday weeks (Memorial Day, July 4,
    // Labor Day, Thanksgiving) with the catch-up days after them.
    let cases = [
        (1, "2026-01-05", 16),
        (2, "2026-02-02", 12),
        (3, "2026-04-06", 12),
        (4, "2026-05-04", 9),
        (5, "2026-08-03", 10),
        (6, "2026-09-07", 11),
    ];
    for (seed, start, weeks) in cases {
        let start: NaiveDate = start.parse().unwrap();
        let wape = week_ahead_wape(seed, start, weeks);
        let of = |m: Method| wape.iter().find(|w| w.0 == m).unwrap().1;
        let baseline = of(Method::AverageOfFour);
        eprintln!("seed {seed} from {start}, {weeks} weeks: {wape:?}");
        for method in [Method::Auto, Method::HoltWinters, Method::WeightedAverage] {
            assert!(
                of(method) < baseline,
                "seed {seed}: {method} WAPE {:.4} does not beat average-of-4 {baseline:.4}",
                of(method)
            );
        }
    }
}
