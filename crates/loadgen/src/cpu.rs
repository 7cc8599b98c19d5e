//! CPU time from `/proc` (Linux): of the generator's own threads, of an in-process server's
//! threads, or of a server process by pid. Elsewhere the numbers are absent.

use std::path::Path;

/// Kernel clock ticks per second for `/proc/*/stat` times (USER_HZ: 100 on every Linux
/// architecture Rust targets).
const TICKS_PER_S: f64 = 100.0;

/// Name prefix of the generator's runtime threads; every other thread of the process is the
/// in-process server's.
pub const GENERATOR_THREAD_PREFIX: &str = "sb-loadgen";

/// CPU seconds used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTimes {
    /// The generator's threads.
    pub generator_s: f64,
    /// The server: its process, or the other threads of this one.
    pub server_s: f64,
}

/// `utime + stime` in seconds from the text of a `/proc/.../stat` file, and the thread name.
fn parse_stat(text: &str) -> Option<(String, f64)> {
    // The name is in parentheses and may itself contain spaces or parentheses.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3 of the man page, utime 14, stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / TICKS_PER_S))
}

fn read_stat(path: &Path) -> Option<(String, f64)> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// Where the server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerCpu {
    /// In this process (threads not named like the generator's).
    InProcess,
    /// Another process.
    Pid(u32),
    /// Unknown: only the generator is measured.
    Unknown,
}

/// CPU seconds now, or `None` without `/proc`.
pub fn sample(server: ServerCpu) -> Option<CpuTimes> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let mut times = CpuTimes::default();
    for task in tasks.flatten() {
        let Some((name, seconds)) = read_stat(&task.path().join("stat")) else { continue };
        if name.starts_with(GENERATOR_THREAD_PREFIX) {
            times.generator_s += seconds;
        } else if server == ServerCpu::InProcess {
            times.server_s += seconds;
        }
    }
    if let ServerCpu::Pid(pid) = server {
        times.server_s = read_stat(Path::new(&format!("/proc/{pid}/stat")))?.1;
    }
    Some(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_odd_names() {
        let line = "4242 (sb-loadgen (1)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100 0 0";
        assert_eq!(parse_stat(line), Some(("sb-loadgen (1)".to_string(), 3.0)));
        assert_eq!(parse_stat("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }
}
