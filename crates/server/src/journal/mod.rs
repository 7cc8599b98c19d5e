//! The journal: every state-changing event, on local disk before the RPC that caused it is
//! answered, with periodic snapshots, so a restarted server carries on where the last one
//! stopped (agents in their states, calls in line with their waits).
//!
//! - [`format`]: frames (length, CRC32, sequence number, payload) and torn-tail detection.
//! - [`Journal`]: the writer. Appending is a few hundred nanoseconds under one mutex (the
//!   payload is encoded before it); one writer thread does the IO with group commit: every
//!   record appended while it wrote or synced goes out in the next single `write` and
//!   `fdatasync`. It also folds every record it writes into a [`LiveState`] and, every
//!   `snapshot_every` records, writes that state as a snapshot and deletes older segments,
//!   so recovery reads at most one snapshot interval of log.
//! - [`recover`]: the latest snapshot plus the records after it, folded; a torn tail is cut
//!   off with a warning, damage in the middle is an error naming file and offset.
//! - [`layer`]: the tower layer that answers an RPC only once what it changed is durable,
//!   and refuses new work while the journal is failed or too far behind.
//!
//! Payloads are JSON (serde): self-describing, so a journal written by an older build stays
//! readable when an event gains a field.

pub mod format;
pub mod layer;
pub mod recover;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};
use switchboard_routing::{AgentId, AgentProfile, Event, LiveState, QueueId, SessionChange};

pub use recover::{recover, recover_with, Recovered};

/// What a journal record says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// Something the engine did.
    Event(Event),
    /// An agent profile created or changed through the API.
    AgentUpserted(AgentProfile),
    /// An agent deleted through the API.
    AgentRemoved(AgentId),
    /// A routing plan's state changed: a call's plan session (where it goes if it times out of
    /// its queue, the IVR node it waits in) or a customer's last agent.
    Session(SessionChange),
    /// A configuration was loaded (at start or by a reload): its generation and text hash.
    Config {
        /// Configurations loaded since the server started.
        generation: u64,
        /// FNV-1a of the TOML text.
        hash: u64,
    },
    /// What the switch said about a call that the engine does not report (arrival, plan
    /// decisions, IVR hang-ups, transfers): with the events, what call records derive from.
    Call(crate::cdr::CallFact),
}

/// A snapshot: the folded state after record `seq`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last record folded in.
    pub seq: u64,
    /// The state then.
    pub state: LiveState,
    /// The last configuration record seen: (generation, hash).
    pub config: Option<(u64, u64)>,
    /// Call records not finished yet.
    #[serde(default)]
    pub calls: crate::cdr::CallFold,
    /// Call statistics and agent time of the last two days, for today's statistics.
    #[serde(default)]
    pub tally: crate::cdr::Tally,
    /// Finished call records, with the record that finished them, not known to be in SQLite
    /// yet (the writer drops those it has committed at each snapshot).
    #[serde(default)]
    pub unwritten: Vec<(u64, crate::records::CallRecord)>,
}

/// An agent's member queues now, for the tally's agent time (`None`: unknown).
pub type Members = dyn Fn(&AgentId) -> Option<Vec<QueueId>> + Send + Sync;

/// An agent's member queues given the state folded so far (its profile may have changed
/// through the API), for the tally's agent time (`None`: unknown).
pub type MembersIn<'a> = dyn Fn(&AgentId, &LiveState) -> Option<Vec<QueueId>> + 'a;

impl Snapshot {
    /// Drops the open call records of calls the state holds neither in a queue nor in a plan
    /// session (in the IVR, queued, or leaving a queue its plan will place it after): they
    /// can never end. Calls in wrap-up stay until the agent leaves it.
    pub fn drop_records_of_lost_calls(&mut self) {
        let live = &self.state;
        let held: std::collections::BTreeSet<_> =
            live.calls.keys().chain(live.sessions.keys()).cloned().collect();
        self.calls.retain(|call| held.contains(call));
    }

    /// Folds one record in, with agents' memberships unknown (an agent's time counts in the
    /// queues of its last state).
    pub fn apply(&mut self, seq: u64, record: &Record) {
        self.apply_with(seq, record, &|_, _| None);
    }

    /// Folds one record in; `members` gives an agent's member queues for its agent time.
    pub fn apply_with(&mut self, seq: u64, record: &Record, members: &MembersIn<'_>) {
        self.seq = seq;
        let folded = match record {
            Record::Event(event) => {
                self.state.apply(event);
                if let Event::AgentStateChanged { agent, state, at, .. } = event {
                    let at_ms = i64::try_from(at.as_millis()).unwrap_or(i64::MAX);
                    let queues = members(agent, &self.state);
                    self.tally.agent_changed(agent, state.kind(), at_ms, queues);
                } else {
                    let at = crate::cdr::event_time(event).as_millis();
                    self.tally.saw(i64::try_from(at).unwrap_or(i64::MAX));
                }
                self.calls.event(event)
            }
            Record::Call(fact) => self.calls.fact(fact),
            Record::AgentUpserted(profile) => {
                self.state.upsert_profile(profile.clone());
                return;
            }
            Record::AgentRemoved(agent) => {
                self.state.remove_agent(agent);
                self.tally.agent_removed(agent);
                return;
            }
            Record::Config { generation, hash } => {
                self.config = Some((*generation, *hash));
                return;
            }
            Record::Session(change) => {
                self.state.apply_session(change);
                return;
            }
        };
        if let Some(stat) = &folded.stat {
            self.tally.add(stat);
        }
        if let Some(record) = folded.record {
            self.unwritten.push((seq, record));
        }
    }
}

/// When an appended record counts as durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPolicy {
    /// After `fdatasync`: survives a power loss. Concurrent RPCs share one sync (group commit).
    Always,
    /// After `write` to the operating system: survives a crash of the process (kill -9), and
    /// `fdatasync` runs every `batch_ms`, so a power loss loses at most that much.
    Batch,
}

/// The `[journal]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSettings {
    /// Directory of segments and snapshots; the journal is off when absent.
    pub dir: Option<PathBuf>,
    /// When a record is durable.
    pub sync: SyncPolicy,
    /// With `sync = "batch"`: longest time between two `fdatasync`s, in milliseconds.
    pub batch_ms: u64,
    /// A snapshot after this many records (restart reads at most this many).
    pub snapshot_every: u64,
    /// Encoded records waiting for the writer beyond which the server refuses new work with
    /// UNAVAILABLE instead of growing memory.
    pub max_pending_bytes: usize,
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings {
            dir: None,
            sync: SyncPolicy::Always,
            batch_ms: 10,
            snapshot_every: 100_000,
            max_pending_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// File-system trouble.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A record that is not a torn tail cannot be read.
    #[error("{path}: offset {offset}: {reason}")]
    Corrupt {
        /// The segment or snapshot.
        path: PathBuf,
        /// Where the bad record starts.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

impl JournalError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> JournalError {
        JournalError::Io { path: path.to_path_buf(), source }
    }
}

/// FNV-1a, for configuration hashes (stable across builds, unlike `DefaultHasher`).
pub fn text_hash(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// File name of the segment whose first record is `seq`.
pub fn segment_name(seq: u64) -> String {
    format!("{seq:020}.wal")
}

/// File name of the snapshot taken after record `seq`.
pub fn snapshot_name(seq: u64) -> String {
    format!("{seq:020}.snapshot")
}

type AfterDurable = Box<dyn FnOnce() + Send>;

struct Pending {
    /// Encoded frames not yet handed to the writer.
    bytes: Vec<u8>,
    /// The same records, to fold into the snapshot state.
    records: Vec<(u64, Record)>,
    /// Actions to run once a sequence number is durable, in order.
    after: Vec<(u64, AfterDurable)>,
    /// Next sequence number.
    next_seq: u64,
    /// Set at shutdown: the writer drains and stops.
    closing: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Highest sequence number appended.
    appended: AtomicU64,
    /// Highest durable sequence number.
    durable: tokio::sync::watch::Sender<u64>,
    failed: AtomicBool,
    pending_bytes: AtomicUsize,
    settings: JournalSettings,
    dir: PathBuf,
    /// Agents' member queues, for the tally's agent time; set once the engine exists.
    members: std::sync::OnceLock<Box<Members>>,
    /// Records written and fsyncs done, for benchmarks and metrics.
    writes: AtomicU64,
    syncs: AtomicU64,
}

/// The journal writer handle. Cloning is cheap.
#[derive(Clone)]
pub struct Journal {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("dir", &self.shared.dir).finish()
    }
}

/// Joins the writer thread at shutdown.
pub struct JournalWriter {
    journal: Journal,
    thread: std::thread::JoinHandle<()>,
}

impl JournalWriter {
    /// Writes and syncs everything appended so far, then stops the writer.
    pub fn join(self) {
        self.journal.shared.pending.lock().closing = true;
        self.journal.shared.wake.notify_all();
        if self.thread.join().is_err() {
            tracing::error!("journal writer panicked");
        }
    }
}

impl Journal {
    /// Opens the journal in `dir` after recovery: writes `base` as a snapshot (so the new
    /// segment starts from a known state and older files can go) and starts the writer.
    pub fn open(
        settings: JournalSettings,
        dir: &Path,
        base: Snapshot,
    ) -> Result<(Journal, JournalWriter), JournalError> {
        Journal::open_with_records(settings, dir, base, None)
    }

    /// [`Journal::open`], and the writer sends every call record the journaled records
    /// finish to `records` once they are durable (so a record is never written for a call
    /// a crash could take back), in journal order.
    pub fn open_with_records(
        settings: JournalSettings,
        dir: &Path,
        mut base: Snapshot,
        records: Option<crate::records::RecordSink>,
    ) -> Result<(Journal, JournalWriter), JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, e))?;
        let next_seq = base.seq + 1;
        base.state.prune_last_agents();
        write_snapshot(dir, &base)?;
        let segment_path = dir.join(segment_name(next_seq));
        let segment = open_segment(&segment_path)?;
        remove_older(dir, base.seq);
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                bytes: Vec::new(),
                records: Vec::new(),
                after: Vec::new(),
                next_seq,
                closing: false,
            }),
            wake: Condvar::new(),
            appended: AtomicU64::new(base.seq),
            durable: tokio::sync::watch::channel(base.seq).0,
            failed: AtomicBool::new(false),
            pending_bytes: AtomicUsize::new(0),
            settings,
            dir: dir.to_path_buf(),
            members: std::sync::OnceLock::new(),
            writes: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        });
        let journal = Journal { shared };
        let writer = journal.clone();
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(segment, segment_path, base, records))
            .map_err(|e| JournalError::io(dir, e))?;
        Ok((journal.clone(), JournalWriter { journal, thread }))
    }

    /// Appends a record; returns its sequence number. Never blocks on IO.
    pub fn append(&self, record: Record) -> u64 {
        let payload = match serde_json::to_vec(&record) {
            Ok(p) => p,
            Err(e) => {
                // Every record type serializes; this would be a bug, not bad input.
                tracing::error!(error = %e, "journal record cannot be encoded");
                self.fail();
                return self.appended();
            }
        };
        let mut pending = self.shared.pending.lock();
        let seq = pending.next_seq;
        pending.next_seq += 1;
        format::encode_frame(seq, &payload, &mut pending.bytes);
        pending.records.push((seq, record));
        self.shared
            .pending_bytes
            .fetch_add(payload.len() + format::HEADER_BYTES, Ordering::Relaxed);
        self.shared.appended.store(seq, Ordering::Release);
        drop(pending);
        self.shared.wake.notify_one();
        seq
    }

    /// Tells the writer where agents' member queues come from (the engine), so the tally
    /// credits agent time to the queues the live statistics credit it to. Set once; until
    /// then an agent's time counts in the queues of its previous state.
    pub fn set_members(
        &self,
        members: impl Fn(&AgentId) -> Option<Vec<QueueId>> + Send + Sync + 'static,
    ) {
        if self.shared.members.set(Box::new(members)).is_err() {
            tracing::warn!("journal memberships already set");
        }
    }

    /// Runs `action` once `seq` is durable (at once if it is).
    pub fn after_durable(&self, seq: u64, action: impl FnOnce() + Send + 'static) {
        if self.durable() >= seq {
            action();
            return;
        }
        let mut pending = self.shared.pending.lock();
        // Checked again under the lock: the writer runs actions under it too.
        if self.durable() >= seq {
            drop(pending);
            action();
        } else {
            pending.after.push((seq, Box::new(action)));
        }
    }

    /// Highest sequence number appended.
    pub fn appended(&self) -> u64 {
        self.shared.appended.load(Ordering::Acquire)
    }

    /// Highest durable sequence number.
    pub fn durable(&self) -> u64 {
        *self.shared.durable.borrow()
    }

    /// Whether a write or sync failed: nothing is acknowledged any more.
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// Whether more encoded bytes wait for the writer than `max_pending_bytes`.
    pub fn overloaded(&self) -> bool {
        self.shared.pending_bytes.load(Ordering::Relaxed) > self.shared.settings.max_pending_bytes
    }

    /// Records written and syncs done since start.
    pub fn io_counts(&self) -> (u64, u64) {
        (self.shared.writes.load(Ordering::Relaxed), self.shared.syncs.load(Ordering::Relaxed))
    }

    /// Waits (without blocking a thread) until `seq` is durable; `false` if the journal failed.
    pub async fn wait_durable(&self, seq: u64) -> bool {
        if self.durable() >= seq {
            return true;
        }
        let mut rx = self.shared.durable.subscribe();
        let failed = || self.failed();
        let ok = rx.wait_for(|d| *d >= seq || failed()).await.is_ok();
        ok && !self.failed() && self.durable() >= seq
    }

    /// Waits (blocking) until `seq` is durable, for tests and shutdown; `false` on failure or
    /// after `timeout`.
    pub fn wait_durable_blocking(&self, seq: u64, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while self.durable() < seq {
            if self.failed() || Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    fn fail(&self) {
        self.shared.failed.store(true, Ordering::Release);
        // Wake async waiters so they see the failure.
        self.shared.durable.send_modify(|_| {});
    }

    /// The writer thread: write what was appended, sync per the policy, publish durability,
    /// fold into the snapshot state and snapshot every `snapshot_every` records.
    fn run(
        self,
        mut segment: File,
        mut segment_path: PathBuf,
        mut state: Snapshot,
        records_sink: Option<crate::records::RecordSink>,
    ) {
        let settings = self.shared.settings.clone();
        let batch = Duration::from_millis(settings.batch_ms.max(1));
        let mut last_sync = Instant::now();
        let mut dirty = false;
        let mut since_snapshot = 0u64;
        loop {
            let (bytes, records, closing) = {
                let mut pending = self.shared.pending.lock();
                if pending.bytes.is_empty() && !pending.closing {
                    let wait = match settings.sync {
                        SyncPolicy::Batch if dirty => batch.saturating_sub(last_sync.elapsed()),
                        _ => Duration::from_secs(1),
                    };
                    self.shared.wake.wait_for(&mut pending, wait);
                }
                (
                    std::mem::take(&mut pending.bytes),
                    std::mem::take(&mut pending.records),
                    pending.closing,
                )
            };
            if self.failed() {
                if closing {
                    return;
                }
                continue;
            }
            if !bytes.is_empty() {
                if let Err(e) = segment.write_all(&bytes) {
                    tracing::error!(path = %segment_path.display(), error = %e, "journal write failed; refusing new work");
                    self.fail();
                    continue;
                }
                self.shared.writes.fetch_add(1, Ordering::Relaxed);
                self.shared.pending_bytes.fetch_sub(bytes.len(), Ordering::Relaxed);
                dirty = true;
            }
            let must_sync = dirty
                && (settings.sync == SyncPolicy::Always || closing || last_sync.elapsed() >= batch);
            if must_sync {
                if let Err(e) = segment.sync_data() {
                    tracing::error!(path = %segment_path.display(), error = %e, "journal sync failed; refusing new work");
                    self.fail();
                    continue;
                }
                self.shared.syncs.fetch_add(1, Ordering::Relaxed);
                last_sync = Instant::now();
                dirty = false;
            }
            if let Some((last, _)) = records.last() {
                let last = *last;
                since_snapshot += records.len() as u64;
                let finished_before = state.unwritten.len();
                let members = |agent: &AgentId, _: &LiveState| {
                    self.shared.members.get().and_then(|m| m(agent))
                };
                for (seq, record) in &records {
                    state.apply_with(*seq, record, &members);
                }
                // Batch: written to the OS is durable against a process crash.
                self.publish_durable(last);
                match &records_sink {
                    Some(sink) => {
                        for (seq, record) in &state.unwritten[finished_before..] {
                            sink.send_journaled(*seq, record.clone());
                        }
                    }
                    None => state.unwritten.clear(),
                }
            }
            if since_snapshot >= settings.snapshot_every && !closing {
                // Records SQLite has committed need no replay; the rest ride in the snapshot.
                if let Some(sink) = &records_sink {
                    let committed = sink.committed();
                    state.unwritten.retain(|(seq, _)| *seq > committed);
                }
                // The fold only records the router's pruning bound (a scan per expiry would
                // hold up acknowledgements); the snapshot, which writes every entry anyway,
                // drops the expired ones, so it holds only customers within the lookback.
                state.state.prune_last_agents();
                match self.rotate(&mut segment, &state) {
                    Ok(path) => {
                        segment_path = path;
                        since_snapshot = 0;
                        dirty = false;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "journal snapshot failed; refusing new work");
                        self.fail();
                        continue;
                    }
                }
            }
            if closing && self.shared.pending.lock().bytes.is_empty() {
                return;
            }
        }
    }

    fn publish_durable(&self, seq: u64) {
        let ready: Vec<AfterDurable> = {
            let mut pending = self.shared.pending.lock();
            self.shared.durable.send_replace(seq);
            let split = pending.after.partition_point(|(s, _)| *s <= seq);
            pending.after.drain(..split).map(|(_, action)| action).collect()
        };
        for action in ready {
            action();
        }
    }

    /// Syncs the segment, writes a snapshot of `state`, starts a new segment and deletes the
    /// files the snapshot replaces.
    fn rotate(&self, segment: &mut File, state: &Snapshot) -> Result<PathBuf, JournalError> {
        let dir = &self.shared.dir;
        segment.sync_data().map_err(|e| JournalError::io(dir, e))?;
        write_snapshot(dir, state)?;
        let path = dir.join(segment_name(state.seq + 1));
        *segment = open_segment(&path)?;
        remove_older(dir, state.seq);
        tracing::debug!(seq = state.seq, "journal snapshot written");
        Ok(path)
    }
}

/// Creates a segment, empty: anything already there is a torn tail recovery skipped.
fn open_segment(path: &Path) -> Result<File, JournalError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| JournalError::io(path, e))?;
    format::sync_dir(path.parent().unwrap_or(Path::new(".")))
        .map_err(|e| JournalError::io(path, e))?;
    Ok(file)
}

fn write_snapshot(dir: &Path, snapshot: &Snapshot) -> Result<(), JournalError> {
    let path = dir.join(snapshot_name(snapshot.seq));
    let payload = serde_json::to_vec(snapshot).map_err(|e| JournalError::Corrupt {
        path: path.clone(),
        offset: 0,
        reason: format!("cannot encode the snapshot: {e}"),
    })?;
    let mut bytes = Vec::with_capacity(payload.len() + format::HEADER_BYTES);
    format::encode_frame(snapshot.seq, &payload, &mut bytes);
    format::write_atomically(&path, &bytes).map_err(|e| JournalError::io(&path, e))
}

/// Deletes segments and snapshots the snapshot after `seq` replaces. A failure only leaves
/// files behind (recovery skips what the latest snapshot covers), so it is logged, not fatal.
fn remove_older(dir: &Path, seq: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some((number, kind)) = recover::parse_name(&path) else { continue };
        let obsolete = match kind {
            recover::FileKind::Segment => number <= seq,
            recover::FileKind::Snapshot => number < seq,
        };
        if obsolete {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete an old journal file");
            }
        }
    }
}
