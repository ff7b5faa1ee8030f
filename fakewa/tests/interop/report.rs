//! The pass/fail table of the interop check: one column per client, one row
//! per step. A step that fails skips the steps of its chain after it.

use std::future::Future;
use std::time::{Duration, Instant};

pub enum Outcome {
    Pass(Duration),
    Fail(String),
    Skipped(&'static str),
    NotApplicable,
}

pub struct Report {
    pub client: &'static str,
    pub steps: Vec<(&'static str, Outcome)>,
    failed: Option<&'static str>,
}

impl Report {
    pub fn new(client: &'static str) -> Self {
        Self {
            client,
            steps: Vec::new(),
            failed: None,
        }
    }

    /// Later steps no longer depend on the earlier ones.
    pub fn new_chain(&mut self) {
        self.failed = None;
    }

    pub fn not_applicable(&mut self, step: &'static str) {
        self.steps.push((step, Outcome::NotApplicable));
    }

    pub async fn step<T>(
        &mut self,
        step: &'static str,
        run: impl Future<Output = Result<T, String>>,
    ) -> Option<T> {
        if let Some(failed) = self.failed {
            self.steps.push((step, Outcome::Skipped(failed)));
            return None;
        }
        let started = Instant::now();
        match run.await {
            Ok(value) => {
                self.steps.push((step, Outcome::Pass(started.elapsed())));
                Some(value)
            }
            Err(reason) => {
                self.steps.push((step, Outcome::Fail(reason)));
                self.failed = Some(step);
                None
            }
        }
    }

    pub fn failures(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|(step, outcome)| match outcome {
                Outcome::Fail(reason) => Some(format!("{} / {step}: {reason}", self.client)),
                Outcome::Skipped(after) => Some(format!(
                    "{} / {step}: skipped after `{after}` failed",
                    self.client
                )),
                _ => None,
            })
            .collect()
    }
}

/// The table, with the steps in the order the first report lists them.
pub fn table(reports: &[Report], total: Duration) -> String {
    let mut rows: Vec<&'static str> = Vec::new();
    for report in reports {
        for (step, _) in &report.steps {
            if !rows.contains(step) {
                rows.push(step);
            }
        }
    }
    let width = rows.iter().map(|row| row.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "\ninterop check: real WhatsApp Web clients against the fake server\n{:width$}",
        "step"
    );
    for report in reports {
        out.push_str(&format!("  {:<16}", report.client));
    }
    out.push('\n');
    for row in rows {
        out.push_str(&format!("{row:width$}"));
        for report in reports {
            let cell = match report.steps.iter().find(|(step, _)| *step == row) {
                Some((_, Outcome::Pass(took))) => format!("pass {:.1}s", took.as_secs_f64()),
                Some((_, Outcome::Fail(_))) => "FAIL".to_owned(),
                Some((_, Outcome::Skipped(_))) => "SKIPPED".to_owned(),
                Some((_, Outcome::NotApplicable)) | None => "n/a".to_owned(),
            };
            out.push_str(&format!("  {cell:<16}"));
        }
        out.push('\n');
    }
    out.push_str(&format!("total {:.0} s\n", total.as_secs_f64()));
    out
}
