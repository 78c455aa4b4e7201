//! Rows, the printed table, the JSON file, and the comparison with a saved baseline.

use serde::{Deserialize, Serialize};

/// Which way is better for a row's figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Throughput, rates.
    Higher,
    /// Costs, allocations.
    Lower,
}

/// One measured row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Stable name (the key baselines are matched by).
    pub name: String,
    /// Linnet's figure, if measured.
    pub linnet: Option<f64>,
    /// The reference figure (smoltcp or Linux), if measured.
    pub reference: Option<f64>,
    /// What the reference is (`smoltcp`, `linux veth`, ...).
    pub reference_name: String,
    /// Unit of both figures.
    pub unit: String,
    /// Which way is better.
    pub better: Better,
    /// Why a figure is missing, or a remark.
    pub note: String,
}

impl Row {
    /// A row with both figures.
    pub fn new(
        name: &str,
        linnet: f64,
        reference: Option<f64>,
        ref_name: &str,
        unit: &str,
        better: Better,
    ) -> Row {
        Row {
            name: name.into(),
            linnet: Some(linnet),
            reference,
            reference_name: ref_name.into(),
            unit: unit.into(),
            better,
            note: String::new(),
        }
    }

    /// A row that could not be measured.
    pub fn missing(name: &str, ref_name: &str, unit: &str, better: Better, why: &str) -> Row {
        Row {
            name: name.into(),
            linnet: None,
            reference: None,
            reference_name: ref_name.into(),
            unit: unit.into(),
            better,
            note: why.into(),
        }
    }

    /// Linnet / reference, when both are measured and the reference is non-zero.
    pub fn ratio(&self) -> Option<f64> {
        match (self.linnet, self.reference) {
            (Some(l), Some(r)) if r != 0.0 => Some(l / r),
            _ => None,
        }
    }
}

/// A run: its rows and how it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Quick mode (short, noisy: not for baselines).
    pub quick: bool,
    /// Seconds measured per row.
    pub secs_per_row: f64,
    /// The rows.
    pub rows: Vec<Row>,
}

fn fmt_num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(0.0) => "0".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) if v.abs() >= 0.01 => format!("{v:.2}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// The table, as printed.
pub fn table(r: &Report) -> String {
    let mut lines = vec![[
        "row".to_string(),
        "linnet".into(),
        "reference".into(),
        "ref".into(),
        "unit".into(),
        "ratio".into(),
        "note".into(),
    ]];
    for row in &r.rows {
        lines.push([
            row.name.clone(),
            fmt_num(row.linnet),
            fmt_num(row.reference),
            row.reference_name.clone(),
            row.unit.clone(),
            row.ratio().map_or("-".into(), |x| format!("{x:.2}x")),
            row.note.clone(),
        ]);
    }
    let mut w = [0usize; 7];
    for l in &lines {
        for (i, c) in l.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (n, l) in lines.iter().enumerate() {
        let mut s = String::new();
        for (i, c) in l.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i == 1 || i == 2 || i == 5 {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            }
            s.push_str("  ");
        }
        out.push_str(s.trim_end());
        out.push('\n');
        if n == 0 {
            out.push_str(&"-".repeat(w.iter().sum::<usize>() + 2 * 6));
            out.push('\n');
        }
    }
    out
}

/// The same table in Markdown (for the README).
pub fn markdown(r: &Report) -> String {
    let mut out = String::from(
        "| row | linnet | reference | ref | unit | ratio |\n|---|---:|---:|---|---|---:|\n",
    );
    for row in &r.rows {
        let linnet = if row.linnet.is_none() && !row.note.is_empty() {
            row.note.clone()
        } else {
            fmt_num(row.linnet)
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.name,
            linnet,
            fmt_num(row.reference),
            row.reference_name,
            row.unit,
            row.ratio().map_or("-".into(), |x| format!("{x:.2}x"))
        ));
    }
    out
}

/// A regression found against a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// Row name.
    pub name: String,
    /// Baseline figure.
    pub before: f64,
    /// This run's figure.
    pub after: f64,
    /// Relative change in the bad direction (0.15 = 15% worse).
    pub worse_by: f64,
}

/// Rows whose Linnet figure is more than `tolerance` (0.10 = 10%) worse than the baseline's.
/// Rows missing from either side are not compared. For a "lower is better" figure whose
/// baseline is zero (allocations per packet), any value above 0.01 is a regression.
pub fn compare(base: &Report, new: &Report, tolerance: f64) -> Vec<Regression> {
    let mut out = Vec::new();
    for row in &new.rows {
        let Some(after) = row.linnet else { continue };
        let Some(before) = base
            .rows
            .iter()
            .find(|b| b.name == row.name)
            .and_then(|b| b.linnet)
        else {
            continue;
        };
        let worse_by = match row.better {
            Better::Higher if before > 0.0 => (before - after) / before,
            Better::Lower if before > 0.0 => (after - before) / before,
            Better::Lower => {
                if after > 0.01 {
                    f64::INFINITY
                } else {
                    0.0
                }
            }
            Better::Higher => 0.0,
        };
        if worse_by > tolerance {
            out.push(Regression {
                name: row.name.clone(),
                before,
                after,
                worse_by,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(rows: Vec<Row>) -> Report {
        Report {
            quick: false,
            secs_per_row: 1.0,
            rows,
        }
    }

    #[test]
    fn regressions_respect_direction_and_tolerance() {
        let base = rep(vec![
            Row::new("bulk", 10.0, Some(5.0), "smoltcp", "Gbit/s", Better::Higher),
            Row::new("cost", 100.0, None, "-", "ns/packet", Better::Lower),
            Row::new("allocs", 0.0, None, "-", "allocs/packet", Better::Lower),
            Row::new("gone", 1.0, None, "-", "x", Better::Higher),
        ]);
        let new = rep(vec![
            Row::new("bulk", 8.5, Some(5.0), "smoltcp", "Gbit/s", Better::Higher),
            Row::new("cost", 105.0, None, "-", "ns/packet", Better::Lower),
            Row::new("allocs", 0.5, None, "-", "allocs/packet", Better::Lower),
            Row::new("new", 1.0, None, "-", "x", Better::Higher),
        ]);
        let r = compare(&base, &new, 0.10);
        let names: Vec<_> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["bulk", "allocs"]);
        assert!((r[0].worse_by - 0.15).abs() < 1e-9);
        // Better figures are never regressions.
        let better = rep(vec![
            Row::new("bulk", 20.0, None, "-", "Gbit/s", Better::Higher),
            Row::new("cost", 50.0, None, "-", "ns/packet", Better::Lower),
        ]);
        assert!(compare(&base, &better, 0.10).is_empty());
    }

    #[test]
    fn table_and_json_round_trip() {
        let r = rep(vec![
            Row::new(
                "bulk",
                12.345,
                Some(4.0),
                "smoltcp",
                "Gbit/s",
                Better::Higher,
            ),
            Row::missing(
                "rx nf1000",
                "-",
                "ns/packet",
                Better::Lower,
                "skipped: not root",
            ),
        ]);
        let t = table(&r);
        assert!(t.contains("12.3"), "{t}");
        assert!(t.contains("3.09x"), "{t}");
        assert!(t.contains("skipped: not root"), "{t}");
        let j = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&j).unwrap();
        assert_eq!(back.rows.len(), 2);
        assert_eq!(back.rows[0].linnet, Some(12.345));
        assert!(markdown(&r).contains("| bulk | 12.3 | 4.00 | smoltcp | Gbit/s | 3.09x |"));
    }
}
