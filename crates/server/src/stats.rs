//! Live statistics per queue: now (waiting, agents by state) and per window (the current
//! 15-minute interval and the day since local midnight in the center's time zone).
//!
//! The event pump feeds [`StatsState`] one event at a time; readers take a consistent
//! [`pb::QueueStats`] copy under the same mutex.

use std::collections::HashMap;

use chrono::{DateTime, Duration as ChronoDuration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use switchboard_proto::v1 as pb;
use switchboard_routing::{
    AgentId, AgentState, AgentStateKind, QueueConfig, QueueId, QueueSnapshot,
};

use crate::cdr::{StatKind, Tally};

/// Length of a statistics interval, in minutes.
pub const INTERVAL_MINUTES: i64 = 15;

/// The counters of one queue over a span of time: calls and member agents' time. The one
/// definition of them: the live windows ([`Window`]) and the journal's tally
/// ([`crate::cdr::Tally`], 15-minute buckets carried in snapshots) both hold a `Counts`, so a
/// new counter is a field here, in [`Counts::count`] or [`Counts::credit_agent`], and in
/// [`Counts::add`]. Serialized in snapshots; a field missing from an older snapshot is zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Calls that entered the queue.
    pub offered: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls abandoned while waiting or ringing.
    pub abandoned: u64,
    /// Answered within the threshold.
    pub answered_within: u64,
    /// Abandoned within the threshold.
    pub abandoned_within: u64,
    /// Left the queue at its wait limit.
    pub overflowed: u64,
    /// Sum of the waits of answered calls, ms.
    pub answered_wait_ms: u64,
    /// Calls handled to the end of wrap-up.
    pub handled: u64,
    /// Their talk plus wrap-up, ms.
    pub handled_ms: u64,
    /// Member agents' time reserved, on call or in wrap-up, ms.
    pub busy_ms: u64,
    /// Member agents' time available or busy (logged in and not "not ready"), ms.
    pub staffed_ms: u64,
}

impl Counts {
    /// Counts one statistic of a call, with the queue's service-level threshold.
    pub fn count(&mut self, kind: StatKind, threshold_ms: u64) {
        match kind {
            StatKind::Entered => self.offered += 1,
            StatKind::Answered { wait_ms } => {
                self.answered += 1;
                self.answered_wait_ms += wait_ms;
                self.answered_within += u64::from(wait_ms <= threshold_ms);
            }
            StatKind::Abandoned { wait_ms } => {
                self.abandoned += 1;
                self.abandoned_within += u64::from(wait_ms <= threshold_ms);
            }
            StatKind::Overflowed => self.overflowed += 1,
            StatKind::Handled { handle_ms } => {
                self.handled += 1;
                self.handled_ms += handle_ms;
            }
        }
    }

    /// Credits `ms` of a member agent's time in a state of kind `kind` (nothing if the state
    /// is not staffed time).
    pub fn credit_agent(&mut self, kind: AgentStateKind, ms: u64) {
        if let Some(busy) = agent_time(kind) {
            self.staffed_ms += ms;
            if busy {
                self.busy_ms += ms;
            }
        }
    }

    /// Adds `other` in, counter by counter.
    pub fn add(&mut self, other: &Counts) {
        // Destructured, so a new counter that is not summed here does not compile.
        let Counts {
            offered,
            answered,
            abandoned,
            answered_within,
            abandoned_within,
            overflowed,
            answered_wait_ms,
            handled,
            handled_ms,
            busy_ms,
            staffed_ms,
        } = *other;
        self.offered += offered;
        self.answered += answered;
        self.abandoned += abandoned;
        self.answered_within += answered_within;
        self.abandoned_within += abandoned_within;
        self.overflowed += overflowed;
        self.answered_wait_ms += answered_wait_ms;
        self.handled += handled;
        self.handled_ms += handled_ms;
        self.busy_ms += busy_ms;
        self.staffed_ms += staffed_ms;
    }
}

/// Whether time in a state of kind `kind` is agent time: `None` if not staffed (logged out,
/// not ready), else whether it is busy.
pub fn agent_time(kind: AgentStateKind) -> Option<bool> {
    match kind {
        AgentStateKind::Available => Some(false),
        AgentStateKind::Reserved | AgentStateKind::OnCall | AgentStateKind::WrapUp => Some(true),
        AgentStateKind::LoggedOut | AgentStateKind::NotReady => None,
    }
}

/// The counters of one queue over one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Window start, Unix milliseconds.
    pub start_ms: i64,
    /// Its counters.
    pub counts: Counts,
}

impl Window {
    fn fresh(start_ms: i64) -> Window {
        Window { start_ms, ..Window::default() }
    }

    /// The API view; ratios are absent when their denominator is zero.
    pub fn view(&self) -> pb::WindowStats {
        let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
        let c = &self.counts;
        pb::WindowStats {
            start_unix_ms: self.start_ms,
            offered: c.offered,
            answered: c.answered,
            abandoned: c.abandoned,
            answered_within_threshold: c.answered_within,
            abandoned_within_threshold: c.abandoned_within,
            overflowed: c.overflowed,
            service_level: ratio(c.answered_within, c.answered),
            service_level_2: ratio(
                c.answered_within + c.abandoned_within,
                c.answered + c.abandoned,
            ),
            asa_ms: c.answered_wait_ms.checked_div(c.answered),
            aht_ms: c.handled_ms.checked_div(c.handled),
            occupancy: ratio(c.busy_ms, c.staffed_ms),
            handled: c.handled,
            busy_ms: c.busy_ms,
            staffed_ms: c.staffed_ms,
        }
    }
}

#[derive(Debug)]
struct QueueStatsState {
    threshold_ms: u64,
    interval: Window,
    today: Window,
}

/// An agent as statistics follow it.
#[derive(Clone, Debug)]
struct AgentTrack {
    kind: AgentStateKind,
    since_ms: i64,
    queues: Vec<QueueId>,
}

/// Everything the statistics know. Owned by the pump, read by services under a mutex.
#[derive(Debug)]
pub struct StatsState {
    tz: Tz,
    interval_start_ms: i64,
    day_start_ms: i64,
    queues: HashMap<QueueId, QueueStatsState>,
    /// Queue ids in configuration order, for stable listings.
    order: Vec<QueueId>,
    agents: HashMap<AgentId, AgentTrack>,
}

impl StatsState {
    /// Statistics for `queues`, windows in time zone `tz`, starting at `now_ms`.
    pub fn new(queues: &[QueueConfig], tz: Tz, now_ms: i64) -> StatsState {
        let mut state = StatsState {
            tz,
            interval_start_ms: 0,
            day_start_ms: 0,
            queues: HashMap::new(),
            order: queues.iter().map(|q| q.id.clone()).collect(),
            agents: HashMap::new(),
        };
        for q in queues {
            state.queues.insert(
                q.id.clone(),
                QueueStatsState {
                    threshold_ms: q.service_level_threshold.as_millis() as u64,
                    interval: Window::default(),
                    today: Window::default(),
                },
            );
        }
        state.roll(now_ms);
        state
    }

    /// Queue ids in configuration order.
    pub fn queue_ids(&self) -> &[QueueId] {
        &self.order
    }

    /// Starts new windows when `now_ms` has left the current ones. Agent time up to the
    /// boundary is credited to the closing window, the rest to the new one.
    pub fn roll(&mut self, now_ms: i64) {
        let (interval, day) = window_starts(self.tz, now_ms);
        if interval == self.interval_start_ms && day == self.day_start_ms {
            return;
        }
        if interval > self.interval_start_ms {
            // Credit ongoing agent states up to the boundary, then restart them there.
            let boundary = interval;
            let tracks: Vec<(AgentId, AgentTrack)> =
                self.agents.iter().map(|(a, t)| (a.clone(), t.clone())).collect();
            for (agent, track) in tracks {
                if track.since_ms < boundary {
                    self.credit(&track, boundary);
                    if let Some(t) = self.agents.get_mut(&agent) {
                        t.since_ms = boundary;
                    }
                }
            }
        }
        for q in self.queues.values_mut() {
            if interval != self.interval_start_ms {
                q.interval = Window::fresh(interval);
            }
            if day != self.day_start_ms {
                q.today = Window::fresh(day);
            }
        }
        self.interval_start_ms = interval;
        self.day_start_ms = day;
    }

    fn credit(&mut self, track: &AgentTrack, until_ms: i64) {
        if agent_time(track.kind).is_none() {
            return;
        }
        for q in &track.queues {
            if let Some(s) = self.queues.get_mut(q) {
                for w in [&mut s.interval, &mut s.today] {
                    let from = track.since_ms.max(w.start_ms);
                    let d = u64::try_from(until_ms - from).unwrap_or(0);
                    w.counts.credit_agent(track.kind, d);
                }
            }
        }
    }

    fn count(&mut self, queue: &QueueId, kind: StatKind) {
        if let Some(q) = self.queues.get_mut(queue) {
            q.interval.counts.count(kind, q.threshold_ms);
            q.today.counts.count(kind, q.threshold_ms);
        }
    }

    /// A call entered `queue` (first offer or queued).
    pub fn entered(&mut self, queue: &QueueId) {
        self.count(queue, StatKind::Entered);
    }

    /// An agent answered after `wait_ms`.
    pub fn answered(&mut self, queue: &QueueId, wait_ms: u64) {
        self.count(queue, StatKind::Answered { wait_ms });
    }

    /// The caller hung up after `wait_ms` without an answer.
    pub fn abandoned(&mut self, queue: &QueueId, wait_ms: u64) {
        self.count(queue, StatKind::Abandoned { wait_ms });
    }

    /// The call left the queue at its wait limit.
    pub fn overflowed(&mut self, queue: &QueueId) {
        self.count(queue, StatKind::Overflowed);
    }

    /// A call's talk and wrap-up finished.
    pub fn handled(&mut self, queue: &QueueId, handle_ms: u64) {
        self.count(queue, StatKind::Handled { handle_ms });
    }

    /// Counts a statistic the call-record fold implied.
    pub fn apply(&mut self, effect: &crate::cdr::StatEffect) {
        self.count(&effect.queue, effect.kind);
    }

    /// The service-level thresholds per queue, ms, for a [`Tally`].
    pub fn thresholds(&self) -> std::collections::BTreeMap<QueueId, u64> {
        self.queues.iter().map(|(q, s)| (q.clone(), s.threshold_ms)).collect()
    }

    /// Puts back the counters of the current interval and day from a tally rebuilt from the
    /// journal (after a restart): the call counters and the agent time it had credited.
    pub fn restore(&mut self, tally: &Tally) {
        for (queue, q) in &mut self.queues {
            for w in [&mut q.interval, &mut q.today] {
                w.counts.add(&tally.since(queue, w.start_ms));
            }
        }
    }

    /// An agent's state changed at `at_ms`; `queues` are its memberships from now on.
    pub fn agent_changed(
        &mut self,
        agent: &AgentId,
        state: &AgentState,
        at_ms: i64,
        queues: Vec<QueueId>,
    ) {
        if let Some(track) = self.agents.get(agent).cloned() {
            self.credit(&track, at_ms);
        }
        self.agents
            .insert(agent.clone(), AgentTrack { kind: state.kind(), since_ms: at_ms, queues });
    }

    /// The agent left (deleted).
    pub fn agent_removed(&mut self, agent: &AgentId) {
        self.agents.remove(agent);
    }

    /// The statistics of one queue at `now_ms`, with the engine's view of its line.
    pub fn queue_view(&self, snapshot: &QueueSnapshot, now_ms: i64) -> Option<pb::QueueStats> {
        let q = self.queues.get(&snapshot.id)?;
        let mut agents = AgentTotals::new(q);
        for track in self.agents.values().filter(|t| t.queues.contains(&snapshot.id)) {
            agents.add(track, now_ms);
        }
        Some(self.view(snapshot, q, agents, now_ms))
    }

    /// The statistics of several queues at `now_ms`: one pass over the agents for all of
    /// them (a pass per queue is queues x agents, which at 48,000 agents dominated the stats
    /// refresher's time). Unknown queues are left out.
    pub fn queue_views(&self, snapshots: &[QueueSnapshot], now_ms: i64) -> Vec<pb::QueueStats> {
        let mut position: HashMap<&QueueId, usize> = HashMap::with_capacity(snapshots.len());
        let mut totals = Vec::with_capacity(snapshots.len());
        for s in snapshots {
            if let Some(q) = self.queues.get(&s.id) {
                position.insert(&s.id, totals.len());
                totals.push((s, q, AgentTotals::new(q)));
            }
        }
        for track in self.agents.values() {
            for queue in &track.queues {
                if let Some(&i) = position.get(queue) {
                    totals[i].2.add(track, now_ms);
                }
            }
        }
        totals.into_iter().map(|(s, q, agents)| self.view(s, q, agents, now_ms)).collect()
    }

    fn view(
        &self,
        snapshot: &QueueSnapshot,
        q: &QueueStatsState,
        agents: AgentTotals,
        now_ms: i64,
    ) -> pb::QueueStats {
        let AgentTotals { interval, today, available, on_call, wrap_up, not_ready, logged_in } =
            agents;
        let longest_wait_ms = snapshot
            .oldest_arrival
            .map(|t| u64::try_from(now_ms - t.as_millis() as i64).unwrap_or(0))
            .unwrap_or(0);
        pb::QueueStats {
            queue: snapshot.id.to_string(),
            calls_waiting: snapshot.waiting.len() as u32,
            longest_wait_ms,
            agents_logged_in: logged_in,
            agents_available: available,
            agents_on_call: on_call,
            agents_wrap_up: wrap_up,
            agents_not_ready: not_ready,
            estimated_wait_s: snapshot.estimated_wait.map(|d| d.as_secs()),
            service_level_threshold_s: q.threshold_ms / 1000,
            interval: Some(interval.view()),
            today: Some(today.view()),
        }
    }
}

/// A queue's windows with its member agents' ongoing states counted up to now, and its
/// agents by state.
struct AgentTotals {
    interval: Window,
    today: Window,
    available: u32,
    on_call: u32,
    wrap_up: u32,
    not_ready: u32,
    logged_in: u32,
}

impl AgentTotals {
    fn new(q: &QueueStatsState) -> AgentTotals {
        AgentTotals {
            interval: q.interval,
            today: q.today,
            available: 0,
            on_call: 0,
            wrap_up: 0,
            not_ready: 0,
            logged_in: 0,
        }
    }

    /// Counts one member agent.
    fn add(&mut self, track: &AgentTrack, now_ms: i64) {
        match track.kind {
            AgentStateKind::LoggedOut => return,
            AgentStateKind::Available => self.available += 1,
            AgentStateKind::Reserved | AgentStateKind::OnCall => self.on_call += 1,
            AgentStateKind::WrapUp => self.wrap_up += 1,
            AgentStateKind::NotReady => self.not_ready += 1,
        }
        self.logged_in += 1;
        // Ongoing states count up to now.
        for w in [&mut self.interval, &mut self.today] {
            let d = u64::try_from(now_ms - track.since_ms.max(w.start_ms)).unwrap_or(0);
            w.counts.credit_agent(track.kind, d);
        }
    }
}

/// Start of the 15-minute interval and of the local day containing `now_ms`, Unix ms.
pub fn window_starts(tz: Tz, now_ms: i64) -> (i64, i64) {
    let utc = DateTime::<Utc>::from_timestamp_millis(now_ms).unwrap_or_default();
    let local = utc.with_timezone(&tz);
    // Intervals are aligned in local time; every IANA offset in use is a multiple of 15
    // minutes, so aligning the UTC instant is the same and survives DST changes.
    let interval_ms = INTERVAL_MINUTES * 60_000;
    let interval = now_ms.div_euclid(interval_ms) * interval_ms;
    let midnight = local.date_naive().and_time(NaiveTime::MIN);
    let day = tz
        .from_local_datetime(&midnight)
        .earliest()
        // A day without a midnight (DST at 00:00): the day starts at the first valid minute.
        .or_else(|| tz.from_local_datetime(&(midnight + ChronoDuration::hours(1))).earliest())
        .map(|d| d.timestamp_millis())
        .unwrap_or(now_ms);
    (interval, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis()
    }

    #[test]
    fn windows_follow_local_midnight_across_dst() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let check = |now: &str, interval: &str, day: &str| {
            assert_eq!(window_starts(paris, ms(now)), (ms(interval), ms(day)), "{now}");
        };
        check(
            "2026-03-29T10:07:00+02:00",
            "2026-03-29T10:00:00+02:00",
            "2026-03-29T00:00:00+01:00",
        );
        check(
            "2026-10-25T23:59:59+01:00",
            "2026-10-25T23:45:00+01:00",
            "2026-10-25T00:00:00+02:00",
        );
        check(
            "2026-11-23T00:14:59+01:00",
            "2026-11-23T00:00:00+01:00",
            "2026-11-23T00:00:00+01:00",
        );
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert_eq!(
            window_starts(kolkata, ms("2026-11-23T10:20:00+05:30")).0,
            ms("2026-11-23T10:15:00+05:30")
        );
    }

    #[test]
    fn service_levels_and_occupancy_from_events() {
        let mut q = QueueConfig::new("billing", vec![]);
        q.service_level_threshold = std::time::Duration::from_secs(20);
        let t0 = ms("2026-11-23T10:00:00Z");
        let mut s = StatsState::new(&[q], chrono_tz::UTC, t0);
        let billing = QueueId::from("billing");
        let ana = AgentId::from("ana");
        s.agent_changed(&ana, &AgentState::Available, t0, vec![billing.clone()]);
        for _ in 0..4 {
            s.entered(&billing);
        }
        s.answered(&billing, 5_000);
        s.answered(&billing, 20_000);
        s.answered(&billing, 20_001);
        s.abandoned(&billing, 3_000);
        s.handled(&billing, 100_000);
        s.agent_changed(
            &ana,
            &AgentState::OnCall { call: "c".into(), queue: billing.clone() },
            t0 + 60_000,
            vec![billing.clone()],
        );
        let snapshot = QueueSnapshot {
            id: billing.clone(),
            waiting: vec![],
            oldest_arrival: None,
            available: vec![],
            logged_in: 1,
            estimated_wait: None,
            totals: Default::default(),
        };
        let view = s.queue_view(&snapshot, t0 + 240_000).unwrap();
        let w = view.interval.unwrap();
        assert_eq!((w.offered, w.answered, w.abandoned), (4, 3, 1));
        assert_eq!(w.service_level, Some(2.0 / 3.0));
        assert_eq!(w.service_level_2, Some(3.0 / 4.0));
        assert_eq!(w.asa_ms, Some(15_000));
        assert_eq!(w.aht_ms, Some(100_000));
        // 1 min available, then 3 min on call.
        assert_eq!(w.occupancy, Some(0.75));
        assert_eq!((view.agents_on_call, view.agents_available, view.agents_logged_in), (1, 0, 1));
    }

    #[test]
    fn a_new_interval_starts_from_zero_and_credits_time_to_both_sides() {
        let q = QueueConfig::new("q", vec![]);
        let t0 = ms("2026-11-23T10:10:00Z");
        let mut s = StatsState::new(&[q], chrono_tz::UTC, t0);
        let id = QueueId::from("q");
        s.agent_changed(
            &"a".into(),
            &AgentState::OnCall { call: "c".into(), queue: id.clone() },
            t0,
            vec![id.clone()],
        );
        s.entered(&id);
        s.roll(ms("2026-11-23T10:16:00Z"));
        let snapshot = QueueSnapshot {
            id: id.clone(),
            waiting: vec![],
            oldest_arrival: None,
            available: vec![],
            logged_in: 1,
            estimated_wait: None,
            totals: Default::default(),
        };
        let view = s.queue_view(&snapshot, ms("2026-11-23T10:16:00Z")).unwrap();
        let interval = view.interval.unwrap();
        assert_eq!(interval.offered, 0);
        assert_eq!(interval.occupancy, Some(1.0));
        let today = view.today.unwrap();
        assert_eq!(today.offered, 1);
        assert_eq!(today.occupancy, Some(1.0));
    }
}
