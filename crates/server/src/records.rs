//! Call records (CDRs): one row per call with its whole lifecycle, written to SQLite off the
//! routing path in batches.
//!
//! The event pump finishes a record when a call's story ends and sends it here over a bounded
//! channel; a dedicated thread commits one transaction per batch (at most `batch_max` records
//! or `flush_ms` of waiting, whichever comes first), so a crash loses at most the last batch.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rusqlite::{params, Connection};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The schema; `user_version` tells later versions what they open.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    call_id        TEXT NOT NULL,
    switch_id      TEXT NOT NULL,
    caller         TEXT NOT NULL,
    dialed         TEXT NOT NULL,
    customer_id    TEXT,
    arrived_at_ms  INTEGER NOT NULL,
    plan_path      TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    queue          TEXT,
    offers         INTEGER NOT NULL,
    overflows      INTEGER NOT NULL,
    agent          TEXT,
    answered_at_ms INTEGER,
    ended_at_ms    INTEGER NOT NULL,
    wait_ms        INTEGER,
    talk_ms        INTEGER,
    wrap_ms        INTEGER
);
CREATE INDEX IF NOT EXISTS calls_arrived ON calls (arrived_at_ms);
CREATE UNIQUE INDEX IF NOT EXISTS calls_once ON calls (switch_id, call_id, arrived_at_ms);
PRAGMA user_version = 2;
";

/// How a call's story ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An agent answered and the call ended (handle time known).
    Answered,
    /// The caller hung up while waiting in a queue or while it rang.
    Abandoned,
    /// The caller hung up in the IVR, before any queue.
    AbandonedInIvr,
    /// The plan sent the call to voicemail.
    Voicemail,
    /// The plan or the switch transferred the call out.
    Transferred,
    /// The plan played an announcement and hung up.
    Announced,
    /// The plan hung up (closed, no route, wait limit without overflow).
    HungUp,
}

impl Outcome {
    /// Snake-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::AbandonedInIvr => "abandoned_in_ivr",
            Outcome::Voicemail => "voicemail",
            Outcome::Transferred => "transferred",
            Outcome::Announced => "announced",
            Outcome::HungUp => "hung_up",
        }
    }
}

/// One finished call. A call is identified by (switch, call id, arrival): writing the same
/// record twice (a replay after a crash) leaves one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Switch's call id.
    pub call_id: String,
    /// Switch that routed it.
    pub switch_id: String,
    /// Caller number.
    pub caller: String,
    /// Dialed number.
    pub dialed: String,
    /// Customer id, from the switch or the CRM lookup.
    pub customer_id: Option<String>,
    /// Arrival, Unix milliseconds.
    pub arrived_at_ms: i64,
    /// Plan nodes visited, `>`-separated.
    pub plan_path: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Last queue it waited in.
    pub queue: Option<String>,
    /// Offers made (re-offers after a reject or no answer count).
    pub offers: u32,
    /// Times it left a queue at its wait limit.
    pub overflows: u32,
    /// Agent who answered.
    pub agent: Option<String>,
    /// When the agent answered, Unix milliseconds.
    pub answered_at_ms: Option<i64>,
    /// When the story ended (end of wrap-up for answered calls), Unix milliseconds.
    pub ended_at_ms: i64,
    /// Time from arrival to answer or abandon, milliseconds.
    pub wait_ms: Option<i64>,
    /// Talk time, milliseconds.
    pub talk_ms: Option<i64>,
    /// After-call work, milliseconds.
    pub wrap_ms: Option<i64>,
}

/// The sending half: cheap to clone. Dropping every clone flushes and stops the writer.
#[derive(Clone, Debug)]
pub struct RecordSink {
    tx: Sender<(u64, CallRecord)>,
    committed: Arc<AtomicU64>,
}

impl RecordSink {
    /// Queues a record for writing. Blocks only when `capacity` records are already waiting,
    /// which slows the event pump (or the journal writer), never routing.
    pub fn send(&self, record: CallRecord) {
        self.send_journaled(0, record);
    }

    /// Queues a record finished by journal record `seq`; records must come in `seq` order.
    pub fn send_journaled(&self, seq: u64, record: CallRecord) {
        if self.tx.send((seq, record)).is_err() {
            tracing::error!("call record writer has stopped; record dropped");
        }
    }

    /// The highest journal sequence number whose record is committed to SQLite: records
    /// finished at or before it need not be replayed.
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }
}

/// The writer thread; join it to be sure every record is on disk.
#[derive(Debug)]
pub struct RecordWriter {
    handle: JoinHandle<()>,
}

impl RecordWriter {
    /// Waits until every record sent before the last [`RecordSink`] was dropped is committed.
    pub fn join(self) {
        if self.handle.join().is_err() {
            tracing::error!("call record writer panicked");
        }
    }
}

/// Opens (creating if needed) the database and starts the writer thread.
pub fn start(
    path: &Path,
    batch_max: usize,
    flush: Duration,
    capacity: usize,
) -> anyhow::Result<(RecordSink, RecordWriter)> {
    let conn = open(path)?;
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let committed = Arc::new(AtomicU64::new(0));
    let written = committed.clone();
    let handle = std::thread::Builder::new()
        .name("call-records".into())
        .spawn(move || write_loop(conn, rx, batch_max, flush, &written))?;
    Ok((RecordSink { tx, committed }, RecordWriter { handle }))
}

/// Opens the database with the schema in place.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open call records {}: {e}", path.display()))?;
    // WAL: readers (exports) do not block the writer; NORMAL sync is durable at each
    // checkpoint and loses at most the last transactions on power loss.
    conn.pragma_update(None, "journal_mode", "WAL").ok();
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn write_loop(
    mut conn: Connection,
    rx: Receiver<(u64, CallRecord)>,
    batch_max: usize,
    flush: Duration,
    committed: &AtomicU64,
) {
    let mut batch = Vec::with_capacity(batch_max);
    loop {
        let disconnected = match rx.recv_timeout(flush) {
            Ok(record) => {
                batch.push(record);
                batch.extend(rx.try_iter().take(batch_max - 1));
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if !batch.is_empty() {
            match insert(&mut conn, &batch) {
                Ok(()) => {
                    let last = batch.iter().map(|(seq, _)| *seq).max().unwrap_or(0);
                    committed.fetch_max(last, Ordering::AcqRel);
                }
                Err(e) => {
                    tracing::error!(error = %e, records = batch.len(), "cannot write call records")
                }
            }
            batch.clear();
        }
        if disconnected {
            return;
        }
    }
}

fn insert(conn: &mut Connection, records: &[(u64, CallRecord)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        // OR IGNORE: a record replayed from the journal after a crash may already be here.
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO calls VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?;
        for (_, r) in records {
            stmt.execute(params![
                r.call_id,
                r.switch_id,
                r.caller,
                r.dialed,
                r.customer_id,
                r.arrived_at_ms,
                r.plan_path,
                r.outcome.as_str(),
                r.queue,
                r.offers,
                r.overflows,
                r.agent,
                r.answered_at_ms,
                r.ended_at_ms,
                r.wait_ms,
                r.talk_ms,
                r.wrap_ms,
            ])?;
        }
    }
    tx.commit()
}

/// Writes the per-call CSV the forecasting commands read: `arrived_at` (RFC 3339, UTC),
/// `queue`, `wait_s`, `handle_s` (talk + wrap-up), `abandoned`, then the other record fields.
/// Calls that never reached a queue are included with an empty queue. Returns the row count.
pub fn export_csv(db: &Path, out: &mut dyn std::io::Write) -> anyhow::Result<u64> {
    if !db.exists() {
        anyhow::bail!("{}: no such call-record database", db.display());
    }
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", db.display()))?;
    let mut stmt = conn.prepare(
        "SELECT call_id, arrived_at_ms, queue, wait_ms, talk_ms, wrap_ms, outcome, agent, caller, dialed
         FROM calls ORDER BY arrived_at_ms, call_id",
    )?;
    writeln!(
        out,
        "arrived_at,queue,wait_s,handle_s,abandoned,call_id,outcome,agent,caller,dialed"
    )?;
    let mut rows = stmt.query([])?;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let call_id: String = row.get(0)?;
        let arrived_ms: i64 = row.get(1)?;
        let queue: Option<String> = row.get(2)?;
        let wait_ms: Option<i64> = row.get(3)?;
        let talk_ms: Option<i64> = row.get(4)?;
        let wrap_ms: Option<i64> = row.get(5)?;
        let outcome: String = row.get(6)?;
        let agent: Option<String> = row.get(7)?;
        let caller: String = row.get(8)?;
        let dialed: String = row.get(9)?;
        let arrived = chrono::DateTime::from_timestamp_millis(arrived_ms)
            .ok_or_else(|| anyhow::anyhow!("call {call_id}: arrival {arrived_ms} out of range"))?;
        let secs =
            |ms: Option<i64>| ms.map(|v| format!("{:.3}", v as f64 / 1000.0)).unwrap_or_default();
        let handle = match (talk_ms, wrap_ms) {
            (Some(t), w) => secs(Some(t + w.unwrap_or(0))),
            _ => String::new(),
        };
        let abandoned = outcome == "abandoned";
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            arrived.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            csv_field(queue.as_deref().unwrap_or("")),
            secs(wait_ms),
            handle,
            abandoned,
            csv_field(&call_id),
            outcome,
            csv_field(agent.as_deref().unwrap_or("")),
            csv_field(&caller),
            csv_field(&dialed),
        )?;
        count += 1;
    }
    Ok(count)
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, outcome: Outcome) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            switch_id: "sw1".into(),
            caller: "+331".into(),
            dialed: "+1800".into(),
            customer_id: None,
            arrived_at_ms: 1_795_000_000_000,
            plan_path: "menu>billing".into(),
            outcome,
            queue: Some("billing".into()),
            offers: 1,
            overflows: 0,
            agent: (outcome == Outcome::Answered).then(|| "ana".into()),
            answered_at_ms: None,
            ended_at_ms: 1_795_000_100_000,
            wait_ms: Some(12_500),
            talk_ms: (outcome == Outcome::Answered).then_some(60_000),
            wrap_ms: (outcome == Outcome::Answered).then_some(30_000),
        }
    }

    #[test]
    fn records_are_flushed_on_shutdown_and_exported() {
        let dir = std::env::temp_dir().join(format!("sb-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("calls.sqlite");
        let _ = std::fs::remove_file(&db);
        let (sink, writer) = start(&db, 2, Duration::from_secs(60), 16).unwrap();
        sink.send(record("c1", Outcome::Answered));
        sink.send(record("c,2", Outcome::Abandoned));
        sink.send(record("c3", Outcome::Voicemail));
        drop(sink);
        writer.join();
        let mut out = Vec::new();
        assert_eq!(export_csv(&db, &mut out).unwrap(), 3);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "arrived_at,queue,wait_s,handle_s,abandoned,call_id,outcome,agent,caller,dialed"
        );
        assert_eq!(
            lines[2],
            "2026-11-18T11:06:40.000Z,billing,12.500,90.000,false,c1,answered,ana,+331,+1800"
        );
        assert_eq!(
            lines[1],
            "2026-11-18T11:06:40.000Z,billing,12.500,,true,\"c,2\",abandoned,,+331,+1800"
        );
        assert_eq!(
            lines[3],
            "2026-11-18T11:06:40.000Z,billing,12.500,,false,c3,voicemail,,+331,+1800"
        );
    }

    #[test]
    fn exporting_a_missing_database_names_it() {
        let err = export_csv(Path::new("/nonexistent/x.sqlite"), &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "/nonexistent/x.sqlite: no such call-record database");
    }
}
