//! Rostering: named agents on the shifts of a schedule, over one week.
//!
//! Hard rules (a shift is never given to an agent who breaks one): skills the shift's template
//! asks for, availability windows, contracted maximum hours, no overlap, minimum rest between
//! shifts, forbidden (template, next template) sequences on consecutive days, at least
//! `min_days_off` days off. Soft: two of those days consecutive, contracted minimum hours.
//! What cannot be met is reported, never silently dropped.
//!
//! Method: each agent first gets a preferred pair of consecutive days off, placed where the
//! week has the fewest shifts per available agent; shifts are then assigned in start order to
//! the qualified agent furthest below their minimum hours (then with fewest hours), keeping
//! the preferred days off; a second pass gives the shifts still open to agents who can work a
//! preferred day off without dropping below `min_days_off`.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Timelike};

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

/// Assigns agents to the schedule's shifts under `rules`.
pub fn assign(
    schedule: &Schedule,
    requirement: &Requirement,
    templates: &[ShiftTemplate],
    agents: &[Agent],
    rules: &RosterRules,
) -> Result<Roster, RosterError> {
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

    let skilled = |agent: &Agent, f: &ShiftFacts| {
        templates[f.template].skills.iter().all(|s| agent.skills.contains(s))
    };
    let available = |agent: &Agent, f: &ShiftFacts| {
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
    };

    // Preferred days off: a consecutive pair where shifts per available agent are fewest.
    let mut shifts_per_day = vec![0.0; days];
    for f in &facts {
        shifts_per_day[f.day] += 1.0;
    }
    let mut working_per_day = vec![agents.len() as f64; days];
    let mut preferred_off: Vec<Vec<usize>> = vec![Vec::new(); agents.len()];
    if rules.min_days_off > 0 && days >= 2 && days + rules.min_days_off as usize > DAYS_PER_WEEK {
        for (a, _) in agents.iter().enumerate() {
            let pair = (0..days - 1)
                .min_by(|&x, &y| {
                    let load = |d: usize| shifts_per_day[d] / working_per_day[d].max(1.0);
                    (load(x) + load(x + 1)).total_cmp(&(load(y) + load(y + 1)))
                })
                .unwrap_or(0);
            preferred_off[a] = vec![pair, pair + 1];
            working_per_day[pair] -= 1.0;
            working_per_day[pair + 1] -= 1.0;
        }
    }

    let mut assignment: Vec<Option<usize>> = vec![None; facts.len()];
    let mut rostered: Vec<Vec<usize>> = vec![Vec::new(); agents.len()];
    let mut hours = vec![0.0; agents.len()];
    let mut order: Vec<usize> = (0..facts.len()).collect();
    order.sort_by_key(|&s| (facts[s].start, s));

    let forbidden = |first: usize, second: usize| {
        let (a, b) = (&facts[first], &facts[second]);
        b.day == a.day + 1
            && rules
                .forbidden_sequences
                .iter()
                .any(|(x, y)| templates[a.template].name == *x && templates[b.template].name == *y)
    };
    let fits =
        |a: usize, s: usize, rostered: &[Vec<usize>], hours: &[f64], keep_preferred: bool| {
            let f = &facts[s];
            if hours[a] + f.hours > agents[a].max_hours + 1e-9 {
                return false;
            }
            let mine = &rostered[a];
            let worked_days: BTreeSet<usize> = mine.iter().map(|&x| facts[x].day).collect();
            if !worked_days.contains(&f.day) {
                if keep_preferred && preferred_off[a].contains(&f.day) {
                    return false;
                }
                // Days outside a shorter horizon count as off.
                if DAYS_PER_WEEK - worked_days.len() - 1 < rules.min_days_off as usize {
                    return false;
                }
            }
            // Neighbours in time order: no overlap, enough rest, no forbidden sequence.
            let position = mine.partition_point(|&x| facts[x].start < f.start);
            if let Some(&before) = position.checked_sub(1).and_then(|p| mine.get(p)) {
                if facts[before].end + rules.min_rest_minutes > f.start || forbidden(before, s) {
                    return false;
                }
            }
            if let Some(&after) = mine.get(position) {
                if f.end + rules.min_rest_minutes > facts[after].start || forbidden(s, after) {
                    return false;
                }
            }
            true
        };
    for keep_preferred in [true, false] {
        for &s in &order {
            if assignment[s].is_some() {
                continue;
            }
            let f = &facts[s];
            let best = (0..agents.len())
                .filter(|&a| skilled(&agents[a], f) && available(&agents[a], f))
                .filter(|&a| fits(a, s, &rostered, &hours, keep_preferred))
                .min_by(|&x, &y| {
                    let below = |a: usize| agents[a].min_hours - hours[a];
                    below(y)
                        .total_cmp(&below(x))
                        .then(hours[x].total_cmp(&hours[y]))
                        .then(x.cmp(&y))
                });
            if let Some(a) = best {
                assignment[s] = Some(a);
                let position = rostered[a].partition_point(|&x| facts[x].start < f.start);
                rostered[a].insert(position, s);
                hours[a] += f.hours;
            }
        }
    }

    let mut problems = Vec::new();
    for &s in &order {
        if assignment[s].is_none() {
            let f = &facts[s];
            let reason = if !agents.iter().any(|a| skilled(a, f)) {
                UnassignedReason::NoSkilledAgent
            } else if !agents.iter().any(|a| skilled(a, f) && available(a, f)) {
                UnassignedReason::NoAvailableAgent
            } else {
                UnassignedReason::RulesBlockEveryAgent
            };
            problems.push(RosterProblem::Unassigned { shift: s, reason });
        }
    }
    let mut summaries = Vec::with_capacity(agents.len());
    for (a, agent) in agents.iter().enumerate() {
        let worked: BTreeSet<usize> = rostered[a].iter().map(|&s| facts[s].day).collect();
        let days_off: Vec<usize> =
            (0..days.max(DAYS_PER_WEEK)).filter(|d| !worked.contains(d)).collect();
        if hours[a] + 1e-9 < agent.min_hours {
            problems.push(RosterProblem::BelowMinHours { agent: a, hours: hours[a] });
        }
        if rules.min_days_off >= 2 && !has_two_consecutive(&days_off) {
            problems.push(RosterProblem::NoConsecutiveDaysOff { agent: a });
        }
        summaries.push(AgentRoster { shifts: rostered[a].clone(), hours: hours[a], days_off });
    }
    Ok(Roster { assignment, agents: summaries, problems })
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
            RosterProblem::NoConsecutiveDaysOff { agent } => {
                format!("agent {}: no two consecutive days off", agents[*agent].name)
            }
        })
        .collect()
}
