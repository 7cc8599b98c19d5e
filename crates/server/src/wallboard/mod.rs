//! The supervisor wallboard: a page served by `switchboard serve` at `/`, fed by the same
//! statistics snapshots as the Supervisor gRPC stream, pushed with server-sent events.
//!
//! The page and its script ship inside the binary (no CDN, no Node toolchain); it is read-only
//! and, when tokens are configured, needs a supervisor (or admin) token.

mod history;
mod view;

pub use history::{History, HistoryPoint};
pub use view::{board_view, AgentRow, BoardView, QueueTile, TileStatus};

/// The page.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its script.
pub const APP_JS: &str = include_str!("assets/app.js");
/// Its style sheet.
pub const STYLE_CSS: &str = include_str!("assets/style.css");
