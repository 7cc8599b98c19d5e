//! Skill queues: their configuration, their waiting calls and their available agents.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::agent::AgentProfile;
use crate::error::Error;
use crate::ids::{id_problem, AgentId, CallId, QueueId, Skill};
use crate::policy::{AvailKey, SelectionPolicy};
use crate::skills::{normalize_requirements, qualifies, SkillRequirement, MAX_LEVEL, MIN_LEVEL};
use crate::time::{duration_millis, Timestamp};

/// How a queue behaves. Built by configuration; immutable while the engine runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// Unique id.
    pub id: QueueId,
    /// Skills an agent needs to be a member of this queue; normalized on engine start.
    pub required_skills: Vec<SkillRequirement>,
    /// Which available agent gets a call.
    pub policy: SelectionPolicy,
    /// Service-level threshold: a call answered within it counts as in service level.
    pub service_level_threshold: Duration,
    /// After-call work time before the agent is available again.
    pub wrap_up: Duration,
    /// How long an offer rings before it counts as missed.
    pub offer_timeout: Duration,
    /// Most calls that may wait at once; a further call is refused with [`Error::QueueFull`].
    pub max_waiting: usize,
    /// Waiting time worth one priority point (Genesys-style aging). `None`: priority alone
    /// orders calls, and arrival order breaks ties.
    pub priority_aging: Option<Duration>,
    /// Longest a call may wait before it leaves the queue with [`crate::Event::QueueTimedOut`].
    pub max_wait: Option<Duration>,
    /// Handle time (talk plus wrap-up) assumed for the estimated wait until calls have been
    /// handled.
    pub default_handle_time: Duration,
}

impl QueueConfig {
    /// Whether an agent with `profile` is a member: it meets every required skill.
    pub fn accepts(&self, profile: &AgentProfile) -> bool {
        qualifies(&profile.skills, &self.required_skills)
    }

    /// A queue needing `required_skills`, longest-idle, 20 s service level, 30 s wrap-up,
    /// 20 s offer timeout, 1,000 waiting calls, no aging and no time limit.
    pub fn new(id: impl Into<QueueId>, required_skills: Vec<SkillRequirement>) -> QueueConfig {
        QueueConfig {
            id: id.into(),
            required_skills,
            policy: SelectionPolicy::LongestIdle,
            service_level_threshold: Duration::from_secs(20),
            wrap_up: Duration::from_secs(30),
            offer_timeout: Duration::from_secs(20),
            max_waiting: 1000,
            priority_aging: None,
            max_wait: None,
            default_handle_time: Duration::from_secs(180),
        }
    }

    pub(crate) fn validated(mut self, index: usize) -> Result<QueueConfig, Error> {
        let field = |name: &str| format!("queues[{index}].{name}");
        if let Some(problem) = id_problem(self.id.as_str()) {
            return Err(Error::invalid(field("id"), problem));
        }
        for (i, r) in self.required_skills.iter().enumerate() {
            if let Some(problem) = id_problem(r.skill.as_str()) {
                return Err(Error::invalid(field(&format!("required_skills[{i}].skill")), problem));
            }
            if !(MIN_LEVEL..=MAX_LEVEL).contains(&r.min_level) {
                return Err(Error::invalid(
                    field(&format!("required_skills[{i}].min_level")),
                    format!("{} is outside 1..=5", r.min_level),
                ));
            }
        }
        if self.offer_timeout.is_zero() {
            return Err(Error::invalid(field("offer_timeout"), "must be longer than zero"));
        }
        if self.priority_aging.is_some_and(|d| duration_millis(d) == 0) {
            return Err(Error::invalid(field("priority_aging"), "must be at least 1 ms"));
        }
        normalize_requirements(&mut self.required_skills);
        Ok(self)
    }
}

/// Position of a waiting call in its queue. Lower sorts first (leaves first).
///
/// With aging, a call's effective priority at time `t` is `priority + (t - arrived) / aging`,
/// so between two calls of one queue the order never changes with `t`: it is the order of
/// `arrived - priority * aging`, the "virtual arrival time" stored here. Without aging, the
/// first field is `-priority` and arrival time breaks ties. The sequence number makes keys
/// unique and keeps equal arrivals in the order they reached the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct WaitKey {
    pub(crate) primary: i64,
    pub(crate) arrived_ms: u64,
    pub(crate) seq: u64,
}

/// A call waiting in a queue, with what an agent needs to know to decide whether to take it.
#[derive(Clone, Debug)]
pub(crate) struct Waiting {
    pub(crate) call: CallId,
    pub(crate) priority: i32,
    /// Arrival at the contact center: orders calls and ages their priority.
    pub(crate) arrived_at: Timestamp,
    /// Entry into this queue: its waiting time counts from here.
    pub(crate) entered_at: Timestamp,
    /// What an agent needs beyond queue membership to take the call.
    pub(crate) needs: Needs,
}

/// What an agent needs, beyond membership of the call's queue, to take a call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// Requirements beyond the queue's own, merged with them; `None` when the queue's own
    /// requirements are all the call needs.
    pub(crate) skills: Option<Arc<[SkillRequirement]>>,
    /// Only this agent will do.
    pub(crate) agent: Option<AgentId>,
}

impl Needs {
    /// Needs of a call with `extra` requirements in a queue requiring `queue_skills`.
    pub(crate) fn new(
        queue_skills: &[SkillRequirement],
        extra: &[SkillRequirement],
        agent: Option<AgentId>,
    ) -> Needs {
        let mut extra = extra.to_vec();
        crate::skills::normalize_requirements(&mut extra);
        let skills = (!crate::skills::is_covered_by(&extra, queue_skills))
            .then(|| Arc::from(crate::skills::merge_requirements(queue_skills, &extra)));
        Needs { skills, agent }
    }

    /// Whether a member agent with these skills meets them.
    pub(crate) fn admit(&self, agent: &AgentId, skills: &[crate::skills::SkillLevel]) -> bool {
        self.agent.as_ref().is_none_or(|only| only == agent)
            && self.skills.as_deref().is_none_or(|reqs| crate::skills::qualifies(skills, reqs))
    }
}

/// An available agent in a queue's index, for one availability period (`epoch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Indexed {
    pub(crate) agent: AgentId,
    pub(crate) epoch: u64,
}

/// The mutable part of a queue; one mutex guards it so that "look for an agent, else wait"
/// and "look for a call, else become available" are each atomic per queue.
#[derive(Debug, Default)]
pub(crate) struct QueueState {
    /// Waiting calls, best first.
    pub(crate) waiting: BTreeMap<WaitKey, Waiting>,
    /// Available member agents, in the order the policy prefers them. Entries whose epoch no
    /// longer matches the agent are stale; they are skipped and dropped when met.
    pub(crate) available: BTreeMap<AvailKey, Indexed>,
    /// Round-robin turn counter: incremented on every offer from this queue.
    pub(crate) rr_turn: u64,
    /// The waiting calls by (queue entry in ms, key sequence): the first is the one that has
    /// waited longest in this queue, whatever its priority.
    by_entry: BTreeSet<(Timestamp, u64)>,
}

impl QueueState {
    /// Puts a call in line. Every insertion goes through here to keep `by_entry` in step.
    pub(crate) fn enqueue(&mut self, key: WaitKey, waiting: Waiting) {
        self.by_entry.insert((waiting.entered_at, key.seq));
        self.waiting.insert(key, waiting);
    }

    /// Takes a call out of line.
    pub(crate) fn dequeue(&mut self, key: &WaitKey) -> Option<Waiting> {
        let waiting = self.waiting.remove(key)?;
        self.by_entry.remove(&(waiting.entered_at, key.seq));
        Some(waiting)
    }

    /// When the call that has waited longest in this queue entered it.
    pub(crate) fn longest_waiting_since(&self) -> Option<Timestamp> {
        self.by_entry.first().map(|(entered, _)| *entered)
    }
}

/// Most holders of a call's rarest extra skill that [`MemberSkills::any_qualified`] examines
/// before it assumes one of them qualifies.
pub(crate) const MAX_QUALIFIED_PROBE: usize = 256;

/// Logged-in members of one queue by skill, so that "is anyone logged in who could take this
/// call" never walks the agents. Guarded by its own mutex, a leaf lock: it is taken while an
/// agent entry is held (login, logout, profile change) and nothing is taken under it.
#[derive(Debug, Default)]
pub(crate) struct MemberSkills {
    /// Logged-in members (any state but logged out).
    logged_in: u32,
    by_skill: HashMap<Skill, Holders>,
}

#[derive(Debug, Default)]
struct Holders {
    /// `at_least[l - 1]`: logged-in members holding the skill at level `l` or higher.
    at_least: [u32; MAX_LEVEL as usize],
    /// The holders with their profiles, for the conjunction of several requirements.
    members: HashMap<AgentId, Arc<AgentProfile>>,
}

impl MemberSkills {
    /// A member logged in (or came back with a new profile).
    pub(crate) fn add(&mut self, profile: &Arc<AgentProfile>) {
        self.logged_in += 1;
        for s in &profile.skills {
            let holders = self.by_skill.entry(s.skill.clone()).or_default();
            for count in holders.at_least.iter_mut().take(usize::from(s.level)) {
                *count += 1;
            }
            holders.members.insert(profile.id.clone(), profile.clone());
        }
    }

    /// A member logged out (or is about to change profile): `profile` is the one added.
    pub(crate) fn remove(&mut self, profile: &AgentProfile) {
        self.logged_in = self.logged_in.saturating_sub(1);
        for s in &profile.skills {
            let Some(holders) = self.by_skill.get_mut(&s.skill) else { continue };
            for count in holders.at_least.iter_mut().take(usize::from(s.level)) {
                *count = count.saturating_sub(1);
            }
            holders.members.remove(&profile.id);
            if holders.members.is_empty() {
                self.by_skill.remove(&s.skill);
            }
        }
    }

    /// Logged-in members counted here (the audit compares it with the agents).
    pub(crate) fn logged_in(&self) -> u32 {
        self.logged_in
    }

    /// Whether a logged-in member meets all of `reqs` (the queue's own merged with a call's).
    ///
    /// Exact and O(requirements) when at most one requirement is held by fewer than all
    /// logged-in members (the usual case: the queue's skills plus one language or product).
    /// Otherwise it walks the holders of the rarest requirement, at most
    /// [`MAX_QUALIFIED_PROBE`] of them, and assumes yes when that many did not qualify.
    pub(crate) fn any_qualified(&self, reqs: &[SkillRequirement]) -> bool {
        if self.logged_in == 0 {
            return false;
        }
        let mut rarest: Option<(u32, &Holders)> = None;
        let mut partial = 0;
        for r in reqs {
            let level = usize::from(r.min_level.clamp(MIN_LEVEL, MAX_LEVEL)) - 1;
            let Some(holders) = self.by_skill.get(&r.skill) else { return false };
            let count = holders.at_least[level];
            if count == 0 {
                return false;
            }
            if count < self.logged_in {
                partial += 1;
            }
            if rarest.is_none_or(|(c, _)| count < c) {
                rarest = Some((count, holders));
            }
        }
        let Some((_, holders)) = rarest.filter(|_| partial > 1) else { return true };
        let mut probed = 0;
        for profile in holders.members.values() {
            if qualifies(&profile.skills, reqs) {
                return true;
            }
            probed += 1;
            if probed >= MAX_QUALIFIED_PROBE {
                return true;
            }
        }
        false
    }
}

/// Running totals of one queue since the engine started; the statistics layer turns them and
/// the event stream into intervals and service levels.
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// Calls that entered the queue (offered to an agent at once or queued).
    pub entered: AtomicU64,
    /// Offers made to agents (a call rejected once and re-offered counts twice).
    pub offers: AtomicU64,
    /// Offers rejected or timed out.
    pub offers_missed: AtomicU64,
    /// Calls answered.
    pub answered: AtomicU64,
    /// Calls answered within the service-level threshold.
    pub answered_within_threshold: AtomicU64,
    /// Calls abandoned while waiting or ringing.
    pub abandoned: AtomicU64,
    /// Calls abandoned within the service-level threshold (Asterisk's SL2 counts them).
    pub abandoned_within_threshold: AtomicU64,
    /// Calls that left the queue because `max_wait` passed.
    pub timed_out: AtomicU64,
    /// Calls handed back to the owner (transfer or overflow) while waiting.
    pub withdrawn: AtomicU64,
    /// Total wait of answered calls, in milliseconds.
    pub answered_wait_ms: AtomicU64,
    /// Calls handled to the end (talk finished).
    pub handled: AtomicU64,
    /// Their total handle time, talk plus the queue's wrap-up, in milliseconds.
    pub handled_ms: AtomicU64,
}

impl QueueCounters {
    /// A plain copy of the counters.
    pub fn snapshot(&self) -> QueueTotals {
        QueueTotals {
            entered: self.entered.load(Relaxed),
            offers: self.offers.load(Relaxed),
            offers_missed: self.offers_missed.load(Relaxed),
            answered: self.answered.load(Relaxed),
            answered_within_threshold: self.answered_within_threshold.load(Relaxed),
            abandoned: self.abandoned.load(Relaxed),
            abandoned_within_threshold: self.abandoned_within_threshold.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            withdrawn: self.withdrawn.load(Relaxed),
            answered_wait_ms: self.answered_wait_ms.load(Relaxed),
            handled: self.handled.load(Relaxed),
            handled_ms: self.handled_ms.load(Relaxed),
        }
    }
}

/// A copy of [`QueueCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueTotals {
    /// See [`QueueCounters::entered`].
    pub entered: u64,
    /// See [`QueueCounters::offers`].
    pub offers: u64,
    /// See [`QueueCounters::offers_missed`].
    pub offers_missed: u64,
    /// See [`QueueCounters::answered`].
    pub answered: u64,
    /// See [`QueueCounters::answered_within_threshold`].
    pub answered_within_threshold: u64,
    /// See [`QueueCounters::abandoned`].
    pub abandoned: u64,
    /// See [`QueueCounters::abandoned_within_threshold`].
    pub abandoned_within_threshold: u64,
    /// See [`QueueCounters::timed_out`].
    pub timed_out: u64,
    /// See [`QueueCounters::withdrawn`].
    pub withdrawn: u64,
    /// See [`QueueCounters::answered_wait_ms`].
    pub answered_wait_ms: u64,
    /// See [`QueueCounters::handled`].
    pub handled: u64,
    /// See [`QueueCounters::handled_ms`].
    pub handled_ms: u64,
}

/// One queue inside the engine.
#[derive(Debug)]
pub(crate) struct QueueShared {
    /// Position in the engine's queue table; locks of several queues are always taken in
    /// ascending ordinal order, so two threads never wait on each other's queues.
    pub(crate) ordinal: u32,
    pub(crate) config: QueueConfig,
    /// `priority_aging` in milliseconds, 0 without aging.
    pub(crate) aging_ms: u64,
    pub(crate) state: Mutex<QueueState>,
    pub(crate) counters: QueueCounters,
    /// Member agents logged in (any state but logged out); adjusted on every login, logout
    /// and membership change.
    pub(crate) logged_in: std::sync::atomic::AtomicI64,
    /// The same members by skill; see [`MemberSkills`] for its lock rule.
    pub(crate) members: Mutex<MemberSkills>,
}

impl QueueShared {
    pub(crate) fn new(ordinal: u32, config: QueueConfig) -> QueueShared {
        QueueShared {
            ordinal,
            aging_ms: config.priority_aging.map(duration_millis).unwrap_or(0),
            config,
            state: Mutex::new(QueueState::default()),
            counters: QueueCounters::default(),
            logged_in: std::sync::atomic::AtomicI64::new(0),
            members: Mutex::new(MemberSkills::default()),
        }
    }

    pub(crate) fn wait_key(&self, priority: i32, arrived_at: Timestamp, seq: u64) -> WaitKey {
        let arrived_ms = arrived_at.as_millis();
        let primary = if self.aging_ms == 0 {
            -i64::from(priority)
        } else {
            // |priority| <= 1e6 and aging <= u64 ms: saturate rather than overflow.
            let credit = i128::from(priority) * i128::from(self.aging_ms);
            let virtual_arrival = i128::from(arrived_ms) - credit;
            virtual_arrival.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
        };
        WaitKey { primary, arrived_ms, seq }
    }

    /// Effective priority of a waiting call at `now`, comparable across queues.
    pub(crate) fn effective_priority(&self, waiting: &Waiting, now: Timestamp) -> f64 {
        let base = f64::from(waiting.priority);
        if self.aging_ms == 0 {
            base
        } else {
            base + now.since(waiting.arrived_at).as_millis() as f64 / self.aging_ms as f64
        }
    }
}

/// How long a call at `position` in line (1 for the front) would wait: its position times the
/// average handle time, over the logged-in members; `None` when no member is logged in (it
/// would wait for ever).
pub(crate) fn estimate_wait(
    position: usize,
    logged_in: i64,
    totals: &QueueTotals,
    default_handle_time: Duration,
) -> Option<Duration> {
    let staffed = u64::try_from(logged_in).ok().filter(|n| *n > 0)?;
    let aht_ms = totals
        .handled_ms
        .checked_div(totals.handled)
        .unwrap_or_else(|| duration_millis(default_handle_time));
    Some(Duration::from_millis((position as u64).saturating_mul(aht_ms) / staffed))
}

/// A copy of one queue's current contents, for supervisors and tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    /// The queue.
    pub id: QueueId,
    /// Waiting calls, in the order they will leave.
    pub waiting: Vec<CallId>,
    /// When the call that has waited longest in this queue entered it (queue entry, not
    /// arrival at the contact center: time in the IVR or in an earlier queue does not count).
    pub oldest_arrival: Option<Timestamp>,
    /// Available member agents, in the order the policy will pick them.
    pub available: Vec<AgentId>,
    /// Member agents logged in.
    pub logged_in: usize,
    /// How long a call arriving now would wait; `None` with nobody logged in.
    pub estimated_wait: Option<Duration>,
    /// Running totals.
    pub totals: QueueTotals,
}
