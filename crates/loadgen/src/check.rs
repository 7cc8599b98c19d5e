//! The accounting check: what the server counted (Supervisor statistics, the RPC counter of
//! `/metrics`) against what the generator did. No call may be lost or counted twice.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;
use switchboard_proto::v1 as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::recorder::{QueueTally, Recorded, Rpc};
use crate::report::{PhaseReport, Verdict};
use crate::traffic::Clients;

/// The per-queue "today" counters, by queue.
pub type QueueCounters = BTreeMap<String, (i64, QueueTally)>;

/// Reads every queue's statistics: the day window's start and its counters.
pub async fn queue_counters(clients: &Clients) -> anyhow::Result<QueueCounters> {
    let list = clients
        .supervisor()
        .list_queue_stats(clients.request(pb::ListQueueStatsRequest {}))
        .await
        .map_err(|e| anyhow::anyhow!("ListQueueStats: {e}"))?
        .into_inner();
    Ok(list
        .queues
        .into_iter()
        .map(|q| {
            let today = q.today.unwrap_or_default();
            let tally = QueueTally {
                offered: today.offered,
                answered: today.answered,
                abandoned: today.abandoned,
                handled: today.handled,
            };
            (q.queue, (today.start_unix_ms, tally))
        })
        .collect())
}

/// What the server says it did per queue between `before` and `after`.
fn deltas(
    before: &QueueCounters,
    after: &QueueCounters,
) -> Result<BTreeMap<String, QueueTally>, String> {
    let mut out = BTreeMap::new();
    for (queue, (start, a)) in after {
        let (b_start, b) = before.get(queue).copied().unwrap_or((*start, QueueTally::default()));
        if b_start != *start {
            return Err(format!("queue {queue}: the statistics day rolled over during the run"));
        }
        let d = QueueTally {
            offered: a.offered.wrapping_sub(b.offered),
            answered: a.answered.wrapping_sub(b.answered),
            abandoned: a.abandoned.wrapping_sub(b.abandoned),
            handled: a.handled.wrapping_sub(b.handled),
        };
        if d != QueueTally::default() {
            out.insert(queue.clone(), d);
        }
    }
    Ok(out)
}

/// Differences between two tallies, one line each (empty when they agree).
pub fn compare_queues(
    generator: &BTreeMap<String, QueueTally>,
    server: &BTreeMap<String, QueueTally>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let queues: std::collections::BTreeSet<&String> =
        generator.keys().chain(server.keys()).collect();
    for q in queues {
        let g = generator.get(q).copied().unwrap_or_default();
        let s = server.get(q).copied().unwrap_or_default();
        for (what, gv, sv) in [
            ("offered", g.offered, s.offered),
            ("answered", g.answered, s.answered),
            ("abandoned", g.abandoned, s.abandoned),
            ("handled", g.handled, s.handled),
        ] {
            if gv != sv {
                problems.push(format!("queue {q}: {what}: generator {gv}, server {sv}"));
            }
        }
    }
    problems
}

/// The server's RPC counter: (method, status code) to count.
pub type RpcCounters = BTreeMap<(String, String), u64>;

/// The key under which [`parse_rpc_counters`] keeps new requests the admission layer refused
/// (`switchboard_requests_shed_total{priority="new"}`, reasons `concurrency` and
/// `queue_delay`): they never reach a handler, so `switchboard_rpcs_total` does not count them.
pub const SHED_NEW: (&str, &str) = ("shed new", "concurrency or queue_delay");

/// Parses `switchboard_rpcs_total{rpc="...",code="..."} N` lines of the metrics text, and the
/// new requests shed for concurrency under [`SHED_NEW`].
pub fn parse_rpc_counters(metrics: &str) -> RpcCounters {
    let mut out = RpcCounters::new();
    for line in metrics.lines() {
        let shed = [
            r#"switchboard_requests_shed_total{priority="new",reason="concurrency"} "#,
            r#"switchboard_requests_shed_total{priority="new",reason="queue_delay"} "#,
        ];
        if let Some(value) = shed.iter().find_map(|prefix| line.strip_prefix(prefix)) {
            if let Ok(n) = value.trim().parse::<u64>() {
                *out.entry((SHED_NEW.0.to_string(), SHED_NEW.1.to_string())).or_default() += n;
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("switchboard_rpcs_total{") else { continue };
        let Some((labels, value)) = rest.split_once("} ") else { continue };
        let label = |name: &str| {
            labels.split(',').find_map(|kv| {
                kv.strip_prefix(name)?.strip_prefix("=\"")?.strip_suffix('"').map(str::to_string)
            })
        };
        let (Some(rpc), Some(code)) = (label("rpc"), label("code")) else { continue };
        // Counters print as integers; a float would be a bug worth seeing as a mismatch.
        if let Ok(n) = value.trim().parse::<u64>() {
            out.insert((rpc, code), n);
        }
    }
    out
}

/// GETs `http://{addr}/metrics` (loopback, plain HTTP/1.1) and parses the RPC counter.
pub async fn scrape_rpc_counters(addr: SocketAddr) -> anyhow::Result<RpcCounters> {
    let mut stream =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow::anyhow!("metrics: connecting to {addr} timed out"))??;
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: text/plain\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut body = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut body))
        .await
        .map_err(|_| anyhow::anyhow!("metrics: reading from {addr} timed out"))??;
    let text = String::from_utf8_lossy(&body);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") {
        anyhow::bail!("metrics: {addr} answered {}", head.lines().next().unwrap_or(""));
    }
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Ok(parse_rpc_counters(&dechunk(body)));
    }
    Ok(parse_rpc_counters(body))
}

/// Joins the chunks of a chunked HTTP/1.1 body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Differences between the RPCs the generator saw answered and the server's counter.
pub fn compare_rpcs(
    recorded: &[&Recorded],
    before: &RpcCounters,
    after: &RpcCounters,
) -> Vec<String> {
    let mut generator: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in recorded {
        for ((rpc, code), n) in &r.codes {
            *generator.entry((rpc.name().to_string(), code.clone())).or_default() += n;
        }
    }
    let traffic: Vec<&str> =
        Rpc::ALL.iter().filter(|r| **r != Rpc::Login).map(|r| r.name()).collect();
    let mut keys: std::collections::BTreeSet<(String, String)> =
        generator.keys().cloned().collect();
    keys.extend(after.keys().filter(|(rpc, _)| traffic.contains(&rpc.as_str())).cloned());
    let server = |rpc: &str, code: &str| {
        let key = (rpc.to_string(), code.to_string());
        after.get(&key).copied().unwrap_or(0).saturating_sub(before.get(&key).copied().unwrap_or(0))
    };
    let route = Rpc::RouteCall.name();
    let mut problems = Vec::new();
    for key in keys {
        // Refusals are checked below: some never reach a handler.
        if key.0 == route && (key.1 == "ResourceExhausted" || key.1 == "Unavailable") {
            continue;
        }
        let g = generator.get(&key).copied().unwrap_or(0);
        let s = server(&key.0, &key.1);
        if g != s {
            problems.push(format!("rpc {} {}: generator {g}, server {s}", key.0, key.1));
        }
    }
    let generated =
        |code: &str| generator.get(&(route.to_string(), code.to_string())).copied().unwrap_or(0);
    // RESOURCE_EXHAUSTED: from the handler (full queue, calls in flight) or the admission
    // layer; every one the generator saw, the server counted in one of the two.
    let (g, handled, shed) = (
        generated("ResourceExhausted"),
        server(route, "ResourceExhausted"),
        server(SHED_NEW.0, SHED_NEW.1),
    );
    if g != handled + shed {
        problems.push(format!(
            "rpc {route} ResourceExhausted: generator {g}, server {handled} handled + {shed} shed"
        ));
    }
    // UNAVAILABLE: from a handler, or uncounted (the journal behind, HTTP/2 REFUSED_STREAM).
    let (g, handled) = (generated("Unavailable"), server(route, "Unavailable"));
    if g < handled {
        problems.push(format!("rpc {route} Unavailable: generator {g}, server {handled}"));
    }
    problems
}

/// The verdict.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Accounting {
    /// Queues whose counters were compared.
    pub queues_checked: usize,
    /// Calls the server counted as entering a queue during the run.
    pub server_offered: u64,
    /// RPC counters compared (from `/metrics`); false when no metrics address was given.
    pub rpcs_checked: bool,
    /// How long the server's statistics took to settle after the last RPC, ms.
    pub settle_ms: u64,
    /// Every difference; empty means nothing was lost or counted twice.
    pub mismatches: Vec<String>,
}

impl Accounting {
    /// Whether everything agreed.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Longest the event pump may take to catch up with the last RPC.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);

/// Waits until the server's statistics reflect the generator's tallies (or stop changing),
/// then compares them and, with a metrics address, the RPC counters.
pub async fn settle_and_compare(
    clients: &Clients,
    generator: &BTreeMap<String, QueueTally>,
    before: &QueueCounters,
    metrics: Option<(SocketAddr, RpcCounters)>,
    recorded: &[&Recorded],
) -> anyhow::Result<Accounting> {
    let started = Instant::now();
    let mut last: Option<BTreeMap<String, QueueTally>> = None;
    let mut unchanged_since = Instant::now();
    let server = loop {
        let after = queue_counters(clients).await?;
        let server = match deltas(before, &after) {
            Ok(d) => d,
            Err(rollover) => {
                return Ok(Accounting { mismatches: vec![rollover], ..Accounting::default() })
            }
        };
        if compare_queues(generator, &server).is_empty() {
            break server;
        }
        if last.as_ref() != Some(&server) {
            unchanged_since = Instant::now();
            last = Some(server.clone());
        }
        // Stable for a while and still different: the difference is real.
        if unchanged_since.elapsed() > Duration::from_secs(2) || started.elapsed() > SETTLE_TIMEOUT
        {
            break server;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let settle_ms = started.elapsed().as_millis() as u64;
    let mut mismatches = compare_queues(generator, &server);
    let mut rpcs_checked = false;
    if let Some((addr, before_rpcs)) = metrics {
        let after_rpcs = scrape_rpc_counters(addr).await?;
        mismatches.extend(compare_rpcs(recorded, &before_rpcs, &after_rpcs));
        rpcs_checked = true;
    }
    Ok(Accounting {
        queues_checked: server.len().max(generator.len()),
        server_offered: server.values().map(|t| t.offered).sum(),
        rpcs_checked,
        settle_ms,
        mismatches,
    })
}

/// Floor of the overload latency bound, microseconds: below it the before phase's p99 is too
/// small to scale (a quiet machine answers in under a millisecond).
pub const OVERLOAD_BOUND_FLOOR_US: u64 = 20_000;
/// The bound is this many times the p99 of admitted calls' RPCs before the overload.
pub const OVERLOAD_BOUND_FACTOR: u64 = 2;
/// Longest the server may keep refusing once the offered load is back to normal.
pub const MAX_RECOVERY_MS: u64 = 1_000;

/// The overload scenario's checks (phases before, overload, after), each a gate: the overload
/// was real (new calls were refused), refusals came back fast, RPCs of calls already admitted
/// kept their latency (both within the bound: twice their p99 before the overload, at least
/// 20 ms, so it compares within one run on whatever machine), and once the load dropped the
/// server stopped refusing within a second and admitted calls were as fast as before.
pub fn overload(phases: &[PhaseReport]) -> Vec<Verdict> {
    let [before, overload, after] = phases else {
        return vec![Verdict {
            target: "overload: three phases (before, overload, after)".into(),
            measured: format!("{} phases ran (--max-calls?)", phases.len()),
            met: false,
            gate: true,
        }];
    };
    let bound =
        (before.admitted_latency.p99_us * OVERLOAD_BOUND_FACTOR).max(OVERLOAD_BOUND_FLOOR_US);
    let ms = |us: u64| format!("{:.1} ms", us as f64 / 1000.0);
    let refusal_p99 = overload.refusal_latency.map(|p| p.p99_us);
    let mut out = vec![
        Verdict {
            target: "overload: new calls refused beyond capacity".into(),
            measured: format!(
                "{} of {} RouteCalls refused ({} of them within capacity)",
                overload.refused,
                overload.calls.started,
                overload.calls.started - overload.refused
            ),
            met: overload.refused > 0,
            gate: true,
        },
        Verdict {
            target: format!("overload: refusal p99 <= {}", ms(bound)),
            measured: refusal_p99.map_or("no refusals".into(), |p| format!("p99 {}", ms(p))),
            met: refusal_p99.is_some_and(|p| p <= bound),
            gate: true,
        },
        Verdict {
            target: format!(
                "overload: admitted calls' RPCs p99 <= {} ({OVERLOAD_BOUND_FACTOR}x {} before, at least {})",
                ms(bound),
                ms(before.admitted_latency.p99_us),
                ms(OVERLOAD_BOUND_FLOOR_US)
            ),
            measured: format!(
                "p99 {} over {} RPCs",
                ms(overload.admitted_latency.p99_us),
                overload.admitted_latency.count
            ),
            met: overload.admitted_latency.count > 0 && overload.admitted_latency.p99_us <= bound,
            gate: true,
        },
        Verdict {
            target: format!("overload: refusals stop within {MAX_RECOVERY_MS} ms of the load dropping"),
            measured: after.last_refusal_ms.map_or("no refusal after the overload".into(), |t| {
                format!("last refusal {t} ms after ({} refused)", after.refused)
            }),
            met: after.last_refusal_ms.is_none_or(|t| t <= MAX_RECOVERY_MS),
            gate: true,
        },
        Verdict {
            target: format!("overload: admitted calls' RPCs p99 <= {} after it", ms(bound)),
            measured: format!("p99 {}", ms(after.admitted_latency.p99_us)),
            met: after.admitted_latency.p99_us <= bound,
            gate: true,
        },
    ];
    if let Some(route) = after.latency_by_rpc.get(Rpc::RouteCall.name()) {
        out.push(Verdict {
            target: format!("overload: RouteCall p99 <= {} after it", ms(bound)),
            measured: format!("p99 {}", ms(route.p99_us)),
            met: route.p99_us <= bound,
            gate: true,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_counters_parse_from_the_exposition_format() {
        let text = "# HELP switchboard_rpcs RPCs\n# TYPE switchboard_rpcs counter\n\
            switchboard_rpcs_total{rpc=\"RouteCall\",code=\"Ok\"} 12\n\
            switchboard_rpcs_total{rpc=\"SetReady\",code=\"FailedPrecondition\"} 1\n\
            switchboard_queue_calls_waiting{queue=\"q\"} 3\n";
        let c = parse_rpc_counters(text);
        assert_eq!(c.len(), 2);
        let shed = "switchboard_requests_shed_total{priority=\"new\",reason=\"concurrency\"} 7\n\
            switchboard_requests_shed_total{priority=\"new\",reason=\"queue_delay\"} 5\n\
            switchboard_requests_shed_total{priority=\"new\",reason=\"deadline\"} 1\n";
        let shed = parse_rpc_counters(shed);
        assert_eq!(shed.len(), 1);
        assert_eq!(shed[&(SHED_NEW.0.to_string(), SHED_NEW.1.to_string())], 12);
        assert_eq!(c[&("RouteCall".to_string(), "Ok".to_string())], 12);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world");
    }

    #[test]
    fn lost_and_double_counted_calls_are_named() {
        let t =
            |offered, answered| QueueTally { offered, answered, abandoned: 0, handled: answered };
        let generator = BTreeMap::from([("a".to_string(), t(10, 9)), ("b".to_string(), t(5, 5))]);
        assert!(compare_queues(&generator, &generator.clone()).is_empty());
        let server = BTreeMap::from([("a".to_string(), t(10, 10)), ("c".to_string(), t(1, 0))]);
        let problems = compare_queues(&generator, &server);
        assert_eq!(
            problems,
            [
                "queue a: answered: generator 9, server 10",
                "queue a: handled: generator 9, server 10",
                "queue b: offered: generator 5, server 0",
                "queue b: answered: generator 5, server 0",
                "queue b: handled: generator 5, server 0",
                "queue c: offered: generator 0, server 1",
            ]
        );
    }
}
