//! Rostering: named agents on the shifts of a schedule, over one week.
//!
//! Hard rules (a shift is never given to an agent who breaks one): skills the shift's template
//! asks for, availability windows, contracted maximum hours, no overlap, minimum rest between
//! shifts, forbidden (template, next template) sequences on consecutive days, at least
//! `min_days_off` days off. Soft: two of those days consecutive, contracted minimum hours.
//! What cannot be met is reported, never silently dropped.
//!
//! Method: a greedy construction, then local search. Greedy: each agent first gets a
//! preferred pair of consecutive days off, placed where the week has the fewest shifts per
//! available agent; shifts are then assigned in start order to the qualified agent furthest
//! below their minimum hours (then with fewest hours), keeping the preferred days off; a
//! second pass gives the shifts still open to agents who can work a preferred day off without
//! dropping below `min_days_off`. Local search then minimises the weighted soft violations
//! (open shifts first, then hours below minimum, then no two consecutive days off) with
//! first-improvement moves: give an open shift to an agent (directly, or after that agent
//! hands one of their shifts to a third), move a shift to another agent, swap two agents'
//! shifts. Every move keeps the hard rules; the move order comes from a seeded generator, so
//! a run is deterministic unless the time limit stops it first.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Timelike};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::requirement::Requirement;
use super::solve::Schedule;
use super::template::{parse_time_of_day, RosterRules, ShiftTemplate, DAY_NAMES, MINUTES_PER_DAY};

/// Days in a roster week.
pub const DAYS_PER_WEEK: usize = 7;

/// An agent to roster.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// Unique name or id.
    pub name: String,
    /// Contracted minimum paid hours in the week.
    pub min_hours: f64,
    /// Contracted maximum paid hours in the week.
    pub max_hours: f64,
    /// Skills the agent has.
    pub skills: BTreeSet<String>,
    /// When the agent can work; empty means any time.
    pub availability: Vec<AvailabilityWindow>,
}

/// A weekly window in which an agent can work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvailabilityWindow {
    /// Day of week the window starts, 0 = Monday.
    pub weekday: usize,
    /// Start, minutes after that day's midnight.
    pub from_minute: u32,
    /// End, minutes after that day's midnight (beyond 1440 when it runs past midnight).
    pub to_minute: u32,
}

/// A problem in the agents CSV: line (1-based, header is line 1), column, message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {column}: {message}")]
pub struct AgentsError {
    /// 1-based line.
    pub line: u64,
    /// The CSV column concerned.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

fn agents_error(line: u64, column: &str, message: impl Into<String>) -> AgentsError {
    AgentsError { line, column: column.into(), message: message.into() }
}

/// Parses availability such as `mon-fri 08:00-18:00; sat 09:00-13:00; sun 22:00-06:00`.
pub fn parse_availability(text: &str) -> Result<Vec<AvailabilityWindow>, String> {
    let mut windows = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (days, times) = entry
            .split_once(' ')
            .ok_or_else(|| format!("{entry:?} is not like \"mon-fri 08:00-18:00\""))?;
        let day = |name: &str| {
            DAY_NAMES
                .iter()
                .position(|d| name.trim().eq_ignore_ascii_case(d))
                .ok_or_else(|| format!("{name:?} is not a day (mon ... sun)"))
        };
        let mut weekdays = Vec::new();
        for part in days.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut d = a;
                    loop {
                        weekdays.push(d);
                        if d == b {
                            break;
                        }
                        d = (d + 1) % DAYS_PER_WEEK;
                    }
                }
                None => weekdays.push(day(part)?),
            }
        }
        let (from, to) = times
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("{times:?} is not a time range like \"08:00-18:00\""))?;
        let from_minute = parse_time_of_day(from)?;
        let to_minute = if to.trim() == "24:00" {
            MINUTES_PER_DAY
        } else {
            let to = parse_time_of_day(to)?;
            if to <= from_minute {
                to + MINUTES_PER_DAY
            } else {
                to
            }
        };
        for weekday in weekdays {
            windows.push(AvailabilityWindow { weekday, from_minute, to_minute });
        }
    }
    Ok(windows)
}

/// Reads agents: columns `agent`, `min_hours`, `max_hours`, `skills` (separated by `;`),
/// `availability` (see [`parse_availability`]; empty for any time).
pub fn parse_agents_csv(reader: impl std::io::Read) -> Result<Vec<Agent>, AgentsError> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
    let headers = csv.headers().map_err(|e| agents_error(1, "header", e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let name_col = column("agent").ok_or_else(|| agents_error(1, "agent", "missing column"))?;
    let min_col = column("min_hours");
    let max_col = column("max_hours");
    let skills_col = column("skills");
    let availability_col = column("availability");
    let mut agents: Vec<Agent> = Vec::new();
    for record in csv.records() {
        let record = record.map_err(|e| {
            agents_error(e.position().map_or(0, |p| p.line()), "record", e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field =
            |index: Option<usize>| index.and_then(|i| record.get(i)).map(str::trim).unwrap_or("");
        let name = field(Some(name_col)).to_string();
        if name.is_empty() {
            return Err(agents_error(line, "agent", "empty name"));
        }
        if agents.iter().any(|a| a.name == name) {
            return Err(agents_error(line, "agent", format!("{name:?} appears twice")));
        }
        let hours = |index: Option<usize>, column: &str, default: f64| {
            let text = field(index);
            if text.is_empty() {
                return Ok(default);
            }
            match text.parse::<f64>() {
                Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
                _ => Err(agents_error(line, column, format!("{text:?} is not a number of hours"))),
            }
        };
        let min_hours = hours(min_col, "min_hours", 0.0)?;
        let max_hours = hours(max_col, "max_hours", f64::from(DAYS_PER_WEEK as u32 * 24))?;
        if max_hours < min_hours {
            return Err(agents_error(line, "max_hours", "is below min_hours"));
        }
        let skills = field(skills_col)
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let availability = parse_availability(field(availability_col))
            .map_err(|m| agents_error(line, "availability", m))?;
        agents.push(Agent { name, min_hours, max_hours, skills, availability });
    }
    Ok(agents)
}

/// Why a shift went unassigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnassignedReason {
    /// No agent has the skills the template asks for.
    NoSkilledAgent,
    /// No skilled agent is available at that time.
    NoAvailableAgent,
    /// Every skilled, available agent is blocked by hours, rest, days off, sequences or an
    /// overlapping shift.
    RulesBlockEveryAgent,
}

impl std::fmt::Display for UnassignedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnassignedReason::NoSkilledAgent => "no agent has the skills",
            UnassignedReason::NoAvailableAgent => "no skilled agent is available then",
            UnassignedReason::RulesBlockEveryAgent => {
                "every available agent is blocked by hours, rest, days off or sequences"
            }
        })
    }
}

/// Something the roster could not satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum RosterProblem {
    /// Shift (index into `Schedule::shifts`) left without an agent.
    Unassigned {
        /// Shift index.
        shift: usize,
        /// Why.
        reason: UnassignedReason,
    },
    /// An agent below contracted minimum hours.
    BelowMinHours {
        /// Agent index.
        agent: usize,
        /// Hours rostered.
        hours: f64,
    },
    /// An agent whose days off include no two consecutive days.
    NoConsecutiveDaysOff {
        /// Agent index.
        agent: usize,
    },
}

/// Per-agent outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRoster {
    /// Shifts (indexes into `Schedule::shifts`) in start order.
    pub shifts: Vec<usize>,
    /// Paid hours.
    pub hours: f64,
    /// Days of the week (0 = first day of the horizon) without a shift start.
    pub days_off: Vec<usize>,
}

/// The result of rostering.
#[derive(Debug, Clone, PartialEq)]
pub struct Roster {
    /// For each shift of the schedule, the agent (index) working it.
    pub assignment: Vec<Option<usize>>,
    /// Per agent, in input order.
    pub agents: Vec<AgentRoster>,
    /// What could not be satisfied.
    pub problems: Vec<RosterProblem>,
    /// Weighted violations: open shifts, hours below minimum, no two consecutive days off
    /// (see [`UNASSIGNED_WEIGHT_PER_HOUR`] and the other weights). Lower is better.
    pub penalty: f64,
}

/// Why rostering could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RosterError {
    /// The horizon spans more than one week.
    #[error("rostering covers one week; the schedule spans {days} days")]
    LongerThanAWeek {
        /// Days spanned.
        days: usize,
    },
    /// A shift names a template not in the list.
    #[error("shift template {0:?} is not among the templates")]
    UnknownTemplate(String),
}

/// How [`assign_with`] searches.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterOptions {
    /// Wall-clock budget of the local search after the greedy construction.
    pub time_limit: Duration,
    /// Seed of the order in which moves are tried: the same seed gives the same roster (unless
    /// the time limit cuts the search short).
    pub seed: u64,
    /// Improve the greedy roster by local search; `false` returns the greedy one.
    pub improve: bool,
}

impl Default for RosterOptions {
    fn default() -> Self {
        RosterOptions { time_limit: Duration::from_secs(2), seed: 1, improve: true }
    }
}

/// Weight of an unassigned shift, per paid hour: open shifts dominate every other violation.
pub const UNASSIGNED_WEIGHT_PER_HOUR: f64 = 100.0;
/// Weight of one hour below an agent's contracted minimum.
pub const BELOW_MIN_WEIGHT_PER_HOUR: f64 = 10.0;
/// Weight of an agent without two consecutive days off (as much as four hours below minimum).
pub const NO_CONSECUTIVE_DAYS_OFF_WEIGHT: f64 = 40.0;

struct ShiftFacts {
    start: u32,
    end: u32,
    day: usize,
    weekday: usize,
    minute_of_day: u32,
    template: usize,
    hours: f64,
}

fn has_two_consecutive(days_off: &[usize]) -> bool {
    days_off.windows(2).any(|w| w[1] == w[0] + 1)
}

/// The fixed part of a rostering problem: shifts, agents, rules and who may work what.
struct Instance<'a> {
    facts: Vec<ShiftFacts>,
    agents: &'a [Agent],
    templates: &'a [ShiftTemplate],
    rules: &'a RosterRules,
    /// Days in the horizon (at most a week).
    days: usize,
    /// `eligible[s][a]`: agent `a` has the skills and availability for shift `s`.
    eligible: Vec<Vec<bool>>,
}

/// A roster under construction: who works what.
#[derive(Clone)]
struct State {
    assignment: Vec<Option<usize>>,
    /// Per agent, shifts in start order.
    rostered: Vec<Vec<usize>>,
    hours: Vec<f64>,
}

impl State {
    fn give(&mut self, instance: &Instance<'_>, a: usize, s: usize) {
        let start = instance.facts[s].start;
        let position = self.rostered[a].partition_point(|&x| instance.facts[x].start < start);
        self.rostered[a].insert(position, s);
        self.hours[a] += instance.facts[s].hours;
        self.assignment[s] = Some(a);
    }

    fn take(&mut self, instance: &Instance<'_>, a: usize, s: usize) {
        self.rostered[a].retain(|&x| x != s);
        self.hours[a] -= instance.facts[s].hours;
        self.assignment[s] = None;
    }
}

impl<'a> Instance<'a> {
    fn new(
        schedule: &Schedule,
        requirement: &Requirement,
        templates: &'a [ShiftTemplate],
        agents: &'a [Agent],
        rules: &'a RosterRules,
    ) -> Result<Self, RosterError> {
        let first_day: NaiveDate = requirement.local_at(0).date();
        let mut facts = Vec::with_capacity(schedule.shifts.len());
        for shift in &schedule.shifts {
            let template = templates
                .iter()
                .position(|t| t.name == shift.template)
                .ok_or_else(|| RosterError::UnknownTemplate(shift.template.clone()))?;
            let local = requirement.local_at(shift.start_minute);
            let day = (local.date() - first_day).num_days().max(0) as usize;
            if day >= DAYS_PER_WEEK {
                return Err(RosterError::LongerThanAWeek { days: day + 1 });
            }
            facts.push(ShiftFacts {
                start: shift.start_minute,
                end: shift.end_minute,
                day,
                weekday: local.weekday().num_days_from_monday() as usize,
                minute_of_day: local.hour() * 60 + local.minute(),
                template,
                hours: shift.paid_hours,
            });
        }
        let days = facts.iter().map(|f| f.day + 1).max().unwrap_or(0).max(1);
        let mut instance = Instance { facts, agents, templates, rules, days, eligible: Vec::new() };
        instance.eligible = instance
            .facts
            .iter()
            .map(|f| {
                agents.iter().map(|a| instance.skilled(a, f) && instance.available(a, f)).collect()
            })
            .collect();
        Ok(instance)
    }

    fn skilled(&self, agent: &Agent, f: &ShiftFacts) -> bool {
        self.templates[f.template].skills.iter().all(|s| agent.skills.contains(s))
    }

    fn available(&self, agent: &Agent, f: &ShiftFacts) -> bool {
        if agent.availability.is_empty() {
            return true;
        }
        let length = f.end - f.start;
        agent.availability.iter().any(|w| {
            // The window of the shift's own day, or of the day before running past midnight.
            let same_day = w.weekday == f.weekday
                && f.minute_of_day >= w.from_minute
                && f.minute_of_day + length <= w.to_minute;
            let previous = (w.weekday + 1) % DAYS_PER_WEEK == f.weekday
                && f.minute_of_day + MINUTES_PER_DAY >= w.from_minute
                && f.minute_of_day + MINUTES_PER_DAY + length <= w.to_minute;
            same_day || previous
        })
    }

    /// `second` is forbidden to follow `first` on the next day.
    fn forbidden(&self, first: usize, second: usize) -> bool {
        let (a, b) = (&self.facts[first], &self.facts[second]);
        b.day == a.day + 1
            && self.rules.forbidden_sequences.iter().any(|(x, y)| {
                self.templates[a.template].name == *x && self.templates[b.template].name == *y
            })
    }

    /// Agent `a` may take shift `s` on top of `state` without breaking a hard rule (skills and
    /// availability, maximum hours, days off, overlap, rest, forbidden sequences).
    /// `preferred_off` days stay free when given.
    fn fits(&self, a: usize, s: usize, state: &State, preferred_off: Option<&[usize]>) -> bool {
        if !self.eligible[s][a] {
            return false;
        }
        let f = &self.facts[s];
        if state.hours[a] + f.hours > self.agents[a].max_hours + 1e-9 {
            return false;
        }
        let mine = &state.rostered[a];
        if !mine.iter().any(|&x| self.facts[x].day == f.day) {
            if preferred_off.is_some_and(|off| off.contains(&f.day)) {
                return false;
            }
            let worked_days: BTreeSet<usize> = mine.iter().map(|&x| self.facts[x].day).collect();
            // Days outside a shorter horizon count as off.
            if DAYS_PER_WEEK - worked_days.len() - 1 < self.rules.min_days_off as usize {
                return false;
            }
        }
        // Neighbours in time order: no overlap, enough rest, no forbidden sequence.
        let rest = self.rules.min_rest_minutes;
        let position = mine.partition_point(|&x| self.facts[x].start < f.start);
        if let Some(&before) = position.checked_sub(1).and_then(|p| mine.get(p)) {
            if self.facts[before].end + rest > f.start || self.forbidden(before, s) {
                return false;
            }
        }
        if let Some(&after) = mine.get(position) {
            if f.end + rest > self.facts[after].start || self.forbidden(s, after) {
                return false;
            }
        }
        true
    }

    fn days_off(&self, state: &State, a: usize) -> Vec<usize> {
        let worked: BTreeSet<usize> =
            state.rostered[a].iter().map(|&s| self.facts[s].day).collect();
        (0..self.days.max(DAYS_PER_WEEK)).filter(|d| !worked.contains(d)).collect()
    }

    /// Weighted soft violations of agent `a`: hours below minimum, no two consecutive days off.
    fn agent_penalty(&self, state: &State, a: usize) -> f64 {
        let below = (self.agents[a].min_hours - state.hours[a]).max(0.0);
        let mut penalty = if below > 1e-9 { below * BELOW_MIN_WEIGHT_PER_HOUR } else { 0.0 };
        if self.rules.min_days_off >= 2 && !has_two_consecutive(&self.days_off(state, a)) {
            penalty += NO_CONSECUTIVE_DAYS_OFF_WEIGHT;
        }
        penalty
    }

    fn unassigned_penalty(&self, s: usize) -> f64 {
        // At least one hour's worth, so unpaid shifts still count.
        self.facts[s].hours.max(1.0) * UNASSIGNED_WEIGHT_PER_HOUR
    }

    fn penalty(&self, state: &State) -> f64 {
        let open: f64 = (0..self.facts.len())
            .filter(|&s| state.assignment[s].is_none())
            .map(|s| self.unassigned_penalty(s))
            .sum();
        open + (0..self.agents.len()).map(|a| self.agent_penalty(state, a)).sum::<f64>()
    }

    /// Greedy construction: preferred consecutive days off per agent, then shifts in start
    /// order to the qualified agent furthest below minimum hours; a second pass lets agents
    /// work a preferred day off for the shifts still open.
    fn greedy(&self) -> State {
        let (agents, rules, days) = (self.agents, self.rules, self.days);
        let mut shifts_per_day = vec![0.0; days];
        for f in &self.facts {
            shifts_per_day[f.day] += 1.0;
        }
        let mut working_per_day = vec![agents.len() as f64; days];
        let mut preferred_off: Vec<Vec<usize>> = vec![Vec::new(); agents.len()];
        if rules.min_days_off > 0 && days >= 2 && days + rules.min_days_off as usize > DAYS_PER_WEEK
        {
            for off in preferred_off.iter_mut() {
                let pair = (0..days - 1)
                    .min_by(|&x, &y| {
                        let load = |d: usize| shifts_per_day[d] / working_per_day[d].max(1.0);
                        (load(x) + load(x + 1)).total_cmp(&(load(y) + load(y + 1)))
                    })
                    .unwrap_or(0);
                *off = vec![pair, pair + 1];
                working_per_day[pair] -= 1.0;
                working_per_day[pair + 1] -= 1.0;
            }
        }
        let mut state = State {
            assignment: vec![None; self.facts.len()],
            rostered: vec![Vec::new(); agents.len()],
            hours: vec![0.0; agents.len()],
        };
        let mut order: Vec<usize> = (0..self.facts.len()).collect();
        order.sort_by_key(|&s| (self.facts[s].start, s));
        for keep_preferred in [true, false] {
            for &s in &order {
                if state.assignment[s].is_some() {
                    continue;
                }
                let best = (0..agents.len())
                    .filter(|&a| {
                        let off = keep_preferred.then_some(preferred_off[a].as_slice());
                        self.fits(a, s, &state, off)
                    })
                    .min_by(|&x, &y| {
                        let below = |a: usize| agents[a].min_hours - state.hours[a];
                        below(y)
                            .total_cmp(&below(x))
                            .then(state.hours[x].total_cmp(&state.hours[y]))
                            .then(x.cmp(&y))
                    });
                if let Some(a) = best {
                    state.give(self, a, s);
                }
            }
        }
        state
    }

    /// Local search from `state`: first-improvement moves (give an open shift, possibly
    /// passing one of the taker's shifts on; move a shift; swap two shifts) until none improves
    /// the weighted violations or the time limit passes. Hard rules hold after every move.
    fn improve(&self, state: &mut State, options: &RosterOptions) {
        let started = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let shifts = self.facts.len();
        let agent_count = self.agents.len();
        let out_of_time = || started.elapsed() >= options.time_limit;
        loop {
            let mut improved = false;
            let mut order: Vec<usize> = (0..shifts).collect();
            order.shuffle(&mut rng);
            let mut agent_order: Vec<usize> = (0..agent_count).collect();
            agent_order.shuffle(&mut rng);
            for &s in &order {
                if out_of_time() {
                    return;
                }
                improved |= match state.assignment[s] {
                    None => self.fill(state, s, &agent_order),
                    Some(a) => {
                        self.relocate(state, s, a, &agent_order) || self.swap(state, s, a, &order)
                    }
                };
            }
            if !improved {
                return;
            }
        }
    }

    /// Gives open shift `s` to an agent, directly or after passing one of that agent's shifts
    /// to a third agent; applies the best such change that lowers the penalty.
    fn fill(&self, state: &mut State, s: usize, agent_order: &[usize]) -> bool {
        let gain_open = self.unassigned_penalty(s);
        for &b in agent_order {
            if !self.eligible[s][b] {
                continue;
            }
            let before_b = self.agent_penalty(state, b);
            if self.fits(b, s, state, None) {
                state.give(self, b, s);
                if self.agent_penalty(state, b) - before_b - gain_open < -IMPROVEMENT_EPSILON {
                    return true;
                }
                state.take(self, b, s);
                continue;
            }
            // Ejection chain of length two: b hands shift t to c and takes s.
            for t in state.rostered[b].clone() {
                state.take(self, b, t);
                if self.fits(b, s, state, None) {
                    state.give(self, b, s);
                    for &c in agent_order {
                        if c == b || !self.fits(c, t, state, None) {
                            continue;
                        }
                        let before_c = self.agent_penalty(state, c);
                        state.give(self, c, t);
                        let delta = self.agent_penalty(state, b) - before_b
                            + self.agent_penalty(state, c)
                            - before_c
                            - gain_open;
                        if delta < -IMPROVEMENT_EPSILON {
                            return true;
                        }
                        state.take(self, c, t);
                    }
                    state.take(self, b, s);
                }
                state.give(self, b, t);
            }
        }
        false
    }

    /// Moves shift `s` from agent `a` to another agent when that lowers the penalty.
    fn relocate(&self, state: &mut State, s: usize, a: usize, agent_order: &[usize]) -> bool {
        let before_a = self.agent_penalty(state, a);
        state.take(self, a, s);
        let after_a = self.agent_penalty(state, a);
        for &b in agent_order {
            if b == a || !self.fits(b, s, state, None) {
                continue;
            }
            let before_b = self.agent_penalty(state, b);
            state.give(self, b, s);
            if after_a - before_a + self.agent_penalty(state, b) - before_b < -IMPROVEMENT_EPSILON {
                return true;
            }
            state.take(self, b, s);
        }
        state.give(self, a, s);
        false
    }

    /// Swaps shift `s` of agent `a` with a shift of another agent when that lowers the penalty.
    fn swap(&self, state: &mut State, s: usize, a: usize, order: &[usize]) -> bool {
        for &t in order {
            let Some(b) = state.assignment[t] else { continue };
            if b == a || !self.eligible[t][a] || !self.eligible[s][b] {
                continue;
            }
            let before = self.agent_penalty(state, a) + self.agent_penalty(state, b);
            state.take(self, a, s);
            state.take(self, b, t);
            if self.fits(a, t, state, None) {
                state.give(self, a, t);
                if self.fits(b, s, state, None) {
                    state.give(self, b, s);
                    let after = self.agent_penalty(state, a) + self.agent_penalty(state, b);
                    if after - before < -IMPROVEMENT_EPSILON {
                        return true;
                    }
                    state.take(self, b, s);
                }
                state.take(self, a, t);
            }
            state.give(self, a, s);
            state.give(self, b, t);
        }
        false
    }

    fn finish(&self, state: State) -> Roster {
        let mut order: Vec<usize> = (0..self.facts.len()).collect();
        order.sort_by_key(|&s| (self.facts[s].start, s));
        let mut problems = Vec::new();
        for &s in &order {
            if state.assignment[s].is_none() {
                let f = &self.facts[s];
                let reason = if !self.agents.iter().any(|a| self.skilled(a, f)) {
                    UnassignedReason::NoSkilledAgent
                } else if !(0..self.agents.len()).any(|a| self.eligible[s][a]) {
                    UnassignedReason::NoAvailableAgent
                } else {
                    UnassignedReason::RulesBlockEveryAgent
                };
                problems.push(RosterProblem::Unassigned { shift: s, reason });
            }
        }
        let mut summaries = Vec::with_capacity(self.agents.len());
        for (a, agent) in self.agents.iter().enumerate() {
            let days_off = self.days_off(&state, a);
            if state.hours[a] + 1e-9 < agent.min_hours {
                problems.push(RosterProblem::BelowMinHours { agent: a, hours: state.hours[a] });
            }
            if self.rules.min_days_off >= 2 && !has_two_consecutive(&days_off) {
                problems.push(RosterProblem::NoConsecutiveDaysOff { agent: a });
            }
            summaries.push(AgentRoster {
                shifts: state.rostered[a].clone(),
                hours: state.hours[a],
                days_off,
            });
        }
        let penalty = self.penalty(&state);
        Roster { assignment: state.assignment, agents: summaries, problems, penalty }
    }
}

/// Smallest decrease of the weighted violations a move must bring to be taken.
const IMPROVEMENT_EPSILON: f64 = 1e-6;

/// Assigns agents to the schedule's shifts under `rules`: greedy construction, then local
/// search with [`RosterOptions::default`].
pub fn assign(
    schedule: &Schedule,
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    agents: &[Agent],
    rules: &RosterRules,
) -> Result<Roster, RosterError> {
    assign_with(schedule, requirement, templates, agents, rules, &RosterOptions::default())
}

/// Assigns agents to the schedule's shifts under `rules`, searching as `options` say.
pub fn assign_with(
    schedule: &Schedule,
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    agents: &[Agent],
    rules: &RosterRules,
    options: &RosterOptions,
) -> Result<Roster, RosterError> {
    let instance = Instance::new(schedule, requirement, templates, agents, rules)?;
    let mut state = instance.greedy();
    if options.improve {
        instance.improve(&mut state, options);
    }
    Ok(instance.finish(state))
}

/// The roster as CSV: one row per shift with its agent (empty when unassigned).
pub fn roster_csv(
    schedule: &Schedule,
    requirement: &Requirement,
    roster: &Roster,
    agents: &[Agent],
) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(["shift", "agent", "template", "start", "end", "paid_hours"]);
    for (index, shift) in schedule.shifts.iter().enumerate() {
        let agent = roster.assignment[index].map_or("", |a| agents[a].name.as_str());
        let _ = writer.write_record([
            (index + 1).to_string(),
            agent.to_string(),
            shift.template.clone(),
            requirement.time_at(shift.start_minute).to_rfc3339(),
            requirement.time_at(shift.end_minute).to_rfc3339(),
            shift.paid_hours.to_string(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// What could not be satisfied, per agent (or open shift) and rule, as CSV:
/// `agent,rule,shift,start,detail` (`agent` empty for an open shift).
pub fn problems_csv(
    schedule: &Schedule,
    requirement: &Requirement,
    roster: &Roster,
    agents: &[Agent],
) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(["agent", "rule", "shift", "start", "detail"]);
    for problem in &roster.problems {
        let row = match problem {
            RosterProblem::Unassigned { shift, reason } => {
                let s = &schedule.shifts[*shift];
                [
                    String::new(),
                    "unassigned".to_string(),
                    (shift + 1).to_string(),
                    requirement.time_at(s.start_minute).to_rfc3339(),
                    format!("{}: {reason}", s.template),
                ]
            }
            RosterProblem::BelowMinHours { agent, hours } => [
                agents[*agent].name.clone(),
                "min_hours".to_string(),
                String::new(),
                String::new(),
                format!("{hours} h rostered, contract minimum {} h", agents[*agent].min_hours),
            ],
            RosterProblem::NoConsecutiveDaysOff { agent } => [
                agents[*agent].name.clone(),
                "consecutive_days_off".to_string(),
                String::new(),
                String::new(),
                format!(
                    "days off {} include no two consecutive",
                    day_names(requirement, &roster.agents[*agent].days_off)
                ),
            ],
        };
        let _ = writer.write_record(&row);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Days of the horizon (0 = its first local day) as `Wed 2026-04-29 Sun 2026-05-03`.
fn day_names(requirement: &Requirement, days: &[usize]) -> String {
    let first = requirement.local_at(0).date();
    days.iter()
        .map(|&d| (first + chrono::Days::new(d as u64)).format("%a %Y-%m-%d").to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Human-readable lines for each problem.
pub fn describe_problems(
    schedule: &Schedule,
    requirement: &Requirement,
    roster: &Roster,
    agents: &[Agent],
) -> Vec<String> {
    roster
        .problems
        .iter()
        .map(|p| match p {
            RosterProblem::Unassigned { shift, reason } => {
                let s = &schedule.shifts[*shift];
                format!(
                    "shift {} ({} {}) unassigned: {reason}",
                    shift + 1,
                    s.template,
                    requirement.time_at(s.start_minute).to_rfc3339()
                )
            }
            RosterProblem::BelowMinHours { agent, hours } => format!(
                "agent {}: {hours} h rostered, below the contracted {} h",
                agents[*agent].name, agents[*agent].min_hours
            ),
            RosterProblem::NoConsecutiveDaysOff { agent } => format!(
                "agent {}: no two consecutive days off ({} off)",
                agents[*agent].name,
                day_names(requirement, &roster.agents[*agent].days_off)
            ),
        })
        .collect()
}
