//! Synthetic call history with the shapes of a real contact center, for demos and for testing
//! the forecasts.
//!
//! The model: a weekly volume per queue that grows by a trend and swings mildly with the season
//! of the year; a weekday mix (Monday busiest, Saturday short, Sunday closed); an intraday curve
//! with a mid-morning and an early-afternoon peak inside the opening hours (weekdays 08:00-20:00,
//! Saturday 09:00-17:00, local time); public holidays closed and the day after them busier; a
//! random factor per day (weather, outages, marketing) and per interval; Poisson arrivals; handle
//! times log-normal around an average that drifts through the day. Nothing here knows the
//! forecasting methods.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::history::{CallRecord, IntervalRecord};
use crate::series::slot_starts;
use crate::units::IntervalLength;

/// One generated queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueProfile {
    /// Queue name.
    pub name: String,
    /// Offered calls in the first week (before trend and season).
    pub calls_per_week: f64,
    /// Average handle time in seconds.
    pub aht_s: f64,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// First local date (the history starts at its midnight).
    pub start: NaiveDate,
    /// Number of weeks.
    pub weeks: u32,
    /// Zone of the center's opening hours.
    pub tz: Tz,
    /// The queues.
    pub queues: Vec<QueueProfile>,
    /// Growth of volume per week as a fraction (0.005 = 0.5 % a week).
    pub trend_per_week: f64,
    /// Standard deviation of the random log-factor per day.
    pub day_noise: f64,
    /// Close on public holidays (United States federal calendar subset).
    pub holidays: bool,
    /// Seed of the generator: the same seed gives the same history.
    pub seed: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            start: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default(),
            weeks: 16,
            tz: "America/New_York".parse().unwrap_or(Tz::UTC),
            queues: vec![
                // The queues of the example center (deploy/examples/contact-center.toml).
                QueueProfile { name: "billing".into(), calls_per_week: 2_400.0, aht_s: 300.0 },
                QueueProfile { name: "technical".into(), calls_per_week: 1_800.0, aht_s: 420.0 },
                QueueProfile { name: "sales".into(), calls_per_week: 1_500.0, aht_s: 240.0 },
                QueueProfile { name: "vip".into(), calls_per_week: 300.0, aht_s: 360.0 },
            ],
            trend_per_week: 0.005,
            day_noise: 0.06,
            holidays: true,
            seed: 1,
        }
    }
}

/// Generated interval history and the holidays it closed on.
#[derive(Debug, Clone)]
pub struct GeneratedIntervals {
    /// Interval rows (open intervals only), by time then queue.
    pub rows: Vec<IntervalRecord>,
    /// Holidays inside the generated dates.
    pub holidays: Vec<NaiveDate>,
}

/// Generated per-call history and the holidays it closed on.
#[derive(Debug, Clone)]
pub struct GeneratedCalls {
    /// Calls by arrival time.
    pub calls: Vec<CallRecord>,
    /// Holidays inside the generated dates.
    pub holidays: Vec<NaiveDate>,
}

/// Public holidays of `year` on which the generated center closes: New Year's Day, Martin Luther
/// King Jr. Day, Presidents' Day, Memorial Day, Independence Day, Labor Day, Thanksgiving,
/// Christmas Day.
pub fn holidays_of_year(year: i32) -> Vec<NaiveDate> {
    let nth = |month: u32, weekday: Weekday, n: u8| {
        NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
    };
    let last_monday_of_may = (0..7)
        .map(|back| NaiveDate::from_ymd_opt(year, 5, 31 - back))
        .find(|d| d.is_some_and(|d| d.weekday() == Weekday::Mon))
        .flatten();
    [
        NaiveDate::from_ymd_opt(year, 1, 1),
        nth(1, Weekday::Mon, 3),
        nth(2, Weekday::Mon, 3),
        last_monday_of_may,
        NaiveDate::from_ymd_opt(year, 7, 4),
        nth(9, Weekday::Mon, 1),
        nth(11, Weekday::Thu, 4),
        NaiveDate::from_ymd_opt(year, 12, 25),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Opening hours (local, hours from midnight) of a weekday; `None` when closed.
fn opening_hours(weekday: Weekday) -> Option<(f64, f64)> {
    match weekday {
        Weekday::Sun => None,
        Weekday::Sat => Some((9.0, 17.0)),
        _ => Some((8.0, 20.0)),
    }
}

/// Share of the week's calls by weekday, Monday first (Sunday closed).
const WEEKDAY_SHARE: [f64; 7] = [1.24, 1.08, 1.0, 0.97, 0.9, 0.38, 0.0];

/// Relative arrival rate at local hour `h` (open hours only), before normalisation.
fn intraday_rate(weekday: Weekday, h: f64, peak_shift_h: f64) -> f64 {
    let bump = |centre: f64, width: f64| (-0.5 * ((h - centre) / width).powi(2)).exp();
    if weekday == Weekday::Sat {
        0.3 + bump(11.5 + peak_shift_h, 2.0)
    } else {
        0.22 + bump(10.5 + peak_shift_h, 1.4) + 0.8 * bump(14.25 + peak_shift_h, 1.7)
            - 0.12 * bump(12.4, 0.5)
    }
}

struct QueueShape {
    peak_shift_h: f64,
    /// Busiest hourly arrival rate of a week-0 Monday, to scale waits and abandons.
    peak_rate: f64,
    /// Integral of `intraday_rate` over each weekday's open hours (per hour), Monday first.
    day_integral: [f64; 7],
}

const QUARTER_H: f64 = 0.25;

impl QueueShape {
    fn new(peak_shift_h: f64) -> QueueShape {
        let mut day_integral = [0.0; 7];
        for (i, weekday) in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .into_iter()
        .enumerate()
        {
            if let Some((open, close)) = opening_hours(weekday) {
                let mut h = open + QUARTER_H / 2.0;
                while h < close {
                    day_integral[i] += intraday_rate(weekday, h, peak_shift_h) * QUARTER_H;
                    h += QUARTER_H;
                }
            }
        }
        QueueShape { peak_shift_h, peak_rate: 1.0, day_integral }
    }

    /// Expected calls between local hours `from` and `to` of a day with `day_calls` calls.
    fn expected(&self, weekday: Weekday, day_calls: f64, from: f64, to: f64) -> f64 {
        let Some((open, close)) = opening_hours(weekday) else { return 0.0 };
        let integral = self.day_integral[weekday.num_days_from_monday() as usize];
        let mut total = 0.0;
        let mut h = from.max(open);
        let end = to.min(close);
        while h < end - 1e-9 {
            let step = QUARTER_H.min(end - h);
            total += intraday_rate(weekday, h + step / 2.0, self.peak_shift_h) * step;
            h += step;
        }
        day_calls * total / integral
    }
}

/// Expected calls per day of one queue, with trend, season, holidays and the day's random factor.
fn day_volumes(config: &GeneratorConfig, queue: &QueueProfile, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let share_sum: f64 = WEEKDAY_SHARE.iter().sum();
    let holidays = holidays_between(config);
    let days = config.weeks as usize * 7;
    (0..days)
        .map(|d| {
            let date = config.start + Duration::days(d as i64);
            let noise = normal(rng) * config.day_noise - config.day_noise.powi(2) / 2.0;
            if holidays.contains(&date) {
                return 0.0;
            }
            let weeks = d as f64 / 7.0;
            let trend = (1.0 + config.trend_per_week).powf(weeks);
            let season = 1.0
                + 0.06
                    * (2.0 * std::f64::consts::PI * (f64::from(date.ordinal()) - 30.0) / 365.0)
                        .sin();
            let after_holiday = holidays.iter().any(|h| {
                date == *h + Duration::days(1)
                    || (h.weekday() == Weekday::Sat && date == *h + Duration::days(2))
            });
            let catch_up = if after_holiday { 1.25 } else { 1.0 };
            let share = WEEKDAY_SHARE[date.weekday().num_days_from_monday() as usize] / share_sum;
            queue.calls_per_week * share * trend * season * catch_up * noise.exp()
        })
        .collect()
}

fn holidays_between(config: &GeneratorConfig) -> Vec<NaiveDate> {
    if !config.holidays {
        return Vec::new();
    }
    let end = config.start + Duration::days(i64::from(config.weeks) * 7);
    (config.start.year()..=end.year())
        .flat_map(holidays_of_year)
        .filter(|d| *d >= config.start && *d < end)
        .collect()
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// An exact Poisson draw: Knuth's product method on pieces of mean at most 25.
fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    let pieces = (mean / 25.0).ceil();
    let limit = (-mean / pieces).exp();
    let mut count = 0;
    for _ in 0..pieces as u64 {
        let mut product: f64 = rng.random();
        while product > limit {
            count += 1;
            product *= rng.random::<f64>();
        }
    }
    count
}

/// Log-normal handle time with mean `mean_s` and coefficient of variation 0.7.
fn handle_time(rng: &mut ChaCha8Rng, mean_s: f64) -> f64 {
    const CV: f64 = 0.7;
    let sigma2 = (1.0 + CV * CV).ln();
    (mean_s.ln() - sigma2 / 2.0 + sigma2.sqrt() * normal(rng)).exp()
}

/// Average handle time at local hour `h`: longer late in the day, a little longer on Mondays.
fn aht_at(queue: &QueueProfile, weekday: Weekday, h: f64) -> f64 {
    let monday = if weekday == Weekday::Mon { 1.03 } else { 1.0 };
    queue.aht_s * monday * (1.0 + 0.08 * (h - 14.0) / 6.0)
}

/// One generated interval's calls: (arrival offsets in seconds, handle time or `None` when
/// abandoned, wait).
struct IntervalCalls {
    calls: Vec<(f64, Option<f64>, f64)>,
}

fn interval_calls(
    rng: &mut ChaCha8Rng,
    queue: &QueueProfile,
    shape: &QueueShape,
    weekday: Weekday,
    day_calls: f64,
    from_h: f64,
    length_h: f64,
) -> IntervalCalls {
    let expected = shape.expected(weekday, day_calls, from_h, from_h + length_h);
    if expected <= 0.0 {
        return IntervalCalls { calls: Vec::new() };
    }
    // Interval-level over-dispersion: arrivals cluster more than Poisson.
    let mean = expected * (0.05 * normal(rng) - 0.00125).exp();
    let n = poisson(rng, mean);
    // Busier intervals wait longer and lose more callers.
    let load = (expected / length_h / shape.peak_rate).min(1.5);
    let calls = (0..n)
        .map(|_| {
            let offset_s = rng.random::<f64>() * length_h * 3600.0;
            let abandoned = rng.random::<f64>() < 0.02 + 0.05 * load;
            let wait = -(rng.random::<f64>().max(1e-12)).ln() * (10.0 + 40.0 * load);
            let handle = (!abandoned)
                .then(|| handle_time(rng, aht_at(queue, weekday, from_h + offset_s / 3600.0)));
            (offset_s, handle, wait)
        })
        .collect();
    IntervalCalls { calls }
}

/// Walks every real interval of the generated dates for every queue.
fn walk(
    config: &GeneratorConfig,
    interval: IntervalLength,
    mut visit: impl FnMut(&QueueProfile, DateTime<Tz>, IntervalCalls),
) {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let spd = interval.slots_per_day();
    let length_h = f64::from(interval.minutes()) / 60.0;
    let per_queue: Vec<(Vec<f64>, QueueShape)> = config
        .queues
        .iter()
        .map(|q| {
            let volumes = day_volumes(config, q, &mut rng);
            let mut shape = QueueShape::new(rng.random::<f64>() - 0.5);
            // Monday's peak hourly rate in week 0, to scale waits and abandons.
            let monday = q.calls_per_week * WEEKDAY_SHARE[0] / WEEKDAY_SHARE.iter().sum::<f64>();
            let peak = (0..48)
                .map(|i| {
                    shape.expected(
                        Weekday::Mon,
                        monday,
                        f64::from(i) / 2.0,
                        f64::from(i) / 2.0 + 0.5,
                    ) * 2.0
                })
                .fold(0.0, f64::max);
            shape.peak_rate = peak.max(1.0);
            (volumes, shape)
        })
        .collect();
    for day in 0..config.weeks as usize * 7 {
        let date = config.start + Duration::days(day as i64);
        for slot in 0..spd {
            let from_h = slot as f64 * length_h;
            for start in slot_starts(&config.tz, interval, date, slot) {
                for (queue, (volumes, shape)) in config.queues.iter().zip(&per_queue) {
                    let calls = interval_calls(
                        &mut rng,
                        queue,
                        shape,
                        date.weekday(),
                        volumes[day],
                        from_h,
                        length_h,
                    );
                    visit(queue, start, calls);
                }
            }
        }
    }
}

/// Generates interval history: one row per open interval and queue (closed intervals and
/// holidays have no row).
pub fn generate_intervals(
    config: &GeneratorConfig,
    interval: IntervalLength,
) -> GeneratedIntervals {
    let mut rows = Vec::new();
    walk(config, interval, |queue, start, calls| {
        let weekday = start.weekday();
        let from_h = f64::from(chrono::Timelike::hour(&start))
            + f64::from(chrono::Timelike::minute(&start)) / 60.0;
        let Some((open, close)) = opening_hours(weekday) else { return };
        if from_h + f64::from(interval.minutes()) / 60.0 <= open || from_h >= close {
            return;
        }
        let handled: Vec<f64> = calls.calls.iter().filter_map(|c| c.1).collect();
        let aht_s =
            (!handled.is_empty()).then(|| handled.iter().sum::<f64>() / handled.len() as f64);
        rows.push(IntervalRecord {
            start: start.with_timezone(&Utc),
            queue: queue.name.clone(),
            calls: calls.calls.len() as f64,
            aht_s,
        });
    });
    GeneratedIntervals { rows, holidays: holidays_between(config) }
}

/// Generates per-call history (the format `switchboard history export` writes).
pub fn generate_calls(config: &GeneratorConfig) -> GeneratedCalls {
    let mut calls = Vec::new();
    walk(config, IntervalLength::MIN15, |queue, start, interval_calls| {
        let start = start.with_timezone(&Utc);
        for (offset_s, handle, wait) in interval_calls.calls {
            calls.push(CallRecord {
                arrived_at: start + Duration::milliseconds((offset_s * 1000.0) as i64),
                queue: queue.name.clone(),
                wait_s: Some((wait * 1000.0).round() / 1000.0),
                handle_s: handle.map(|h| (h * 1000.0).round() / 1000.0),
                abandoned: handle.is_none(),
            });
        }
    });
    calls.sort_by(|a, b| a.arrived_at.cmp(&b.arrived_at).then_with(|| a.queue.cmp(&b.queue)));
    GeneratedCalls { calls, holidays: holidays_between(config) }
}

/// Writes calls in the per-call CSV format of `switchboard history export` (times in `tz`).
pub fn write_calls_csv(
    calls: &[CallRecord],
    tz: &Tz,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    writeln!(out, "arrived_at,queue,wait_s,handle_s,abandoned,call_id,outcome")?;
    for (n, call) in calls.iter().enumerate() {
        let fmt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{},g{},{}",
            call.arrived_at.with_timezone(tz).to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            call.queue,
            fmt(call.wait_s),
            fmt(call.handle_s),
            call.abandoned,
            n + 1,
            if call.abandoned { "abandoned" } else { "answered" },
        )?;
    }
    Ok(())
}

/// Writes interval rows as `interval_start,queue,calls,aht_s` (times in `tz`).
pub fn write_intervals_csv(
    rows: &[IntervalRecord],
    tz: &Tz,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    writeln!(out, "interval_start,queue,calls,aht_s")?;
    for row in rows {
        writeln!(
            out,
            "{},{},{},{}",
            row.start.with_timezone(tz).to_rfc3339(),
            row.queue,
            row.calls,
            row.aht_s.map(|v| format!("{v:.1}")).unwrap_or_default()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_has_the_right_mean_and_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for mean in [0.5, 7.0, 80.0] {
            let draws: Vec<f64> = (0..20_000).map(|_| poisson(&mut rng, mean) as f64).collect();
            let m = draws.iter().sum::<f64>() / draws.len() as f64;
            let v = draws.iter().map(|x| (x - m).powi(2)).sum::<f64>() / draws.len() as f64;
            assert!((m - mean).abs() < 0.03 * mean + 0.02, "mean {m} vs {mean}");
            assert!((v - mean).abs() < 0.08 * mean + 0.05, "variance {v} vs {mean}");
        }
    }

    #[test]
    fn holidays_are_the_listed_dates() {
        let h = holidays_of_year(2026);
        let expect: Vec<NaiveDate> = [
            "2026-01-01",
            "2026-01-19",
            "2026-02-16",
            "2026-05-25",
            "2026-07-04",
            "2026-09-07",
            "2026-11-26",
            "2026-12-25",
        ]
        .iter()
        .map(|d| d.parse().unwrap())
        .collect();
        assert_eq!(h, expect);
    }

    #[test]
    fn generated_history_has_the_shapes() {
        let config = GeneratorConfig { weeks: 4, ..GeneratorConfig::default() };
        let generated = generate_intervals(&config, IntervalLength::MIN60);
        let tz = config.tz;
        let per_weekday = |weekday: Weekday| -> f64 {
            generated
                .rows
                .iter()
                .filter(|r| r.start.with_timezone(&tz).weekday() == weekday)
                .map(|r| r.calls)
                .sum()
        };
        assert!(per_weekday(Weekday::Mon) > per_weekday(Weekday::Fri));
        assert!(per_weekday(Weekday::Fri) > 2.0 * per_weekday(Weekday::Sat));
        assert_eq!(per_weekday(Weekday::Sun), 0.0);
        // No row outside opening hours; the total is near the configured weekly volume.
        for r in &generated.rows {
            let local = r.start.with_timezone(&tz);
            assert!((8..20).contains(&chrono::Timelike::hour(&local)), "{local}");
        }
        let total: f64 = generated.rows.iter().map(|r| r.calls).sum();
        let configured = 4.0 * config.queues.iter().map(|q| q.calls_per_week).sum::<f64>();
        assert!((total / configured - 1.0).abs() < 0.1, "{total} vs {configured}");
        // The same seed gives the same history.
        assert_eq!(generate_intervals(&config, IntervalLength::MIN60).rows, generated.rows);
    }
}
