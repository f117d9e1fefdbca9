//! What every benchmark reports with: reports/bench.json, percentiles, resident memory.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};

const REPORT: &str = "reports/bench.json";

/// Writes `value` under `key` in reports/bench.json, keeping the other keys.
pub fn merge_report(key: &str, value: Value) -> Result<()> {
    let path = Path::new(REPORT);
    let mut all: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| json!({}));
    all[key] = value;
    std::fs::create_dir_all("reports")?;
    std::fs::write(path, serde_json::to_string_pretty(&all)? + "\n")
        .with_context(|| format!("writing {REPORT}"))?;
    println!("wrote {REPORT}");
    Ok(())
}

/// Peak and current resident memory of this process, in MiB (from /proc/self/status).
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The `p` quantile (0–1) of `values`, nearest rank; NaN when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Milliseconds, as the reports give times.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
