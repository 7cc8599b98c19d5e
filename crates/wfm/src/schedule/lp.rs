//! The LP relaxation of the covering problem, solved by column generation.
//!
//! The restricted master (a subset of the candidates, every interval's shortage variable, the
//! template count rows) is solved with Clarabel's interior-point method, which returns the
//! duals: one price per interval (what one more agent there is worth) and one per template
//! count row. Every candidate is then priced (its cost less the prices of the intervals it
//! works); those that would lower the objective join the master, until none does. The master's
//! optimum is then the optimum over all candidates.
//!
//! The bound reported is always valid, whatever the solver's tolerances: the duals are clipped
//! to their signs and scaled down until no candidate has a negative reduced cost, which makes
//! them a feasible point of the dual of the full LP, whose objective is a lower bound.

use std::time::Instant;

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus, SupportedConeT,
};

use super::columns::ColumnSet;
use super::template::ShiftTemplate;

/// A candidate joins the master when its reduced cost is below this share of its cost.
const PRICING_TOLERANCE: f64 = 1e-7;
/// The master starts from every candidate when there are at most this many.
const SMALL_POOL: usize = 1500;
/// At most this many candidates join the master per round (most negative reduced cost first).
const MAX_COLUMNS_PER_ROUND: usize = 1500;
/// Column-generation rounds before giving up on convergence.
const MAX_ROUNDS: usize = 60;
/// Relative duality gap at which the interior-point method stops.
const IPM_GAP_TOLERANCE: f64 = 1e-9;

/// What an LP is solved over: which requirement, which candidates may be used, how many of
/// each template are already fixed (their counts come off the template limits).
pub(super) struct LpInput<'a> {
    /// Agents still needed per interval.
    pub need: &'a [f64],
    /// Candidates the LP may use; `None`: all of them.
    pub pool: Option<&'a [usize]>,
    /// Shifts per template already taken (outside this LP).
    pub fixed_per_template: &'a [u32],
}

/// An optimal LP solution.
#[derive(Debug, Clone)]
pub(super) struct LpSolution {
    /// A lower bound on the objective over the pool, equal to the LP optimum up to the
    /// solver's tolerances.
    pub objective: f64,
    /// Agents per candidate (indexed like the column set; zero outside the master).
    pub values: Vec<f64>,
    /// Price of one more agent in each interval (checked by the tests; the search does not
    /// use it yet).
    #[allow(dead_code)]
    pub interval_duals: Vec<f64>,
    /// Candidates in the final master (every one priced out as useful at some round).
    pub master: Vec<usize>,
    /// Column-generation rounds (checked by the tests).
    #[allow(dead_code)]
    pub rounds: usize,
}

/// The master's solution: values of its candidates and the duals.
struct Master {
    values: Vec<f64>,
    interval_duals: Vec<f64>,
    /// Per template: dual of the min-count row less dual of the max-count row.
    template_duals: Vec<f64>,
    min_duals: Vec<f64>,
    max_duals: Vec<f64>,
}

/// Solves the LP by column generation; `None` when the deadline passed or the solver failed.
pub(super) fn solve_lp(
    input: &LpInput<'_>,
    templates: &[ShiftTemplate],
    columns: &ColumnSet,
    penalty: f64,
    deadline: Instant,
) -> Option<LpSolution> {
    solve_lp_from(input, templates, columns, penalty, deadline, SMALL_POOL)
}

/// [`solve_lp`], starting from the whole pool when it has at most `small_pool` candidates.
fn solve_lp_from(
    input: &LpInput<'_>,
    templates: &[ShiftTemplate],
    columns: &ColumnSet,
    penalty: f64,
    deadline: Instant,
    small_pool: usize,
) -> Option<LpSolution> {
    let pool: Vec<usize> = match input.pool {
        Some(pool) => pool.to_vec(),
        None => (0..columns.len()).collect(),
    };
    let mut in_master = vec![false; columns.len()];
    let mut master: Vec<usize> =
        if pool.len() <= small_pool { pool.clone() } else { initial_master(columns, &pool) };
    for &j in &master {
        in_master[j] = true;
    }
    let mut rounds = 0;
    loop {
        rounds += 1;
        let solution = solve_master(input, templates, columns, &master, penalty, deadline)?;
        // Pricing.
        let mut entering: Vec<(f64, usize)> = Vec::new();
        for &j in &pool {
            if in_master[j] {
                continue;
            }
            let reduced = reduced_cost(columns, j, &solution);
            if reduced < -PRICING_TOLERANCE * columns.columns[j].cost.max(1.0) {
                entering.push((reduced, j));
            }
        }
        if entering.is_empty() || rounds >= MAX_ROUNDS {
            if !entering.is_empty() {
                return None;
            }
            let objective = valid_bound(input, templates, columns, &pool, penalty, &solution);
            let mut values = vec![0.0; columns.len()];
            for (&j, &x) in master.iter().zip(&solution.values) {
                values[j] = x.max(0.0);
            }
            master.sort_unstable();
            return Some(LpSolution {
                objective,
                values,
                interval_duals: solution.interval_duals,
                master,
                rounds,
            });
        }
        entering.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, j) in entering.iter().take(MAX_COLUMNS_PER_ROUND) {
            in_master[j] = true;
            master.push(j);
        }
    }
}

/// One candidate per (template, start): the middle break placement, so every interval any
/// shift can cover is coverable from the first round on.
fn initial_master(columns: &ColumnSet, pool: &[usize]) -> Vec<usize> {
    let mut master = Vec::new();
    let mut group_start = 0;
    while group_start < pool.len() {
        let key = |j: usize| (columns.columns[j].template, columns.columns[j].start_minute);
        let mut group_end = group_start + 1;
        while group_end < pool.len() && key(pool[group_end]) == key(pool[group_start]) {
            group_end += 1;
        }
        master.push(pool[(group_start + group_end) / 2]);
        group_start = group_end;
    }
    master
}

fn reduced_cost(columns: &ColumnSet, j: usize, master: &Master) -> f64 {
    let column = &columns.columns[j];
    let priced: f64 = columns.cover(j).map(|(i, a)| a * master.interval_duals[i]).sum();
    column.cost - priced - master.template_duals[column.template]
}

/// The dual objective at duals clipped to their signs and scaled down until every candidate
/// of the pool prices out: a feasible point of the full LP's dual, so a valid lower bound.
fn valid_bound(
    input: &LpInput<'_>,
    templates: &[ShiftTemplate],
    columns: &ColumnSet,
    pool: &[usize],
    penalty: f64,
    master: &Master,
) -> f64 {
    let interval_duals: Vec<f64> =
        master.interval_duals.iter().map(|&y| y.clamp(0.0, penalty)).collect();
    let min_duals: Vec<f64> = master.min_duals.iter().map(|&u| u.max(0.0)).collect();
    let max_duals: Vec<f64> = master.max_duals.iter().map(|&v| v.max(0.0)).collect();
    let mut scale: f64 = 1.0;
    for &j in pool {
        let column = &columns.columns[j];
        let t = column.template;
        let priced: f64 = columns.cover(j).map(|(i, a)| a * interval_duals[i]).sum::<f64>()
            + min_duals[t]
            - max_duals[t];
        if priced > column.cost {
            scale = scale.min(column.cost / priced);
        }
    }
    let mut objective: f64 =
        input.need.iter().zip(&interval_duals).map(|(&r, &y)| r.max(0.0) * y).sum();
    for (t, template) in templates.iter().enumerate() {
        let fixed = input.fixed_per_template[t];
        objective += f64::from(template.min_count.saturating_sub(fixed)) * min_duals[t];
        if let Some(max) = template.max_count {
            objective -= f64::from(max.saturating_sub(fixed)) * max_duals[t];
        }
    }
    scale.max(0.0) * objective
}

/// Solves the master over `master` candidates with Clarabel: minimise cost plus penalised
/// shortage subject to `A x + shortage >= need` and the template counts, written as
/// `G v <= h` over a nonnegative cone.
fn solve_master(
    input: &LpInput<'_>,
    templates: &[ShiftTemplate],
    columns: &ColumnSet,
    master: &[usize],
    penalty: f64,
    deadline: Instant,
) -> Option<Master> {
    let intervals = input.need.len();
    // Constraint rows: covered intervals (need > 0), then template rows, then the variables'
    // signs.
    let mut cover_row = vec![usize::MAX; intervals];
    let mut rows = 0;
    for (i, &need) in input.need.iter().enumerate() {
        if need > 0.0 {
            cover_row[i] = rows;
            rows += 1;
        }
    }
    let mut min_row = vec![None; templates.len()];
    let mut max_row = vec![None; templates.len()];
    let mut h: Vec<f64> = input.need.iter().filter(|&&n| n > 0.0).map(|&n| -n).collect();
    for (t, template) in templates.iter().enumerate() {
        let fixed = input.fixed_per_template[t];
        if template.min_count > fixed {
            min_row[t] = Some(rows);
            rows += 1;
            h.push(-f64::from(template.min_count - fixed));
        }
        if let Some(max) = template.max_count {
            max_row[t] = Some(rows);
            rows += 1;
            h.push(f64::from(max.saturating_sub(fixed)));
        }
    }
    let covered = cover_row.iter().filter(|&&r| r != usize::MAX).count();
    let variables = master.len() + covered;
    let sign_rows_start = rows;
    rows += variables;
    h.resize(rows, 0.0);

    let mut colptr = Vec::with_capacity(variables + 1);
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    let mut cost = Vec::with_capacity(variables);
    colptr.push(0);
    for (k, &j) in master.iter().enumerate() {
        let column = &columns.columns[j];
        for (i, a) in columns.cover(j) {
            if cover_row[i] != usize::MAX {
                rowval.push(cover_row[i]);
                nzval.push(-a);
            }
        }
        if let Some(row) = min_row[column.template] {
            rowval.push(row);
            nzval.push(-1.0);
        }
        if let Some(row) = max_row[column.template] {
            rowval.push(row);
            nzval.push(1.0);
        }
        rowval.push(sign_rows_start + k);
        nzval.push(-1.0);
        colptr.push(rowval.len());
        cost.push(column.cost);
    }
    for (k, &row) in cover_row.iter().filter(|&&r| r != usize::MAX).enumerate() {
        rowval.push(row);
        nzval.push(-1.0);
        rowval.push(sign_rows_start + master.len() + k);
        nzval.push(-1.0);
        colptr.push(rowval.len());
        cost.push(penalty);
    }
    let g = CscMatrix::new(rows, variables, colptr, rowval, nzval);
    let p = CscMatrix::zeros((variables, variables));
    let cones: [SupportedConeT<f64>; 1] = [NonnegativeConeT(rows)];
    let budget = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
    if budget <= 0.0 {
        return None;
    }
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .time_limit(budget)
        .tol_gap_rel(IPM_GAP_TOLERANCE)
        .tol_gap_abs(IPM_GAP_TOLERANCE)
        .presolve_enable(false)
        .build()
        .ok()?;
    let mut solver = DefaultSolver::new(&p, &cost, &g, &h, &cones, settings).ok()?;
    solver.solve();
    if !matches!(solver.solution.status, SolverStatus::Solved | SolverStatus::AlmostSolved) {
        return None;
    }
    let z = &solver.solution.z;
    let mut interval_duals = vec![0.0; intervals];
    for (i, &row) in cover_row.iter().enumerate() {
        if row != usize::MAX {
            interval_duals[i] = z[row];
        }
    }
    let min_duals: Vec<f64> =
        min_row.iter().map(|row| row.map_or(0.0, |r| z[r])).collect::<Vec<_>>();
    let max_duals: Vec<f64> =
        max_row.iter().map(|row| row.map_or(0.0, |r| z[r])).collect::<Vec<_>>();
    Some(Master {
        values: solver.solution.x[..master.len()].to_vec(),
        interval_duals,
        template_duals: min_duals.iter().zip(&max_duals).map(|(u, v)| u - v).collect(),
        min_duals,
        max_duals,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::DateTime;
    use microlp::{ComparisonOp, OptimizationDirection, Problem};

    use super::*;
    use crate::schedule::reference::{week_requirement, week_templates};
    use crate::schedule::{parse_templates, Requirement};

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    /// The LP over every candidate at once, with microlp's simplex: the reference optimum.
    fn all_columns_simplex(
        need: &[f64],
        templates: &[ShiftTemplate],
        columns: &ColumnSet,
        penalty: f64,
    ) -> f64 {
        let mut problem = Problem::new(OptimizationDirection::Minimize);
        let vars: Vec<_> =
            columns.columns.iter().map(|c| problem.add_var(c.cost, (0.0, f64::INFINITY))).collect();
        let mut rows: Vec<Vec<(microlp::Variable, f64)>> = vec![Vec::new(); need.len()];
        for (j, &var) in vars.iter().enumerate() {
            for (i, a) in columns.cover(j) {
                rows[i].push((var, a));
            }
        }
        for (i, mut row) in rows.into_iter().enumerate() {
            if need[i] > 0.0 {
                row.push((problem.add_var(penalty, (0.0, f64::INFINITY)), 1.0));
                problem.add_constraint(row.as_slice(), ComparisonOp::Ge, need[i]);
            }
        }
        for (t, template) in templates.iter().enumerate() {
            let members: Vec<_> = vars
                .iter()
                .zip(&columns.columns)
                .filter(|(_, c)| c.template == t)
                .map(|(&v, _)| (v, 1.0))
                .collect();
            if template.min_count > 0 {
                let min = f64::from(template.min_count);
                problem.add_constraint(members.as_slice(), ComparisonOp::Ge, min);
            }
            if let Some(max) = template.max_count {
                problem.add_constraint(members.as_slice(), ComparisonOp::Le, f64::from(max));
            }
        }
        problem.solve().unwrap().solution().unwrap().objective()
    }

    fn lp(
        requirement: &Requirement,
        templates: &[ShiftTemplate],
        penalty: f64,
        small_pool: usize,
    ) -> (LpSolution, ColumnSet) {
        let columns = ColumnSet::enumerate(requirement, templates);
        let fixed = vec![0; templates.len()];
        let input = LpInput { need: &requirement.agents, pool: None, fixed_per_template: &fixed };
        let solution =
            solve_lp_from(&input, templates, &columns, penalty, deadline(), small_pool).unwrap();
        (solution, columns)
    }

    #[test]
    fn hand_checked_optima() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T08:00:00+00:00").unwrap();
        let two_hours = parse_templates(
            r#"
            [[shift]]
            name = "short"
            length = "2h"
            start = { earliest = "08:00", latest = "09:00", step = "1h" }
            "#,
        )
        .unwrap();
        // One agent 08-11 with 2-hour shifts at 08 or 09: both shifts are needed (4 hours).
        // At a penalty of 1 per missing agent-hour, any mix x08 + x09 <= 1 costs 3: the LP
        // optimum is 3.
        for (penalty, expect) in [(100.0, 4.0), (1.0, 3.0)] {
            let requirement = Requirement::new(start, 60, vec![1.0; 3]);
            let (solution, _) = lp(&requirement, &two_hours, penalty, 0);
            assert!(
                (solution.objective - expect).abs() < 1e-6,
                "{penalty}: {}",
                solution.objective
            );
        }
        // Two agents 08-10 and one 10-11: two shifts at 08 and one at 09 (6 hours), nothing
        // fractional.
        let requirement = Requirement::new(start, 60, vec![2.0, 2.0, 1.0]);
        let (solution, columns) = lp(&requirement, &two_hours, 100.0, 0);
        assert!((solution.objective - 6.0).abs() < 1e-6);
        let starts: Vec<(u32, f64)> = (0..columns.len())
            .map(|j| (columns.columns[j].start_minute, (solution.values[j] * 1e6).round() / 1e6))
            .collect();
        assert_eq!(starts, vec![(0, 2.0), (60, 1.0)]);
        // The duals price the requirement: the 08:00 and 10:00 hours each carry the whole
        // cost of the shift only they can use.
        assert!((solution.interval_duals[0] - 2.0).abs() < 1e-5);
        assert!((solution.interval_duals[2] - 2.0).abs() < 1e-5);
    }

    #[test]
    fn column_generation_reaches_the_all_columns_optimum() {
        // One weekday of the reference instance (15-minute intervals, every break placement).
        let week = week_requirement(20.0, 0.02);
        let templates = week_templates();
        let day = Requirement::new(week.start, 15, week.agents[..96].to_vec());
        let columns = ColumnSet::enumerate(&day, &templates);
        let expect = all_columns_simplex(&day.agents, &templates, &columns, 800.0);
        // From one placement per start (so pricing must bring in the others) and from all.
        let (generated, _) = lp(&day, &templates, 800.0, 0);
        let (whole, _) = lp(&day, &templates, 800.0, usize::MAX);
        assert!(generated.rounds > 1, "pricing added nothing");
        assert!(generated.master.len() < columns.len());
        for solution in [&generated, &whole] {
            assert!(solution.objective <= expect + 1e-6, "{} > {expect}", solution.objective);
            assert!(
                solution.objective >= expect - 1e-5 * expect,
                "{} < {expect}",
                solution.objective
            );
            // Values reproduce the objective and cover the requirement.
            let cost: f64 =
                (0..columns.len()).map(|j| solution.values[j] * columns.columns[j].cost).sum();
            assert!((cost - expect).abs() < 1e-4 * expect, "{cost} vs {expect}");
        }
    }

    #[test]
    fn count_limits_enter_the_lp_and_its_bound() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T08:00:00+00:00").unwrap();
        let templates = |day_limit: &str, half_limit: &str| {
            parse_templates(&format!(
                r#"
                [[shift]]
                name = "day"
                length = "8h"
                start = {{ earliest = "08:00", latest = "08:00" }}
                {day_limit}
                [[shift]]
                name = "half"
                length = "4h"
                cost = 5.0
                start = {{ earliest = "08:00", latest = "12:00", step = "4h" }}
                {half_limit}
                "#
            ))
            .unwrap()
        };
        // Two agents 08-16. A day shift costs 8, two halves 10. At most one day shift:
        // 8 + 2 x 5 = 18. At least three halves: 1.5 halves each side and half a day shift,
        // 15 + 4 = 19 (the integer optimum is 23).
        let requirement = Requirement::new(start, 60, vec![2.0; 8]);
        for (day_limit, half_limit, expect) in
            [("max_count = 1", "", 18.0), ("", "min_count = 3", 19.0)]
        {
            let templates = templates(day_limit, half_limit);
            for small_pool in [0, usize::MAX] {
                let (solution, columns) = lp(&requirement, &templates, 100.0, small_pool);
                let simplex = all_columns_simplex(&requirement.agents, &templates, &columns, 100.0);
                assert!((simplex - expect).abs() < 1e-6, "{simplex}");
                assert!((solution.objective - expect).abs() < 1e-5, "{}", solution.objective);
                assert!(solution.objective <= expect + 1e-9);
            }
        }
    }
}
