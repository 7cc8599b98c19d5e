//! Reading a journal directory back: the latest valid snapshot, then every record after it.

use std::path::{Path, PathBuf};

use super::format::{self, read_segment};
use super::{JournalError, MembersIn, Record, Snapshot};

/// Kinds of journal files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `N.wal`: records from sequence number N on.
    Segment,
    /// `N.snapshot`: the state after record N.
    Snapshot,
}

/// The number and kind of a journal file name, `None` for other files.
pub fn parse_name(path: &Path) -> Option<(u64, FileKind)> {
    let name = path.file_name()?.to_str()?;
    let (number, ext) = name.split_once('.')?;
    let kind = match ext {
        "wal" => FileKind::Segment,
        "snapshot" => FileKind::Snapshot,
        _ => return None,
    };
    if number.len() != 20 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((number.parse().ok()?, kind))
}

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The state after the last valid record.
    pub snapshot: Snapshot,
    /// Records read after the snapshot.
    pub records: u64,
    /// The snapshot recovery started from, if any.
    pub snapshot_file: Option<PathBuf>,
    /// Torn tails cut off: (file, offset, bytes dropped).
    pub truncated: Vec<(PathBuf, usize, usize)>,
}

/// Recovers the state journaled in `dir` (empty if there is no journal yet). A torn tail of
/// the last segment (a crash mid-write) is cut off with a warning; a bad record anywhere else,
/// or one followed by valid records, is an error naming the file and offset, never skipped.
pub fn recover(dir: &Path) -> Result<Recovered, JournalError> {
    recover_with(dir, &|_, _| None)
}

/// [`recover`], with `members` giving agents' member queues for the tally's agent time
/// (from the configuration at start and the profiles folded so far).
pub fn recover_with(dir: &Path, members: &MembersIn<'_>) -> Result<Recovered, JournalError> {
    let mut snapshots = Vec::new();
    let mut segments = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let path = entry.map_err(|e| JournalError::io(dir, e))?.path();
                match parse_name(&path) {
                    Some((n, FileKind::Snapshot)) => snapshots.push((n, path)),
                    Some((n, FileKind::Segment)) => segments.push((n, path)),
                    None => {}
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Recovered::default()),
        Err(e) => return Err(JournalError::io(dir, e)),
    }
    snapshots.sort();
    segments.sort();

    let mut recovered = Recovered::default();
    // The newest snapshot is written atomically (rename), so it is whole or absent; an
    // unreadable one is damage, not a torn write.
    if let Some((n, path)) = snapshots.last() {
        recovered.snapshot = read_snapshot(path, *n)?;
        recovered.snapshot_file = Some(path.clone());
    }
    let base = recovered.snapshot.seq;
    let mut expected = base + 1;
    // Segments wholly covered by the snapshot are leftovers of an interrupted cleanup.
    let wanted: Vec<&(u64, PathBuf)> = segments
        .iter()
        .enumerate()
        .filter(|(i, (first, _))| {
            segments.get(i + 1).is_none_or(|(next, _)| *next > base + 1) || *first > base
        })
        .map(|(_, s)| s)
        .collect();
    for (index, (first, path)) in wanted.iter().enumerate() {
        let is_last = index + 1 == wanted.len();
        let bytes = std::fs::read(path).map_err(|e| JournalError::io(path, e))?;
        let seg = read_segment(&bytes, Some(*first));
        for frame in &seg.frames {
            if frame.seq < expected {
                continue;
            }
            if frame.seq != expected {
                return Err(JournalError::Corrupt {
                    path: path.clone(),
                    offset: frame.offset,
                    reason: format!("record {} where {expected} was expected (a gap)", frame.seq),
                });
            }
            let record: Record =
                serde_json::from_slice(frame.payload).map_err(|e| JournalError::Corrupt {
                    path: path.clone(),
                    offset: frame.offset,
                    reason: format!("record {} cannot be decoded: {e}", frame.seq),
                })?;
            recovered.snapshot.apply_with(frame.seq, &record, members);
            recovered.records += 1;
            expected += 1;
        }
        if let Some((offset, why)) = seg.bad {
            if !is_last || seg.valid_after_bad {
                return Err(JournalError::Corrupt {
                    path: path.clone(),
                    offset,
                    reason: format!("{why} (valid records follow: not a torn tail)"),
                });
            }
            let dropped = bytes.len() - offset;
            tracing::warn!(
                path = %path.display(),
                offset,
                dropped_bytes = dropped,
                reason = %why,
                "journal: torn tail cut off (a crash during a write); everything before it is kept"
            );
            recovered.truncated.push((path.clone(), offset, dropped));
        }
    }
    Ok(recovered)
}

fn read_snapshot(path: &Path, seq: u64) -> Result<Snapshot, JournalError> {
    let bytes = std::fs::read(path).map_err(|e| JournalError::io(path, e))?;
    let corrupt =
        |offset, reason: String| JournalError::Corrupt { path: path.to_path_buf(), offset, reason };
    let frame =
        format::frame_at(&bytes, 0).map_err(|why| corrupt(0, format!("snapshot: {why}")))?;
    if frame.seq != seq || frame.payload.len() + format::HEADER_BYTES != bytes.len() {
        return Err(corrupt(0, "snapshot does not match its name or has trailing bytes".into()));
    }
    let snapshot: Snapshot = serde_json::from_slice(frame.payload)
        .map_err(|e| corrupt(format::HEADER_BYTES, format!("snapshot cannot be decoded: {e}")))?;
    if snapshot.seq != seq {
        return Err(corrupt(
            0,
            format!("snapshot says record {} but is named {seq}", snapshot.seq),
        ));
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, JournalSettings, SyncPolicy};
    use std::sync::Arc;
    use std::time::Duration;
    use switchboard_routing::plan::{Action, CustomerStore, IncomingCall, Router, RoutingConfig};
    use switchboard_routing::{AgentState, Event, NewCall, NoObserver, Observer, Timestamp};

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchboard-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn agent_event(agent: &str, epoch: u64) -> Record {
        Record::Event(Event::AgentStateChanged {
            agent: agent.into(),
            state: AgentState::NotReady { reason: format!("r{epoch}") },
            epoch,
            at: Timestamp::from_millis(epoch),
        })
    }

    fn call_event(call: &str, seq: u64) -> Record {
        Record::Event(Event::CallEntered {
            call: Box::new(NewCall::new(call, Timestamp::from_millis(seq))),
            queue: "q".into(),
            seq,
            first_entered: Timestamp::from_millis(seq),
            at: Timestamp::from_millis(seq),
        })
    }

    /// Writes `records` through a real writer, returns the folded expectation.
    fn write(dir: &Path, records: &[Record], snapshot_every: u64) -> Snapshot {
        let settings = JournalSettings {
            dir: Some(dir.to_path_buf()),
            sync: SyncPolicy::Batch,
            batch_ms: 5,
            snapshot_every,
            max_pending_bytes: 1 << 20,
        };
        let base = recover(dir).unwrap().snapshot;
        let mut want = base.clone();
        let (journal, writer) = Journal::open(settings, dir, base).unwrap();
        for r in records {
            let seq = journal.append(r.clone());
            want.apply(seq, r);
        }
        assert!(journal.wait_durable_blocking(journal.appended(), Duration::from_secs(5)));
        writer.join();
        want
    }

    fn records(n: u64) -> Vec<Record> {
        (1..=n)
            .map(|i| {
                if i % 3 == 0 {
                    call_event(&format!("c{i}"), i)
                } else {
                    agent_event(&format!("a{}", i % 5), i)
                }
            })
            .collect()
    }

    fn last_segment(dir: &Path) -> PathBuf {
        let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| parse_name(p).is_some_and(|(_, k)| k == FileKind::Segment))
            .collect();
        segments.sort();
        segments.pop().unwrap()
    }

    #[test]
    fn written_records_recover_across_restarts_and_snapshots() {
        let dir = temp_dir("roundtrip");
        let first = write(&dir, &records(50), 7);
        let got = recover(&dir).unwrap();
        assert_eq!(got.snapshot, first);
        assert!(got.records < 7, "a snapshot bounds the replay: {} records", got.records);
        // A second run continues the sequence and the state.
        let second = write(&dir, &records(20), 1_000);
        let got = recover(&dir).unwrap();
        assert_eq!(got.snapshot, second);
        assert_eq!(got.records, 20, "the start snapshot covers the first run");
        let _ = std::fs::remove_dir_all(&dir);
    }

    const PLAN_CENTER: &str = r#"
[[queues]]
id = "sales"
skills = { sales = 1 }
wrap_up_s = 0

[[agents]]
id = "ana"
skills = { sales = 1 }

[[entry_points]]
number = "+100"
plan = "p"

[plans.p]
start = "last"
[plans.p.nodes.last]
type = "last_agent"
queue = "sales"
lookback_s = 3600
wait_s = 20
next = "q"
[plans.p.nodes.q]
type = "queue"
queue = "sales"
overflow = [{ when = "waited_s > 60", to = "vm" }]
[plans.p.nodes.vm]
type = "voicemail"
mailbox = "sales"
"#;

    fn plan_router(observer: Arc<dyn Observer>) -> Router {
        let config = RoutingConfig::from_toml(PLAN_CENTER).expect("valid center");
        Router::new(config, CustomerStore::default(), observer).expect("router")
    }

    #[test]
    fn plan_sessions_and_last_agents_are_journaled_and_recovered() {
        let dir = temp_dir("sessions");
        let settings = JournalSettings {
            dir: Some(dir.clone()),
            sync: SyncPolicy::Batch,
            batch_ms: 5,
            // Small, so the recovered state comes from a snapshot and records after it.
            snapshot_every: 4,
            max_pending_bytes: 1 << 20,
        };
        let (journal, writer) = Journal::open(settings, &dir, Snapshot::default()).unwrap();
        let (pump, _pump_rx) = crossbeam_channel::unbounded();
        let hub = Arc::new(crate::hub::Hub::with_journal(pump, 16, Some(journal.clone())));
        let r = plan_router(Arc::new(crate::hub::HubObserver(hub)));
        let t = |s: u64| Timestamp::from_millis(1_790_000_000_000 + s * 1000);
        let incoming = |id: &str, caller: &str| IncomingCall {
            id: id.into(),
            caller: caller.into(),
            dialed: "+100".into(),
            ..Default::default()
        };
        // Ana serves +331, then goes on a break; +332 waits in line.
        r.engine().login(&"ana".into(), true, t(0)).unwrap();
        r.start_call(incoming("c1", "+331"), t(1)).unwrap();
        r.engine().call_answered(&"c1".into(), t(2)).unwrap();
        r.engine().call_ended(&"c1".into(), t(3)).unwrap();
        r.engine().set_not_ready(&"ana".into(), "break", t(4)).unwrap();
        r.start_call(incoming("c2", "+332"), t(5)).unwrap();
        assert!(journal.wait_durable_blocking(journal.appended(), Duration::from_secs(5)));
        writer.join();

        let got = recover(&dir).unwrap();
        assert!(got.snapshot_file.is_some(), "a snapshot holds part of the state");
        let state = &got.snapshot.state;
        assert_eq!(state.sessions.keys().map(|c| c.as_str()).collect::<Vec<_>>(), ["c2"]);
        assert_eq!(state.last_agents["+331"].agent.as_str(), "ana");

        let restored = plan_router(Arc::new(NoObserver));
        restored.engine().restore(state, t(6)).unwrap();
        let report = restored.restore_sessions(state, t(6));
        assert_eq!((report.queued, report.ivr, report.last_agents), (1, 0, 1));
        assert!(restored.advance(t(64)).is_empty(), "59 s in line");
        let resumed = restored.advance(t(65));
        assert_eq!(resumed.len(), 1);
        assert_eq!(resumed[0].action, Action::Voicemail { mailbox: "sales".into() });
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A last-agent node, and a 70/30 vendor split whose 30 goes on to a round robin.
    const SPLIT_CENTER: &str = r#"
[[queues]]
id = "sales"
skills = { sales = 1 }
wrap_up_s = 0

[[agents]]
id = "ana"
skills = { sales = 1 }

[[entry_points]]
number = "+100"
plan = "p"

[[entry_points]]
number = "+300"
plan = "v"

[plans.p]
start = "last"
[plans.p.nodes.last]
type = "last_agent"
queue = "sales"
lookback_s = 3600
wait_s = 20
next = "q"
[plans.p.nodes.q]
type = "queue"
queue = "sales"

[plans.v]
start = "split"
[plans.v.nodes.split]
type = "percentage"
branches = [{ weight = 70, next = "a" }, { weight = 30, next = "rr" }]
[plans.v.nodes.rr]
type = "round_robin"
targets = ["b1", "b2", "b3"]
[plans.v.nodes.a]
type = "transfer"
number = "a"
[plans.v.nodes.b1]
type = "transfer"
number = "b1"
[plans.v.nodes.b2]
type = "transfer"
number = "b2"
[plans.v.nodes.b3]
type = "transfer"
number = "b3"
"#;

    #[test]
    fn split_positions_and_the_last_agent_bound_are_journaled_and_recovered() {
        let dir = temp_dir("splits");
        let settings = JournalSettings {
            dir: Some(dir.clone()),
            sync: SyncPolicy::Batch,
            batch_ms: 5,
            snapshot_every: 4,
            max_pending_bytes: 1 << 20,
        };
        let (journal, writer) = Journal::open(settings, &dir, Snapshot::default()).unwrap();
        let (pump, _pump_rx) = crossbeam_channel::unbounded();
        let hub = Arc::new(crate::hub::Hub::with_journal(pump, 16, Some(journal.clone())));
        let router = |observer: Arc<dyn Observer>| {
            let config = RoutingConfig::from_toml(SPLIT_CENTER).expect("valid center");
            Router::new(config, CustomerStore::default(), observer).expect("router")
        };
        let r = router(Arc::new(crate::hub::HubObserver(hub)));
        let t = |s: u64| Timestamp::from_millis(1_790_000_000_000 + s * 1000);
        let incoming = |id: &str, caller: &str, dialed: &str| IncomingCall {
            id: id.into(),
            caller: caller.into(),
            dialed: dialed.into(),
            ..Default::default()
        };
        let vendors = |r: &Router, prefix: &str, n: usize, now: Timestamp| -> Vec<String> {
            (0..n)
                .map(|i| {
                    let id = format!("{prefix}{i}");
                    match r.start_call(incoming(&id, "+339", "+300"), now).unwrap().action {
                        Action::Transfer { number } => number,
                        other => panic!("{other:?}"),
                    }
                })
                .collect()
        };
        r.engine().login(&"ana".into(), true, t(0)).unwrap();
        for (id, caller, at) in [("c1", "+331", t(1)), ("c2", "+332", t(1000))] {
            r.start_call(incoming(id, caller, "+100"), at).unwrap();
            r.engine().call_answered(&id.into(), at).unwrap();
            r.engine().call_ended(&id.into(), at).unwrap();
        }
        vendors(&r, "x", 37, t(1001));
        // +331 was served longer ago than the lookback (3600 s).
        r.advance(t(3602));
        assert_eq!(r.live_state().last_agents.keys().collect::<Vec<_>>(), ["+332"]);
        // More records, so a snapshot is taken after the expiry.
        vendors(&r, "y", 10, t(3603));
        assert!(journal.wait_durable_blocking(journal.appended(), Duration::from_secs(5)));
        writer.join();

        let (seq, path) = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter_map(|p| match parse_name(&p) {
                Some((n, FileKind::Snapshot)) => Some((n, p)),
                _ => None,
            })
            .max()
            .expect("a snapshot");
        let snapshot = read_snapshot(&path, seq).unwrap();
        assert_eq!(snapshot.state.last_agents_expired_before, t(2));
        assert_eq!(
            snapshot.state.last_agents.keys().collect::<Vec<_>>(),
            ["+332"],
            "the snapshot holds no expired entry"
        );

        let got = recover(&dir).unwrap();
        let state = &got.snapshot.state;
        assert_eq!(state.splits, r.live_state().splits);
        assert_eq!(state.splits.picks_of("v", "split"), 47);
        let restored = router(Arc::new(NoObserver));
        restored.engine().restore(state, t(3604)).unwrap();
        let report = restored.restore_sessions(state, t(3604));
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        assert_eq!((report.splits, report.last_agents), (2, 1));
        // The restarted router sends the next calls where the one that never stopped does.
        assert_eq!(vendors(&restored, "z", 150, t(3605)), vendors(&r, "z", 150, t(3605)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_call_timed_out_of_its_queue_before_its_plan_placed_it_again_survives_a_crash() {
        let dir = temp_dir("leaving");
        let settings = JournalSettings {
            dir: Some(dir.clone()),
            sync: SyncPolicy::Batch,
            batch_ms: 5,
            snapshot_every: 1_000,
            max_pending_bytes: 1 << 20,
        };
        let (journal, writer) = Journal::open(settings, &dir, Snapshot::default()).unwrap();
        let (pump, _pump_rx) = crossbeam_channel::unbounded();
        let hub = Arc::new(crate::hub::Hub::with_journal(pump, 16, Some(journal.clone())));
        let r = plan_router(Arc::new(crate::hub::HubObserver(hub)));
        let t = |s: u64| Timestamp::from_millis(1_790_000_000_000 + s * 1000);
        // The switch routes c2 (its arrival is journaled by RouteCall); nobody is logged in.
        journal.append(Record::Call(crate::cdr::CallFact::Started {
            call: "c2".into(),
            switch_id: "sw".into(),
            caller: "+332".into(),
            dialed: "+100".into(),
            customer_id: None,
            at: t(5),
        }));
        let incoming = IncomingCall {
            id: "c2".into(),
            caller: "+332".into(),
            dialed: "+100".into(),
            ..Default::default()
        };
        r.start_call(incoming, t(5)).unwrap();
        // 60 s later it times out of sales and its plan sends it to voicemail.
        let resumed = r.advance(t(66));
        assert_eq!(resumed.len(), 1);
        assert_eq!(resumed[0].action, Action::Voicemail { mailbox: "sales".into() });
        assert!(journal.wait_durable_blocking(journal.appended(), Duration::from_secs(5)));
        writer.join();

        // The crash came after the timeout was written, before the plan's step was: cut the
        // segment where the step's record begins.
        let path = last_segment(&dir);
        let bytes = std::fs::read(&path).unwrap();
        let seg = format::read_segment(&bytes, None);
        let decode = |f: &format::Frame| serde_json::from_slice::<Record>(f.payload).unwrap();
        let timeout = seg
            .frames
            .iter()
            .position(|f| matches!(decode(f), Record::Event(Event::QueueTimedOut { .. })))
            .expect("the timeout is journaled");
        let step = seg.frames[timeout + 1..]
            .iter()
            .find(|f| matches!(decode(f), Record::Session(_)))
            .expect("the plan's step is journaled after the timeout");
        std::fs::write(&path, &bytes[..step.offset]).unwrap();

        let mut got = recover(&dir).unwrap();
        assert!(got.truncated.is_empty(), "a cut at a record boundary is no torn tail");
        got.snapshot.drop_records_of_lost_calls();
        assert!(got.snapshot.state.calls.is_empty(), "c2 left its queue");
        let session = got.snapshot.state.sessions.get("c2").expect("the journal keeps c2");
        assert!(session.leaving_queue);
        assert_eq!(got.snapshot.calls.open_calls(), 1, "c2's call record is still open");

        // At restore its plan takes the step the crash cut short.
        let restored = plan_router(Arc::new(NoObserver));
        restored.engine().restore(&got.snapshot.state, t(70)).unwrap();
        let report = restored.restore_sessions(&got.snapshot.state, t(70));
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        assert_eq!(report.resumed.len(), 1);
        assert_eq!(report.resumed[0].action, Action::Voicemail { mailbox: "sales".into() });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_cut_and_a_damaged_middle_is_an_error_naming_file_and_offset() {
        let dir = temp_dir("torn");
        write(&dir, &records(10), 1_000);
        let path = last_segment(&dir);
        let bytes = std::fs::read(&path).unwrap();
        let seg = format::read_segment(&bytes, None);
        let last = seg.frames.last().unwrap();
        let want_before = {
            let mut s = Snapshot::default();
            for f in &seg.frames[..seg.frames.len() - 1] {
                s.apply(f.seq, &serde_json::from_slice(f.payload).unwrap());
            }
            s
        };
        for cut in last.offset + 1..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let got = recover(&dir).unwrap();
            assert_eq!(got.snapshot, want_before, "cut at {cut}");
            assert_eq!(got.truncated, vec![(path.clone(), last.offset, cut - last.offset)]);
        }
        let mut damaged = bytes.clone();
        let middle = seg.frames[3].offset + format::HEADER_BYTES + 2;
        damaged[middle] ^= 0x10;
        std::fs::write(&path, &damaged).unwrap();
        let err = recover(&dir).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(&format!("offset {}", seg.frames[3].offset)), "{err}");
        // After a torn tail, the next run starts a clean segment: nothing is appended after
        // garbage.
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let want = write(&dir, &records(4), 1_000);
        assert_eq!(recover(&dir).unwrap().snapshot, want);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod fuzz {
    //! The journal reader over random bytes and mutated valid journals: no panic, no
    //! allocation beyond the input, bounded time (the proptest budget would catch a hang).
    use super::*;
    use proptest::prelude::*;

    fn valid_journal(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            format::encode_frame(1 + i as u64, p, &mut out);
        }
        out
    }

    fn check(bytes: &[u8]) {
        let seg = format::read_segment(bytes, Some(1));
        assert!(seg.valid_len <= bytes.len());
        assert!(seg.frames.len() <= bytes.len() / format::HEADER_BYTES);
        for (i, f) in seg.frames.iter().enumerate() {
            assert_eq!(f.seq, 1 + i as u64);
            // What the recovery decodes must not panic either.
            let _ = serde_json::from_slice::<Record>(f.payload);
        }
        let _ = serde_json::from_slice::<Snapshot>(bytes);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            check(&bytes);
        }

        #[test]
        fn mutated_journals(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..20),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = valid_journal(&payloads);
            for (at, xor) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= xor;
            }
            let keep = cut.index(bytes.len() + 1);
            check(&bytes[..keep]);
            // An intact journal reads back whole.
            let intact = valid_journal(&payloads);
            let seg = format::read_segment(&intact, Some(1));
            prop_assert_eq!(seg.frames.len(), payloads.len());
            prop_assert!(seg.bad.is_none());
        }
    }
}
