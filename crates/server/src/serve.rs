//! `run`: the whole server on two listeners until `shutdown` resolves, then a graceful drain.

use std::future::Future;
use std::time::Duration;

use switchboard_proto::v1 as pb;
use tokio::net::TcpListener;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::clock::Clock;
use crate::service::admin::AdminService;
use crate::service::agents::AgentsService;
use crate::service::router::RouterService;
use crate::service::supervisor::SupervisorService;
use crate::settings::Settings;
use crate::state::{LoadedConfig, Switchboard};

/// Longest pause of the timer loop, in milliseconds: bounds how late a timer can fire when
/// new deadlines appear while it sleeps.
const TIMER_MAX_SLEEP_MS: u64 = 20;

/// Serves gRPC on `grpc` and HTTP on `http` until `shutdown` resolves; then stops accepting,
/// lets in-flight RPCs finish, ends streams and flushes call records before returning.
/// `on_ready` gets the handle once everything is up (the demo uses it).
pub async fn run(
    settings: Settings,
    config: LoadedConfig,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with_clock(settings, config, grpc, http, shutdown, Clock::system()).await
}

/// [`run`] with the time read from `clock` (tests pass a manual clock to script exact waits).
pub async fn run_with_clock(
    settings: Settings,
    config: LoadedConfig,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: Clock,
) -> anyhow::Result<()> {
    let records = crate::records::start(
        &settings.records_db,
        settings.records_batch_max,
        Duration::from_millis(settings.records_flush_ms),
        65_536,
    )?;
    let (board, background) = Switchboard::start(config, &settings, records, clock)?;
    let grpc_addr = grpc.local_addr()?;
    let http_addr = http.local_addr()?;

    let timers = tokio::spawn(timer_loop(board.clone()));
    let stats =
        tokio::spawn(stats_loop(board.clone(), Duration::from_millis(settings.stats_refresh_ms)));

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<pb::router_server::RouterServer<RouterService>>().await;
    health_reporter.set_serving::<pb::agents_server::AgentsServer<AgentsService>>().await;
    health_reporter
        .set_serving::<pb::supervisor_server::SupervisorServer<SupervisorService>>()
        .await;
    health_reporter.set_serving::<pb::admin_server::AdminServer<AdminService>>().await;
    // Both reflection versions: grpcurl and evans releases before 2023 only speak v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(switchboard_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder().build_v1()?;
    let reflection_v1alpha = reflection_builder().build_v1alpha()?;

    let limits = &settings.limits;
    let mut builder = Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams_per_connection)
        .http2_max_header_list_size(limits.max_header_list_bytes);
    if let Some(tls) = &settings.tls {
        let cert = std::fs::read(&tls.cert).map_err(|e| {
            anyhow::anyhow!("server.tls.cert: cannot read {}: {e}", tls.cert.display())
        })?;
        let key = std::fs::read(&tls.key).map_err(|e| {
            anyhow::anyhow!("server.tls.key: cannot read {}: {e}", tls.key.display())
        })?;
        builder =
            builder.tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))?;
    }

    // One shutdown signal fans out to both servers and the streams.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_board = board.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        stop_board.close();
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let http_server = axum::serve(http, crate::http::routes(board.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let http_task = tokio::spawn(async move { http_server.await });

    // No Nagle: a response that does not fit one segment otherwise waits for the client's
    // delayed ACK (40 ms per RPC on Linux).
    let incoming = tonic::transport::server::TcpIncoming::from(grpc).with_nodelay(Some(true));
    tracing::info!(%grpc_addr, %http_addr, tls = settings.tls.is_some(), auth = settings.auth.enabled(), "switchboard serving");
    let (max_in, max_out) = (limits.max_request_bytes, limits.max_response_bytes);
    builder
        .layer(crate::intake::IntakeLayer::new(max_in))
        .layer(crate::limits::AdmissionLayer::new(board.admission().clone()))
        .layer(crate::journal::layer::DurableLayer::new(board.journal_handle()))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(
            pb::router_server::RouterServer::new(RouterService::new(board.clone()))
                .max_decoding_message_size(max_in)
                .max_encoding_message_size(max_out),
        )
        .add_service(
            pb::agents_server::AgentsServer::new(AgentsService::new(board.clone()))
                .max_decoding_message_size(max_in)
                .max_encoding_message_size(max_out),
        )
        .add_service(
            pb::supervisor_server::SupervisorServer::new(SupervisorService::new(board.clone()))
                .max_decoding_message_size(max_in)
                .max_encoding_message_size(max_out),
        )
        .add_service(
            pb::admin_server::AdminServer::new(AdminService::new(board.clone()))
                .max_decoding_message_size(max_in)
                .max_encoding_message_size(max_out),
        )
        .serve_with_incoming_shutdown(incoming, stopped(stop_rx))
        .await?;

    timers.abort();
    stats.abort();
    let _ = http_task.await;
    board.stop_pump();
    drop(board);
    tokio::task::spawn_blocking(move || background.join()).await?;
    tracing::info!("call records flushed; bye");
    Ok(())
}

/// Fires engine timers (offer and wrap-up deadlines, queue wait limits, escalations).
async fn timer_loop(board: Switchboard) {
    loop {
        let router = board.router();
        let sleep_ms = router
            .engine()
            .next_deadline()
            .map(|d| d.as_millis().saturating_sub(board.now().as_millis()))
            .unwrap_or(TIMER_MAX_SLEEP_MS)
            .clamp(1, TIMER_MAX_SLEEP_MS);
        drop(router);
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
        board.tick();
    }
}

/// Refreshes the statistics snapshot when something changed, and at least every second so
/// waits keep counting up on the boards.
async fn stats_loop(board: Switchboard, every: Duration) {
    let mut seen = u64::MAX;
    let mut idle = Duration::ZERO;
    loop {
        tokio::time::sleep(every).await;
        let version = board.stats_version();
        idle += every;
        if version != seen || idle >= Duration::from_secs(1) {
            seen = version;
            idle = Duration::ZERO;
            // Tens of milliseconds with tens of thousands of agents: off the RPC workers.
            let board = board.clone();
            let _ = tokio::task::spawn_blocking(move || board.refresh_snapshot()).await;
        }
    }
}
