//! `switchboard serve`: the gRPC and HTTP server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use switchboard_server::settings::{LimitOverrides, LogFormat, Overrides};
use switchboard_server::{LoadedConfig, Settings};

/// Serve the routing engine over gRPC (switches, agents, supervisors, admins) and HTTP
/// (metrics).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Contact-center configuration (TOML, with an optional `[server]` table); the built-in
    /// example when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// gRPC listen address [default 127.0.0.1:50051].
    #[arg(long)]
    pub grpc_addr: Option<SocketAddr>,
    /// HTTP listen address (metrics) [default 127.0.0.1:8080].
    #[arg(long)]
    pub http_addr: Option<SocketAddr>,
    /// SQLite file for call records [default switchboard-records.sqlite].
    #[arg(long)]
    pub records_db: Option<PathBuf>,
    /// Log format [default text]; the level comes from RUST_LOG (default info).
    #[arg(long, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// gRPC requests in flight before every request is refused with RESOURCE_EXHAUSTED
    /// [default 4096].
    #[arg(long)]
    pub max_concurrent_requests: Option<usize>,
    /// Of those, how many new calls, reads and admin requests may use; the rest is kept for
    /// events of calls already admitted [default 3072].
    #[arg(long)]
    pub max_concurrent_new_requests: Option<usize>,
    /// New calls (RouteCall) admitted per second; beyond it RESOURCE_EXHAUSTED [default 0: off].
    #[arg(long)]
    pub max_new_calls_per_s: Option<u32>,
    /// Server streams (WatchStats, WatchAgent, WatchAssignments) per client [default 16].
    #[arg(long)]
    pub max_streams_per_client: Option<usize>,
    /// Journal live state in this directory and recover it at start (agents, queued calls,
    /// reservations); off by default [server.journal.dir, SWITCHBOARD_JOURNAL__DIR].
    #[arg(long, value_name = "DIR")]
    pub journal: Option<PathBuf>,
    /// Also drive synthetic calls and agents through the gRPC API, so queues move.
    #[arg(long)]
    pub demo: bool,
    /// Demo: new calls per second.
    #[arg(long, default_value_t = 2.0, requires = "demo")]
    pub demo_calls_per_s: f64,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        grpc_addr: args.grpc_addr,
        http_addr: args.http_addr,
        records_db: args.records_db.clone(),
        journal: args
            .journal
            .clone()
            .map(|dir| switchboard_server::settings::JournalOverride { dir }),
        log_format: args.log_format.as_deref().map(|f| {
            if f == "json" {
                LogFormat::Json
            } else {
                LogFormat::Text
            }
        }),
        limits: LimitOverrides {
            max_concurrent_requests: args.max_concurrent_requests,
            max_concurrent_new_requests: args.max_concurrent_new_requests,
            max_new_calls_per_s: args.max_new_calls_per_s,
            max_streams_per_client: args.max_streams_per_client,
        },
    };
    let settings = Settings::load(args.config.as_deref(), &overrides)?;
    init_logging(settings.log_format);
    let config = LoadedConfig::load(args.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let grpc = tokio::net::TcpListener::bind(settings.grpc_addr).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {} (grpc_addr): {e}", settings.grpc_addr)
        })?;
        let http = tokio::net::TcpListener::bind(settings.http_addr).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {} (http_addr): {e}", settings.http_addr)
        })?;
        if args.demo {
            let target = grpc.local_addr()?;
            // The demo reads the configuration, logs agents in and routes calls: only the
            // admin role does all three.
            let token = settings.auth.admin_tokens.first().cloned();
            if settings.auth.enabled() && token.is_none() {
                anyhow::bail!(
                    "--demo needs an admin token when tokens are configured (server.auth.admin_tokens)"
                );
            }
            let demo = switchboard_server::demo::DemoOptions {
                calls_per_s: args.demo_calls_per_s,
                seed: 7,
                token,
            };
            tokio::spawn(async move {
                if let Err(e) = switchboard_server::demo::run(target, demo).await {
                    tracing::error!(error = %e, "demo traffic stopped");
                }
            });
        }
        switchboard_server::run(settings, config, grpc, http, shutdown_signal()).await
    })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
