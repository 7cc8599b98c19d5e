//! What the wallboard shows, computed from a statistics snapshot: the page only lays it out.

use serde::Serialize;
use switchboard_proto::v1 as pb;

use crate::settings::WallboardSettings;

/// How a queue is doing against the service-level target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TileStatus {
    /// At or above target.
    Ok,
    /// Below target, within the amber margin.
    Amber,
    /// Further below.
    Red,
    /// Nothing answered yet today: no service level to judge.
    Idle,
}

/// One queue tile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueTile {
    /// Queue id.
    pub queue: String,
    /// Calls waiting now.
    pub waiting: u32,
    /// Wait of the longest-waiting call, seconds.
    pub longest_wait_s: u64,
    /// Service level today, whole percent.
    pub service_level_pct: Option<u32>,
    /// The target, whole percent.
    pub target_pct: u32,
    /// The queue's threshold, seconds (the "20" of 80/20).
    pub threshold_s: u64,
    /// Colour.
    pub status: TileStatus,
    /// Average speed of answer today, seconds.
    pub asa_s: Option<u64>,
    /// Calls offered today.
    pub offered: u64,
    /// Calls answered today.
    pub answered: u64,
    /// Calls abandoned today.
    pub abandoned: u64,
    /// Agents available now.
    pub available: u32,
    /// Agents ringing or talking now.
    pub on_call: u32,
    /// Agents in wrap-up now.
    pub wrap_up: u32,
    /// Agents not ready now.
    pub not_ready: u32,
    /// Estimated wait of a call arriving now, seconds.
    pub estimated_wait_s: Option<u64>,
}

/// One row of the agent grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    /// Agent id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `available`, `not_ready`, `reserved`, `on_call`, `wrap_up` or `logged_out`.
    pub state: &'static str,
    /// Not-ready reason.
    pub reason: String,
    /// Since when, Unix ms (the page shows the time in state).
    pub since_ms: i64,
    /// Queue of the current call or wrap-up.
    pub queue: String,
    /// Team.
    pub team: String,
    /// Queues the agent serves.
    pub queues: Vec<String>,
}

/// Everything on the board at one instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoardView {
    /// Snapshot time, Unix ms.
    pub at_ms: i64,
    /// Queue tiles, in configuration order.
    pub queues: Vec<QueueTile>,
    /// Agents, logged-out ones last, then by name.
    pub agents: Vec<AgentRow>,
}

fn percent(ratio: f64) -> u32 {
    (ratio * 100.0).round().clamp(0.0, 100.0) as u32
}

fn state_name(state: i32) -> &'static str {
    match pb::AgentState::try_from(state).unwrap_or_default() {
        pb::AgentState::Available => "available",
        pb::AgentState::NotReady => "not_ready",
        pb::AgentState::Reserved => "reserved",
        pb::AgentState::OnCall => "on_call",
        pb::AgentState::WrapUp => "wrap_up",
        pb::AgentState::LoggedOut | pb::AgentState::Unspecified => "logged_out",
    }
}

/// The board for a snapshot.
pub fn board_view(snapshot: &pb::StatsSnapshot, settings: &WallboardSettings) -> BoardView {
    let target = settings.service_level_target;
    let queues = snapshot
        .queues
        .iter()
        .map(|q| {
            let today = q.today.unwrap_or_default();
            let status = match today.service_level {
                None => TileStatus::Idle,
                Some(sl) if sl >= target - 1e-9 => TileStatus::Ok,
                Some(sl) if sl >= target - settings.amber_margin - 1e-9 => TileStatus::Amber,
                Some(_) => TileStatus::Red,
            };
            QueueTile {
                queue: q.queue.clone(),
                waiting: q.calls_waiting,
                longest_wait_s: q.longest_wait_ms / 1000,
                service_level_pct: today.service_level.map(percent),
                target_pct: percent(target),
                threshold_s: q.service_level_threshold_s,
                status,
                asa_s: today.asa_ms.map(|ms| (ms + 500) / 1000),
                offered: today.offered,
                answered: today.answered,
                abandoned: today.abandoned,
                available: q.agents_available,
                on_call: q.agents_on_call,
                wrap_up: q.agents_wrap_up,
                not_ready: q.agents_not_ready,
                estimated_wait_s: q.estimated_wait_s,
            }
        })
        .collect();
    let mut agents: Vec<AgentRow> = snapshot
        .agents
        .iter()
        .map(|a| {
            let p = a.profile.clone().unwrap_or_default();
            AgentRow {
                name: if p.display_name.is_empty() { p.id.clone() } else { p.display_name.clone() },
                id: p.id,
                state: state_name(a.state),
                reason: a.reason.clone(),
                since_ms: a.state_since_unix_ms,
                queue: a.queue.clone(),
                team: p.team,
                queues: a.queues.clone(),
            }
        })
        .collect();
    agents.sort_by(|a, b| {
        (a.state == "logged_out", &a.name, &a.id).cmp(&(b.state == "logged_out", &b.name, &b.id))
    });
    BoardView { at_ms: snapshot.at_unix_ms, queues, agents }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(answered: u64, within: u64) -> pb::QueueStats {
        pb::QueueStats {
            queue: "billing".into(),
            calls_waiting: 3,
            longest_wait_ms: 42_900,
            agents_available: 1,
            agents_on_call: 4,
            agents_wrap_up: 2,
            agents_not_ready: 1,
            estimated_wait_s: Some(95),
            service_level_threshold_s: 20,
            today: Some(pb::WindowStats {
                offered: answered + 2,
                answered,
                abandoned: 2,
                answered_within_threshold: within,
                service_level: (answered > 0).then(|| within as f64 / answered as f64),
                asa_ms: (answered > 0).then_some(12_499),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn check(answered: u64, within: u64, expect: (Option<u32>, TileStatus)) {
        let snapshot =
            pb::StatsSnapshot { queues: vec![queue(answered, within)], ..Default::default() };
        let tile = &board_view(&snapshot, &WallboardSettings::default()).queues[0];
        assert_eq!((tile.service_level_pct, tile.status), expect, "{answered}/{within}");
    }

    #[test]
    fn tiles_turn_amber_then_red_as_the_service_level_slips() {
        check(0, 0, (None, TileStatus::Idle));
        check(100, 92, (Some(92), TileStatus::Ok));
        check(100, 80, (Some(80), TileStatus::Ok));
        check(100, 79, (Some(79), TileStatus::Amber));
        check(100, 75, (Some(75), TileStatus::Amber));
        check(100, 74, (Some(74), TileStatus::Red));
        check(3, 0, (Some(0), TileStatus::Red));
    }

    #[test]
    fn tile_numbers_come_straight_from_the_snapshot() {
        let snapshot = pb::StatsSnapshot { queues: vec![queue(10, 9)], ..Default::default() };
        let tile = board_view(&snapshot, &WallboardSettings::default()).queues.remove(0);
        assert_eq!(
            tile,
            QueueTile {
                queue: "billing".into(),
                waiting: 3,
                longest_wait_s: 42,
                service_level_pct: Some(90),
                target_pct: 80,
                threshold_s: 20,
                status: TileStatus::Ok,
                asa_s: Some(12),
                offered: 12,
                answered: 10,
                abandoned: 2,
                available: 1,
                on_call: 4,
                wrap_up: 2,
                not_ready: 1,
                estimated_wait_s: Some(95),
            }
        );
    }

    #[test]
    fn agents_sort_logged_out_last_then_by_name() {
        let agent = |id: &str, name: &str, state: pb::AgentState| pb::Agent {
            profile: Some(pb::AgentProfile {
                id: id.into(),
                display_name: name.into(),
                team: "t".into(),
                ..Default::default()
            }),
            state: state as i32,
            ..Default::default()
        };
        let snapshot = pb::StatsSnapshot {
            agents: vec![
                agent("z", "Zoe", pb::AgentState::Available),
                agent("a", "Al", pb::AgentState::LoggedOut),
                agent("b", "", pb::AgentState::NotReady),
            ],
            ..Default::default()
        };
        let rows = board_view(&snapshot, &WallboardSettings::default()).agents;
        let order: Vec<(&str, &str)> = rows.iter().map(|r| (r.name.as_str(), r.state)).collect();
        assert_eq!(order, [("Zoe", "available"), ("b", "not_ready"), ("Al", "logged_out")]);
    }
}
