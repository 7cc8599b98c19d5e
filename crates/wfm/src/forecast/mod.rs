//! Forecasting call volume and handle time per queue and interval.
//!
//! Methods ([`Method`]): seasonal naive, the plain average of the last four same weekdays (the
//! spreadsheet benchmark), a recency-weighted average of the same weekday and interval with a
//! trend adjustment, double-seasonal Holt-Winters, and `auto`, which picks per queue the method
//! with the lowest mean WAPE in a rolling-origin backtest over the last weeks.
//!
//! Special days (holidays) are left out of training and get no forecast rows; positions of the
//! week that were closed in recent weeks get no rows either (the forecast covers open intervals).

pub mod aht;
pub mod backtest;
pub mod holt_winters;
pub mod methods;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};

use crate::error::{Result, WfmError};
use crate::series::{slot_starts, QueueSeries};
use backtest::{backtest, mean_wape, BacktestRow};
use methods::Training;

/// A forecasting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// The same interval on the latest observed same weekday.
    SeasonalNaive,
    /// The plain average of the same interval on the last four observed same weekdays.
    AverageOfFour,
    /// Recency-weighted average of the same weekday and interval over twelve weeks, trend-adjusted.
    WeightedAverage,
    /// Double-seasonal (intraday and intraweek) Holt-Winters.
    HoltWinters,
    /// Per queue, the method with the lowest backtest WAPE.
    Auto,
}

impl Method {
    /// The methods `auto` chooses from, in order of preference on a tie.
    pub const CANDIDATES: [Method; 4] = [
        Method::HoltWinters,
        Method::WeightedAverage,
        Method::AverageOfFour,
        Method::SeasonalNaive,
    ];

    /// Name on the command line and in the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Method::SeasonalNaive => "seasonal-naive",
            Method::AverageOfFour => "average-of-4",
            Method::WeightedAverage => "weighted-average",
            Method::HoltWinters => "holt-winters",
            Method::Auto => "auto",
        }
    }

    /// Parses a name from [`Method::name`].
    pub fn parse(text: &str) -> Result<Method> {
        [Method::Auto].into_iter().chain(Method::CANDIDATES).find(|m| m.name() == text).ok_or_else(
            || {
                WfmError::BadValue(format!(
                    "unknown method {text:?}; use auto, holt-winters, weighted-average, \
                     average-of-4 or seasonal-naive"
                ))
            },
        )
    }

    /// Forecasts the `horizon_days` days after the training (`Auto` is resolved by the caller;
    /// here it means weighted average).
    pub fn predict(self, training: &Training<'_>, horizon_days: usize) -> Vec<f64> {
        let forecast = match self {
            Method::SeasonalNaive => methods::seasonal_naive(training, horizon_days),
            Method::AverageOfFour => methods::average_of_four(training, horizon_days),
            Method::WeightedAverage | Method::Auto => {
                methods::weighted_average(training, horizon_days)
            }
            Method::HoltWinters => methods::holt_winters(training, horizon_days),
        };
        let open = training.open_mask();
        let n = training.values.len();
        forecast
            .into_iter()
            .enumerate()
            .map(|(h, f)| if open[training.week_position(n + h)] { f.max(0.0) } else { 0.0 })
            .collect()
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What to forecast.
#[derive(Debug, Clone)]
pub struct ForecastOptions {
    /// Method for every queue.
    pub method: Method,
    /// Days to forecast, starting the day after the history ends.
    pub horizon_days: usize,
    /// Weekly origins of the backtest (`auto` needs at least one).
    pub backtest_origins: usize,
    /// Run the backtest even when the method is fixed (to print it).
    pub backtest: bool,
}

impl Default for ForecastOptions {
    fn default() -> Self {
        ForecastOptions {
            method: Method::Auto,
            horizon_days: 7,
            backtest_origins: 3,
            backtest: false,
        }
    }
}

/// One forecast interval.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastRow {
    /// Start of the interval, with the local offset.
    pub interval_start: DateTime<FixedOffset>,
    /// Queue.
    pub queue: String,
    /// Expected offered calls.
    pub calls: f64,
    /// Expected average handle time (seconds), `None` when the history had none.
    pub aht_s: Option<f64>,
    /// Method that produced `calls` (free text when read from a file).
    pub method: String,
}

/// The method used for one queue and the backtest behind the choice.
#[derive(Debug, Clone)]
pub struct QueueChoice {
    /// Queue.
    pub queue: String,
    /// Method used.
    pub method: Method,
    /// Backtest rows (empty when no backtest ran).
    pub backtest: Vec<BacktestRow>,
}

/// A forecast for all queues.
#[derive(Debug, Clone)]
pub struct Forecast {
    /// Rows by interval start, then queue.
    pub rows: Vec<ForecastRow>,
    /// One entry per queue.
    pub choices: Vec<QueueChoice>,
}

/// Forecasts every queue. `special_days` are left out of training and get no rows.
pub fn forecast_queues(
    series: &[QueueSeries],
    special_days: &[NaiveDate],
    options: &ForecastOptions,
) -> Result<Forecast> {
    let mut rows = Vec::new();
    let mut choices = Vec::new();
    for queue_series in series {
        let (queue_rows, choice) = forecast_queue(queue_series, special_days, options)?;
        rows.extend(queue_rows);
        choices.push(choice);
    }
    rows.sort_by(|a, b| {
        a.interval_start.cmp(&b.interval_start).then_with(|| a.queue.cmp(&b.queue))
    });
    Ok(Forecast { rows, choices })
}

/// Forecasts one queue.
pub fn forecast_queue(
    series: &QueueSeries,
    special_days: &[NaiveDate],
    options: &ForecastOptions,
) -> Result<(Vec<ForecastRow>, QueueChoice)> {
    if series.days() < 7 {
        return Err(WfmError::Unusable(format!(
            "queue {}: {} day(s) of history; forecasting needs at least one week",
            series.queue,
            series.days()
        )));
    }
    let mut series = series.clone();
    series.exclude_dates(special_days);
    let spd = series.slots_per_day();
    let training = Training {
        values: &series.calls,
        spd,
        first_weekday: series.first_day.weekday().num_days_from_monday() as usize,
    };
    let wants_backtest = options.backtest || options.method == Method::Auto;
    let backtest_rows = if wants_backtest {
        backtest(
            &series,
            &Method::CANDIDATES,
            options.backtest_origins,
            options.horizon_days.min(7),
        )
    } else {
        Vec::new()
    };
    let method = match options.method {
        Method::Auto => mean_wape(&backtest_rows, &Method::CANDIDATES)
            .into_iter()
            .fold(None, |best: Option<(Method, f64)>, (m, w)| match best {
                Some((_, bw)) if bw <= w => best,
                _ => Some((m, w)),
            })
            .map_or(Method::WeightedAverage, |(m, _)| m),
        fixed => fixed,
    };
    let calls = method.predict(&training, options.horizon_days);
    let aht = aht::forecast_aht(&series, options.horizon_days);
    let open = training.open_mask();
    let n = series.calls.len();
    let mut rows = Vec::new();
    for h in 0..options.horizon_days * spd {
        let day = series.days() + h / spd;
        let date = series.date(day);
        if special_days.contains(&date) || !open[training.week_position(n + h)] {
            continue;
        }
        for start in slot_starts(&series.tz, series.interval, date, h % spd) {
            rows.push(ForecastRow {
                interval_start: start.fixed_offset(),
                queue: series.queue.clone(),
                calls: calls[h],
                aht_s: aht[h],
                method: method.name().to_string(),
            });
        }
    }
    Ok((rows, QueueChoice { queue: series.queue.clone(), method, backtest: backtest_rows }))
}

/// Header of the forecast CSV.
pub const FORECAST_HEADER: &str = "interval_start,queue,calls,aht_s,method";

/// Writes `interval_start,queue,calls,aht_s,method`.
pub fn write_forecast_csv(rows: &[ForecastRow], out: &mut dyn std::io::Write) -> Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(FORECAST_HEADER.split(','))?;
    for row in rows {
        csv.write_record([
            row.interval_start.to_rfc3339(),
            row.queue.clone(),
            format!("{:.2}", row.calls),
            row.aht_s.map(|v| format!("{v:.1}")).unwrap_or_default(),
            row.method.clone(),
        ])?;
    }
    csv.flush()?;
    Ok(())
}

/// Reads a forecast CSV (`interval_start` RFC 3339 with offset, `calls`; optional `queue`,
/// `aht_s`, `method`). Errors name the line and column.
pub fn read_forecast_csv(reader: impl std::io::Read) -> Result<Vec<ForecastRow>> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(reader);
    let header = csv.headers()?.clone();
    let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(start_col), Some(calls_col)) = (find("interval_start"), find("calls")) else {
        return Err(WfmError::BadHeader(
            "forecast CSV needs the columns interval_start and calls (and aht_s, queue)".into(),
        ));
    };
    let (queue_col, aht_col, method_col) = (find("queue"), find("aht_s"), find("method"));
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while csv.read_record(&mut record)? {
        let line = record.position().map_or(0, |p| p.line());
        let field = |c: usize| record.get(c).unwrap_or("");
        let bad = |c: usize, message: String| WfmError::BadRow {
            line,
            column: header.get(c).unwrap_or("?").to_string(),
            message,
        };
        let number = |c: usize| -> Result<Option<f64>> {
            let text = field(c);
            if text.is_empty() {
                return Ok(None);
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
                _ => Err(bad(c, format!("{text:?} is not a non-negative number"))),
            }
        };
        let interval_start = DateTime::parse_from_rfc3339(field(start_col)).map_err(|_| {
            bad(start_col, format!("{:?} is not an RFC 3339 time with offset", field(start_col)))
        })?;
        let calls = number(calls_col)?.ok_or_else(|| bad(calls_col, "empty".into()))?;
        let aht_s = match aht_col {
            Some(c) => number(c)?,
            None => None,
        };
        rows.push(ForecastRow {
            interval_start,
            queue: queue_col
                .map(field)
                .filter(|q| !q.is_empty())
                .unwrap_or(crate::history::DEFAULT_QUEUE)
                .to_string(),
            calls,
            aht_s,
            method: method_col.map(field).unwrap_or("").to_string(),
        });
    }
    Ok(rows)
}
