//! The small languages inside plans: conditions over call attributes (`tier == 'gold'`,
//! `segment in ['smb', 'ent']`, `has(open_case)`), skill templates (`lang:${language}`) and
//! overflow conditions (`estimated_wait_s > 300`).

use std::collections::BTreeMap;

/// A condition over call attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Always true (`*` or `true`).
    Always,
    /// `attr == 'value'`.
    Equals(String, String),
    /// `attr != 'value'` (true when the attribute is missing).
    NotEquals(String, String),
    /// `attr in ['a', 'b']`.
    In(String, Vec<String>),
    /// `has(attr)`: the attribute is present and not empty.
    Has(String),
}

fn parse_quoted(text: &str) -> Result<String, String> {
    let t = text.trim();
    let unquoted = t
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| t.strip_prefix('"').and_then(|r| r.strip_suffix('"')));
    unquoted.map(str::to_string).ok_or_else(|| format!("{t} is not a quoted value like 'gold'"))
}

fn parse_name(text: &str) -> Result<String, String> {
    let t = text.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        Ok(t.to_string())
    } else {
        Err(format!("{t:?} is not an attribute name"))
    }
}

impl Condition {
    /// Parses a condition; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let t = text.trim();
        if t == "*" || t == "true" {
            return Ok(Condition::Always);
        }
        if let Some(inner) = t.strip_prefix("has(").and_then(|r| r.strip_suffix(')')) {
            return Ok(Condition::Has(parse_name(inner)?));
        }
        if let Some((name, value)) = t.split_once("==") {
            return Ok(Condition::Equals(parse_name(name)?, parse_quoted(value)?));
        }
        if let Some((name, value)) = t.split_once("!=") {
            return Ok(Condition::NotEquals(parse_name(name)?, parse_quoted(value)?));
        }
        if let Some((name, list)) = t.split_once(" in ") {
            let list = list.trim();
            let items = list
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .ok_or_else(|| format!("{list} is not a list like ['a', 'b']"))?;
            let values = items
                .split(',')
                .filter(|v| !v.trim().is_empty())
                .map(parse_quoted)
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Condition::In(parse_name(name)?, values));
        }
        Err(format!(
            "{t:?} is not a condition (use attr == 'v', attr != 'v', attr in ['a', 'b'], has(attr) or *)"
        ))
    }

    /// Whether the attributes satisfy the condition.
    pub fn eval(&self, attrs: &BTreeMap<String, String>) -> bool {
        match self {
            Condition::Always => true,
            Condition::Equals(name, value) => attrs.get(name) == Some(value),
            Condition::NotEquals(name, value) => attrs.get(name) != Some(value),
            Condition::In(name, values) => attrs.get(name).is_some_and(|v| values.contains(v)),
            Condition::Has(name) => attrs.get(name).is_some_and(|v| !v.is_empty()),
        }
    }
}

/// A skill name with `${attribute}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Attr(String),
}

impl Template {
    /// Parses `lang:${language}`.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let end =
                rest[start..].find('}').ok_or_else(|| format!("{text:?} has an unclosed ${{"))?;
            parts.push(Part::Attr(parse_name(&rest[start + 2..start + end])?));
            rest = &rest[start + end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        if parts.is_empty() {
            return Err("a skill name must not be empty".into());
        }
        Ok(Template { parts })
    }

    /// The text with attributes filled in, or the name of the first missing attribute.
    pub fn render(&self, attrs: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Attr(name) => match attrs.get(name).filter(|v| !v.is_empty()) {
                    Some(v) => out.push_str(v),
                    None => return Err(name.clone()),
                },
            }
        }
        Ok(out)
    }
}

/// When a queue node sends a call elsewhere instead of (or after) queueing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowCondition {
    /// No member of the queue is logged in.
    NoAgentsLoggedIn,
    /// No logged-in member meets the call's requirements.
    NoQualifiedAgent,
    /// The estimated wait is longer than this many seconds.
    EstimatedWaitOver(u64),
    /// More than this many calls are waiting already.
    QueueLengthOver(usize),
    /// The call has waited in the queue this many seconds (a timer, not an entry check).
    WaitedOver(u64),
}

impl OverflowCondition {
    /// Parses `no_agents_logged_in`, `no_qualified_agent`, `estimated_wait_s > N`,
    /// `queue_length > N` or `waited_s > N`.
    pub fn parse(text: &str) -> Result<OverflowCondition, String> {
        let t = text.trim();
        match t {
            "no_agents_logged_in" => return Ok(OverflowCondition::NoAgentsLoggedIn),
            "no_qualified_agent" => return Ok(OverflowCondition::NoQualifiedAgent),
            _ => {}
        }
        let (name, number) = t.split_once('>').ok_or_else(|| {
            format!(
                "{t:?} is not an overflow condition (no_agents_logged_in, no_qualified_agent, \
                 estimated_wait_s > N, queue_length > N, waited_s > N)"
            )
        })?;
        let n: u64 = number
            .trim()
            .parse()
            .map_err(|_| format!("{:?} is not a whole number", number.trim()))?;
        match name.trim() {
            "estimated_wait_s" => Ok(OverflowCondition::EstimatedWaitOver(n)),
            "queue_length" => Ok(OverflowCondition::QueueLengthOver(n as usize)),
            "waited_s" => Ok(OverflowCondition::WaitedOver(n)),
            other => Err(format!("unknown overflow measure {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn conditions() {
        let a = attrs(&[("tier", "gold"), ("segment", "smb"), ("open_case", "")]);
        let check = |text: &str, expect: bool| {
            assert_eq!(Condition::parse(text).expect(text).eval(&a), expect, "{text}");
        };
        check("tier == 'gold'", true);
        check("tier == \"silver\"", false);
        check("tier != 'basic'", true);
        check("missing != 'x'", true);
        check("segment in ['ent', 'smb']", true);
        check("segment in ['ent']", false);
        check("has(tier)", true);
        check("has(open_case)", false);
        check("*", true);
        assert!(Condition::parse("tier = gold").is_err());
        assert!(Condition::parse("tier == gold").is_err());
    }

    #[test]
    fn templates() {
        let t = Template::parse("lang:${language}").expect("template");
        assert_eq!(t.render(&attrs(&[("language", "fr")])), Ok("lang:fr".into()));
        assert_eq!(t.render(&attrs(&[])), Err("language".into()));
        assert!(Template::parse("lang:${language").is_err());
    }

    #[test]
    fn overflow_conditions() {
        assert_eq!(
            OverflowCondition::parse("queue_length > 20"),
            Ok(OverflowCondition::QueueLengthOver(20))
        );
        assert_eq!(
            OverflowCondition::parse("waited_s>120"),
            Ok(OverflowCondition::WaitedOver(120))
        );
        assert_eq!(
            OverflowCondition::parse("no_qualified_agent"),
            Ok(OverflowCondition::NoQualifiedAgent)
        );
        assert!(OverflowCondition::parse("estimated_wait > 10").is_err());
    }
}
