//! The contact-center configuration file (TOML): center, queues, agents, calendars, entry
//! points and routing plans. Parsing collects every problem with its line and path instead of
//! stopping at the first, so `switchboard config check` can list them all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::calendar::{first_overlap, Calendar, TimeRange};
use super::expr::{Condition, OverflowCondition, Template};
use crate::agent::AgentProfile;
use crate::policy::SelectionPolicy;
use crate::queue::QueueConfig;
use crate::skills::{SkillLevel, SkillRequirement};

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// 1-based line, 0 when the problem is not tied to a line.
    pub line: usize,
    /// Dotted path of the offending key, e.g. `plans.main.nodes.hours.calendar`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.path, self.message)
    }
}

/// Every problem found in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the configuration", .problems.len())]
pub struct ConfigError {
    /// The problems, in file order.
    pub problems: Vec<ConfigProblem>,
}

// ---------------------------------------------------------------------------------------------
// The file as written
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    center: RawCenter,
    #[serde(default)]
    queues: Vec<Spanned<RawQueue>>,
    #[serde(default)]
    agents: Vec<Spanned<RawAgent>>,
    #[serde(default)]
    calendars: BTreeMap<String, Spanned<RawCalendar>>,
    #[serde(default)]
    regions: BTreeMap<String, String>,
    #[serde(default)]
    customers: Option<RawCustomers>,
    #[serde(default)]
    entry_points: Vec<Spanned<RawEntry>>,
    #[serde(default)]
    plans: BTreeMap<String, Spanned<RawPlan>>,
    /// Settings of the process that runs the engine (listen addresses, tokens): the server
    /// reads them from the same file; routing only tolerates the table.
    #[serde(default)]
    #[allow(dead_code)]
    server: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCenter {
    #[serde(default)]
    name: String,
    #[serde(default = "default_tz")]
    time_zone: Spanned<String>,
    #[serde(default = "default_missed")]
    max_consecutive_missed: u32,
    #[serde(default)]
    seed: u64,
}

impl Default for RawCenter {
    fn default() -> Self {
        RawCenter {
            name: String::new(),
            time_zone: default_tz(),
            max_consecutive_missed: default_missed(),
            seed: 0,
        }
    }
}

fn default_tz() -> Spanned<String> {
    Spanned::new(0..0, "UTC".to_string())
}
fn default_missed() -> u32 {
    3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    id: String,
    #[serde(default)]
    skills: BTreeMap<String, u8>,
    #[serde(default)]
    policy: SelectionPolicy,
    #[serde(default = "d20")]
    service_level_s: u64,
    #[serde(default = "d30")]
    wrap_up_s: u64,
    #[serde(default = "d20")]
    offer_timeout_s: u64,
    #[serde(default = "d1000")]
    max_waiting: usize,
    priority_aging_s: Option<u64>,
    max_wait_s: Option<u64>,
    #[serde(default = "d180")]
    default_handle_time_s: u64,
}

fn d20() -> u64 {
    20
}
fn d30() -> u64 {
    30
}
fn d1000() -> usize {
    1000
}
fn d180() -> u64 {
    180
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    skills: BTreeMap<String, u8>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    languages: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    time_zone: Option<Spanned<String>>,
    #[serde(default)]
    mon: Vec<String>,
    #[serde(default)]
    tue: Vec<String>,
    #[serde(default)]
    wed: Vec<String>,
    #[serde(default)]
    thu: Vec<String>,
    #[serde(default)]
    fri: Vec<String>,
    #[serde(default)]
    sat: Vec<String>,
    #[serde(default)]
    sun: Vec<String>,
    #[serde(default)]
    holidays: BTreeMap<String, String>,
    #[serde(default)]
    special_days: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomers {
    csv: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    number: String,
    plan: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    start: Spanned<String>,
    #[serde(default)]
    nodes: BTreeMap<String, Spanned<RawNode>>,
}

type Ref = Spanned<String>;

/// A node as written: `type` plus the fields of that type. One flat struct rather than a
/// tagged enum, because toml's span tracking does not survive serde's tag buffering; each kind
/// checks its own required and forbidden fields instead.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNode {
    #[serde(rename = "type")]
    kind: String,
    prompt: Option<String>,
    options: Option<BTreeMap<String, Ref>>,
    timeout_s: Option<u64>,
    retries: Option<u32>,
    on_invalid: Option<Ref>,
    on_timeout: Option<Ref>,
    on_failure: Option<Ref>,
    attribute: Option<String>,
    min_digits: Option<u32>,
    max_digits: Option<u32>,
    next: Option<Ref>,
    calendar: Option<Ref>,
    open: Option<Ref>,
    closed: Option<Ref>,
    holiday: Option<Ref>,
    regions: Option<BTreeMap<String, Ref>>,
    default: Option<Ref>,
    branches: Option<Vec<RawWeighted>>,
    targets: Option<Vec<Ref>>,
    rules: Option<Vec<RawPriorityRule>>,
    key: Option<String>,
    copy: Option<Vec<String>>,
    on_missing: Option<Ref>,
    queue: Option<Ref>,
    lookback_s: Option<u64>,
    wait_s: Option<u64>,
    skills: Option<BTreeMap<String, u8>>,
    priority: Option<i32>,
    escalation: Option<Vec<RawEscalation>>,
    overflow: Option<Vec<RawOverflow>>,
    agent: Option<String>,
    fallback: Option<Ref>,
    number: Option<String>,
    mailbox: Option<String>,
    reason: Option<String>,
}

impl RawNode {
    /// The fields that are set, by name.
    fn present(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        macro_rules! check {
            ($($f:ident),*) => { $( if self.$f.is_some() { out.push(stringify!($f)); } )* };
        }
        check!(
            prompt, options, timeout_s, retries, on_invalid, on_timeout, on_failure, attribute,
            min_digits, max_digits, next, calendar, open, closed, holiday, regions, default,
            branches, targets, rules, key, copy, on_missing, queue, lookback_s, wait_s, skills,
            priority, escalation, overflow, agent, fallback, number, mailbox, reason
        );
        out
    }
}

/// Fields each node type takes: (required, optional).
fn node_fields(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match kind {
        "menu" => (
            &["prompt", "options", "on_failure"],
            &["timeout_s", "retries", "on_invalid", "on_timeout"],
        ),
        "collect" => (
            &["prompt", "attribute", "max_digits", "next", "on_failure"],
            &["min_digits", "timeout_s", "retries"],
        ),
        "time_of_day" => (&["calendar", "open", "closed"], &["holiday"]),
        "geographic" => (&["default"], &["regions"]),
        "percentage" => (&["branches"], &[]),
        "round_robin" => (&["targets"], &[]),
        "priority" => (&["rules", "next"], &[]),
        "crm" => (&["copy", "next"], &["key", "on_missing"]),
        "last_agent" => (&["queue", "next"], &["lookback_s", "wait_s"]),
        "queue" => (&["queue"], &["skills", "priority", "escalation", "overflow"]),
        "agent" => (&["agent", "queue", "fallback"], &["wait_s"]),
        "transfer" => (&["number"], &[]),
        "voicemail" => (&["mailbox"], &[]),
        "announce" => (&["prompt"], &[]),
        "hangup" => (&[], &["reason"]),
        _ => return None,
    })
}

/// Every node type, for error messages.
const NODE_TYPES: &str = "menu, collect, time_of_day, geographic, percentage, round_robin, \
    priority, crm, last_agent, queue, agent, transfer, voicemail, announce, hangup";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeighted {
    weight: u32,
    next: Ref,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPriorityRule {
    when: Spanned<String>,
    set: Option<i32>,
    raise: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    after_s: u64,
    #[serde(default)]
    skills: BTreeMap<String, u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverflow {
    when: Spanned<String>,
    to: Ref,
}

// ---------------------------------------------------------------------------------------------
// The compiled configuration
// ---------------------------------------------------------------------------------------------

/// A validated configuration: everything the router needs, with node references resolved.
#[derive(Clone, Debug)]
pub struct RoutingConfig {
    /// Center name.
    pub name: String,
    /// The center's time zone (statistics "since midnight", calendars without their own).
    pub time_zone: Tz,
    /// Misses in a row before an agent goes not ready.
    pub max_consecutive_missed: u32,
    /// Seed of the engine's generator.
    pub seed: u64,
    /// Skill queues.
    pub queues: Vec<QueueConfig>,
    /// Agents defined in the file (for dry runs, demos and static centers).
    pub agents: Vec<AgentProfile>,
    /// Calendars by name.
    pub calendars: BTreeMap<String, Calendar>,
    /// Caller-number prefixes to region names, longest prefix wins.
    pub regions: BTreeMap<String, String>,
    /// Path of the customer CSV, relative to the configuration file; the caller loads it.
    pub customers_csv: Option<String>,
    /// Dialed number to plan index.
    pub entry_points: BTreeMap<String, usize>,
    /// Routing plans.
    pub plans: Vec<Plan>,
}

/// A routing plan: a tree (or graph) of nodes walked from `start`.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Its name.
    pub name: String,
    /// Index of the first node.
    pub start: usize,
    /// The nodes; references are indices into this list.
    pub nodes: Vec<Node>,
}

/// One node of a plan.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its name in the file.
    pub name: String,
    /// What it does.
    pub kind: NodeKind,
}

/// Skill requirement whose name may depend on call attributes.
#[derive(Clone, Debug)]
pub struct SkillTemplate {
    /// Skill name template.
    pub skill: Template,
    /// Lowest level.
    pub min_level: u8,
}

/// An escalation step of a queue node.
#[derive(Clone, Debug)]
pub struct EscalationStep {
    /// Time in queue after which it applies.
    pub after: Duration,
    /// The call's extra requirements from then on.
    pub skills: Vec<SkillTemplate>,
}

/// What a node does. Indices refer to the plan's nodes.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum NodeKind {
    /// Play a prompt and take one key.
    Menu {
        prompt: String,
        options: BTreeMap<String, usize>,
        timeout: Duration,
        retries: u32,
        on_invalid: Option<usize>,
        on_timeout: Option<usize>,
        on_failure: usize,
    },
    /// Play a prompt and collect digits into an attribute.
    Collect {
        prompt: String,
        attribute: String,
        min_digits: u32,
        max_digits: u32,
        timeout: Duration,
        retries: u32,
        next: usize,
        on_failure: usize,
    },
    /// Branch on a calendar.
    TimeOfDay { calendar: String, open: usize, closed: usize, holiday: usize },
    /// Branch on the caller's region (longest matching prefix of `regions`).
    Geographic { branches: BTreeMap<String, usize>, default: usize },
    /// Weighted split with exact long-run proportions.
    Percentage { weights: Vec<u32>, targets: Vec<usize> },
    /// Equal split in turn.
    RoundRobin { targets: Vec<usize> },
    /// Set or raise priority when a condition holds; every matching rule applies in order.
    Priority { rules: Vec<(Condition, Option<i32>, Option<i32>)>, next: usize },
    /// Look the customer up and copy fields into attributes.
    Crm { key: String, copy: Vec<String>, next: usize, on_missing: usize },
    /// Offer to the agent who last served this customer, waiting up to `wait`.
    LastAgent { queue: String, lookback: Duration, wait: Duration, next: usize },
    /// Enqueue, with extra requirements, escalation and overflow.
    Queue {
        queue: String,
        skills: Vec<SkillTemplate>,
        priority: i32,
        escalation: Vec<EscalationStep>,
        overflow: Vec<(OverflowCondition, usize)>,
    },
    /// Connect one named agent through a queue, waiting up to `wait`, else `fallback`.
    Agent { agent: String, queue: String, wait: Duration, fallback: usize },
    /// Transfer to an external number.
    Transfer { number: String },
    /// Send to voicemail.
    Voicemail { mailbox: String },
    /// Play an announcement and hang up.
    Announce { prompt: String },
    /// Hang up.
    Hangup { reason: String },
}

impl NodeKind {
    /// The node kind's name, as in the file's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Menu { .. } => "menu",
            NodeKind::Collect { .. } => "collect",
            NodeKind::TimeOfDay { .. } => "time_of_day",
            NodeKind::Geographic { .. } => "geographic",
            NodeKind::Percentage { .. } => "percentage",
            NodeKind::RoundRobin { .. } => "round_robin",
            NodeKind::Priority { .. } => "priority",
            NodeKind::Crm { .. } => "crm",
            NodeKind::LastAgent { .. } => "last_agent",
            NodeKind::Queue { .. } => "queue",
            NodeKind::Agent { .. } => "agent",
            NodeKind::Transfer { .. } => "transfer",
            NodeKind::Voicemail { .. } => "voicemail",
            NodeKind::Announce { .. } => "announce",
            NodeKind::Hangup { .. } => "hangup",
        }
    }

    /// Whether the node waits for caller input (so a cycle through it is caller-driven).
    pub fn takes_input(&self) -> bool {
        matches!(self, NodeKind::Menu { .. } | NodeKind::Collect { .. })
    }

    /// The nodes this one can lead to.
    pub fn successors(&self) -> Vec<usize> {
        match self {
            NodeKind::Menu { options, on_invalid, on_timeout, on_failure, .. } => options
                .values()
                .copied()
                .chain(*on_invalid)
                .chain(*on_timeout)
                .chain([*on_failure])
                .collect(),
            NodeKind::Collect { next, on_failure, .. } => vec![*next, *on_failure],
            NodeKind::TimeOfDay { open, closed, holiday, .. } => vec![*open, *closed, *holiday],
            NodeKind::Geographic { branches, default } => {
                branches.values().copied().chain([*default]).collect()
            }
            NodeKind::Percentage { targets, .. } | NodeKind::RoundRobin { targets } => {
                targets.clone()
            }
            NodeKind::Priority { next, .. } | NodeKind::LastAgent { next, .. } => vec![*next],
            NodeKind::Crm { next, on_missing, .. } => vec![*next, *on_missing],
            NodeKind::Queue { overflow, .. } => overflow.iter().map(|(_, to)| *to).collect(),
            NodeKind::Agent { fallback, .. } => vec![*fallback],
            NodeKind::Transfer { .. }
            | NodeKind::Voicemail { .. }
            | NodeKind::Announce { .. }
            | NodeKind::Hangup { .. } => Vec::new(),
        }
    }
}

/// Collects problems with their lines.
struct Problems<'a> {
    text: &'a str,
    list: Vec<ConfigProblem>,
}

impl Problems<'_> {
    fn line_of(&self, offset: usize) -> usize {
        if offset == 0 && self.text.is_empty() {
            return 0;
        }
        self.text[..offset.min(self.text.len())].bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn add(&mut self, offset: usize, path: impl Into<String>, message: impl Into<String>) {
        let line = self.line_of(offset);
        self.list.push(ConfigProblem { line, path: path.into(), message: message.into() });
    }
}

fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| format!("{name:?} is not an IANA time zone (e.g. Europe/Paris)"))
}

fn duration_s(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl RoutingConfig {
    /// Parses and validates a configuration. On error, every problem found is listed with its
    /// line and path.
    pub fn from_toml(text: &str) -> Result<RoutingConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let mut p = Problems { text, list: Vec::new() };
            let offset = e.span().map_or(0, |s| s.start);
            p.add(offset, "(file)", e.message().trim_end_matches('\n').to_string());
            ConfigError { problems: p.list }
        })?;
        let mut p = Problems { text, list: Vec::new() };
        let config = compile(raw, &mut p);
        if p.list.is_empty() {
            Ok(config)
        } else {
            p.list.sort_by_key(|problem| problem.line);
            Err(ConfigError { problems: p.list })
        }
    }

    /// The plan that serves a dialed number.
    pub fn plan_for(&self, dialed: &str) -> Option<&Plan> {
        self.entry_points.get(dialed).map(|&i| &self.plans[i])
    }

    /// The region of a caller number: the value of the longest matching prefix.
    pub fn region_of(&self, caller: &str) -> Option<&str> {
        (1..=caller.len())
            .rev()
            .filter(|n| caller.is_char_boundary(*n))
            .find_map(|n| self.regions.get(&caller[..n]))
            .map(String::as_str)
    }
}

fn skills_from(
    map: &BTreeMap<String, u8>,
    offset: usize,
    path: &str,
    p: &mut Problems<'_>,
) -> Vec<SkillRequirement> {
    map.iter()
        .filter_map(|(skill, level)| {
            if !(1..=5).contains(level) {
                p.add(offset, format!("{path}.{skill}"), format!("level {level} is outside 1..=5"));
                return None;
            }
            Some(SkillRequirement::new(skill.as_str(), *level))
        })
        .collect()
}

fn templates_from(
    map: &BTreeMap<String, u8>,
    offset: usize,
    path: &str,
    p: &mut Problems<'_>,
) -> Vec<SkillTemplate> {
    map.iter()
        .filter_map(|(skill, level)| {
            if !(1..=5).contains(level) {
                p.add(offset, format!("{path}.{skill}"), format!("level {level} is outside 1..=5"));
                return None;
            }
            match Template::parse(skill) {
                Ok(t) => Some(SkillTemplate { skill: t, min_level: *level }),
                Err(e) => {
                    p.add(offset, format!("{path}.{skill}"), e);
                    None
                }
            }
        })
        .collect()
}

fn ranges(list: &[String], offset: usize, path: &str, p: &mut Problems<'_>) -> Vec<TimeRange> {
    let parsed: Vec<TimeRange> = list
        .iter()
        .filter_map(|r| match TimeRange::parse(r) {
            Ok(range) => Some(range),
            Err(e) => {
                p.add(offset, path, e);
                None
            }
        })
        .collect();
    if let Some((a, b)) = first_overlap(&parsed) {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        p.add(
            offset,
            path,
            format!(
                "hours overlap: {}-{} and {}-{}",
                hm(a.start_min),
                hm(a.end_min),
                hm(b.start_min),
                hm(b.end_min)
            ),
        );
    }
    parsed
}

fn compile(raw: RawConfig, p: &mut Problems<'_>) -> RoutingConfig {
    let center_tz = parse_tz(raw.center.time_zone.get_ref()).unwrap_or_else(|e| {
        p.add(raw.center.time_zone.span().start, "center.time_zone", e);
        Tz::UTC
    });

    let mut queue_ids = BTreeSet::new();
    let queues: Vec<QueueConfig> = raw
        .queues
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            let offset = q.span().start;
            let q = q.into_inner();
            let path = format!("queues[{i}]");
            if !queue_ids.insert(q.id.clone()) {
                p.add(offset, format!("{path}.id"), format!("queue {} is defined twice", q.id));
            }
            let mut config = QueueConfig::new(
                q.id.as_str(),
                skills_from(&q.skills, offset, &format!("{path}.skills"), p),
            );
            config.policy = q.policy;
            config.service_level_threshold = duration_s(q.service_level_s);
            config.wrap_up = duration_s(q.wrap_up_s);
            config.offer_timeout = duration_s(q.offer_timeout_s);
            config.max_waiting = q.max_waiting;
            config.priority_aging = q.priority_aging_s.map(duration_s);
            config.max_wait = q.max_wait_s.map(duration_s);
            config.default_handle_time = duration_s(q.default_handle_time_s);
            if q.offer_timeout_s == 0 {
                p.add(offset, format!("{path}.offer_timeout_s"), "must be at least 1");
            }
            if q.priority_aging_s == Some(0) {
                p.add(offset, format!("{path}.priority_aging_s"), "must be at least 1");
            }
            if let Err(e) = config.clone().validated(i) {
                p.add(offset, path, e.to_string());
            }
            config
        })
        .collect();

    let mut agent_ids = BTreeSet::new();
    let agents: Vec<AgentProfile> = raw
        .agents
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let offset = a.span().start;
            let a = a.into_inner();
            let path = format!("agents[{i}]");
            if !agent_ids.insert(a.id.clone()) {
                p.add(offset, format!("{path}.id"), format!("agent {} is defined twice", a.id));
            }
            let mut profile = AgentProfile::new(
                a.id.as_str(),
                a.skills.iter().map(|(s, l)| SkillLevel::new(s.as_str(), *l)).collect(),
            );
            if !a.name.is_empty() {
                profile.display_name = a.name;
            }
            for (key, value) in [("team", a.team), ("site", a.site), ("region", a.region)] {
                if let Some(value) = value {
                    profile.attributes.insert(key.into(), value);
                }
            }
            if !a.languages.is_empty() {
                profile.attributes.insert("languages".into(), a.languages.join(","));
            }
            if let Err(e) = profile.clone().validated() {
                p.add(offset, path, e.to_string());
            }
            profile
        })
        .collect();

    let calendars: BTreeMap<String, Calendar> = raw
        .calendars
        .into_iter()
        .map(|(name, c)| {
            let offset = c.span().start;
            let c = c.into_inner();
            let path = format!("calendars.{name}");
            let time_zone = match &c.time_zone {
                Some(tz) => parse_tz(tz.get_ref()).unwrap_or_else(|e| {
                    p.add(tz.span().start, format!("{path}.time_zone"), e);
                    Tz::UTC
                }),
                None => center_tz,
            };
            let days = [&c.mon, &c.tue, &c.wed, &c.thu, &c.fri, &c.sat, &c.sun];
            let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            let weekly: [Vec<TimeRange>; 7] = std::array::from_fn(|d| {
                ranges(days[d], offset, &format!("{path}.{}", names[d]), p)
            });
            let mut date = |text: &str, key: &str| -> Option<NaiveDate> {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| {
                        p.add(offset, format!("{path}.{key}.{text}"), "not a date like 2026-12-25")
                    })
                    .ok()
            };
            let holidays = c
                .holidays
                .iter()
                .filter_map(|(d, n)| Some((date(d, "holidays")?, n.clone())))
                .collect();
            let special: Vec<(NaiveDate, &Vec<String>)> = c
                .special_days
                .iter()
                .filter_map(|(d, r)| Some((date(d, "special_days")?, r)))
                .collect();
            let special_days = special
                .into_iter()
                .map(|(d, r)| (d, ranges(r, offset, &format!("{path}.special_days.{d}"), p)))
                .collect();
            (name.clone(), Calendar { name, time_zone, weekly, holidays, special_days })
        })
        .collect();

    let plan_names: Vec<String> = raw.plans.keys().cloned().collect();
    let mut entry_points = BTreeMap::new();
    for (i, e) in raw.entry_points.iter().enumerate() {
        let entry = e.get_ref();
        let path = format!("entry_points[{i}]");
        match plan_names.iter().position(|n| n == entry.plan.get_ref()) {
            Some(plan) => {
                if entry_points.insert(entry.number.clone(), plan).is_some() {
                    p.add(
                        e.span().start,
                        format!("{path}.number"),
                        format!("{} has two entry points", entry.number),
                    );
                }
            }
            None => p.add(
                entry.plan.span().start,
                format!("{path}.plan"),
                format!("unknown plan {:?}", entry.plan.get_ref()),
            ),
        }
    }

    let plans = raw
        .plans
        .into_iter()
        .map(|(name, plan)| compile_plan(&name, plan, &queue_ids, &calendars, p))
        .collect();

    RoutingConfig {
        name: raw.center.name,
        time_zone: center_tz,
        max_consecutive_missed: raw.center.max_consecutive_missed,
        seed: raw.center.seed,
        queues,
        agents,
        calendars,
        regions: raw.regions,
        customers_csv: raw.customers.map(|c| c.csv),
        entry_points,
        plans,
    }
}

fn compile_plan(
    name: &str,
    plan: Spanned<RawPlan>,
    queue_ids: &BTreeSet<String>,
    calendars: &BTreeMap<String, Calendar>,
    p: &mut Problems<'_>,
) -> Plan {
    let plan_offset = plan.span().start;
    let plan = plan.into_inner();
    let index: HashMap<String, usize> =
        plan.nodes.keys().enumerate().map(|(i, n)| (n.clone(), i)).collect();
    let base = format!("plans.{name}");
    // An unknown reference is reported and resolved to node 0, so compilation can go on.
    let resolve = |r: &Ref, path: String, p: &mut Problems<'_>| -> usize {
        index.get(r.get_ref()).copied().unwrap_or_else(|| {
            p.add(r.span().start, path, format!("unknown node {:?}", r.get_ref()));
            0
        })
    };
    let start = resolve(&plan.start, format!("{base}.start"), p);
    if plan.nodes.is_empty() {
        p.add(plan_offset, base.clone(), "a plan needs at least one node");
    }
    let check_queue = |q: &Ref, path: String, p: &mut Problems<'_>| {
        if !queue_ids.contains(q.get_ref()) {
            p.add(q.span().start, path, format!("unknown queue {:?}", q.get_ref()));
        }
        q.get_ref().clone()
    };
    let mut nodes = Vec::with_capacity(plan.nodes.len());
    for (node_name, node) in &plan.nodes {
        let offset = node.span().start;
        let path = format!("{base}.nodes.{node_name}");
        let at = |field: &str| format!("{path}.{field}");
        let raw = node.get_ref();
        let Some((required, optional)) = node_fields(&raw.kind) else {
            p.add(
                offset,
                at("type"),
                format!("unknown node type {:?} (one of {NODE_TYPES})", raw.kind),
            );
            nodes.push(Node {
                name: node_name.clone(),
                kind: NodeKind::Hangup { reason: String::new() },
            });
            continue;
        };
        let present = raw.present();
        let mut complete = true;
        for field in required {
            if !present.contains(field) {
                p.add(offset, at(field), format!("a {} node needs {field}", raw.kind));
                complete = false;
            }
        }
        for field in &present {
            if !required.contains(field) && !optional.contains(field) {
                p.add(offset, at(field), format!("{field} does not apply to a {} node", raw.kind));
            }
        }
        if !complete {
            nodes.push(Node {
                name: node_name.clone(),
                kind: NodeKind::Hangup { reason: String::new() },
            });
            continue;
        }
        // Required fields are present from here on; the fallbacks below are never used.
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let missing_ref = || Spanned::new(offset..offset, String::new());
        let go = |r: &Option<Ref>, field: &str, p: &mut Problems<'_>| {
            resolve(r.as_ref().unwrap_or(&missing_ref()), at(field), p)
        };
        let kind = match raw.kind.as_str() {
            "menu" => {
                let mut resolved = BTreeMap::new();
                for (key, target) in raw.options.iter().flatten() {
                    if !(key.len() == 1 && "0123456789*#".contains(key.as_str())) {
                        p.add(
                            target.span().start,
                            at(&format!("options.{key}")),
                            "a menu option is one key: 0-9, * or #",
                        );
                    }
                    resolved.insert(key.clone(), resolve(target, at(&format!("options.{key}")), p));
                }
                if resolved.is_empty() {
                    p.add(offset, at("options"), "a menu needs at least one option");
                }
                NodeKind::Menu {
                    prompt: text(&raw.prompt),
                    options: resolved,
                    timeout: duration_s(raw.timeout_s.unwrap_or(5)),
                    retries: raw.retries.unwrap_or(2),
                    on_invalid: raw.on_invalid.as_ref().map(|r| resolve(r, at("on_invalid"), p)),
                    on_timeout: raw.on_timeout.as_ref().map(|r| resolve(r, at("on_timeout"), p)),
                    on_failure: go(&raw.on_failure, "on_failure", p),
                }
            }
            "collect" => {
                let (min_digits, max_digits) =
                    (raw.min_digits.unwrap_or(1), raw.max_digits.unwrap_or(0));
                if min_digits == 0 || max_digits < min_digits || max_digits > 64 {
                    p.add(
                        offset,
                        at("max_digits"),
                        "digits must satisfy 1 <= min_digits <= max_digits <= 64",
                    );
                }
                NodeKind::Collect {
                    prompt: text(&raw.prompt),
                    attribute: text(&raw.attribute),
                    min_digits,
                    max_digits,
                    timeout: duration_s(raw.timeout_s.unwrap_or(5)),
                    retries: raw.retries.unwrap_or(2),
                    next: go(&raw.next, "next", p),
                    on_failure: go(&raw.on_failure, "on_failure", p),
                }
            }
            "time_of_day" => {
                let calendar =
                    raw.calendar.as_ref().map(|c| c.get_ref().clone()).unwrap_or_default();
                if !calendars.contains_key(&calendar) {
                    let at_offset = raw.calendar.as_ref().map_or(offset, |c| c.span().start);
                    p.add(at_offset, at("calendar"), format!("unknown calendar {calendar:?}"));
                }
                let closed = go(&raw.closed, "closed", p);
                NodeKind::TimeOfDay {
                    calendar,
                    open: go(&raw.open, "open", p),
                    closed,
                    holiday: raw.holiday.as_ref().map_or(closed, |h| resolve(h, at("holiday"), p)),
                }
            }
            "geographic" => NodeKind::Geographic {
                branches: raw
                    .regions
                    .iter()
                    .flatten()
                    .map(|(region, target)| {
                        (region.clone(), resolve(target, at(&format!("regions.{region}")), p))
                    })
                    .collect(),
                default: go(&raw.default, "default", p),
            },
            "percentage" => {
                let branches = raw.branches.as_deref().unwrap_or_default();
                // In u64: weights come from the file, and u32 would wrap (or panic in debug)
                // on e.g. [4294967295, 101].
                let total: u64 = branches.iter().map(|b| u64::from(b.weight)).sum();
                if total != 100 {
                    p.add(offset, at("branches"), format!("weights sum to {total}, not 100"));
                }
                if branches.iter().any(|b| b.weight == 0) {
                    p.add(offset, at("branches"), "a weight of 0 makes a branch unreachable");
                }
                NodeKind::Percentage {
                    weights: branches.iter().map(|b| b.weight).collect(),
                    targets: branches
                        .iter()
                        .enumerate()
                        .map(|(i, b)| resolve(&b.next, at(&format!("branches[{i}].next")), p))
                        .collect(),
                }
            }
            "round_robin" => {
                let targets = raw.targets.as_deref().unwrap_or_default();
                if targets.is_empty() {
                    p.add(offset, at("targets"), "a round robin needs at least one target");
                }
                NodeKind::RoundRobin {
                    targets: targets
                        .iter()
                        .enumerate()
                        .map(|(i, t)| resolve(t, at(&format!("targets[{i}]")), p))
                        .collect(),
                }
            }
            "priority" => NodeKind::Priority {
                rules: raw
                    .rules
                    .iter()
                    .flatten()
                    .enumerate()
                    .filter_map(|(i, r)| {
                        if r.set.is_none() == r.raise.is_none() {
                            p.add(
                                r.when.span().start,
                                at(&format!("rules[{i}]")),
                                "give exactly one of set or raise",
                            );
                        }
                        match Condition::parse(r.when.get_ref()) {
                            Ok(c) => Some((c, r.set, r.raise)),
                            Err(e) => {
                                p.add(r.when.span().start, at(&format!("rules[{i}].when")), e);
                                None
                            }
                        }
                    })
                    .collect(),
                next: go(&raw.next, "next", p),
            },
            "crm" => {
                let key = raw.key.clone().unwrap_or_else(|| "caller".into());
                if !(key == "caller" || key == "customer_id" || key.starts_with("attribute:")) {
                    p.add(offset, at("key"), "use caller, customer_id or attribute:NAME");
                }
                let next = go(&raw.next, "next", p);
                NodeKind::Crm {
                    key,
                    copy: raw.copy.clone().unwrap_or_default(),
                    next,
                    on_missing: raw
                        .on_missing
                        .as_ref()
                        .map_or(next, |r| resolve(r, at("on_missing"), p)),
                }
            }
            "last_agent" => NodeKind::LastAgent {
                queue: check_queue(raw.queue.as_ref().unwrap_or(&missing_ref()), at("queue"), p),
                lookback: duration_s(raw.lookback_s.unwrap_or(7 * 24 * 3600)),
                wait: duration_s(raw.wait_s.unwrap_or(20)),
                next: go(&raw.next, "next", p),
            },
            "queue" => {
                let mut last_after = 0;
                let escalation = raw
                    .escalation
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, e)| {
                        if e.after_s <= last_after && i > 0 {
                            p.add(
                                offset,
                                at(&format!("escalation[{i}].after_s")),
                                "steps must come later and later",
                            );
                        }
                        last_after = e.after_s;
                        EscalationStep {
                            after: duration_s(e.after_s),
                            skills: templates_from(
                                &e.skills,
                                offset,
                                &at(&format!("escalation[{i}].skills")),
                                p,
                            ),
                        }
                    })
                    .collect();
                let overflow = raw
                    .overflow
                    .iter()
                    .flatten()
                    .enumerate()
                    .filter_map(|(i, o)| {
                        let to = resolve(&o.to, at(&format!("overflow[{i}].to")), p);
                        match OverflowCondition::parse(o.when.get_ref()) {
                            Ok(c) => Some((c, to)),
                            Err(e) => {
                                p.add(o.when.span().start, at(&format!("overflow[{i}].when")), e);
                                None
                            }
                        }
                    })
                    .collect();
                NodeKind::Queue {
                    queue: check_queue(
                        raw.queue.as_ref().unwrap_or(&missing_ref()),
                        at("queue"),
                        p,
                    ),
                    skills: templates_from(
                        raw.skills.as_ref().unwrap_or(&BTreeMap::new()),
                        offset,
                        &at("skills"),
                        p,
                    ),
                    priority: raw.priority.unwrap_or(0),
                    escalation,
                    overflow,
                }
            }
            "agent" => NodeKind::Agent {
                agent: text(&raw.agent),
                queue: check_queue(raw.queue.as_ref().unwrap_or(&missing_ref()), at("queue"), p),
                wait: duration_s(raw.wait_s.unwrap_or(20)),
                fallback: go(&raw.fallback, "fallback", p),
            },
            "transfer" => NodeKind::Transfer { number: text(&raw.number) },
            "voicemail" => NodeKind::Voicemail { mailbox: text(&raw.mailbox) },
            "announce" => NodeKind::Announce { prompt: text(&raw.prompt) },
            _ => NodeKind::Hangup { reason: text(&raw.reason) },
        };
        nodes.push(Node { name: node_name.clone(), kind });
    }

    let offsets: Vec<usize> = plan.nodes.values().map(|n| n.span().start).collect();
    check_graph(&base, start, &nodes, &offsets, p);
    Plan { name: name.to_string(), start, nodes }
}

/// Unreachable nodes, and cycles that no caller input breaks (they would loop for ever).
fn check_graph(base: &str, start: usize, nodes: &[Node], offsets: &[usize], p: &mut Problems<'_>) {
    if nodes.is_empty() {
        return;
    }
    let mut reachable = vec![false; nodes.len()];
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        if !std::mem::replace(&mut reachable[n], true) {
            stack.extend(nodes[n].kind.successors());
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        if !reachable[i] {
            p.add(
                offsets[i],
                format!("{base}.nodes.{}", node.name),
                "unreachable from the plan's start",
            );
        }
    }
    // Depth-first search over edges that do not pass through an input node.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut mark = vec![Mark::New; nodes.len()];
    // Iterative: a plan may hold tens of thousands of nodes (the admin API accepts 4 MB of
    // configuration), far deeper than the call stack. Each frame is a node and the index of
    // the next successor to look at; `path` holds the nodes of the frames, in order.
    fn visit(root: usize, nodes: &[Node], mark: &mut [Mark]) -> Option<Vec<usize>> {
        let successors = |n: usize| -> Vec<usize> {
            if nodes[n].kind.takes_input() {
                Vec::new()
            } else {
                nodes[n].kind.successors()
            }
        };
        let mut frames: Vec<(usize, Vec<usize>, usize)> = vec![(root, successors(root), 0)];
        mark[root] = Mark::Active;
        while let Some((n, next_nodes, i)) = frames.last_mut() {
            let Some(&next) = next_nodes.get(*i) else {
                mark[*n] = Mark::Done;
                frames.pop();
                continue;
            };
            *i += 1;
            match mark[next] {
                Mark::Active => {
                    let from = frames.iter().position(|(x, _, _)| *x == next).unwrap_or(0);
                    return Some(frames[from..].iter().map(|(x, _, _)| *x).collect());
                }
                Mark::New => {
                    mark[next] = Mark::Active;
                    frames.push((next, successors(next), 0));
                }
                Mark::Done => {}
            }
        }
        None
    }
    for n in 0..nodes.len() {
        if mark[n] == Mark::New {
            if let Some(cycle) = visit(n, nodes, &mut mark) {
                let names: Vec<&str> = cycle.iter().map(|i| nodes[*i].name.as_str()).collect();
                p.add(
                    offsets[cycle[0]],
                    format!("{base}.nodes.{}", nodes[cycle[0]].name),
                    format!("cycle without caller input: {} -> {}", names.join(" -> "), names[0]),
                );
                return;
            }
        }
    }
}
