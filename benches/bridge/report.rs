//! Figures: rates, percentiles, resident memory, the bridge's metrics, and tables.

use std::time::Duration;

/// Messages per second for `count` messages in `took`.
pub fn rate(count: usize, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64().max(f64::EPSILON)
}

/// The `p`-th percentile (0–100) of the samples, by nearest rank.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// The CPU time a process has used so far (user and system), in seconds, from `/proc`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // After the command's name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
    let (user, system) = (ticks(11), ticks(12));
    (user.expect("utime") + system.expect("stime")) / TICKS_PER_SECOND
}

/// Linux's clock ticks per second for `/proc` times (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU used by Synapse and by the bridge over a stretch of work.
pub struct CpuSpent {
    pub synapse: f64,
    pub bridge: f64,
}

/// Measures the CPU Synapse and the bridge spend while `work` runs.
pub async fn cpu_during<T>(
    synapse: u32,
    bridge: u32,
    work: impl std::future::Future<Output = T>,
) -> (T, CpuSpent) {
    let (synapse_before, bridge_before) = (cpu_seconds(synapse), cpu_seconds(bridge));
    let out = work.await;
    let spent = CpuSpent {
        synapse: cpu_seconds(synapse) - synapse_before,
        bridge: cpu_seconds(bridge) - bridge_before,
    };
    (out, spent)
}

/// Milliseconds of CPU per message.
pub fn per_message(seconds: f64, count: usize) -> String {
    format!("{:.1}", seconds * 1000.0 / count.max(1) as f64)
}

/// A figure of the bridge's metrics: the sum over the label sets whose labels contain
/// `labels` (empty: all).
pub fn metric(metrics: &str, name: &str, labels: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| {
            line.strip_prefix(name).is_some_and(|rest| {
                (rest.starts_with(' ') && labels.is_empty())
                    || (rest.starts_with('{') && rest.contains(labels))
            })
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A table: a title, a header and rows, columns padded to their widest cell.
pub struct Table {
    title: String,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            rows: vec![header.iter().map(|cell| (*cell).to_owned()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        println!("\n{}", self.title);
        for (r, row) in self.rows.iter().enumerate() {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, width))| {
                    if c == 0 {
                        format!("{cell:<width$}")
                    } else {
                        format!("{cell:>width$}")
                    }
                })
                .collect();
            println!("| {} |", line.join(" | "));
            if r == 0 {
                let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
                println!("|-{}-|", rule.join("-|-"));
            }
        }
    }
}
