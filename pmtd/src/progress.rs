//! Progress of long work (copy, verify): records, bytes, rate and file
//! number, as a live line when stderr is a terminal (indicatif), as a log
//! line every few seconds otherwise (tracing).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::info;

/// How often the log says how far the work is when stderr is no terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How often the live line is redrawn.
const DRAW_EVERY: Duration = Duration::from_millis(100);

/// Counts and shows the progress of one phase of work.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    phase: String,
    started: Instant,
    shown: Instant,
    records: u64,
    bytes: u64,
    file: u64,
    /// Records read back and compared.
    checked: u64,
}

/// "1.50 MiB" and friends.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

impl Progress {
    /// Progress shown on stderr: live if it is a terminal, logged if not.
    pub fn new(phase: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress::with(bar, true, phase)
    }

    /// Progress counted but never shown (tests, quiet runs).
    pub fn hidden(phase: &str) -> Progress {
        Progress::with(None, false, phase)
    }

    fn with(bar: Option<ProgressBar>, log: bool, phase: &str) -> Progress {
        let now = Instant::now();
        Progress { bar, log, phase: phase.to_string(), started: now, shown: now, records: 0, bytes: 0, file: 0, checked: 0 }
    }

    /// Starts another phase ("verify"), counting from zero.
    pub fn phase(&mut self, phase: &str) {
        self.phase = phase.to_string();
        self.started = Instant::now();
        self.records = 0;
        self.bytes = 0;
        self.file = 0;
        self.checked = 0;
        self.show(true);
    }

    /// One record of `bytes` done.
    pub fn record(&mut self, bytes: usize) {
        self.records += 1;
        self.bytes += bytes as u64;
        self.show(false);
    }

    /// One record read back and compared (a verify pass).
    pub fn checked(&mut self) {
        self.checked += 1;
        self.show(false);
    }

    /// Now in file `n`.
    pub fn file(&mut self, n: u64) {
        self.file = n;
        self.show(false);
    }

    /// Records done in this phase.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes done in this phase.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Prints a message above the live line (or logs it).
    pub fn note(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None if self.log => info!("{msg}"),
            None => {}
        }
    }

    /// The line that says how far the work is.
    pub fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let mut s = format!(
            "{}: file {}, {} records, {}, {}/s",
            self.phase,
            self.file,
            self.records,
            human_bytes(self.bytes),
            human_bytes((self.bytes as f64 / secs) as u64)
        );
        if self.checked > 0 {
            s.push_str(&format!(", {} records verified", self.checked));
        }
        s
    }

    fn show(&mut self, now: bool) {
        let since = self.shown.elapsed();
        match &self.bar {
            Some(b) if now || since >= DRAW_EVERY => {
                b.set_message(self.line());
                self.shown = Instant::now();
            }
            None if self.log && (since >= LOG_EVERY) => {
                info!("{}", self.line());
                self.shown = Instant::now();
            }
            _ => {}
        }
    }

    /// Ends the display; returns the final line.
    pub fn finish(&mut self) -> String {
        let line = self.line();
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        line
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_lines() {
        let mut p = Progress::hidden("copy");
        p.file(2);
        p.record(1000);
        p.record(24);
        assert_eq!((p.records(), p.bytes()), (2, 1024));
        assert!(p.line().starts_with("copy: file 2, 2 records, 1.00 KiB, "), "{}", p.line());
        p.checked();
        assert!(p.line().ends_with("/s, 1 records verified"), "{}", p.line());
        p.phase("verify");
        assert_eq!(p.records(), 0);
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 20), "3.00 MiB");
    }
}
