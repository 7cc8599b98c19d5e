//! The reference week of the quality bar (BENCHMARKS.md, "Shift scheduling"): a week of
//! 15-minute intervals, 9-hour shifts with lunch in one of three places and two breaks in two
//! places each, 4-hour part-time shifts with one break, starts on any quarter hour.
//!
//! `cargo bench -p switchboard-wfm --bench schedule`. Each solve runs to its 10 s limit (or
//! stops earlier at 0.2 % of the LP bound); cost, bound and gap (to the LP bound and to it
//! rounded up to the cost step) are printed once per size.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use switchboard_wfm::schedule::{
    cost_step, reference, round_up_to_step, solve, ColumnSet, SolveOptions,
};

const TIME_LIMIT: Duration = Duration::from_secs(10);

fn week(c: &mut Criterion) {
    let templates = reference::week_templates();
    let mut group = c.benchmark_group("schedule_week");
    group.sample_size(10).measurement_time(Duration::from_secs(110));
    for peak in [20.0, 60.0, 150.0] {
        let requirement = reference::week_requirement(peak, 0.02);
        let options = SolveOptions { time_limit: TIME_LIMIT, ..SolveOptions::default() };
        let schedule = solve(&requirement, &templates, &options).expect("solvable");
        let bound = schedule.lower_bound.unwrap_or(f64::NAN);
        let step = cost_step(&requirement, &templates, None).ok().flatten().unwrap_or(f64::NAN);
        let tightened = round_up_to_step(bound, step);
        eprintln!(
            "peak {peak}: {} candidates, {} shifts, cost {:.1}, LP bound {:.2}, gap {:.2} %, gap to the bound rounded up to a multiple of {step} ({tightened}) {:.2} %, {:.2} s, {} short intervals",
            ColumnSet::enumerate(&requirement, &templates).len(),
            schedule.shifts.len(),
            schedule.cost,
            bound,
            schedule.gap().unwrap_or(f64::NAN) * 100.0,
            (schedule.objective - tightened) / tightened * 100.0,
            schedule.elapsed.as_secs_f64(),
            schedule.short_intervals().len()
        );
        group.bench_function(format!("solve_peak_{peak}"), |b| {
            b.iter(|| solve(&requirement, &templates, &options).expect("solvable"))
        });
    }
    group.finish();
    c.bench_function("enumerate_week_candidates", |b| {
        let requirement = reference::week_requirement(60.0, 0.02);
        b.iter(|| ColumnSet::enumerate(&requirement, &templates))
    });
}

criterion_group!(benches, week);
criterion_main!(benches);
