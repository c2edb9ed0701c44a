//! A process's CPU time and memory from Linux `/proc`: `stat` (utime + stime, in clock ticks)
//! and `status` (VmRSS, VmHWM). The parsers are pure; [`sample`] reads the files. Used by
//! `/metrics` for this process and by the load tester for the server it drives.

/// CPU time and memory of one process at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSample {
    /// User + system CPU time since the process started, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size now, in bytes.
    pub rss_bytes: u64,
    /// Peak resident set size since the process started, in bytes.
    pub peak_rss_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("no process {0} (or /proc is not readable)")]
    NoProcess(String),
    #[error("unexpected /proc format: {0}")]
    Format(&'static str),
}

/// utime + stime (clock ticks) from the text of `/proc/<pid>/stat`. The command name may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat_ticks(stat: &str) -> Result<u64, ProcError> {
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or(ProcError::Format("stat without (comm)"))?;
    let f: Vec<&str> = after.split_whitespace().collect();
    // After comm: state(0) ppid(1) … utime(11) stime(12).
    let num = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(ProcError::Format("stat utime/stime"))
    };
    Ok(num(11)? + num(12)?)
}

/// A `kB` line of `/proc/<pid>/status` (e.g. `VmRSS`), in bytes; 0 when absent.
pub fn parse_status_kb(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the C library.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Samples `pid` (`"self"` for this process).
pub fn sample(pid: &str) -> Result<ProcessSample, ProcError> {
    let read = |file: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .map_err(|_| ProcError::NoProcess(pid.to_string()))
    };
    let ticks = parse_stat_ticks(&read("stat")?)?;
    let status = read("status")?;
    Ok(ProcessSample {
        cpu_seconds: ticks as f64 / ticks_per_second(),
        rss_bytes: parse_status_kb(&status, "VmRSS"),
        peak_rss_bytes: parse_status_kb(&status, "VmHWM"),
    })
}

/// The command name of `pid` (`/proc/<pid>/comm`), to check that it is the expected program.
pub fn command_name(pid: &str) -> Result<String, ProcError> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .map_err(|_| ProcError::NoProcess(pid.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (giao ban) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 9 0 1000 1000000 300 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat).unwrap(), 325);
        assert!(parse_stat_ticks("4242 giaoban S 1").is_err());
        assert!(parse_stat_ticks("4242 (giaoban) S 1 2").is_err());
    }

    #[test]
    fn status_lines_give_bytes() {
        let status = "Name:\tgiaoban\nVmHWM:\t  150000 kB\nVmRSS:\t   98765 kB\n";
        assert_eq!(parse_status_kb(status, "VmRSS"), 98_765 * 1024);
        assert_eq!(parse_status_kb(status, "VmHWM"), 150_000 * 1024);
        assert_eq!(parse_status_kb(status, "VmSwap"), 0);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = sample("self").unwrap();
        assert!(s.rss_bytes > 0 && s.peak_rss_bytes >= s.rss_bytes);
        assert!(matches!(sample("0"), Err(ProcError::NoProcess(_))));
    }
}
