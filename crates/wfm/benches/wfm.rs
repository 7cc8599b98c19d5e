//! Speed of the planning computations: Erlang C and A staffing, a week of staffing for many
//! queues, and forecasting.

use chrono::{DateTime, Duration};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchboard_wfm::erlang::{Load, ServiceLevelTarget, Targets};
use switchboard_wfm::forecast::{forecast_queues, ForecastOptions, ForecastRow, Method};
use switchboard_wfm::generate::{generate_intervals, GeneratorConfig, QueueProfile};
use switchboard_wfm::history::History;
use switchboard_wfm::series::aggregate;
use switchboard_wfm::staffing::{staff, StaffingOptions};
use switchboard_wfm::units::IntervalLength;

fn targets() -> Targets {
    Targets {
        service_level: Some(ServiceLevelTarget { fraction: 0.8, threshold_s: 20.0 }),
        max_occupancy: Some(0.95),
        ..Targets::default()
    }
}

fn erlang(c: &mut Criterion) {
    // 10,000 Erlangs: 100,000 calls of 180 s in 30 minutes.
    let huge = Load::new(100_000.0, 1800.0, 180.0).unwrap();
    c.bench_function("erlang_c_required_agents_10000_erlangs", |b| {
        b.iter(|| black_box(huge.required_agents(black_box(&targets())).unwrap()))
    });
    let small = Load::new(100.0, 1800.0, 180.0).unwrap();
    c.bench_function("erlang_c_required_agents_10_erlangs", |b| {
        b.iter(|| black_box(small.required_agents(black_box(&targets())).unwrap()))
    });
    // 1,000 Erlangs with 5-minute patience.
    let abandoning = Load::new(10_000.0, 1800.0, 180.0).unwrap().with_patience(300.0).unwrap();
    c.bench_function("erlang_a_evaluate_1000_erlangs", |b| {
        b.iter(|| black_box(abandoning.evaluate(black_box(1000), 20.0)))
    });
    c.bench_function("erlang_a_required_agents_1000_erlangs", |b| {
        b.iter(|| black_box(abandoning.required_agents(black_box(&targets())).unwrap()))
    });
}

fn week_of_staffing(c: &mut Criterion) {
    // 100 queues x 7 days x 96 quarter-hours, with a daytime curve of 0 to ~120 calls.
    let start = DateTime::parse_from_rfc3339("2026-07-06T00:00:00-04:00").unwrap();
    let mut rows = Vec::new();
    for slot in 0..7 * 96 {
        let hour = (slot % 96) as f64 / 4.0;
        let shape = (-(hour - 13.0f64).powi(2) / 18.0).exp();
        for queue in 0..100 {
            rows.push(ForecastRow {
                interval_start: start + Duration::minutes(15 * slot as i64),
                queue: format!("q{queue}"),
                calls: 120.0 * shape * (0.5 + queue as f64 / 100.0),
                aht_s: Some(200.0 + queue as f64),
                method: "bench".into(),
            });
        }
    }
    let options = StaffingOptions {
        targets: targets(),
        shrinkage: 0.3,
        patience_s: None,
        interval_s: 900.0,
        default_aht_s: None,
    };
    let mut group = c.benchmark_group("staffing");
    group.sample_size(20);
    group.bench_function("week_15min_100_queues_erlang_c", |b| {
        b.iter(|| black_box(staff(black_box(&rows), &options).unwrap()))
    });
    group.finish();
}

fn forecasting(c: &mut Criterion) {
    let config = GeneratorConfig {
        weeks: 16,
        queues: vec![QueueProfile { name: "support".into(), calls_per_week: 9000.0, aht_s: 380.0 }],
        ..GeneratorConfig::default()
    };
    let generated = generate_intervals(&config, IntervalLength::MIN30);
    let series =
        aggregate(&History::Intervals(generated.rows), IntervalLength::MIN30, config.tz).unwrap();
    let mut group = c.benchmark_group("forecast");
    group.sample_size(10);
    for method in [Method::Auto, Method::HoltWinters, Method::WeightedAverage] {
        let options = ForecastOptions { method, ..ForecastOptions::default() };
        group.bench_function(format!("one_queue_16_weeks_30min_{method}"), |b| {
            b.iter(|| black_box(forecast_queues(&series, &generated.holidays, &options).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, erlang, week_of_staffing, forecasting);
criterion_main!(benches);
