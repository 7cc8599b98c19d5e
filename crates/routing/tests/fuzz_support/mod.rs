//! Shared machinery of the proptest-based fuzz targets (this crate's `fuzz_config.rs` and
//! wfm's `fuzz_history.rs`, which includes this file by path): structural mutation of seed
//! inputs, a counting global allocator that measures each case's peak heap, and a watchdog that
//! fails a case instead of hanging the suite.
//!
//! Only the stable toolchain is available (no cargo-fuzz), so the search is proptest's: seeds
//! from the real inputs, mutated by the operations of [`Mutation`], plus raw random bytes.
//! `SWITCHBOARD_FUZZ_CASES` sets the number of cases per target (default
//! [`DEFAULT_CASES`], kept small so `cargo test` stays fast).

#![allow(dead_code)] // each fuzz binary uses its own part of the kit

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use peak_alloc::PeakAlloc;
use proptest::prelude::*;

/// Counts every allocation of the fuzz test binary: current and peak bytes.
#[global_allocator]
static COUNTING_ALLOCATOR: PeakAlloc = PeakAlloc;

/// Cases per target in a normal `cargo test`.
pub const DEFAULT_CASES: u32 = 1_024;

/// Seed of the default (short) run.
pub const DEFAULT_SEED: u64 = 0x5b0a_4d00;

/// Longest input a target is fed; parsers are fed files of this order in practice.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Peak heap one case may use beyond what was live before it, for inputs under
/// [`MAX_INPUT_BYTES`]: a thousand times the largest input, far above any honest parse, far
/// below what an input-controlled `Vec::with_capacity` or repeat count would take.
pub const MAX_PEAK_HEAP_BYTES: usize = 64 * 1024 * 1024;

/// Wall time after which a case counts as hung. Generous: the machine is shared and the test
/// profile is barely optimised; an honest case takes milliseconds.
pub const HANG_LIMIT: Duration = Duration::from_secs(20);

/// Cases per target: `SWITCHBOARD_FUZZ_CASES` or [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var("SWITCHBOARD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_CASES)
}

/// The proptest configuration of a fuzz target: few shrink steps (a hang would make each one
/// wait for [`HANG_LIMIT`]) and failures saved next to the test as regression seeds.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        max_shrink_iters: 256,
        // The default run is the same every time (CI stays reproducible); a long run
        // (`SWITCHBOARD_FUZZ_CASES` set) explores new inputs with a random seed.
        rng_seed: if std::env::var_os("SWITCHBOARD_FUZZ_CASES").is_some() {
            proptest::test_runner::RngSeed::Random
        } else {
            proptest::test_runner::RngSeed::Fixed(DEFAULT_SEED)
        },
        // `<test file>.proptest-regressions` next to the test: integration tests have no
        // lib.rs for proptest's default lookup.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}

/// One measured case at a time: the allocator's counters are process-wide.
static MEASURE: Mutex<()> = Mutex::new(());

/// Holds off every measured case while a test outside [`check_bounded`] allocates: the
/// counters are process-wide, so an unmeasured test running beside a case inflates its peak.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    MEASURE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `target` on `input` on its own thread and checks the three properties: it returns
/// (no panic), within [`HANG_LIMIT`] (no hang) and with a peak heap of at most
/// [`MAX_PEAK_HEAP_BYTES`] beyond the heap live before it (no unbounded allocation).
/// Returns the peak in bytes.
pub fn check_bounded<F>(name: &str, input: &[u8], target: F) -> Result<usize, TestCaseError>
where
    F: FnOnce(Vec<u8>) + Send + 'static,
{
    let _serial = MEASURE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let owned = input.to_vec();
    let (done, finished) = mpsc::channel();
    let baseline = COUNTING_ALLOCATOR.current_usage();
    COUNTING_ALLOCATOR.reset_peak_usage();
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{name}"))
        .spawn(move || {
            target(owned);
            let _ = done.send(());
        })
        .map_err(|e| TestCaseError::fail(format!("{name}: cannot start the worker: {e}")))?;
    match finished.recv_timeout(HANG_LIMIT) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The sender was dropped without sending: the target panicked.
            let message = match worker.join() {
                Err(payload) => panic_message(payload.as_ref()),
                Ok(()) => "worker ended without reporting".into(),
            };
            return Err(TestCaseError::fail(format!(
                "{name} panicked on a {}-byte input: {message}",
                input.len()
            )));
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // The worker is left running: a thread cannot be killed; the failure is reported.
            return Err(TestCaseError::fail(format!(
                "{name} did not return within {HANG_LIMIT:?} on a {}-byte input",
                input.len()
            )));
        }
    }
    let _ = worker.join();
    let peak = COUNTING_ALLOCATOR.peak_usage().saturating_sub(baseline);
    prop_assert!(
        peak <= MAX_PEAK_HEAP_BYTES,
        "{name}: peak heap {peak} bytes on a {}-byte input (cap {MAX_PEAK_HEAP_BYTES})",
        input.len()
    );
    Ok(peak)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

/// Largest peak seen per target, printed at the end of a run (`--nocapture`) for the record.
pub struct PeakLog {
    name: &'static str,
    largest: usize,
    cases: usize,
}

impl PeakLog {
    pub fn new(name: &'static str) -> PeakLog {
        PeakLog { name, largest: 0, cases: 0 }
    }

    pub fn record(&mut self, peak: usize) {
        self.largest = self.largest.max(peak);
        self.cases += 1;
    }
}

impl Drop for PeakLog {
    fn drop(&mut self) {
        println!(
            "fuzz {}: {} cases, largest peak heap {} KiB",
            self.name,
            self.cases,
            self.largest / 1024
        );
    }
}

// -------------------------------------------------------------------------------------------
// Mutations
// -------------------------------------------------------------------------------------------

/// Numbers that break naive arithmetic: overflow of every integer width, floats that are not
/// finite, far-future dates and absurd durations.
pub const HOSTILE_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "255",
    "256",
    "65536",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
    "1e308",
    "1e309",
    "-1e308",
    "4.9e-324",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "0.000000000001",
    "99999999999999999999999999999999999999999999",
    "1900",
    "2100",
    "2999",
    "9999",
    "0001",
    "9999-12-31T23:59:59Z",
    "+262143-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "2026-02-29",
    "2026-03-29T02:30:00",
    "24:00",
    "23:60",
    "99999h",
    "9999999999m",
];

/// Text fragments that stress tokenizers and validation: unicode of every width, control
/// characters, quoting, deep nesting.
pub const HOSTILE_FRAGMENTS: &[&str] = &[
    "\u{0}",
    "\u{feff}",
    "é",
    "\u{1F4DE}",
    "\u{202E}",
    "\u{FFFD}",
    "日本語",
    "\r\n",
    "\r",
    "\"",
    "'",
    "\\",
    "\"\"\"",
    "'''",
    ",",
    ";",
    "=",
    "#",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ".",
    "${",
    "}}",
];

/// One structural edit of an input. Positions are fractions of the current length (`u16`
/// scaled), so every mutation applies to every input.
#[derive(Clone, Debug)]
pub enum Mutation {
    DeleteLine(u16),
    DuplicateLine(u16, u8),
    SwapLines(u16, u16),
    MoveLine(u16, u16),
    FlipBit(u16, u8),
    DeleteBytes(u16, u8),
    InsertBytes(u16, Vec<u8>),
    /// Replaces the n-th run of digits with a hostile number.
    ReplaceNumber(u16, usize),
    /// Inserts a hostile number or fragment.
    InsertToken(u16, usize),
    /// Nests the text at a point `depth` times in arrays or inline tables.
    DeepNesting(u16, u16, bool),
    /// Copies a line of another seed in.
    SpliceLine(u16, u16, u16),
    /// Repeats a line many times (long files, repeated keys).
    RepeatLine(u16, u16),
    Truncate(u16),
}

fn pick(len: usize, at: u16) -> usize {
    if len == 0 {
        0
    } else {
        (at as usize * len) / (u16::MAX as usize + 1)
    }
}

fn lines_of(text: &[u8]) -> Vec<Vec<u8>> {
    text.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

impl Mutation {
    /// Applies the edit; `seeds` is the corpus for splicing. The result is cut to
    /// [`MAX_INPUT_BYTES`].
    pub fn apply(&self, input: &mut Vec<u8>, seeds: &[&[u8]]) {
        match self {
            Mutation::DeleteLine(at) => {
                let mut lines = lines_of(input);
                if !lines.is_empty() {
                    lines.remove(pick(lines.len(), *at));
                }
                *input = lines.concat();
            }
            Mutation::DuplicateLine(at, times) => {
                let mut lines = lines_of(input);
                if !lines.is_empty() {
                    let i = pick(lines.len(), *at);
                    let line = lines[i].clone();
                    for _ in 0..=*times % 4 {
                        lines.insert(i, line.clone());
                    }
                }
                *input = lines.concat();
            }
            Mutation::SwapLines(a, b) => {
                let mut lines = lines_of(input);
                if !lines.is_empty() {
                    let (a, b) = (pick(lines.len(), *a), pick(lines.len(), *b));
                    lines.swap(a, b);
                }
                *input = lines.concat();
            }
            Mutation::MoveLine(from, to) => {
                let mut lines = lines_of(input);
                if !lines.is_empty() {
                    let line = lines.remove(pick(lines.len(), *from));
                    let to = pick(lines.len() + 1, *to);
                    lines.insert(to, line);
                }
                *input = lines.concat();
            }
            Mutation::FlipBit(at, bit) => {
                if !input.is_empty() {
                    let i = pick(input.len(), *at);
                    input[i] ^= 1 << (bit % 8);
                }
            }
            Mutation::DeleteBytes(at, n) => {
                let i = pick(input.len(), *at);
                let end = (i + *n as usize).min(input.len());
                input.drain(i..end);
            }
            Mutation::InsertBytes(at, bytes) => {
                let i = pick(input.len() + 1, *at);
                input.splice(i..i, bytes.iter().copied());
            }
            Mutation::ReplaceNumber(nth, which) => {
                let runs = digit_runs(input);
                if runs.is_empty() {
                    return;
                }
                let (start, end) = runs[pick(runs.len(), *nth)];
                let number = HOSTILE_NUMBERS[which % HOSTILE_NUMBERS.len()].as_bytes();
                input.splice(start..end, number.iter().copied());
            }
            Mutation::InsertToken(at, which) => {
                let all = HOSTILE_NUMBERS.len() + HOSTILE_FRAGMENTS.len();
                let which = which % all;
                let token = if which < HOSTILE_NUMBERS.len() {
                    HOSTILE_NUMBERS[which]
                } else {
                    HOSTILE_FRAGMENTS[which - HOSTILE_NUMBERS.len()]
                };
                let i = char_boundary(input, pick(input.len() + 1, *at));
                input.splice(i..i, token.bytes());
            }
            Mutation::DeepNesting(at, depth, table) => {
                let depth = (*depth as usize) % 2_000;
                let i = char_boundary(input, pick(input.len() + 1, *at));
                let (open, close): (&[u8], &[u8]) =
                    if *table { (b"{a=", b"}") } else { (b"[", b"]") };
                let mut nested = open.repeat(depth);
                nested.extend_from_slice(b"1");
                nested.extend(close.repeat(depth));
                input.splice(i..i, nested);
            }
            Mutation::SpliceLine(seed, line, at) => {
                if seeds.is_empty() {
                    return;
                }
                let other = lines_of(seeds[pick(seeds.len(), *seed)]);
                if other.is_empty() {
                    return;
                }
                let line = other[pick(other.len(), *line)].clone();
                let mut lines = lines_of(input);
                let to = pick(lines.len() + 1, *at);
                lines.insert(to, line);
                *input = lines.concat();
            }
            Mutation::RepeatLine(at, times) => {
                let mut lines = lines_of(input);
                if !lines.is_empty() {
                    let i = pick(lines.len(), *at);
                    let line = lines[i].clone();
                    // No more copies than fit in an input: the generator runs beside measured
                    // cases, and 5,000 copies of a 64 KiB line were 320 MB of its own.
                    let times =
                        ((*times as usize) % 5_000).min(MAX_INPUT_BYTES / line.len().max(1));
                    lines.splice(i..i, std::iter::repeat_n(line, times));
                }
                *input = lines.concat();
            }
            Mutation::Truncate(at) => {
                let keep = pick(input.len() + 1, *at);
                input.truncate(keep);
            }
        }
        input.truncate(MAX_INPUT_BYTES);
    }
}

fn digit_runs(input: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in input.iter().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, input.len()));
    }
    runs
}

/// The nearest earlier position that does not split a UTF-8 sequence, so inserted text stays
/// text (byte-level damage is FlipBit's job).
fn char_boundary(input: &[u8], mut i: usize) -> usize {
    while i > 0 && i < input.len() && (input[i] & 0b1100_0000) == 0b1000_0000 {
        i -= 1;
    }
    i
}

/// Any one mutation.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<u16>().prop_map(Mutation::DeleteLine),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(a, n)| Mutation::DuplicateLine(a, n)),
        1 => (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Mutation::MoveLine(a, b)),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(a, b)| Mutation::FlipBit(a, b)),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(a, n)| Mutation::DeleteBytes(a, n)),
        1 => (any::<u16>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(a, b)| Mutation::InsertBytes(a, b)),
        1 => (any::<u16>(), "\\PC{1,8}").prop_map(|(a, s)| Mutation::InsertBytes(a, s.into_bytes())),
        3 => (any::<u16>(), any::<usize>()).prop_map(|(a, w)| Mutation::ReplaceNumber(a, w)),
        2 => (any::<u16>(), any::<usize>()).prop_map(|(a, w)| Mutation::InsertToken(a, w)),
        1 => (any::<u16>(), any::<u16>(), any::<bool>())
            .prop_map(|(a, d, t)| Mutation::DeepNesting(a, d, t)),
        2 => (any::<u16>(), any::<u16>(), any::<u16>())
            .prop_map(|(s, l, a)| Mutation::SpliceLine(s, l, a)),
        1 => (any::<u16>(), any::<u16>()).prop_map(|(a, n)| Mutation::RepeatLine(a, n)),
        1 => any::<u16>().prop_map(Mutation::Truncate),
    ]
}

/// A seed with one to eight mutations applied, or (one case in eight) random bytes.
pub fn mutated(seeds: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    let from_seed = (0..seeds.len(), proptest::collection::vec(mutation(), 1..8)).prop_map(
        move |(seed, mutations)| {
            let mut input = seeds[seed].to_vec();
            for m in &mutations {
                m.apply(&mut input, seeds);
            }
            input
        },
    );
    prop_oneof![
        7 => from_seed,
        1 => proptest::collection::vec(any::<u8>(), 0..4096),
    ]
}
