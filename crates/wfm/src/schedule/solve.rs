//! The covering problem: choose how many agents work each candidate shift so that every
//! interval's requirement is met at least cost, under-coverage priced by a penalty.
//!
//! 1. The LP relaxation over every candidate (template, start, break placement), by column
//!    generation over Clarabel's interior point ([`super::lp`]), on its own thread while a
//!    ruin-and-recreate search starts from a greedy sweep. Its optimum over all candidates is
//!    the lower bound the gap is measured against.
//! 2. Rounding of the LP solution at several thresholds, then a dive (a fifth of the budget at
//!    most): fix the whole agents of every (template, start), round up the starts the LP most
//!    nearly chose, re-solve the residual LP over the LP's candidates, repeat.
//! 3. Until the deadline, the target gap or a pass without gain, alternately: the exact window
//!    polish (the shifts starting in 12 hours are taken out and chosen anew by microlp's branch
//!    and bound among the LP's candidates, windows with most surplus first, kept when cheaper)
//!    and ruin-and-recreate with threshold accepting (take out shifts in a random window,
//!    sweep the shortage back, drop what became redundant).

use std::ops::Range;
use std::time::{Duration, Instant};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use super::columns::ColumnSet;
use super::lp::{solve_lp, LpInput, LpSolution};
use super::requirement::Requirement;
use super::template::ShiftTemplate;

/// Coverage differences below this count as equal.
const EPSILON: f64 = 1e-6;
/// Default under-coverage penalty, as a multiple of the dearest shift's cost: high enough that
/// any shift closing a shortage is worth its cost, so only impossible coverage stays short.
const HARD_PENALTY_FACTOR: f64 = 100.0;
/// How far (in minutes) a local-search move may shift a start.
/// Default for [`SolveOptions::target_gap`].
pub const DEFAULT_TARGET_GAP: f64 = 0.002;
/// Ruin windows are drawn between these widths (minutes).
const RUIN_WIDTH_MINUTES: (u32, u32) = (15, 4 * 60);
/// The search ends after this many ruin-and-recreate steps without improvement.
const STALL_ITERATIONS: u64 = 30_000;

/// How to solve.
#[derive(Debug, Clone)]
pub struct SolveOptions {
    /// Cost of one missing agent for one interval. `None`: cover everything that can be
    /// covered (a penalty far above any shift's cost).
    pub under_penalty: Option<f64>,
    /// Wall-clock budget for the whole solve.
    pub time_limit: Duration,
    /// The search stops once the cost is within this fraction of the LP bound.
    pub target_gap: f64,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            under_penalty: None,
            time_limit: Duration::from_secs(60),
            target_gap: DEFAULT_TARGET_GAP,
        }
    }
}

/// What the solver is doing, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Enumerating candidate shifts.
    Columns,
    /// Solving the LP relaxation.
    LinearProgram,
    /// Rounding the LP solution to whole agents.
    Rounding,
    /// Improving the integer solution.
    LocalSearch,
    /// Finished.
    Done,
}

/// A progress report.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Current phase.
    pub phase: Phase,
    /// Time since the solve began.
    pub elapsed: Duration,
    /// Objective of the best integer solution so far.
    pub best_objective: Option<f64>,
    /// The LP lower bound, once known.
    pub lower_bound: Option<f64>,
}

/// A break placed in a scheduled shift.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedBreak {
    /// Name from the template.
    pub name: String,
    /// Start, minutes after the horizon start.
    pub start_minute: u32,
    /// End, minutes after the horizon start.
    pub end_minute: u32,
    /// Whether it is paid.
    pub paid: bool,
}

/// One agent's shift in the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledShift {
    /// Template name.
    pub template: String,
    /// Start, minutes after the horizon start.
    pub start_minute: u32,
    /// End, minutes after the horizon start.
    pub end_minute: u32,
    /// Breaks in order.
    pub breaks: Vec<PlacedBreak>,
    /// Cost of the shift.
    pub cost: f64,
    /// Paid hours of the shift.
    pub paid_hours: f64,
}

/// The result of a solve.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// One entry per agent-shift, ordered by start.
    pub shifts: Vec<ScheduledShift>,
    /// Agents working in each interval (fractions where breaks cut an interval).
    pub coverage: Vec<f64>,
    /// The requirement the schedule was solved for.
    pub requirement: Vec<f64>,
    /// Sum of shift costs.
    pub cost: f64,
    /// Sum of paid hours.
    pub paid_hours: f64,
    /// Missing agent-intervals summed over the horizon.
    pub under_agent_intervals: f64,
    /// Penalty per missing agent-interval used.
    pub under_penalty: f64,
    /// Cost plus penalty: what was minimised.
    pub objective: f64,
    /// Optimum of the LP relaxation (a lower bound on `objective`), if the LP finished.
    pub lower_bound: Option<f64>,
    /// Wall-clock time of the solve.
    pub elapsed: Duration,
    /// Whether the time limit cut the solve short.
    pub timed_out: bool,
}

impl Schedule {
    /// Relative gap `(objective - bound) / bound`, if a bound is known.
    pub fn gap(&self) -> Option<f64> {
        let bound = self.lower_bound?;
        if bound.abs() < EPSILON {
            return Some(if self.objective.abs() < EPSILON { 0.0 } else { f64::INFINITY });
        }
        Some(((self.objective - bound) / bound).max(0.0))
    }

    /// Intervals whose coverage falls short of the requirement.
    pub fn short_intervals(&self) -> Vec<usize> {
        (0..self.requirement.len())
            .filter(|&i| self.coverage[i] + EPSILON < self.requirement[i])
            .collect()
    }

    /// Intervals covered beyond the requirement.
    pub fn over_intervals(&self) -> Vec<usize> {
        (0..self.requirement.len())
            .filter(|&i| self.coverage[i] > self.requirement[i] + EPSILON)
            .collect()
    }
}

/// Why a solve could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// No template produced a shift within the horizon.
    #[error(
        "no shift template fits the horizon ({intervals} intervals of {interval_minutes} min)"
    )]
    NoCandidates {
        /// Intervals in the horizon.
        intervals: usize,
        /// Interval length.
        interval_minutes: u32,
    },
    /// The penalty is not a positive number.
    #[error("under-coverage penalty must be a positive number")]
    BadPenalty,
    /// The template counts cannot be met.
    #[error("template {template:?}: min_count {min} but only {available} shifts fit the horizon")]
    MinCountUnreachable {
        /// Template name.
        template: String,
        /// Its min_count.
        min: u32,
        /// Candidate starts available (with max_count 0 elsewhere this cannot be met).
        available: usize,
    },
}

/// Solves the covering problem.
pub fn solve(
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    options: &SolveOptions,
) -> Result<Schedule, SolveError> {
    solve_with_progress(requirement, templates, options, &mut |_| {})
}

/// Solves the covering problem, reporting progress at each phase and improvement.
pub fn solve_with_progress(
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    options: &SolveOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Schedule, SolveError> {
    let started = Instant::now();
    let deadline = started + options.time_limit;
    let report = |progress: &mut dyn FnMut(Progress), phase, best, bound| {
        progress(Progress {
            phase,
            elapsed: started.elapsed(),
            best_objective: best,
            lower_bound: bound,
        })
    };
    report(progress, Phase::Columns, None, None);
    let columns = ColumnSet::enumerate(requirement, templates);
    if columns.is_empty() {
        return Err(SolveError::NoCandidates {
            intervals: requirement.len(),
            interval_minutes: requirement.interval_minutes,
        });
    }
    for (t, template) in templates.iter().enumerate() {
        let available = columns.columns.iter().filter(|c| c.template == t).count();
        if template.min_count > 0 && available == 0 {
            return Err(SolveError::MinCountUnreachable {
                template: template.name.clone(),
                min: template.min_count,
                available,
            });
        }
    }
    let penalty = match options.under_penalty {
        Some(p) if p.is_finite() && p > 0.0 => p,
        Some(_) => return Err(SolveError::BadPenalty),
        None => default_penalty(&columns),
    };

    // The LP (for the bound and a rounding) runs on its own thread while the search starts
    // from a greedy solution; whichever integer solution is better continues.
    report(progress, Phase::LinearProgram, None, None);
    let all: Vec<usize> = (0..columns.len()).collect();
    let (search, lower_bound, timed_out) = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::channel();
        let columns_ref = &columns;
        scope.spawn(move || {
            let fixed = vec![0; templates.len()];
            let input =
                LpInput { need: &requirement.agents, pool: None, fixed_per_template: &fixed };
            let _ = sender.send(solve_lp(&input, templates, columns_ref, penalty, deadline));
        });
        let mut search = Search::new(requirement, templates, &columns, penalty);
        search.sweep_fill(
            0,
            requirement.len(),
            &mut XorShift(SEED),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        search.meet_min_counts();
        let mut lp: Option<Option<LpSolution>> = None;
        let mut best = search.objective();
        report(progress, Phase::LocalSearch, Some(best), None);
        let mut finished = search.improve(
            deadline,
            &mut |_| {
                if lp.is_none() {
                    if let Ok(result) = receiver.try_recv() {
                        lp = Some(result);
                    }
                }
                lp.is_some()
            },
            &mut |objective| {
                best = objective;
                report(progress, Phase::LocalSearch, Some(objective), None)
            },
        );
        // The LP may still be running if the search stalled or ran out of time.
        let lp = match lp {
            Some(lp) => lp,
            None => receiver.recv().ok().flatten(),
        };
        let lower_bound = lp.as_ref().map(|lp| lp.objective);
        if let Some(lp) = &lp {
            report(progress, Phase::Rounding, Some(search.objective()), lower_bound);
            for round_up_from in ROUND_UP_THRESHOLDS {
                let mut rounded = Search::new(requirement, templates, &columns, penalty);
                rounded.round(&lp.values, round_up_from);
                rounded.meet_min_counts();
                rounded.drop_redundant(&all);
                if rounded.objective() < search.objective() - EPSILON {
                    search = rounded;
                }
            }
        }
        if let Some(lp) = &lp {
            // The dive pays off on large instances; on small ones its many re-solves are
            // better spent on the polish, so it gets a share of the budget only.
            let dive_deadline =
                deadline.min(Instant::now() + options.time_limit.mul_f64(DIVE_SHARE));
            let mut dived = Search::new(requirement, templates, &columns, penalty);
            dived.dive(lp, DIVE_ROUND_UP_FROM, dive_deadline);
            if dived.objective() < search.objective() - EPSILON {
                search = dived;
            }
        }
        report(progress, Phase::LocalSearch, Some(search.objective()), lower_bound);
        let target_reached = |objective: f64| {
            lower_bound.is_some_and(|bound| objective - bound <= options.target_gap * bound.abs())
        };
        // Alternate the exact window polish (windows moved on each pass) with the
        // ruin-and-recreate search until the deadline, the target gap, or a pass that
        // improves nothing.
        let mut pass = 0;
        while Instant::now() < deadline && !target_reached(search.objective()) {
            let before = search.objective();
            if let Some(lp) = &lp {
                let offset = pass * POLISH_WINDOW_MINUTES / 6;
                search.polish_windows(&lp.master, offset, deadline);
                report(progress, Phase::LocalSearch, Some(search.objective()), lower_bound);
            }
            finished = search.improve(
                deadline,
                &mut |objective| target_reached(objective),
                &mut |objective| report(progress, Phase::LocalSearch, Some(objective), lower_bound),
            );
            pass += 1;
            if search.objective() >= before - EPSILON && pass >= 3 {
                break;
            }
        }
        (search, lower_bound, !finished || lp.is_none())
    });
    report(progress, Phase::Done, Some(search.objective()), lower_bound);

    let mut shifts = Vec::new();
    for (j, &count) in search.counts.iter().enumerate() {
        let column = &columns.columns[j];
        let template = &templates[column.template];
        for _ in 0..count {
            shifts.push(ScheduledShift {
                template: template.name.clone(),
                start_minute: column.start_minute,
                end_minute: column.start_minute + template.length_minutes,
                breaks: template
                    .breaks
                    .iter()
                    .zip(&column.break_starts)
                    .map(|(rule, &start)| PlacedBreak {
                        name: rule.name.clone(),
                        start_minute: start,
                        end_minute: start + rule.length_minutes,
                        paid: rule.paid,
                    })
                    .collect(),
                cost: template.cost,
                paid_hours: template.paid_hours,
            });
        }
    }
    shifts.sort_by(|a, b| (a.start_minute, &a.template).cmp(&(b.start_minute, &b.template)));
    let under: f64 =
        (0..requirement.len()).map(|i| (requirement.agents[i] - search.coverage[i]).max(0.0)).sum();
    let cost: f64 = shifts.iter().map(|s| s.cost).sum();
    Ok(Schedule {
        paid_hours: shifts.iter().map(|s| s.paid_hours).sum(),
        shifts,
        coverage: search.coverage.clone(),
        requirement: requirement.agents.clone(),
        cost,
        under_agent_intervals: under,
        under_penalty: penalty,
        objective: cost + penalty * under,
        lower_bound,
        elapsed: started.elapsed(),
        timed_out,
    })
}

/// The penalty when none is given: [`HARD_PENALTY_FACTOR`] times the dearest shift.
pub(super) fn default_penalty(columns: &ColumnSet) -> f64 {
    columns.columns.iter().map(|c| c.cost).fold(0.0, f64::max) * HARD_PENALTY_FACTOR
}

/// The integer solution being improved: agents per candidate and the coverage they give.
struct Search<'a> {
    need: &'a [f64],
    templates: &'a [ShiftTemplate],
    columns: &'a ColumnSet,
    penalty: f64,
    interval_minutes: u32,
    cost: f64,
    counts: Vec<u32>,
    per_template: Vec<u32>,
    coverage: Vec<f64>,
    /// Per template, per distinct start: the candidates' index range (they are contiguous).
    starts: Vec<Vec<(u32, Range<usize>)>>,
}

impl<'a> Search<'a> {
    fn new(
        requirement: &'a Requirement,
        templates: &'a [ShiftTemplate],
        columns: &'a ColumnSet,
        penalty: f64,
    ) -> Self {
        let mut starts: Vec<Vec<(u32, Range<usize>)>> = vec![Vec::new(); templates.len()];
        for (j, c) in columns.columns.iter().enumerate() {
            let list = &mut starts[c.template];
            match list.last_mut() {
                Some((start, range)) if *start == c.start_minute && range.end == j => {
                    range.end = j + 1
                }
                _ => list.push((c.start_minute, j..j + 1)),
            }
        }
        Search {
            need: &requirement.agents,
            templates,
            columns,
            penalty,
            interval_minutes: requirement.interval_minutes,
            cost: 0.0,
            counts: vec![0; columns.len()],
            per_template: vec![0; templates.len()],
            coverage: vec![0.0; requirement.len()],
            starts,
        }
    }

    fn objective(&self) -> f64 {
        let cost = self.cost;
        let short: f64 =
            self.need.iter().zip(&self.coverage).map(|(&r, &c)| (r - c).max(0.0)).sum();
        cost + self.penalty * short
    }

    fn can_add(&self, j: usize) -> bool {
        let t = self.columns.columns[j].template;
        self.templates[t].max_count.is_none_or(|max| self.per_template[t] < max)
    }

    /// Shortage closed by adding candidate `j` (in agent-intervals).
    fn shortage_closed(&self, j: usize) -> f64 {
        self.columns
            .cover(j)
            .map(|(i, a)| {
                let short = self.need[i] - self.coverage[i];
                if short > 0.0 {
                    short.min(a)
                } else {
                    0.0
                }
            })
            .sum()
    }

    /// Shortage opened by removing one agent of candidate `j`.
    fn shortage_opened(&self, j: usize) -> f64 {
        self.columns
            .cover(j)
            .map(|(i, a)| {
                let after = self.need[i] - (self.coverage[i] - a);
                if after > 0.0 {
                    after.min(a)
                } else {
                    0.0
                }
            })
            .sum()
    }

    fn add(&mut self, j: usize) {
        self.counts[j] += 1;
        self.cost += self.columns.columns[j].cost;
        self.per_template[self.columns.columns[j].template] += 1;
        for (i, a) in self.columns.cover(j) {
            self.coverage[i] += a;
        }
    }

    fn remove(&mut self, j: usize) {
        self.counts[j] -= 1;
        self.cost -= self.columns.columns[j].cost;
        self.per_template[self.columns.columns[j].template] -= 1;
        for (i, a) in self.columns.cover(j) {
            self.coverage[i] -= a;
        }
    }

    /// Change in the objective from adding `j`.
    fn add_delta(&self, j: usize) -> f64 {
        self.columns.columns[j].cost - self.penalty * self.shortage_closed(j)
    }

    /// Rounds an LP solution: up where the fraction reaches `round_up_from`, down elsewhere,
    /// then adds the rounded-down shifts by decreasing fraction while they close a shortage,
    /// then sweeps the remaining shortage, then drops what became redundant.
    fn round(&mut self, values: &[f64], round_up_from: f64) {
        let mut fractional = Vec::new();
        for (j, &x) in values.iter().enumerate() {
            let floor = (x + EPSILON).floor().max(0.0);
            let whole = if x - floor >= round_up_from { floor + 1.0 } else { floor } as u32;
            for _ in 0..whole {
                if self.can_add(j) {
                    self.add(j);
                }
            }
            let fraction = x - f64::from(whole);
            if fraction > EPSILON {
                fractional.push((fraction, j));
            }
        }
        // Largest fractions first: those are the shifts the LP most nearly chose.
        fractional.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, j) in &fractional {
            if self.can_add(j) && self.add_delta(j) < -EPSILON {
                self.add(j);
            }
        }
        let all: Vec<usize> = (0..self.columns.len()).collect();
        self.sweep_fill(0, self.need.len(), &mut XorShift(SEED), &mut Vec::new(), &mut Vec::new());
        self.greedy_repair(&all);
        self.drop_redundant(&all);
    }

    /// LP diving on (template, start) groups: the interior-point LP spreads a start's agents
    /// over its break placements, so the sum per start is what is rounded. Fix the whole
    /// agents of every start and round up the starts the LP most nearly chose (each on the
    /// placement closing the most shortage), re-solve the LP for what is left over the
    /// candidates of the first LP's master, and repeat until nothing is short; then sweep
    /// and drop as in [`Search::round`].
    fn dive(&mut self, lp: &LpSolution, round_up_from: f64, deadline: Instant) {
        let groups: Vec<Range<usize>> =
            self.starts.iter().flat_map(|list| list.iter().map(|(_, r)| r.clone())).collect();
        let mut values = lp.values.clone();
        for _ in 0..DIVE_ROUNDS {
            let mut fractional: Vec<(f64, usize)> = Vec::new();
            for (g, range) in groups.iter().enumerate() {
                let sum: f64 = values[range.clone()].iter().sum();
                let whole = (sum + EPSILON).floor().max(0.0);
                for _ in 0..whole as u32 {
                    if let Some(j) = self.best_placement(range.clone(), &values) {
                        self.add(j);
                    }
                }
                if sum - whole > EPSILON {
                    fractional.push((sum - whole, g));
                }
            }
            if fractional.is_empty() {
                break;
            }
            fractional.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            // Round up the largest fractions (at least one, so every round fixes something).
            let take = (fractional.len() / DIVE_ROUND_UP_DIVISOR).max(1);
            for (rank, &(fraction, g)) in fractional.iter().take(take).enumerate() {
                if fraction < round_up_from && rank > 0 {
                    break;
                }
                if let Some(j) = self.best_placement(groups[g].clone(), &values) {
                    if self.add_delta(j) < -EPSILON {
                        self.add(j);
                    }
                }
            }
            let residual: Vec<f64> =
                self.need.iter().zip(&self.coverage).map(|(&r, &c)| (r - c).max(0.0)).collect();
            if residual.iter().all(|&r| r <= EPSILON) {
                break;
            }
            let input = LpInput {
                need: &residual,
                pool: Some(&lp.master),
                fixed_per_template: &self.per_template,
            };
            match solve_lp(&input, self.templates, self.columns, self.penalty, deadline) {
                Some(next) => values = next.values,
                None => break,
            }
        }
        let all: Vec<usize> = (0..self.columns.len()).collect();
        self.sweep_fill(0, self.need.len(), &mut XorShift(SEED), &mut Vec::new(), &mut Vec::new());
        self.greedy_repair(&all);
        self.drop_redundant(&all);
    }

    /// Exact re-optimisation of one window of starts after another (overlapping by half):
    /// take out the shifts starting in the window and choose anew, as a small integer program
    /// solved by microlp's branch and bound, among the LP's candidates (and those in use)
    /// starting there; kept only when it costs less. Returns whether anything improved.
    fn polish_windows(&mut self, pool: &[usize], offset: u32, deadline: Instant) -> bool {
        let horizon = self.need.len() as u32 * self.interval_minutes;
        let step = POLISH_WINDOW_MINUTES / 2;
        // Windows overlap by half; the offset moves them between passes.
        let mut windows = Vec::new();
        let mut from = offset % step;
        if from > 0 {
            windows.push((0, from));
        }
        while from < horizon {
            windows.push((from, (from + POLISH_WINDOW_MINUTES).min(horizon)));
            from += step;
        }
        // Most surplus first, so a short budget goes where there is most to gain.
        let longest = self.templates.iter().map(|t| t.length_minutes).max().unwrap_or(0);
        let surplus = |&(from, to): &(u32, u32)| -> f64 {
            let first = (from / self.interval_minutes) as usize;
            let last =
                ((to + longest).div_ceil(self.interval_minutes) as usize).min(self.need.len());
            (first..last).map(|i| (self.coverage[i] - self.need[i]).max(0.0)).sum()
        };
        let mut ranked: Vec<(f64, (u32, u32))> = windows.iter().map(|w| (surplus(w), *w)).collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut improved = false;
        for (_, (from, to)) in ranked {
            if Instant::now() >= deadline {
                break;
            }
            improved |= self.polish_window(pool, from, to, deadline);
        }
        improved
    }

    fn polish_window(&mut self, pool: &[usize], from: u32, to: u32, deadline: Instant) -> bool {
        let starts_inside = |j: usize| {
            let start = self.columns.columns[j].start_minute;
            (from..to).contains(&start)
        };
        let mut candidates: Vec<usize> =
            pool.iter().copied().filter(|&j| starts_inside(j)).collect();
        let in_use: Vec<(usize, u32)> = (0..self.counts.len())
            .filter(|&j| self.counts[j] > 0 && starts_inside(j))
            .map(|j| (j, self.counts[j]))
            .collect();
        candidates.extend(in_use.iter().map(|&(j, _)| j));
        candidates.sort_unstable();
        candidates.dedup();
        if candidates.is_empty() {
            return false;
        }
        let before = self.objective();
        for &(j, count) in &in_use {
            for _ in 0..count {
                self.remove(j);
            }
        }
        let mut problem = Problem::new(OptimizationDirection::Minimize);
        problem.set_time_limit(
            deadline.saturating_duration_since(Instant::now()).min(POLISH_WINDOW_BUDGET),
        );
        let residual = |i: usize| self.need[i] - self.coverage[i];
        let most = self.need.iter().fold(0.0_f64, |m, &r| m.max(r)).ceil() as i32 + 1;
        let vars: Vec<_> = candidates
            .iter()
            .map(|&j| problem.add_integer_var(self.columns.columns[j].cost, (0, most)))
            .collect();
        let mut rows: std::collections::BTreeMap<usize, Vec<(microlp::Variable, f64)>> =
            std::collections::BTreeMap::new();
        for (&j, &var) in candidates.iter().zip(&vars) {
            for (i, a) in self.columns.cover(j) {
                if residual(i) > EPSILON {
                    rows.entry(i).or_default().push((var, a));
                }
            }
        }
        for (i, mut row) in rows {
            let short = problem.add_var(self.penalty, (0.0, f64::INFINITY));
            row.push((short, 1.0));
            problem.add_constraint(row.as_slice(), ComparisonOp::Ge, residual(i));
        }
        for (t, template) in self.templates.iter().enumerate() {
            let members: Vec<_> = candidates
                .iter()
                .zip(&vars)
                .filter(|(&j, _)| self.columns.columns[j].template == t)
                .map(|(_, &v)| (v, 1.0))
                .collect();
            if template.min_count > self.per_template[t] {
                let min = f64::from(template.min_count - self.per_template[t]);
                problem.add_constraint(members.as_slice(), ComparisonOp::Ge, min);
            }
            if let Some(max) = template.max_count {
                let max = f64::from(max.saturating_sub(self.per_template[t]));
                problem.add_constraint(members.as_slice(), ComparisonOp::Le, max);
            }
        }
        let chosen: Option<Vec<(usize, u32)>> = problem.solve().ok().and_then(|outcome| {
            let solution = outcome.solution()?;
            Some(
                candidates
                    .iter()
                    .zip(&vars)
                    .map(|(&j, &v)| (j, solution.var_value(v).round().max(0.0) as u32))
                    .collect(),
            )
        });
        if let Some(chosen) = chosen {
            for &(j, count) in &chosen {
                for _ in 0..count {
                    self.add(j);
                }
            }
            if self.objective() < before - EPSILON {
                return true;
            }
            for &(j, count) in &chosen {
                for _ in 0..count {
                    self.remove(j);
                }
            }
        }
        for &(j, count) in &in_use {
            for _ in 0..count {
                self.add(j);
            }
        }
        false
    }

    /// The placement of a start group closing the most shortage (the LP's favourite among
    /// equals), if the template may take another shift.
    fn best_placement(&self, group: Range<usize>, values: &[f64]) -> Option<usize> {
        group.filter(|&j| self.can_add(j)).max_by(|&a, &b| {
            self.shortage_closed(a)
                .total_cmp(&self.shortage_closed(b))
                .then(values[a].total_cmp(&values[b]))
                .then(b.cmp(&a))
        })
    }

    /// Adds the candidate closing the most shortage per unit of cost while that pays.
    fn greedy_repair(&mut self, candidates: &[usize]) {
        loop {
            let mut best: Option<(f64, usize)> = None;
            for &j in candidates {
                if !self.can_add(j) {
                    continue;
                }
                let closed = self.shortage_closed(j);
                let cost = self.columns.columns[j].cost;
                if self.penalty * closed <= cost + EPSILON {
                    continue;
                }
                let ratio = closed / cost;
                if best.is_none_or(|(r, _)| ratio > r + EPSILON) {
                    best = Some((ratio, j));
                }
            }
            match best {
                Some((_, j)) => self.add(j),
                None => return,
            }
        }
    }

    /// Adds the least harmful candidates of templates below their minimum count.
    fn meet_min_counts(&mut self) {
        for t in 0..self.templates.len() {
            while self.per_template[t] < self.templates[t].min_count {
                let best = self.starts[t]
                    .iter()
                    .flat_map(|(_, range)| range.clone())
                    .map(|j| (self.add_delta(j), j))
                    .min_by(|a, b| a.0.total_cmp(&b.0));
                match best {
                    Some((_, j)) => self.add(j),
                    None => break,
                }
            }
        }
    }

    /// Closes the shortage in intervals `[from, to)` from the earliest short interval on: some
    /// shift must cover it, and the one closing the most shortage per unit of cost is taken
    /// (random among equals).
    fn sweep_fill(
        &mut self,
        from: usize,
        to: usize,
        rng: &mut XorShift,
        added: &mut Vec<usize>,
        candidates: &mut Vec<usize>,
    ) {
        let to = to.min(self.need.len());
        let mut i = from;
        while i < to {
            if self.need[i] - self.coverage[i] <= EPSILON {
                i += 1;
                continue;
            }
            let minute = i as u32 * self.interval_minutes;
            self.candidates_overlapping(minute, minute + self.interval_minutes, candidates);
            let mut best: Option<(f64, usize)> = None;
            let mut ties = 0u64;
            for &j in candidates.iter() {
                if !self.can_add(j) || !self.columns.cover(j).any(|(k, a)| k == i && a > EPSILON) {
                    continue;
                }
                let closed = self.shortage_closed(j);
                let cost = self.columns.columns[j].cost;
                if self.penalty * closed <= cost + EPSILON {
                    continue;
                }
                let ratio = closed / cost;
                match best {
                    Some((r, _)) if ratio < r - EPSILON => {}
                    Some((r, _)) if ratio <= r + EPSILON => {
                        ties += 1;
                        if rng.next() % ties == 0 {
                            best = Some((r, j));
                        }
                    }
                    _ => {
                        ties = 1;
                        best = Some((ratio, j));
                    }
                }
            }
            match best {
                Some((_, j)) => {
                    self.add(j);
                    added.push(j);
                }
                // Nothing worth its cost covers this interval: leave it short.
                None => i += 1,
            }
        }
    }

    /// Sets the agents per candidate, recomputing coverage.
    fn restore(&mut self, counts: &[u32]) {
        for (j, &target) in counts.iter().enumerate() {
            while self.counts[j] > target {
                self.remove(j);
            }
            while self.counts[j] < target {
                self.add(j);
            }
        }
    }

    /// Candidates whose work overlaps the minutes `[from, to)`.
    fn candidates_overlapping(&self, from: u32, to: u32, out: &mut Vec<usize>) {
        out.clear();
        for (t, list) in self.starts.iter().enumerate() {
            let length = self.templates[t].length_minutes;
            let lo = from.saturating_sub(length.saturating_sub(1));
            let first = list.partition_point(|(s, _)| *s < lo);
            for (_, range) in list[first..].iter().take_while(|(s, _)| *s < to) {
                out.extend(range.clone());
            }
        }
    }

    /// Drops shifts, in `order`, that cover nothing worth their cost; true if any was dropped.
    fn drop_redundant(&mut self, order: &[usize]) -> bool {
        let mut dropped = false;
        for &j in order {
            while self.counts[j] > 0 {
                let t = self.columns.columns[j].template;
                if self.per_template[t] <= self.templates[t].min_count
                    || self.penalty * self.shortage_opened(j)
                        >= self.columns.columns[j].cost - EPSILON
                {
                    break;
                }
                self.remove(j);
                dropped = true;
            }
        }
        dropped
    }

    /// Large-neighbourhood search: take out the shifts starting in a random window, refill
    /// greedily from the candidates overlapping it, keep the result when it costs no more.
    /// Returns false when the deadline stopped it.
    fn improve(
        &mut self,
        deadline: Instant,
        stop: &mut dyn FnMut(f64) -> bool,
        on_improvement: &mut dyn FnMut(f64),
    ) -> bool {
        let all: Vec<usize> = (0..self.columns.len()).collect();
        self.drop_redundant(&all);
        let horizon = self.need.len() as u32 * self.interval_minutes;
        if horizon == 0 {
            return true;
        }
        let mut rng = XorShift(SEED);
        let mut current = self.objective();
        let mut best = current;
        let mut best_counts = self.counts.clone();
        let mut iteration: u64 = 0;
        let threshold_start = THRESHOLD_SHARE_OF_CHEAPEST
            * self.columns.columns.iter().map(|c| c.cost).fold(f64::INFINITY, f64::min);
        let mut candidates = Vec::new();
        let mut removed: Vec<usize> = Vec::new();
        let mut added: Vec<usize> = Vec::new();
        let mut since_improvement: u64 = 0;
        loop {
            let outcome = if stop(best) {
                Some(true)
            } else if Instant::now() >= deadline {
                Some(false)
            } else if since_improvement > STALL_ITERATIONS {
                Some(true)
            } else {
                None
            };
            if let Some(finished) = outcome {
                self.restore(&best_counts);
                return finished;
            }
            since_improvement += 1;
            let width = RUIN_WIDTH_MINUTES.0
                + (rng.next() % u64::from(RUIN_WIDTH_MINUTES.1 - RUIN_WIDTH_MINUTES.0)) as u32;
            let from = (rng.next() % u64::from(horizon)) as u32;
            let to = (from + width).min(horizon);
            // Ruin: each shift starting in the window leaves with probability 1/2 (all of them
            // when the window holds a single shift).
            removed.clear();
            added.clear();
            self.candidates_overlapping(from, to, &mut candidates);
            for &j in &candidates {
                for _ in 0..self.counts[j] {
                    if rng.next() % 3 == 0 {
                        removed.push(j);
                    }
                }
            }
            if removed.is_empty() {
                continue;
            }
            for &j in &removed {
                self.remove(j);
            }
            // Recreate: sweep the window's shortage from its earliest interval.
            let first_interval = (from / self.interval_minutes) as usize;
            let longest = self.templates.iter().map(|t| t.length_minutes).max().unwrap_or(0);
            let last_interval =
                (to + longest).min(horizon).div_ceil(self.interval_minutes) as usize;
            self.sweep_fill(
                first_interval.saturating_sub((longest / self.interval_minutes) as usize),
                last_interval,
                &mut rng,
                &mut added,
                &mut candidates,
            );
            self.candidates_overlapping(
                from.saturating_sub(longest),
                (to + longest).min(horizon),
                &mut candidates,
            );
            // Shifts made redundant by the refill go too.
            let mut touched: Vec<usize> =
                candidates.iter().copied().filter(|&j| self.counts[j] > 0).collect();
            touched.sort_unstable();
            touched.dedup();
            let before_drop: Vec<(usize, u32)> =
                touched.iter().map(|&j| (j, self.counts[j])).collect();
            self.drop_redundant(&touched);
            let after = self.objective();
            // Threshold accepting: a slightly worse solution may be kept, less and less so
            // over each cycle, to walk off plateaus; the best one seen is what counts.
            let phase =
                (iteration % THRESHOLD_CYCLE_ITERATIONS) as f64 / THRESHOLD_CYCLE_ITERATIONS as f64;
            let threshold = threshold_start * (1.0 - phase).powi(2);
            iteration += 1;
            if after <= current + threshold + EPSILON {
                current = after;
                if after < best - EPSILON {
                    best = after;
                    best_counts.clone_from(&self.counts);
                    since_improvement = 0;
                    on_improvement(after);
                }
            } else {
                // Undo: restore drops, remove the refill, put the ruined shifts back.
                for &(j, count) in &before_drop {
                    while self.counts[j] < count {
                        self.add(j);
                    }
                }
                for &j in &added {
                    self.remove(j);
                }
                for &j in &removed {
                    self.add(j);
                }
            }
        }
    }
}

/// LP roundings tried: round a fraction up from each of these.
const ROUND_UP_THRESHOLDS: [f64; 6] = [0.2, 0.35, 0.5, 0.65, 0.8, 1.0];
/// Most LP re-solves of one dive.
const DIVE_ROUNDS: usize = 12;
/// Each dive round rounds up at most one in this many fractional shifts...
const DIVE_ROUND_UP_DIVISOR: usize = 4;
/// ... and only those whose fraction reaches this.
const DIVE_ROUND_UP_FROM: f64 = 0.5;
/// Share of the time limit the dive may use.
const DIVE_SHARE: f64 = 0.2;
/// Iterations of one threshold-accepting cycle.
const THRESHOLD_CYCLE_ITERATIONS: u64 = 4000;
/// Worsening accepted at the start of a cycle, as a share of the cheapest shift's cost.
const THRESHOLD_SHARE_OF_CHEAPEST: f64 = 0.5;
/// Starts re-optimised together by one integer program of the polish.
const POLISH_WINDOW_MINUTES: u32 = 12 * 60;
/// Time limit of one window's integer program.
const POLISH_WINDOW_BUDGET: Duration = Duration::from_millis(500);
/// Seed of the search's generator.
const SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// Minimal xorshift generator: the search is deterministic for a given input.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
