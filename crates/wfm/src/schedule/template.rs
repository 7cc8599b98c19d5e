//! Shift templates: the shifts a schedule may use, read from TOML.
//!
//! ```toml
//! [[shift]]
//! name = "full-time"
//! length = "9h"
//! start = { earliest = "06:00", latest = "14:00", step = "15m" }
//! days = ["mon", "tue", "wed", "thu", "fri"]   # the day the shift starts; default every day
//! max_count = 200                              # over the whole horizon; default unlimited
//!
//! [[shift.break]]
//! name = "lunch"
//! length = "1h"
//! earliest = "3h30m"                           # offsets from the shift start
//! latest = "4h"
//! step = "15m"                                 # default 15m
//! paid = false                                 # default true
//! ```
//!
//! A shift's cost is `cost` when given, else its paid hours (`paid_hours`, or the length less
//! unpaid breaks). Breaks are taken in the order listed and may not overlap.

use serde::Deserialize;

/// Minutes in a day.
pub const MINUTES_PER_DAY: u32 = 24 * 60;
/// Day names accepted in `days`, Monday first.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Step between break placements when a break does not say.
pub const DEFAULT_BREAK_STEP_MINUTES: u32 = 15;
/// Most break placements one template may produce per start time (keeps the model finite).
pub const MAX_PLACEMENTS_PER_START: usize = 500;

/// One kind of shift.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftTemplate {
    /// Unique name, used in the output.
    pub name: String,
    /// Length from start to end, breaks included.
    pub length_minutes: u32,
    /// Earliest local start, minutes after midnight.
    pub start_earliest_minute: u32,
    /// Latest local start, minutes after midnight; before `start_earliest_minute` when the
    /// window runs past midnight.
    pub start_latest_minute: u32,
    /// Starts lie on `start_earliest_minute + k * start_step_minutes`.
    pub start_step_minutes: u32,
    /// Days (Monday first) on which the shift may start.
    pub days: [bool; 7],
    /// Paid hours of one shift.
    pub paid_hours: f64,
    /// Cost of one shift (defaults to paid hours).
    pub cost: f64,
    /// Fewest shifts of this template over the horizon.
    pub min_count: u32,
    /// Most shifts of this template over the horizon.
    pub max_count: Option<u32>,
    /// Breaks, in the order they are taken.
    pub breaks: Vec<BreakRule>,
    /// Skills an agent needs to work this shift (rostering).
    pub skills: Vec<String>,
}

/// A break or lunch within a shift.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakRule {
    /// Name used in the output (`break 1`, `lunch`).
    pub name: String,
    /// Length of the break.
    pub length_minutes: u32,
    /// Earliest start, minutes after the shift start.
    pub earliest_offset_minutes: u32,
    /// Latest start, minutes after the shift start.
    pub latest_offset_minutes: u32,
    /// Placements lie on `earliest + k * step` up to `latest`.
    pub step_minutes: u32,
    /// Whether the break is paid.
    pub paid: bool,
}

impl ShiftTemplate {
    /// Whether a shift may start at this local day of week (0 = Monday) and minute of day.
    pub fn allows_start(&self, weekday: usize, minute_of_day: u32) -> bool {
        if !self.days.get(weekday).copied().unwrap_or(false) {
            return false;
        }
        let since_earliest =
            (minute_of_day + MINUTES_PER_DAY - self.start_earliest_minute) % MINUTES_PER_DAY;
        let window = (self.start_latest_minute + MINUTES_PER_DAY - self.start_earliest_minute)
            % MINUTES_PER_DAY;
        since_earliest <= window && since_earliest % self.start_step_minutes == 0
    }

    /// How many entries [`ShiftTemplate::break_placements`] returns, counted without listing
    /// them (saturating), so a template with astronomically many is refused before they are
    /// listed: per break and start offset, the placements of the breaks so far that end there.
    pub fn break_placement_count(&self) -> usize {
        // (start offsets of the last break, ways to end with it at each, its length)
        let mut last: Option<(Vec<u32>, Vec<usize>, u32)> = None;
        for rule in &self.breaks {
            let offsets: Vec<u32> = (rule.earliest_offset_minutes..=rule.latest_offset_minutes)
                .step_by(rule.step_minutes.max(1) as usize)
                .filter(|&o| o.saturating_add(rule.length_minutes) <= self.length_minutes)
                .collect();
            let ways = match &last {
                None => vec![1; offsets.len()],
                Some((before, before_ways, before_length)) => {
                    // Offsets ascend, so the placements that fit before `o` are a prefix.
                    let (mut fitting, mut sum) = (0, 0usize);
                    offsets
                        .iter()
                        .map(|&o| {
                            while fitting < before.len()
                                && before[fitting].saturating_add(*before_length) <= o
                            {
                                sum = sum.saturating_add(before_ways[fitting]);
                                fitting += 1;
                            }
                            sum
                        })
                        .collect()
                }
            };
            last = Some((offsets, ways, rule.length_minutes));
        }
        last.map_or(1, |(_, ways, _)| {
            ways.iter().fold(0, |total: usize, &w| total.saturating_add(w))
        })
    }

    /// Every way to place the breaks: each entry holds one start offset per break, in order,
    /// with no overlap.
    pub fn break_placements(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new()];
        for rule in &self.breaks {
            let mut next = Vec::new();
            for partial in &out {
                let free_from =
                    match (partial.last(), self.breaks.get(partial.len().wrapping_sub(1))) {
                        (Some(&start), Some(previous)) => start + previous.length_minutes,
                        _ => 0,
                    };
                let mut offset = rule.earliest_offset_minutes;
                while offset <= rule.latest_offset_minutes {
                    if offset >= free_from && offset + rule.length_minutes <= self.length_minutes {
                        let mut placed = partial.clone();
                        placed.push(offset);
                        next.push(placed);
                    }
                    offset += rule.step_minutes;
                }
            }
            out = next;
        }
        out
    }
}

/// A problem in the shift file: line (1-based), the field's path and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {path}: {message}")]
pub struct TemplateError {
    /// 1-based line of the shift (or of the syntax error).
    pub line: usize,
    /// Field path such as `shift[1].break[0].latest`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    shift: Vec<toml::Spanned<ShiftSpec>>,
    roster: Option<toml::Spanned<RosterSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RosterSpec {
    min_rest: Option<String>,
    min_days_off: Option<u32>,
    #[serde(default)]
    forbidden_sequences: Vec<(String, String)>,
}

/// Rostering rules, from the `[roster]` table of the shift file.
///
/// ```toml
/// [roster]
/// min_rest = "11h"                               # between the end of a shift and the next
/// min_days_off = 2                               # per week, two consecutive where possible
/// forbidden_sequences = [["late", "early"]]      # a `late` shift may not be followed by an
///                                                # `early` one the next day
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RosterRules {
    /// Least rest between the end of one shift and the start of the agent's next.
    pub min_rest_minutes: u32,
    /// Days off per week each agent gets.
    pub min_days_off: u32,
    /// (first, second) template pairs: an agent working `first` may not work `second` as
    /// the next shift on the following day. Other shifts of that day stay allowed.
    pub forbidden_sequences: Vec<(String, String)>,
}

impl Default for RosterRules {
    fn default() -> Self {
        RosterRules {
            min_rest_minutes: DEFAULT_MIN_REST_MINUTES,
            min_days_off: DEFAULT_MIN_DAYS_OFF,
            forbidden_sequences: Vec::new(),
        }
    }
}

/// Rest between shifts when the file does not say (the EU working-time directive's 11 hours).
pub const DEFAULT_MIN_REST_MINUTES: u32 = 11 * 60;
/// Days off per week when the file does not say.
pub const DEFAULT_MIN_DAYS_OFF: u32 = 2;

/// A parsed shift file: the templates and the rostering rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftFile {
    /// The shift templates.
    pub templates: Vec<ShiftTemplate>,
    /// The `[roster]` rules (defaults when absent).
    pub roster: RosterRules,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftSpec {
    name: String,
    length: String,
    start: StartSpec,
    days: Option<Vec<String>>,
    paid_hours: Option<f64>,
    cost: Option<f64>,
    #[serde(default)]
    min_count: u32,
    max_count: Option<u32>,
    #[serde(default, rename = "break")]
    breaks: Vec<BreakSpec>,
    #[serde(default)]
    skills: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartSpec {
    earliest: String,
    latest: String,
    step: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakSpec {
    name: Option<String>,
    length: String,
    earliest: String,
    latest: String,
    step: Option<String>,
    #[serde(default = "default_paid")]
    paid: bool,
}

fn default_paid() -> bool {
    true
}

/// Parses a duration such as `9h`, `15m`, `1h45m` or `90m` into minutes.
pub fn parse_duration_minutes(text: &str) -> Result<u32, String> {
    let bad = || format!("{text:?} is not a duration like \"9h\", \"15m\" or \"1h30m\"");
    let mut total: u32 = 0;
    let mut digits = String::new();
    let mut seen_unit = false;
    for c in text.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            'h' | 'm' => {
                let value: u32 = digits.parse().map_err(|_| bad())?;
                let minutes = if c == 'h' { value.checked_mul(60).ok_or_else(bad)? } else { value };
                total = total.checked_add(minutes).ok_or_else(bad)?;
                digits.clear();
                seen_unit = true;
            }
            _ => return Err(bad()),
        }
    }
    if !digits.is_empty() || !seen_unit {
        return Err(bad());
    }
    Ok(total)
}

/// Parses a local time of day `HH:MM` into minutes after midnight.
pub fn parse_time_of_day(text: &str) -> Result<u32, String> {
    let bad = || format!("{text:?} is not a time of day like \"08:30\"");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |before| before.matches('\n').count() + 1)
}

/// Parses and validates a shift file's templates (see [`parse_shift_file`] for the rules too).
pub fn parse_templates(text: &str) -> Result<Vec<ShiftTemplate>, TemplateError> {
    parse_shift_file(text).map(|file| file.templates)
}

/// Parses and validates a shift file: templates and `[roster]` rules.
pub fn parse_shift_file(text: &str) -> Result<ShiftFile, TemplateError> {
    let file: FileSpec = toml::from_str(text).map_err(|e| TemplateError {
        line: e.span().map_or(1, |span| line_of(text, span.start)),
        path: "toml".to_string(),
        message: e.message().to_string(),
    })?;
    if file.shift.is_empty() {
        return Err(TemplateError {
            line: 1,
            path: "shift".into(),
            message: "no [[shift]] templates".into(),
        });
    }
    let mut templates: Vec<ShiftTemplate> = Vec::new();
    for (index, spanned) in file.shift.iter().enumerate() {
        let line = line_of(text, spanned.span().start);
        let spec = spanned.get_ref();
        let fail = |field: &str, message: String| TemplateError {
            line,
            path: format!("shift[{index}].{field}"),
            message,
        };
        if spec.name.trim().is_empty() {
            return Err(fail("name", "must not be empty".into()));
        }
        if templates.iter().any(|t| t.name == spec.name) {
            return Err(fail("name", format!("{:?} is used by an earlier shift", spec.name)));
        }
        let length_minutes = parse_duration_minutes(&spec.length).map_err(|m| fail("length", m))?;
        if length_minutes == 0 || length_minutes > MINUTES_PER_DAY {
            return Err(fail("length", "must be between 1 minute and 24 hours".into()));
        }
        let start_earliest_minute =
            parse_time_of_day(&spec.start.earliest).map_err(|m| fail("start.earliest", m))?;
        let start_latest_minute =
            parse_time_of_day(&spec.start.latest).map_err(|m| fail("start.latest", m))?;
        let start_step_minutes = match &spec.start.step {
            Some(step) => parse_duration_minutes(step).map_err(|m| fail("start.step", m))?,
            None => 15,
        };
        if start_step_minutes == 0 {
            return Err(fail("start.step", "must be positive".into()));
        }
        let mut days = [spec.days.is_none(); 7];
        for day in spec.days.iter().flatten() {
            let lower = day.to_ascii_lowercase();
            let position = DAY_NAMES
                .iter()
                .position(|d| lower.starts_with(d))
                .ok_or_else(|| fail("days", format!("{day:?} is not a day (mon ... sun)")))?;
            days[position] = true;
        }
        if !days.iter().any(|&d| d) {
            return Err(fail("days", "no day allowed".into()));
        }
        let shift_minutes = length_minutes;
        let mut breaks: Vec<BreakRule> = Vec::new();
        for (b, spec_break) in spec.breaks.iter().enumerate() {
            let field = |name: &str| format!("break[{b}].{name}");
            let length_minutes = parse_duration_minutes(&spec_break.length)
                .map_err(|m| fail(&field("length"), m))?;
            let earliest = parse_duration_minutes(&spec_break.earliest)
                .map_err(|m| fail(&field("earliest"), m))?;
            let latest = parse_duration_minutes(&spec_break.latest)
                .map_err(|m| fail(&field("latest"), m))?;
            let step = match &spec_break.step {
                Some(step) => parse_duration_minutes(step).map_err(|m| fail(&field("step"), m))?,
                None => DEFAULT_BREAK_STEP_MINUTES,
            };
            if length_minutes == 0 {
                return Err(fail(&field("length"), "must be positive".into()));
            }
            if step == 0 {
                return Err(fail(&field("step"), "must be positive".into()));
            }
            if latest < earliest {
                return Err(fail(&field("latest"), "is before earliest".into()));
            }
            if latest.saturating_add(length_minutes) > shift_minutes {
                return Err(fail(&field("latest"), "the break would end after the shift".into()));
            }
            breaks.push(BreakRule {
                name: spec_break.name.clone().unwrap_or_else(|| format!("break {}", b + 1)),
                length_minutes,
                earliest_offset_minutes: earliest,
                latest_offset_minutes: latest,
                step_minutes: step,
                paid: spec_break.paid,
            });
        }
        let unpaid: u32 = breaks.iter().filter(|b| !b.paid).map(|b| b.length_minutes).sum();
        let paid_hours = match spec.paid_hours {
            Some(hours) if hours.is_finite() && hours >= 0.0 => hours,
            Some(_) => return Err(fail("paid_hours", "must be a non-negative number".into())),
            None => f64::from(length_minutes.saturating_sub(unpaid)) / 60.0,
        };
        let cost = match spec.cost {
            Some(cost) if cost.is_finite() && cost > 0.0 => cost,
            Some(_) => return Err(fail("cost", "must be a positive number".into())),
            None => paid_hours,
        };
        if cost <= 0.0 {
            return Err(fail("paid_hours", "a shift without cost needs paid hours".into()));
        }
        if let Some(max) = spec.max_count {
            if max < spec.min_count {
                return Err(fail("max_count", "is below min_count".into()));
            }
        }
        let template = ShiftTemplate {
            name: spec.name.clone(),
            length_minutes,
            start_earliest_minute,
            start_latest_minute,
            start_step_minutes,
            days,
            paid_hours,
            cost,
            min_count: spec.min_count,
            max_count: spec.max_count,
            breaks,
            skills: spec.skills.clone(),
        };
        // Counted, not listed: a few breaks with wide windows and fine steps have more
        // placements than memory holds.
        let placements = template.break_placement_count();
        if placements == 0 {
            return Err(fail("break", "the breaks cannot be placed without overlapping".into()));
        }
        if placements > MAX_PLACEMENTS_PER_START {
            return Err(fail(
                "break",
                format!(
                    "{placements} break placements per start; at most {MAX_PLACEMENTS_PER_START} (use coarser steps)"
                ),
            ));
        }
        templates.push(template);
    }
    let mut roster = RosterRules::default();
    if let Some(spanned) = &file.roster {
        let line = line_of(text, spanned.span().start);
        let spec = spanned.get_ref();
        let fail = |field: &str, message: String| TemplateError {
            line,
            path: format!("roster.{field}"),
            message,
        };
        if let Some(rest) = &spec.min_rest {
            roster.min_rest_minutes =
                parse_duration_minutes(rest).map_err(|m| fail("min_rest", m))?;
        }
        if let Some(days) = spec.min_days_off {
            if days > 6 {
                return Err(fail("min_days_off", "at most 6 days off a week".into()));
            }
            roster.min_days_off = days;
        }
        for (index, (first, second)) in spec.forbidden_sequences.iter().enumerate() {
            for name in [first, second] {
                if !templates.iter().any(|t| &t.name == name) {
                    return Err(fail(
                        &format!("forbidden_sequences[{index}]"),
                        format!("no shift template named {name:?}"),
                    ));
                }
            }
        }
        roster.forbidden_sequences.clone_from(&spec.forbidden_sequences);
    }
    Ok(ShiftFile { templates, roster })
}
