//! Bearer-token roles: who may call what.

use tonic::metadata::MetadataMap;

use crate::error::ServiceError;
use crate::settings::AuthSettings;

/// What a token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Telephony switch: routes calls, reports call events, drives agent state.
    Switch,
    /// Supervisor or wallboard: reads statistics and agents.
    Supervisor,
    /// Administrator: everything.
    Admin,
}

/// Checks `authorization: Bearer <token>` against the configured tokens.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    tokens: AuthSettings,
}

impl Auth {
    /// Authentication as configured; with no tokens every request is allowed.
    pub fn new(tokens: AuthSettings) -> Auth {
        Auth { tokens }
    }

    /// Whether tokens are configured (authentication on).
    pub fn enabled(&self) -> bool {
        self.tokens.enabled()
    }

    /// The caller's role, or an error when the request may not do what needs one of
    /// `allowed`. Admin is always allowed.
    pub fn require(&self, metadata: &MetadataMap, allowed: &[Role]) -> Result<(), ServiceError> {
        if !self.tokens.enabled() {
            return Ok(());
        }
        let role = self.role(metadata)?;
        if role == Role::Admin || allowed.contains(&role) {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied(format!(
                "a {} token may not do this",
                match role {
                    Role::Switch => "switch",
                    Role::Supervisor => "supervisor",
                    Role::Admin => "admin",
                }
            )))
        }
    }

    fn role(&self, metadata: &MetadataMap) -> Result<Role, ServiceError> {
        let header = metadata
            .get("authorization")
            .ok_or_else(|| ServiceError::Unauthenticated("missing authorization header".into()))?;
        let value = header.to_str().map_err(|_| {
            ServiceError::Unauthenticated("authorization header is not visible ascii".into())
        })?;
        let token = value.strip_prefix("Bearer ").ok_or_else(|| {
            ServiceError::Unauthenticated("authorization must be `Bearer <token>`".into())
        })?;
        self.role_of_token(token)
    }

    /// Like [`Auth::require`] for a bare token (HTTP pages pass it in a header or the query).
    pub fn require_token(&self, token: Option<&str>, allowed: &[Role]) -> Result<(), ServiceError> {
        if !self.tokens.enabled() {
            return Ok(());
        }
        let token = token.ok_or_else(|| ServiceError::Unauthenticated("missing token".into()))?;
        let role = self.role_of_token(token)?;
        if role == Role::Admin || allowed.contains(&role) {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied("this token may not read statistics".into()))
        }
    }

    fn role_of_token(&self, token: &str) -> Result<Role, ServiceError> {
        let t = &self.tokens;
        // Compare every token fully so timing does not reveal which prefix matched.
        let matches = |list: &[String]| list.iter().fold(false, |hit, t| hit | eq_const(t, token));
        if matches(&t.admin_tokens) {
            Ok(Role::Admin)
        } else if matches(&t.switch_tokens) {
            Ok(Role::Switch)
        } else if matches(&t.supervisor_tokens) {
            Ok(Role::Supervisor)
        } else {
            Err(ServiceError::Unauthenticated("unknown token".into()))
        }
    }
}

/// Equality whose time depends on the lengths only, not on where the strings differ.
fn eq_const(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn auth() -> Auth {
        Auth::new(AuthSettings {
            switch_tokens: vec!["switch-token-0123456".into()],
            supervisor_tokens: vec!["supervisor-token-0123".into()],
            admin_tokens: vec!["admin-token-012345678".into()],
        })
    }

    fn check(token: Option<&str>, allowed: &[Role]) -> Option<Code> {
        let mut metadata = MetadataMap::new();
        if let Some(t) = token {
            metadata.insert("authorization", t.parse().unwrap());
        }
        auth().require(&metadata, allowed).err().map(|e| e.code())
    }

    #[test]
    fn roles_and_failures() {
        assert_eq!(check(None, &[Role::Switch]), Some(Code::Unauthenticated));
        assert_eq!(check(Some("Bearer nope"), &[Role::Switch]), Some(Code::Unauthenticated));
        assert_eq!(
            check(Some("switch-token-0123456"), &[Role::Switch]),
            Some(Code::Unauthenticated)
        );
        assert_eq!(check(Some("Bearer switch-token-0123456"), &[Role::Switch]), None);
        assert_eq!(
            check(Some("Bearer supervisor-token-0123"), &[Role::Switch]),
            Some(Code::PermissionDenied)
        );
        assert_eq!(check(Some("Bearer admin-token-012345678"), &[Role::Switch]), None);
        assert_eq!(
            Auth::default().require(&MetadataMap::new(), &[Role::Admin]).err().map(|e| e.code()),
            None
        );
    }
}
