//! The HTTP side: Prometheus metrics at `/metrics` and a liveness probe at `/healthz`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::Switchboard;

/// The HTTP routes.
pub fn routes(board: Switchboard) -> Router {
    Router::new().route("/metrics", get(metrics)).route("/healthz", get(healthz)).with_state(board)
}

async fn metrics(State(board): State<Switchboard>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        board.metrics().encode(),
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}
