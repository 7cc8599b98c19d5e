//! The journal on the routing path: appending one engine event and waiting until it is
//! durable, as an RPC does before it answers, under `sync = "always"` and `"batch"`; and a
//! group of concurrent RPCs sharing one write and sync.
//!
//! `cargo bench -p switchboard-server --bench journal`

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use switchboard_routing::{AgentState, Event, Timestamp};
use switchboard_server::journal::{Journal, JournalSettings, Record, Snapshot, SyncPolicy};

fn event(i: u64) -> Record {
    Record::Event(Event::AgentStateChanged {
        agent: format!("agent-{}", i % 1000).as_str().into(),
        state: AgentState::NotReady { reason: "break".into() },
        epoch: i,
        at: Timestamp::from_millis(i),
    })
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn open(
    name: &str,
    sync: SyncPolicy,
) -> (Journal, switchboard_server::journal::JournalWriter, PathBuf) {
    let path = dir(name);
    let settings = JournalSettings {
        dir: Some(path.clone()),
        sync,
        batch_ms: 10,
        snapshot_every: 1_000_000,
        max_pending_bytes: 1 << 30,
    };
    let (journal, writer) = Journal::open(settings, &path, Snapshot::default()).expect("open");
    (journal, writer, path)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal");
    group.measurement_time(Duration::from_secs(5));
    for (name, sync) in [("always", SyncPolicy::Always), ("batch", SyncPolicy::Batch)] {
        let (journal, writer, path) = open(name, sync);
        let mut i = 0;
        group.bench_function(BenchmarkId::new("append_and_wait_durable", name), |b| {
            b.iter(|| {
                i += 1;
                let seq = journal.append(event(i));
                assert!(journal.wait_durable_blocking(seq, Duration::from_secs(10)));
            })
        });
        for threads in [2u64, 8] {
            group.bench_function(
                BenchmarkId::new(format!("{threads}_concurrent_rpcs_each_append_and_wait"), name),
                |b| {
                    b.iter(|| {
                        std::thread::scope(|s| {
                            for t in 0..threads {
                                let journal = journal.clone();
                                s.spawn(move || {
                                    let seq = journal.append(event(t));
                                    assert!(
                                        journal.wait_durable_blocking(seq, Duration::from_secs(10))
                                    );
                                });
                            }
                        });
                    })
                },
            );
        }
        let (writes, syncs) = journal.io_counts();
        eprintln!("{name}: {writes} writes, {syncs} fdatasyncs");
        writer.join();
        let _ = std::fs::remove_dir_all(&path);
    }
    group.bench_function("append_only", |b| {
        let (journal, writer, path) = open("append", SyncPolicy::Batch);
        let mut i = 0;
        b.iter(|| {
            i += 1;
            journal.append(event(i))
        });
        writer.join();
        let _ = std::fs::remove_dir_all(&path);
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
