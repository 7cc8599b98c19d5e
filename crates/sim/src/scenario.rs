//! What to simulate: the contact center, its traffic, its staff and the random models.

use std::collections::{BTreeMap, BTreeSet};

use switchboard_routing::plan::{CustomerStore, NodeKind, RoutingConfig};
use switchboard_routing::{AgentProfile, SkillLevel};

use crate::dist::{HandleModel, Patience};
use crate::error::SimError;
use crate::input::{Forecast, RecordedCall, Shift, DEFAULT_INTERVAL_MIN};

/// Where the calls come from.
#[derive(Clone, Debug)]
pub enum Traffic {
    /// Non-homogeneous Poisson arrivals: each forecast row's calls arrive at a constant rate
    /// over its interval.
    Forecast(Forecast),
    /// The recorded calls, at their recorded times, through their recorded dialed number.
    History(Vec<RecordedCall>),
}

/// Who answers.
#[derive(Clone, Debug)]
pub enum Staffing {
    /// This many agents, logged in and ready for the whole run, each qualified for every
    /// queue of the configuration (see [`all_queues_profile`]).
    Fixed(u32),
    /// Agents log in and out and take breaks as the shifts say.
    Shifts(Vec<Shift>),
}

/// Everything one simulation needs.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The contact center: queues, agents, plans, exactly as the server loads it.
    pub config: RoutingConfig,
    /// CRM data for the plans' lookups.
    pub customers: CustomerStore,
    /// The calls.
    pub traffic: Traffic,
    /// The agents.
    pub staffing: Staffing,
    /// Talk times (the engine adds each queue's wrap-up).
    pub handle: HandleModel,
    /// Caller patience.
    pub patience: Patience,
    /// Reporting interval, milliseconds; `None` takes the forecast's, or 30 minutes.
    pub interval_ms: Option<u64>,
}

impl Scenario {
    /// The reporting interval in milliseconds.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms.unwrap_or(match &self.traffic {
            Traffic::Forecast(f) => f.interval_ms,
            Traffic::History(_) => DEFAULT_INTERVAL_MIN * 60_000,
        })
    }

    /// Checks the scenario against the configuration before anything runs.
    pub fn validate(&self) -> Result<(), SimError> {
        let known: BTreeSet<&str> = self.config.queues.iter().map(|q| q.id.as_str()).collect();
        if let Traffic::Forecast(f) = &self.traffic {
            if let Some(row) = f.rows.iter().find(|r| !known.contains(r.queue.as_str())) {
                return Err(SimError::Scenario(format!(
                    "forecast queue {:?} is not a queue of the configuration (queues: {})",
                    row.queue,
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                )));
            }
            if self.handle == HandleModel::Empirical || self.handle == HandleModel::Recorded {
                return Err(SimError::option(
                    "handle",
                    format!("{} handle times need call records (--history)", self.handle),
                ));
            }
            if self.patience == Patience::Recorded {
                return Err(SimError::option(
                    "patience",
                    "recorded patience needs call records (--history)",
                ));
            }
        }
        if let Traffic::History(calls) = &self.traffic {
            if let Some(c) =
                calls.iter().find(|c| !c.queue.is_empty() && !known.contains(c.queue.as_str()))
            {
                return Err(SimError::Scenario(format!(
                    "call records name queue {:?}, which is not a queue of the configuration",
                    c.queue
                )));
            }
        }
        if self.interval_ms() == 0 {
            return Err(SimError::option("interval", "must be at least one minute"));
        }
        if let Staffing::Fixed(0) = self.staffing {
            return Err(SimError::option("agents", "must be at least 1"));
        }
        Ok(())
    }
}

/// The profile of a `--agents N` agent (or a shift without skills that names no configured
/// agent): every skill any queue requires, at the highest level any queue requires it, so the
/// agent is a member of every queue.
pub fn all_queues_profile(config: &RoutingConfig, id: &str) -> AgentProfile {
    let mut levels: BTreeMap<&str, u8> = BTreeMap::new();
    for queue in &config.queues {
        for r in &queue.required_skills {
            let level = levels.entry(r.skill.as_str()).or_insert(r.min_level);
            *level = (*level).max(r.min_level);
        }
    }
    AgentProfile::new(
        id,
        levels.into_iter().map(|(skill, level)| SkillLevel::new(skill, level)).collect(),
    )
}

/// For each plan and node, the queues (ordinals) a call can reach from there; used to answer
/// IVR menus the way a caller heading for a given queue would. With `through_agents` false,
/// only queue nodes count (not a named agent's or the last agent's queue), so a caller for
/// billing presses "billing", not "operator".
pub(crate) fn reachable_queues(
    config: &RoutingConfig,
    through_agents: bool,
) -> Vec<Vec<BTreeSet<usize>>> {
    let ordinal = |name: &str| config.queues.iter().position(|q| q.id.as_str() == name);
    config
        .plans
        .iter()
        .map(|plan| {
            let mut reach: Vec<BTreeSet<usize>> = plan
                .nodes
                .iter()
                .map(|node| match &node.kind {
                    NodeKind::Queue { queue, .. } => ordinal(queue).into_iter().collect(),
                    NodeKind::LastAgent { queue, .. } | NodeKind::Agent { queue, .. }
                        if through_agents =>
                    {
                        ordinal(queue).into_iter().collect()
                    }
                    _ => BTreeSet::new(),
                })
                .collect();
            // Fixed point over successors; plans are small.
            loop {
                let mut changed = false;
                for (i, node) in plan.nodes.iter().enumerate() {
                    for next in node.kind.successors() {
                        let add: Vec<usize> = reach[next].difference(&reach[i]).copied().collect();
                        if !add.is_empty() {
                            reach[i].extend(add);
                            changed = true;
                        }
                    }
                }
                if !changed {
                    break reach;
                }
            }
        })
        .collect()
}
