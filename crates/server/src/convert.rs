//! Conversions between the routing domain and `switchboard.v1` messages, with request
//! validation that names the offending field.

use std::collections::BTreeMap;

use switchboard_proto::v1 as pb;
use switchboard_routing::plan::{Action, Decision, TraceStep};
use switchboard_routing::{AgentProfile, AgentSnapshot, AgentState, SkillLevel};

use crate::error::{ServiceError, ServiceResult};

/// Longest id (call, agent, switch) accepted, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest free text (numbers, names, attribute values) accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 256;
/// Most attributes on one call.
pub const MAX_ATTRIBUTES: usize = 64;

/// Attribute of an agent profile that holds the switch endpoint.
pub const ENDPOINT_ATTRIBUTE: &str = "endpoint";

/// Checks an id: 1 to [`MAX_ID_BYTES`] printable bytes.
pub fn id(field: &str, value: &str) -> ServiceResult<()> {
    if value.is_empty() {
        return Err(ServiceError::invalid(field, "must not be empty"));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(ServiceError::invalid(field, format!("longer than {MAX_ID_BYTES} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Checks free text: at most [`MAX_TEXT_BYTES`], no control characters.
pub fn text(field: &str, value: &str) -> ServiceResult<()> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(ServiceError::invalid(field, format!("longer than {MAX_TEXT_BYTES} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Checks a call's attributes.
pub fn attributes(
    field: &str,
    map: &std::collections::HashMap<String, String>,
) -> ServiceResult<BTreeMap<String, String>> {
    if map.len() > MAX_ATTRIBUTES {
        return Err(ServiceError::invalid(field, format!("more than {MAX_ATTRIBUTES} entries")));
    }
    let mut out = BTreeMap::new();
    for (k, v) in map {
        id(&format!("{field}[{k:?}] key"), k)?;
        text(&format!("{field}[{k:?}]"), v)?;
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// A decision as the switch sees it.
pub fn decision(
    d: &Decision,
    endpoint_of: impl Fn(&str) -> String,
    switch_id: &str,
) -> pb::RouteDecision {
    use pb::route_decision::Action as A;
    let action = match &d.action {
        Action::Connect { offer } => A::Connect(pb::Connect {
            agent_id: offer.agent.to_string(),
            endpoint: endpoint_of(offer.agent.as_str()),
            queue: offer.queue.to_string(),
            offer_deadline_unix_ms: offer.deadline.as_millis() as i64,
        }),
        Action::Queued { queue, position, estimated_wait_s } => A::Queued(pb::Queued {
            queue: queue.to_string(),
            position: u32::try_from(*position).unwrap_or(u32::MAX),
            estimated_wait_s: *estimated_wait_s,
        }),
        Action::Collect { prompt, min_digits, max_digits, timeout_s } => A::Collect(pb::Collect {
            prompt: prompt.clone(),
            min_digits: *min_digits,
            max_digits: *max_digits,
            timeout_s: *timeout_s,
        }),
        Action::Transfer { number } => A::Transfer(pb::Transfer { number: number.clone() }),
        Action::Voicemail { mailbox } => A::Voicemail(pb::Voicemail { mailbox: mailbox.clone() }),
        Action::Announce { prompt } => A::Announce(pb::Announce { prompt: prompt.clone() }),
        Action::Hangup { reason } | Action::Refused { reason, .. } => {
            A::Hangup(pb::Hangup { reason: reason.clone() })
        }
    };
    pb::RouteDecision {
        call_id: d.call.to_string(),
        action: Some(action),
        trace: d.trace.iter().map(trace_step).collect(),
        switch_id: switch_id.to_string(),
    }
}

fn trace_step(s: &TraceStep) -> pb::TraceStep {
    pb::TraceStep { node: s.node.clone(), kind: s.kind.to_string(), note: s.note.clone() }
}

/// An agent profile from a request; every field checked.
pub fn profile(p: &pb::AgentProfile) -> ServiceResult<AgentProfile> {
    id("agent.id", &p.id)?;
    text("agent.display_name", &p.display_name)?;
    let mut skills = Vec::with_capacity(p.skills.len());
    for (i, s) in p.skills.iter().enumerate() {
        id(&format!("agent.skills[{i}].name"), &s.name)?;
        let level =
            u8::try_from(s.level).ok().filter(|l| (1..=5).contains(l)).ok_or_else(|| {
                ServiceError::invalid(
                    format!("agent.skills[{i}].level"),
                    format!("{} is outside 1..=5", s.level),
                )
            })?;
        skills.push(SkillLevel::new(s.name.as_str(), level));
    }
    let mut profile = AgentProfile::new(p.id.as_str(), skills);
    if !p.display_name.is_empty() {
        profile.display_name = p.display_name.clone();
    }
    for (i, l) in p.languages.iter().enumerate() {
        id(&format!("agent.languages[{i}]"), l)?;
    }
    if !p.languages.is_empty() {
        profile.attributes.insert("languages".into(), p.languages.join(","));
    }
    for (name, value) in [
        ("site", &p.site),
        ("region", &p.region),
        ("team", &p.team),
        (ENDPOINT_ATTRIBUTE, &p.endpoint),
    ] {
        text(&format!("agent.{name}"), value)?;
        if !value.is_empty() {
            profile.attributes.insert(name.into(), value.clone());
        }
    }
    Ok(profile)
}

/// The endpoint the switch rings for an agent: the `endpoint` attribute, else the id.
pub fn endpoint(profile: &AgentProfile) -> String {
    profile.attributes.get(ENDPOINT_ATTRIBUTE).cloned().unwrap_or_else(|| profile.id.to_string())
}

/// An agent as the API shows it.
pub fn agent(a: &AgentSnapshot) -> pb::Agent {
    let p = &a.profile;
    let attr = |k: &str| p.attributes.get(k).cloned().unwrap_or_default();
    let (state, reason, call_id, queue, deadline) = match &a.state {
        AgentState::LoggedOut => {
            (pb::AgentState::LoggedOut, String::new(), String::new(), String::new(), None)
        }
        AgentState::Available => {
            (pb::AgentState::Available, String::new(), String::new(), String::new(), None)
        }
        AgentState::NotReady { reason } => {
            (pb::AgentState::NotReady, reason.clone(), String::new(), String::new(), None)
        }
        AgentState::Reserved { call, queue, deadline } => (
            pb::AgentState::Reserved,
            String::new(),
            call.to_string(),
            queue.to_string(),
            Some(deadline.as_millis() as i64),
        ),
        AgentState::OnCall { call, queue } => {
            (pb::AgentState::OnCall, String::new(), call.to_string(), queue.to_string(), None)
        }
        AgentState::WrapUp { queue, deadline } => (
            pb::AgentState::WrapUp,
            String::new(),
            String::new(),
            queue.to_string(),
            Some(deadline.as_millis() as i64),
        ),
    };
    pb::Agent {
        profile: Some(pb::AgentProfile {
            id: p.id.to_string(),
            display_name: p.display_name.clone(),
            skills: p
                .skills
                .iter()
                .map(|s| pb::Skill { name: s.skill.to_string(), level: u32::from(s.level) })
                .collect(),
            languages: p
                .attributes
                .get("languages")
                .map(|l| l.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            site: attr("site"),
            region: attr("region"),
            team: attr("team"),
            endpoint: endpoint(p),
        }),
        state: state as i32,
        reason,
        call_id,
        queue,
        state_since_unix_ms: a.state_since.as_millis() as i64,
        deadline_unix_ms: deadline,
        calls_answered: a.counters.calls_answered,
        talk_ms: a.counters.talk_ms,
        queues: a.queues.iter().map(|q| q.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_validation_names_the_field() {
        let check = |p: pb::AgentProfile, expect: &str| {
            assert_eq!(profile(&p).unwrap_err().to_string(), expect);
        };
        let base = pb::AgentProfile { id: "ana".into(), ..Default::default() };
        check(
            pb::AgentProfile { id: String::new(), ..base.clone() },
            "invalid agent.id: must not be empty",
        );
        check(
            pb::AgentProfile {
                skills: vec![pb::Skill { name: "billing".into(), level: 9 }],
                ..base.clone()
            },
            "invalid agent.skills[0].level: 9 is outside 1..=5",
        );
        check(
            pb::AgentProfile { team: "a\nb".into(), ..base.clone() },
            "invalid agent.team: contains control characters",
        );
        check(
            pb::AgentProfile { id: "x".repeat(129), ..base },
            "invalid agent.id: longer than 128 bytes",
        );
    }

    #[test]
    fn profiles_round_trip_through_the_api_view() {
        let p = pb::AgentProfile {
            id: "ana".into(),
            display_name: "Ana Lima".into(),
            skills: vec![pb::Skill { name: "billing".into(), level: 4 }],
            languages: vec!["en".into(), "pt".into()],
            site: "lisbon".into(),
            region: "eu".into(),
            team: "t1".into(),
            endpoint: "sip:ana@pbx".into(),
        };
        let snapshot = AgentSnapshot {
            profile: std::sync::Arc::new(profile(&p).unwrap()),
            state: AgentState::LoggedOut,
            state_since: switchboard_routing::Timestamp::ZERO,
            counters: Default::default(),
            queues: vec![],
        };
        assert_eq!(agent(&snapshot).profile.unwrap(), p);
    }
}
