//! The process's own figures for `/metrics`, read from `/proc` at each
//! scrape, under the names every Prometheus client library gives them
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...), so
//! dashboards made for other services work unchanged.
//!
//! Read by hand: `prometheus-client` has no process collector, and the
//! `procfs` crate would add its dependencies to the binary for the six
//! numbers below, each one field of a text file. Where `/proc` is missing
//! (a fork run with `cargo run` on macOS) the figures are left out, and
//! the rest of the scrape is unchanged.

use std::fs;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

/// The unit of `/proc`'s CPU times: Linux's `USER_HZ`, 100 on every
/// architecture, fixed by its ABI (what `sysconf(_SC_CLK_TCK)` returns).
const TICKS_PER_SECOND: f64 = 100.0;

/// The figures, read at each scrape.
#[derive(Debug)]
pub struct ProcessCollector;

/// One reading of the process.
#[derive(Debug, Default, PartialEq)]
struct Figures {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    start_time_seconds: f64,
    open_fds: u64,
    max_fds: u64,
}

impl Figures {
    /// This process's figures, if `/proc` is there to read them.
    fn read() -> Option<Self> {
        let stat = fs::read_to_string("/proc/self/stat").ok()?;
        let boot = fs::read_to_string("/proc/stat").ok()?;
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let limits = fs::read_to_string("/proc/self/limits").ok()?;
        let open_fds = fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        Self::parse(&stat, &boot, &status, &limits, open_fds)
    }

    /// The figures in `/proc/self/stat` (see proc_pid_stat(5)), `/proc/stat`,
    /// `/proc/self/status` and `/proc/self/limits`.
    fn parse(stat: &str, boot: &str, status: &str, limits: &str, open_fds: u64) -> Option<Self> {
        // The command name, in parentheses, may hold spaces and parentheses:
        // fields are counted after its last `)`, from field 3 (the state).
        let fields: Vec<&str> = stat
            .get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
        let ticks = field(14)? + field(15)?; // utime + stime
        let started_ticks = field(22)?; // since boot
        let boot_time: u64 = value_after(boot, "btime")?.parse().ok()?;
        let resident_kib: u64 = value_after(status, "VmRSS:")?.parse().ok()?;
        let max_fds = limits
            .lines()
            .find_map(|line| line.strip_prefix("Max open files"))?
            .split_whitespace()
            .next()?;
        Some(Self {
            cpu_seconds: ticks as f64 / TICKS_PER_SECOND,
            resident_bytes: resident_kib * 1024,
            virtual_bytes: field(23)?,
            start_time_seconds: boot_time as f64 + started_ticks as f64 / TICKS_PER_SECOND,
            open_fds,
            // "unlimited" is the largest number there is.
            max_fds: max_fds.parse().unwrap_or(u64::MAX),
        })
    }
}

/// The first word after `key` at the start of a line.
fn value_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))?
        .split_whitespace()
        .next()
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(figures) = Figures::read() else {
            return Ok(());
        };
        let seconds = Some(&Unit::Seconds);
        let bytes = Some(&Unit::Bytes);
        let counter = ConstCounter::new(figures.cpu_seconds);
        counter.encode(encoder.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent",
            seconds,
            counter.metric_type(),
        )?)?;
        let gauges: [(&str, &str, Option<&Unit>, f64); 5] = [
            (
                "process_resident_memory",
                "Resident memory size",
                bytes,
                figures.resident_bytes as f64,
            ),
            (
                "process_virtual_memory",
                "Virtual memory size",
                bytes,
                figures.virtual_bytes as f64,
            ),
            (
                "process_start_time",
                "Start time of the process since the Unix epoch",
                seconds,
                figures.start_time_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                None,
                figures.open_fds as f64,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                None,
                figures.max_fds as f64,
            ),
        ];
        for (name, help, unit, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, unit, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proc_files_give_the_figures() {
        // A command name with a space and a parenthesis, as a process may name itself.
        let stat = "42 (my serv) ice) S 1 42 42 0 -1 4194560 300 0 0 0 \
                    250 125 0 0 20 0 3 0 12000 9437184 880 18446744073709551615";
        let boot = "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n";
        let status = "Name:\tservice\nVmRSS:\t    3520 kB\nThreads:\t3\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 4096                 files\n";
        let figures = Figures::parse(stat, boot, status, limits, 9).unwrap();
        assert_eq!(
            figures,
            Figures {
                cpu_seconds: 3.75,
                resident_bytes: 3520 * 1024,
                virtual_bytes: 9_437_184,
                start_time_seconds: 1_700_000_120.0,
                open_fds: 9,
                max_fds: 1024,
            }
        );
    }

    #[test]
    fn this_process_is_read() {
        let figures = Figures::read().expect("Linux's /proc");
        assert!(
            figures.resident_bytes > 0 && figures.open_fds > 0,
            "{figures:?}"
        );
    }
}
