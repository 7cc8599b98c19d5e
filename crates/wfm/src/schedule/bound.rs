//! A lower bound on the integer optimum that can be tighter than the LP bound: cut the horizon
//! into blocks, solve each block's own integer program exactly, add the optima up.
//!
//! Every shift's cost is spread over the intervals it works, in proportion to the work, so a
//! schedule's objective is the sum over blocks of (the shares of its shifts' costs falling in
//! the block + the penalty of the block's shortage). Restricted to one block, any schedule is
//! a feasible integer solution of the block's problem (choose shift pieces, each costing its
//! share, to cover the block's requirement), so its cost there is at least the block's optimum:
//! the sum of the block optima bounds every schedule from below. Template counts are left out,
//! which only loosens the bound. Where a block's branch and bound does not finish in time its
//! LP optimum stands in (also a valid bound for the block, just a weaker one).
//!
//! This is a check of how far the LP bound is from the truth, not part of [`super::solve`]:
//! when the requirement is small, whole agents cannot fill the holes that breaks leave the way
//! fractions of shifts do, and the integer optimum sits well above the LP.

use std::collections::BTreeMap;
use std::time::Duration;

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use super::columns::ColumnSet;
use super::lp::{solve_lp, LpInput};
use super::requirement::Requirement;
use super::solve::{default_penalty, SolveError};
use super::template::ShiftTemplate;

/// The LP lower bound alone (what [`super::solve`] reports as `lower_bound`), without the
/// search; `None` when the LP did not finish within `time_limit`.
pub fn lp_lower_bound(
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    under_penalty: Option<f64>,
    time_limit: Duration,
) -> Result<Option<f64>, SolveError> {
    let (columns, penalty) = prepare(requirement, templates, under_penalty)?;
    let fixed = vec![0; templates.len()];
    let input = LpInput { need: &requirement.agents, pool: None, fixed_per_template: &fixed };
    let deadline = std::time::Instant::now() + time_limit;
    Ok(solve_lp(&input, templates, &columns, penalty, deadline).map(|lp| lp.objective))
}

/// The step every schedule's objective is a multiple of, when there is one: all shift
/// costs and the penalty are whole multiples of it, every candidate works whole intervals and
/// every requirement is whole (so shortages are whole too). A lower bound can then be rounded
/// up to the next multiple ([`round_up_to_step`]). With paid hours as cost, 8-hour and 4-hour
/// shifts give a step of 4.
pub fn cost_step(
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    under_penalty: Option<f64>,
) -> Result<Option<f64>, SolveError> {
    let (columns, penalty) = prepare(requirement, templates, under_penalty)?;
    let whole = |x: f64| (x - x.round()).abs() < 1e-9 && x.round() >= 1.0;
    let whole_work =
        (0..columns.len()).all(|j| columns.cover(j).all(|(_, a)| (a - 1.0).abs() < 1e-12));
    if !whole_work || !requirement.agents.iter().all(|&r| (r - r.round()).abs() < 1e-12) {
        return Ok(None);
    }
    let mut step: u64 = 0;
    for cost in columns.columns.iter().map(|c| c.cost).chain([penalty]) {
        if !whole(cost) {
            return Ok(None);
        }
        step = gcd(step, cost.round() as u64);
    }
    Ok((step > 0).then_some(step as f64))
}

/// `bound` rounded up to a multiple of `step` (a bound is not lowered by float noise: within
/// 1e-9 of a multiple counts as on it).
pub fn round_up_to_step(bound: f64, step: f64) -> f64 {
    (bound / step - 1e-9).ceil() * step
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The candidates and the penalty, with the same checks as [`super::solve`].
fn prepare(
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    under_penalty: Option<f64>,
) -> Result<(ColumnSet, f64), SolveError> {
    let columns = ColumnSet::enumerate(requirement, templates);
    if columns.is_empty() {
        return Err(SolveError::NoCandidates {
            intervals: requirement.len(),
            interval_minutes: requirement.interval_minutes,
        });
    }
    let penalty = match under_penalty {
        Some(p) if p.is_finite() && p > 0.0 => p,
        Some(_) => return Err(SolveError::BadPenalty),
        None => default_penalty(&columns),
    };
    Ok((columns, penalty))
}

/// The result of [`block_lower_bound`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlockBound {
    /// Sum of the blocks' optima (or LP optima where the branch and bound ran out of time):
    /// a lower bound on the objective of every schedule.
    pub bound: f64,
    /// Blocks the horizon was cut into.
    pub blocks: usize,
    /// Blocks whose integer optimum was proven (the others contributed their LP optimum).
    pub blocks_exact: usize,
}

/// Lower bound on the integer optimum from blocks of `block_minutes` (a multiple of the
/// interval, e.g. a day), each solved to optimality within `time_per_block`.
/// `under_penalty` as in [`super::SolveOptions::under_penalty`].
pub fn block_lower_bound(
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    under_penalty: Option<f64>,
    block_minutes: u32,
    time_per_block: Duration,
) -> Result<BlockBound, SolveError> {
    let (columns, penalty) = prepare(requirement, templates, under_penalty)?;
    let per_block = (block_minutes / requirement.interval_minutes).max(1) as usize;
    let worked: Vec<f64> =
        (0..columns.len()).map(|j| columns.cover(j).map(|(_, a)| a).sum()).collect();
    let mut result = BlockBound { bound: 0.0, blocks: 0, blocks_exact: 0 };
    let mut first = 0;
    while first < requirement.len() {
        let last = (first + per_block).min(requirement.len());
        // Each distinct piece of a shift inside the block, at its cheapest share of cost.
        let mut pieces: BTreeMap<Vec<(usize, u64)>, f64> = BTreeMap::new();
        for (j, &worked) in worked.iter().enumerate() {
            let piece: Vec<(usize, u64)> = columns
                .cover(j)
                .filter(|&(i, _)| (first..last).contains(&i))
                .map(|(i, a)| (i, a.to_bits()))
                .collect();
            if piece.is_empty() || worked <= 0.0 {
                continue;
            }
            let share: f64 = piece.iter().map(|&(_, a)| f64::from_bits(a)).sum::<f64>() / worked;
            let cost = columns.columns[j].cost * share;
            pieces.entry(piece).and_modify(|c| *c = c.min(cost)).or_insert(cost);
        }
        let need = &requirement.agents[first..last];
        let value = match solve_block(need, first, &pieces, penalty, true, time_per_block) {
            Some((value, true)) => {
                result.blocks_exact += 1;
                value
            }
            // The branch and bound's own bound, or the block's LP, whichever is higher.
            partial => {
                let lp = solve_block(need, first, &pieces, penalty, false, time_per_block)
                    .map_or(0.0, |(value, _)| value);
                partial.map_or(lp, |(bound, _)| bound.max(lp))
            }
        };
        result.bound += value;
        result.blocks += 1;
        first = last;
    }
    Ok(result)
}

/// One block's covering problem (integer or LP): its optimum and true, or, when the time
/// ran out, the best bound proven and false.
fn solve_block(
    need: &[f64],
    first: usize,
    pieces: &BTreeMap<Vec<(usize, u64)>, f64>,
    penalty: f64,
    integer: bool,
    time_limit: Duration,
) -> Option<(f64, bool)> {
    let mut problem = Problem::new(OptimizationDirection::Minimize);
    problem.set_time_limit(time_limit);
    let most = need.iter().fold(0.0_f64, |m, &r| m.max(r));
    let mut rows: Vec<Vec<(microlp::Variable, f64)>> = vec![Vec::new(); need.len()];
    for (piece, &cost) in pieces {
        let least = piece.iter().map(|&(_, a)| f64::from_bits(a)).fold(1.0_f64, f64::min);
        // More copies of a piece than the largest requirement over its smallest fraction
        // never pay, so this cap keeps every optimum.
        let cap = (most / least).ceil() + 1.0;
        let var = if integer {
            problem.add_integer_var(cost, (0, cap.min(f64::from(i32::MAX)) as i32))
        } else {
            problem.add_var(cost, (0.0, cap))
        };
        for &(i, a) in piece {
            rows[i - first].push((var, f64::from_bits(a)));
        }
    }
    for (k, mut row) in rows.into_iter().enumerate() {
        if need[k] > 0.0 {
            row.push((problem.add_var(penalty, (0.0, f64::INFINITY)), 1.0));
            problem.add_constraint(row.as_slice(), ComparisonOp::Ge, need[k]);
        }
    }
    let outcome = problem.solve().ok()?;
    if outcome.is_optimal() {
        return outcome.solution().map(|s| (s.objective(), true));
    }
    if integer {
        outcome.stats().best_bound.map(|bound| (bound, false))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::schedule::parse_templates;

    /// One agent 08-11 (hourly). Shifts cost 2: 08-10, 09-11, and 08-11 with an unpaid hour
    /// off at 09. Any two of them cover everything (4); half of each covers every hour exactly
    /// once, so the LP optimum is 3.
    fn odd_cycle() -> (Requirement, Vec<ShiftTemplate>) {
        let start = DateTime::parse_from_rfc3339("2026-11-23T08:00:00+00:00").unwrap();
        let templates = parse_templates(
            r#"
            [[shift]]
            name = "two hours"
            length = "2h"
            start = { earliest = "08:00", latest = "09:00", step = "1h" }

            [[shift]]
            name = "split"
            length = "3h"
            start = { earliest = "08:00", latest = "08:00" }
            [[shift.break]]
            name = "off"
            length = "1h"
            earliest = "1h"
            latest = "1h"
            paid = false
            "#,
        )
        .unwrap();
        (Requirement::new(start, 60, vec![1.0; 3]), templates)
    }

    #[test]
    fn blocks_close_an_integrality_gap_the_lp_leaves() {
        let (requirement, templates) = odd_cycle();
        let lp = lp_lower_bound(&requirement, &templates, None, Duration::from_secs(30))
            .unwrap()
            .unwrap();
        assert!((lp - 3.0).abs() < 1e-6, "{lp}");
        let check = |block_minutes: u32, expect: f64, exact: usize| {
            let bound = block_lower_bound(
                &requirement,
                &templates,
                None,
                block_minutes,
                Duration::from_secs(30),
            )
            .unwrap();
            assert!((bound.bound - expect).abs() < 1e-6, "{block_minutes}: {bound:?}");
            assert_eq!(bound.blocks_exact, exact);
            assert_eq!(bound.blocks, bound.blocks_exact);
        };
        // The whole horizon as one block: the integer optimum.
        check(180, 4.0, 1);
        // Hour blocks: each hour costs at least its share of one shift, 1.
        check(60, 3.0, 3);
    }

    #[test]
    fn cost_steps() {
        let (requirement, templates) = odd_cycle();
        // Costs 2 and 2, penalty 200: a step of 2, so the LP's 3 rounds up to 4.
        let step = cost_step(&requirement, &templates, None).unwrap();
        assert_eq!(step, Some(2.0));
        assert_eq!(round_up_to_step(3.0, 2.0), 4.0);
        assert_eq!(round_up_to_step(4.0 + 1e-12, 2.0), 4.0);
        // A penalty of 1.5 leaves no common step.
        assert_eq!(cost_step(&requirement, &templates, Some(1.5)).unwrap(), None);
        // A fractional requirement neither (shortages need not be whole).
        let half = Requirement::new(requirement.start, 60, vec![1.0, 1.0, 0.5]);
        assert_eq!(cost_step(&half, &templates, None).unwrap(), None);
    }
}
