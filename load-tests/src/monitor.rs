//! Resource usage of the stack, read from the kernel's and Redis's own
//! counters (issue 6, "Capacity and cost"): CPU time of the gateway, the
//! simulators and the load generator from `/proc/<pid>/stat` (user +
//! system time of every thread, live or exited; `sso_testbed::procfs`),
//! resident memory from `/proc/<pid>/status`, and Redis's CPU, commands and network bytes from
//! `INFO`. Dividing deltas by the logins of the same interval gives a
//! cost per login that does not depend on who else shares the cores.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use sso_testbed::procfs;

/// The processes watched (a staging target has only the generator).
#[derive(Debug, Clone, Copy, Default)]
pub struct Pids {
    /// The gateway.
    pub gateway: Option<u32>,
    /// The simulators.
    pub testbed: Option<u32>,
}

/// Counters at one instant.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Milliseconds since the run started.
    pub at_ms: u32,
    /// CPU seconds used so far by the gateway.
    pub gateway_cpu: Option<f64>,
    /// By the simulators.
    pub testbed_cpu: Option<f64>,
    /// By the load generator (this process).
    pub generator_cpu: Option<f64>,
    /// By Redis.
    pub redis_cpu: Option<f64>,
    /// The gateway's resident memory, KiB.
    pub gateway_rss_kib: Option<u64>,
    /// The gateway's peak resident memory, KiB.
    pub gateway_peak_kib: Option<u64>,
    /// Redis calls so far, by command (`get`, `set`, ...), INFO excluded.
    pub redis_calls: BTreeMap<String, u64>,
    /// Bytes Redis received and sent so far.
    pub redis_net_bytes: Option<u64>,
}

fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Calls by command from `INFO commandstats`.
fn command_calls(info: &str) -> BTreeMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .filter(|(name, _)| name != "info")
        .collect()
}

/// Reads the counters.
pub struct Monitor {
    pids: Pids,
    redis: Option<MultiplexedConnection>,
}

impl Monitor {
    /// Watches `pids`, and Redis at `redis_url` if given.
    pub async fn new(pids: Pids, redis_url: Option<&str>) -> Self {
        let redis = match redis_url {
            Some(url) => match redis::Client::open(url) {
                Ok(client) => client.get_multiplexed_async_connection().await.ok(),
                Err(_) => None,
            },
            None => None,
        };
        Self { pids, redis }
    }

    /// The counters now.
    pub async fn read(&mut self, at_ms: u32) -> Counters {
        let cpu = |pid: Option<u32>| pid.and_then(|pid| procfs::cpu_seconds(&pid.to_string()));
        let kib = |field| {
            self.pids
                .gateway
                .and_then(|pid| procfs::status_kib(&pid.to_string(), field))
        };
        let mut counters = Counters {
            at_ms,
            gateway_cpu: cpu(self.pids.gateway),
            testbed_cpu: cpu(self.pids.testbed),
            generator_cpu: procfs::cpu_seconds("self"),
            gateway_rss_kib: kib("VmRSS"),
            gateway_peak_kib: kib("VmHWM"),
            ..Counters::default()
        };
        if let Some(redis) = self.redis.as_mut() {
            let info: Result<String, _> = tokio::time::timeout(
                Duration::from_secs(2),
                redis::cmd("INFO")
                    .arg("cpu")
                    .arg("stats")
                    .arg("commandstats")
                    .query_async(redis),
            )
            .await
            .unwrap_or_else(|_| Err(redis::RedisError::from(std::io::Error::other("timeout"))));
            if let Ok(info) = info {
                let seconds = |name| info_field(&info, name).and_then(|v| v.parse::<f64>().ok());
                counters.redis_cpu = seconds("used_cpu_sys")
                    .zip(seconds("used_cpu_user"))
                    .map(|(sys, user)| sys + user);
                let bytes = |name| info_field(&info, name).and_then(|v| v.parse::<u64>().ok());
                counters.redis_net_bytes = bytes("total_net_input_bytes")
                    .zip(bytes("total_net_output_bytes"))
                    .map(|(input, output)| input + output);
                counters.redis_calls = command_calls(&info);
            }
        }
        counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_info_fields_are_parsed() {
        let info = "# CPU\r\nused_cpu_sys:1.50\r\nused_cpu_user:2.25\r\n# Stats\r\ntotal_net_input_bytes:100\r\n# Commandstats\r\ncmdstat_get:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\ncmdstat_info:calls=3,usec=1\r\ncmdstat_set:calls=4,usec=9\r\n";
        assert_eq!(info_field(info, "used_cpu_sys"), Some("1.50"));
        assert_eq!(info_field(info, "total_net_input_bytes"), Some("100"));
        assert_eq!(info_field(info, "missing"), None);
        let calls = command_calls(info);
        assert_eq!(calls.get("get"), Some(&12));
        assert_eq!(calls.get("set"), Some(&4));
        assert!(!calls.contains_key("info"), "the monitor's own calls");
    }
}
