//! A process's own counters as the Linux kernel keeps them, for the
//! benchmarks and the load tests: CPU time (user + system, every thread,
//! live or exited) from `/proc/<pid>/stat`, memory from
//! `/proc/<pid>/status`. `pid` is a process id or `self`.

use std::sync::OnceLock;

/// Clock ticks per second of `/proc/*/stat` (`getconf CLK_TCK`, 100 if unknown).
pub fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|ticks| *ticks > 0.0)
            .unwrap_or(100.0)
    })
}

/// utime + stime (fields 14 and 15 of `/proc/<pid>/stat`), in seconds.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces;
    // what follows starts at field 3, so utime is at index 11.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_counters_are_read() {
        assert!(clock_ticks() >= 100.0);
        let before = cpu_seconds("self").unwrap();
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_add(i ^ (x >> 3));
        }
        assert_ne!(x, 1);
        let after = cpu_seconds("self").unwrap();
        assert!(after > before, "{before} -> {after}");
        assert!(status_kib("self", "VmRSS").unwrap() > 0);
        assert!(status_kib("self", "VmHWM").unwrap() >= status_kib("self", "VmRSS").unwrap() / 2);
        assert_eq!(status_kib("self", "NoSuchField"), None);
        assert_eq!(cpu_seconds("0"), None, "no such process");
    }
}
