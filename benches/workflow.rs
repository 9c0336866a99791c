//! Workflow conformance checking: generated order logs checked against the 12-rule
//! benchmark set and against the full shipped rule set.
//!
//! `cargo bench --bench workflow` prints figures (recorded in BENCHMARKS.md).
//! `BENCH_ORDERS=1000000` sets the log size (default 100 000 orders). Each size runs
//! in a child process so that peak memory (VmHWM) belongs to one check only. The
//! side-by-side comparison with pm4py is `benches/workflow/compare.sh`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use biaozhun::audit::generate::{self, OutFormat, Settings};
use biaozhun::audit::rules::RuleSet;
use biaozhun::audit::{AuditOptions, check_log};

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Child mode: check `log` with `rules` once and print one line.
fn child(log: &Path, rules: &Path, label: &str) {
    let set = RuleSet::load(&[rules.to_path_buf()]).expect("rules load");
    let n_rules = set.rules.len();
    let started = Instant::now();
    let result = check_log(log, set, &AuditOptions::default(), None).expect("check");
    let secs = started.elapsed().as_secs_f64();
    let events = result.log.stats.events;
    let violated: u64 = result.rules.iter().map(|r| r.violated).sum();
    println!(
        "{label:<22} {n_rules:>5} {events:>11} {secs:>8.2} {:>12.0} {:>9.0} {violated:>10}",
        events as f64 / secs,
        peak_rss_mb()
    );
}

/// The reader alone against the single-core floor of the `csv` crate (every record
/// split into fields, nothing else), best of three each.
fn read_floor(log: &Path, rules: &Path) {
    let best = |f: &dyn Fn() -> u64| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let n = f();
                (t.elapsed().as_secs_f64(), n)
            })
            .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a })
    };
    let (csv_s, records) = best(&|| {
        let mut rd = csv::ReaderBuilder::new().from_path(log).expect("open log");
        let mut rec = csv::ByteRecord::new();
        let mut n = 0;
        while rd.read_byte_record(&mut rec).expect("csv record") {
            n += 1;
        }
        n
    });
    let (ours_s, events) = best(&|| {
        let set = RuleSet::load(&[rules.to_path_buf()]).expect("rules load");
        let store = biaozhun::audit::log::Store::default();
        let opts = biaozhun::audit::log::ReadOptions::default();
        let stats = biaozhun::audit::log::read(log, &set, &opts, &store, None).expect("read");
        stats.events
    });
    assert_eq!(records, events, "both read every record");
    println!(
        "read only: csv crate (1 core) {csv_s:.3} s, biaozhun log::read (all cores) {ours_s:.3} s = {:.2}× the floor's speed",
        csv_s / ours_s
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(
            Path::new(&args[i + 1]),
            Path::new(&args[i + 2]),
            &args[i + 3],
        );
        return;
    }
    let orders: u64 = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("biaozhun-bench-wf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let log = dir.join("orders.csv");
    let started = Instant::now();
    let mut f = std::fs::File::create(&log).expect("create log");
    let truth =
        generate::generate(&Settings::new(orders, 1), OutFormat::Csv, &mut f).expect("generate");
    drop(f);
    let size = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    println!(
        "log: {orders} orders, {} events, {:.0} MB CSV (generated in {:.1} s); {} cores",
        truth.events,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<22} {:>5} {:>11} {:>8} {:>12} {:>9} {:>10}",
        "rule set", "rules", "events", "wall s", "events/s", "peak MB", "violations"
    );
    let exe = std::env::current_exe().expect("current exe");
    for (label, rules) in [
        (
            "benchmark (12 rules)",
            root().join("benches/workflow/rules-12.yaml"),
        ),
        ("shipped audits/", root().join("audits")),
    ] {
        let status = std::process::Command::new(&exe)
            .arg("--child")
            .arg(&log)
            .arg(&rules)
            .arg(label)
            .status()
            .expect("run child");
        assert!(status.success(), "child failed");
    }
    read_floor(&log, &root().join("benches/workflow/rules-12.yaml"));
    let _ = std::fs::remove_dir_all(&dir);
}
