//! The results table: one row per figure, with the target it is held to (PASS/FAIL) and the
//! details needed to read it (connection layout, counts, CPU split), rendered as markdown.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A target a figure is held to.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn passes(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t,
            Target::AtMost(t) => value <= t,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Target::AtLeast(t) => format!(">= {} {unit}", number(t)),
            Target::AtMost(t) => format!("<= {} {unit}", number(t)),
        }
    }
}

struct Row {
    metric: String,
    value: String,
    target: String,
    verdict: &'static str,
    detail: String,
}

/// The whole report: the command line, the context, the rows, free-form notes.
pub struct Report {
    command: String,
    context: Vec<String>,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    /// Prints the command line, starts its report and finds the gantry binary under test:
    /// how every scenario begins.
    pub fn begin(command: String, gantry: &Path) -> anyhow::Result<(Report, PathBuf)> {
        println!("{command}\n");
        let binary = gantry
            .canonicalize()
            .with_context(|| format!("finding {}", gantry.display()))?;
        Ok((Report::new(command), binary))
    }

    pub fn new(command: String) -> Report {
        Report {
            command,
            context: Vec::new(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn context(&mut self, line: impl Into<String>) {
        self.context.push(line.into());
    }

    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    /// A figure without a target.
    pub fn row(&mut self, metric: &str, value: impl Into<String>, detail: impl Into<String>) {
        self.push(Row {
            metric: metric.into(),
            value: value.into(),
            target: String::new(),
            verdict: "",
            detail: detail.into(),
        });
    }

    /// A figure held to `target`; `value` is in `unit`.
    pub fn check(
        &mut self,
        metric: &str,
        value: f64,
        unit: &str,
        target: Target,
        detail: impl Into<String>,
    ) {
        let verdict = if target.passes(value) { "PASS" } else { "FAIL" };
        self.push(Row {
            metric: metric.into(),
            value: format!("{} {unit}", number(value)),
            target: target.describe(unit),
            verdict,
            detail: detail.into(),
        });
    }

    /// A figure that has a target but could not be measured.
    pub fn missing(&mut self, metric: &str, target: Target, unit: &str, why: impl Into<String>) {
        self.push(Row {
            metric: metric.into(),
            value: "n/a".into(),
            target: target.describe(unit),
            verdict: "FAIL",
            detail: why.into(),
        });
    }

    fn push(&mut self, row: Row) {
        println!(
            "{:<44} {:>16}  {:<14} {:<4}  {}",
            row.metric, row.value, row.target, row.verdict, row.detail
        );
        self.rows.push(row);
    }

    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict == "FAIL").count()
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# gantry benchmark\n\n```\n{}\n```\n", self.command);
        for line in &self.context {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(
            out,
            "\n| Metric | Value | Target | Result | Details |\n|---|---:|---|---|---|"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(&r.metric),
                cell(&r.value),
                cell(&r.target),
                r.verdict,
                cell(&r.detail)
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\n## Notes\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A figure with a precision that suits its magnitude: 3120, 31.2, 3.12.
pub fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_rendering() {
        let mut r = Report::new("gantry-bench --gantry g".into());
        r.check(
            "creates/s (64 clients)",
            3120.4,
            "/s",
            Target::AtLeast(3000.0),
            "HTTP/1.1",
        );
        r.check("watch p99", 12.5, "ms", Target::AtMost(10.0), "a|b");
        r.row("gets/s", "9000 /s", "");
        assert_eq!(r.failures(), 1);
        let md = r.markdown();
        assert!(
            md.contains("| creates/s (64 clients) | 3120 /s | >= 3000 /s | PASS | HTTP/1.1 |"),
            "{md}"
        );
        assert!(
            md.contains("| watch p99 | 12.5 ms | <= 10 ms | FAIL | a\\|b |"),
            "{md}"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(number(1.23456), "1.23");
        assert_eq!(number(12.3456), "12.3");
        assert_eq!(number(123.456), "123");
        assert_eq!(number(40.0), "40");
    }
}
