//! Skills with proficiency, and the test of whether an agent meets a call's requirements.

use serde::{Deserialize, Serialize};

use crate::ids::Skill;

/// Lowest proficiency level.
pub const MIN_LEVEL: u8 = 1;
/// Highest proficiency level.
pub const MAX_LEVEL: u8 = 5;

/// An agent's proficiency in one skill, from 1 (learning) to 5 (expert).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillLevel {
    /// The skill.
    pub skill: Skill,
    /// Proficiency, 1 to 5.
    pub level: u8,
}

impl SkillLevel {
    /// `skill` at `level`.
    pub fn new(skill: impl Into<Skill>, level: u8) -> SkillLevel {
        SkillLevel { skill: skill.into(), level }
    }
}

/// A skill a call or queue needs, with the lowest proficiency that will do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillRequirement {
    /// The skill.
    pub skill: Skill,
    /// Lowest acceptable proficiency, 1 to 5.
    pub min_level: u8,
}

impl SkillRequirement {
    /// Needs `skill` at `min_level` or better.
    pub fn new(skill: impl Into<Skill>, min_level: u8) -> SkillRequirement {
        SkillRequirement { skill: skill.into(), min_level }
    }
}

/// Sorts skills by name and keeps the highest level of a skill named twice, so lookups can
/// binary-search.
pub(crate) fn normalize_levels(levels: &mut Vec<SkillLevel>) {
    levels.sort_by(|a, b| a.skill.cmp(&b.skill).then(b.level.cmp(&a.level)));
    levels.dedup_by(|later, earlier| later.skill == earlier.skill);
}

/// Sorts requirements by skill and keeps the strictest of a skill named twice.
pub(crate) fn normalize_requirements(reqs: &mut Vec<SkillRequirement>) {
    reqs.sort_by(|a, b| a.skill.cmp(&b.skill).then(b.min_level.cmp(&a.min_level)));
    reqs.dedup_by(|later, earlier| later.skill == earlier.skill);
}

/// The level of `skill` in sorted `levels`, if the agent has it.
pub(crate) fn level_of(levels: &[SkillLevel], skill: &Skill) -> Option<u8> {
    levels.binary_search_by(|l| l.skill.cmp(skill)).ok().map(|i| levels[i].level)
}

/// Whether sorted `levels` meet every requirement.
pub(crate) fn qualifies(levels: &[SkillLevel], reqs: &[SkillRequirement]) -> bool {
    reqs.iter().all(|r| level_of(levels, &r.skill).is_some_and(|l| l >= r.min_level))
}

/// Whether requirements `wider` ask for nothing that `base` does not (so every agent meeting
/// `base` meets `wider`). Both sorted.
pub(crate) fn is_covered_by(wider: &[SkillRequirement], base: &[SkillRequirement]) -> bool {
    wider.iter().all(|w| {
        base.binary_search_by(|b| b.skill.cmp(&w.skill))
            .is_ok_and(|i| base[i].min_level >= w.min_level)
    })
}

/// Merges two sorted requirement lists, keeping the stricter level of a shared skill.
pub(crate) fn merge_requirements(
    a: &[SkillRequirement],
    b: &[SkillRequirement],
) -> Vec<SkillRequirement> {
    let mut all: Vec<SkillRequirement> = a.iter().chain(b).cloned().collect();
    normalize_requirements(&mut all);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(spec: &[(&str, u8)]) -> Vec<SkillLevel> {
        let mut v = spec.iter().map(|(s, l)| SkillLevel::new(*s, *l)).collect();
        normalize_levels(&mut v);
        v
    }

    fn reqs(spec: &[(&str, u8)]) -> Vec<SkillRequirement> {
        let mut v = spec.iter().map(|(s, l)| SkillRequirement::new(*s, *l)).collect();
        normalize_requirements(&mut v);
        v
    }

    #[test]
    fn qualification_checks_every_skill_and_level() {
        let check = |agent: &[(&str, u8)], need: &[(&str, u8)], expect: bool| {
            assert_eq!(qualifies(&levels(agent), &reqs(need)), expect, "{agent:?} vs {need:?}");
        };
        check(&[("billing", 3)], &[], true);
        check(&[("billing", 3)], &[("billing", 3)], true);
        check(&[("billing", 3)], &[("billing", 4)], false);
        check(&[("billing", 3), ("lang:fr", 1)], &[("lang:fr", 1), ("billing", 2)], true);
        check(&[("billing", 5)], &[("billing", 1), ("lang:fr", 1)], false);
        // A skill named twice counts at its higher level.
        check(&[("billing", 2), ("billing", 4)], &[("billing", 4)], true);
    }

    #[test]
    fn merging_keeps_the_stricter_level() {
        let merged = merge_requirements(&reqs(&[("a", 2), ("b", 1)]), &reqs(&[("a", 4)]));
        assert_eq!(merged, reqs(&[("a", 4), ("b", 1)]));
        assert!(is_covered_by(&reqs(&[("a", 2)]), &merged));
        assert!(!is_covered_by(&reqs(&[("c", 1)]), &merged));
    }
}
