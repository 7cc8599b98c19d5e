//! The HTTP side: the wallboard (`/`, its assets, `/api/board`, `/api/history`, `/events`),
//! Prometheus metrics at `/metrics` and a liveness probe at `/healthz`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::{Stream, StreamExt};

use crate::auth::Role;
use crate::state::Switchboard;
use crate::wallboard;

/// The HTTP routes.
pub fn routes(board: Switchboard) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", wallboard::APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", wallboard::STYLE_CSS) }),
        )
        .route("/api/board", get(api_board))
        .route("/api/history", get(api_history))
        .route("/events", get(events))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(board)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    // The page may carry `?token=` in its address: never send it on as a referrer.
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", wallboard::INDEX_HTML)
}

/// `?token=` for pages (EventSource cannot send headers); `Authorization: Bearer` otherwise.
#[derive(Debug, Default, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn authorize(
    board: &Switchboard,
    headers: &HeaderMap,
    query: &TokenQuery,
) -> Result<(), (StatusCode, String)> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = bearer.or(query.token.as_deref());
    board.auth().require_token(token, &[Role::Supervisor]).map_err(|e| {
        let status = match e.code() {
            tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        };
        (status, format!("{e}\n"))
    })
}

fn current_view(board: &Switchboard) -> wallboard::BoardView {
    wallboard::board_view(&board.snapshots().borrow(), board.wallboard())
}

async fn api_board(
    State(board): State<Switchboard>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Response {
    if let Err(denied) = authorize(&board, &headers, &query) {
        return denied.into_response();
    }
    Json(current_view(&board)).into_response()
}

async fn api_history(
    State(board): State<Switchboard>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Response {
    if let Err(denied) = authorize(&board, &headers, &query) {
        return denied.into_response();
    }
    Json(board.history()).into_response()
}

async fn events(
    State(board): State<Switchboard>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Response {
    if let Err(denied) = authorize(&board, &headers, &query) {
        return denied.into_response();
    }
    Sse::new(board_events(board))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// One `board` event per statistics snapshot (the latest only: a slow page skips stale ones).
fn board_events(board: Switchboard) -> impl Stream<Item = Result<Event, Infallible>> {
    let settings = board.wallboard().clone();
    let stream = WatchStream::new(board.snapshots()).map(move |snapshot| {
        let view = wallboard::board_view(&snapshot, &settings);
        let json = serde_json::to_string(&view).unwrap_or_else(|_| "{}".to_string());
        Ok(Event::default().event("board").data(json))
    });
    futures_util::StreamExt::take_until(stream, board.closing())
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
