//! Server settings, layered: built-in defaults, the `[server]` table of the configuration file,
//! `SWITCHBOARD_*` environment variables, then command-line flags; validated last.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use crate::limits::LimitSettings;

/// How the server listens, authenticates and stores call records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// gRPC listen address. Loopback by default: exposing it is a decision.
    pub grpc_addr: SocketAddr,
    /// HTTP listen address (metrics, wallboard).
    pub http_addr: SocketAddr,
    /// SQLite file for call records; `:memory:` keeps them in memory only.
    pub records_db: PathBuf,
    /// Call records written per transaction at most.
    pub records_batch_max: usize,
    /// Longest a finished call record waits before it is written, in milliseconds: a crash
    /// loses at most this much.
    pub records_flush_ms: u64,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Bearer tokens per role; no tokens at all disables authentication (loopback use).
    pub auth: AuthSettings,
    /// TLS with rustls; off when absent.
    pub tls: Option<TlsSettings>,
    /// How often the stats stream and metrics are refreshed, in milliseconds.
    pub stats_refresh_ms: u64,
    /// The wallboard page.
    pub wallboard: WallboardSettings,
    /// Calls the server holds at once (in a plan, queued, ringing or connected); RouteCall
    /// answers RESOURCE_EXHAUSTED beyond it, so a flood cannot exhaust memory.
    pub max_calls_in_flight: usize,
    /// Every other resource bound: request concurrency, streams per client, message sizes,
    /// HTTP/2 limits, stream buffers (`[server.limits]`).
    pub limits: LimitSettings,
    /// The journal of live state (`[server.journal]`); off without `dir`.
    pub journal: crate::journal::JournalSettings,
}

/// Wallboard colours and history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WallboardSettings {
    /// Service level the center aims for (answered within the queue's threshold / answered),
    /// 0 to 1; tiles turn amber below it and red below it minus `amber_margin`.
    pub service_level_target: f64,
    /// Width of the amber band under the target, 0 to 1.
    pub amber_margin: f64,
    /// How much history the chart shows, in minutes.
    pub history_minutes: u32,
}

impl Default for WallboardSettings {
    fn default() -> Self {
        WallboardSettings { service_level_target: 0.8, amber_margin: 0.05, history_minutes: 240 }
    }
}

impl Eq for WallboardSettings {}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Bearer tokens, per role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Telephony switches: route calls and report their events, drive agent state.
    pub switch_tokens: Vec<String>,
    /// Supervisors and wallboards: read statistics and agents only.
    pub supervisor_tokens: Vec<String>,
    /// Administrators: everything, including agents and configuration.
    pub admin_tokens: Vec<String>,
}

impl AuthSettings {
    /// Whether any token is configured (authentication on).
    pub fn enabled(&self) -> bool {
        !(self.switch_tokens.is_empty()
            && self.supervisor_tokens.is_empty()
            && self.admin_tokens.is_empty())
    }
}

/// Certificate and key files (PEM).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            records_db: PathBuf::from("switchboard-records.sqlite"),
            records_batch_max: 512,
            records_flush_ms: 200,
            log_format: LogFormat::Text,
            auth: AuthSettings::default(),
            tls: None,
            stats_refresh_ms: 250,
            wallboard: WallboardSettings::default(),
            max_calls_in_flight: 100_000,
            limits: LimitSettings::default(),
            journal: crate::journal::JournalSettings::default(),
        }
    }
}

/// Command-line overrides; `None` leaves the lower layers' value.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    /// `--grpc-addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_addr: Option<SocketAddr>,
    /// `--http-addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_addr: Option<SocketAddr>,
    /// `--records-db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_db: Option<PathBuf>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// `--max-concurrent-requests` and friends.
    pub limits: LimitOverrides,
    /// `--journal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalOverride>,
}

/// Command-line overrides of `[server.limits]`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LimitOverrides {
    /// `--max-concurrent-requests`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_requests: Option<usize>,
    /// `--max-concurrent-new-requests`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_new_requests: Option<usize>,
    /// `--max-new-calls-per-s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_new_calls_per_s: Option<u32>,
    /// `--max-streams-per-client`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_streams_per_client: Option<usize>,
}

/// `--journal DIR`, as the nested `journal.dir` key.
#[derive(Clone, Debug, Serialize)]
pub struct JournalOverride {
    /// The directory.
    pub dir: PathBuf,
}

impl Settings {
    /// Layers defaults, the `[server]` table of `file` (if any), `SWITCHBOARD_*` variables
    /// (nested keys with `__`, e.g. `SWITCHBOARD_AUTH__ADMIN_TOKENS=[a,b]`) and `overrides`,
    /// then validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            figment = figment.merge(Figment::from(Toml::file_exact(path)).focus("server"));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("SWITCHBOARD_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| anyhow::anyhow!("server settings: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.records_batch_max == 0 {
            anyhow::bail!("server.records_batch_max: must be at least 1");
        }
        if !(1..=60_000).contains(&self.records_flush_ms) {
            anyhow::bail!("server.records_flush_ms: must be 1 to 60000");
        }
        if !(10..=1_000).contains(&self.stats_refresh_ms) {
            anyhow::bail!("server.stats_refresh_ms: must be 10 to 1000 (stats within a second)");
        }
        if !(1..=10_000_000).contains(&self.max_calls_in_flight) {
            anyhow::bail!("server.max_calls_in_flight: must be 1 to 10000000");
        }
        self.limits.validate()?;
        let j = &self.journal;
        if !(1..=10_000).contains(&j.batch_ms) {
            anyhow::bail!("server.journal.batch_ms: must be 1 to 10000");
        }
        if j.snapshot_every == 0 {
            anyhow::bail!("server.journal.snapshot_every: must be at least 1");
        }
        if j.max_pending_bytes < 65_536 {
            anyhow::bail!("server.journal.max_pending_bytes: must be at least 65536");
        }
        let w = &self.wallboard;
        if !(0.0..=1.0).contains(&w.service_level_target) {
            anyhow::bail!("server.wallboard.service_level_target: must be 0 to 1");
        }
        if !(0.0..=1.0).contains(&w.amber_margin) {
            anyhow::bail!("server.wallboard.amber_margin: must be 0 to 1");
        }
        if !(1..=24 * 60).contains(&w.history_minutes) {
            anyhow::bail!("server.wallboard.history_minutes: must be 1 to 1440");
        }
        let auth = &self.auth;
        for (role, tokens) in [
            ("switch_tokens", &auth.switch_tokens),
            ("supervisor_tokens", &auth.supervisor_tokens),
            ("admin_tokens", &auth.admin_tokens),
        ] {
            if let Some(bad) =
                tokens.iter().position(|t| t.len() < 16 || t.contains(char::is_whitespace))
            {
                anyhow::bail!(
                    "server.auth.{role}[{bad}]: tokens must be at least 16 characters without spaces"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
// figment's Jail API returns its large error type; nothing to box in a test.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_env_and_flags_layer_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "center.toml",
                "[server]\ngrpc_addr = \"127.0.0.1:6000\"\nhttp_addr = \"127.0.0.1:6001\"\nrecords_db = \"file.db\"\n",
            )?;
            jail.set_env("SWITCHBOARD_HTTP_ADDR", "127.0.0.1:7001");
            jail.set_env("SWITCHBOARD_RECORDS_DB", "env.db");
            let overrides =
                Overrides { records_db: Some("flag.db".into()), ..Overrides::default() };
            let s = Settings::load(Some(Path::new("center.toml")), &overrides).unwrap();
            assert_eq!(s.grpc_addr.port(), 6000, "file beats default");
            assert_eq!(s.http_addr.port(), 7001, "env beats file");
            assert_eq!(s.records_db, PathBuf::from("flag.db"), "flag beats env");
            Ok(())
        });
    }

    #[test]
    fn limits_layer_and_validate() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[server.limits]\nmax_streams_per_client = 3\nmax_concurrent_requests = 100\nmax_concurrent_new_requests = 50\n",
            )?;
            jail.set_env("SWITCHBOARD_LIMITS__MAX_STREAMS_PER_CLIENT", "4");
            let overrides = Overrides {
                limits: LimitOverrides {
                    max_concurrent_new_requests: Some(60),
                    ..LimitOverrides::default()
                },
                ..Overrides::default()
            };
            let s = Settings::load(Some(Path::new("c.toml")), &overrides).unwrap();
            assert_eq!(s.limits.max_concurrent_requests, 100, "file beats default");
            assert_eq!(s.limits.max_streams_per_client, 4, "env beats file");
            assert_eq!(s.limits.max_concurrent_new_requests, 60, "flag beats file");
            assert_eq!(s.limits.max_request_bytes, 4 * 1024 * 1024, "default kept");
            jail.create_file("d.toml", "[server.limits]\nmax_concurrent_new_requests = 200\nmax_concurrent_requests = 100\n")?;
            let err = Settings::load(Some(Path::new("d.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("server.limits.max_concurrent_new_requests: must be 1 to 100"),
                "{err}"
            );
            jail.create_file("e.toml", "[server.limits]\nmax_streams = 2\n")?;
            let err = Settings::load(Some(Path::new("e.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("max_streams"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_field() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("a.toml", "[server.auth]\nadmin_tokens = [\"short\"]\n")?;
            let err = Settings::load(Some(Path::new("a.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("server.auth.admin_tokens[0]"), "{err}");
            jail.create_file("b.toml", "[server]\ngrpc_adr = \"x\"\n")?;
            let err = Settings::load(Some(Path::new("b.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("grpc_adr"), "{err}");
            Ok(())
        });
    }
}
