//! Audit report rendering: a real audit (the shipped checks over the simulated
//! platform, four standards, in an SQLite file) gathered from the database, then
//! rendered as PDF (typst, in-process), XLSX, CSV and OSCAL; and the same report
//! grown to at least 100 pages (its clause table and findings repeated) to time
//! the PDF against the 3 s target.
//!
//! `cargo bench --bench report` prints figures (recorded in BENCHMARKS.md). Every
//! PDF run starts with typst's memoization cache emptied, so no run reuses
//! another's layout.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use biaozhun::audit::checks::{CheckSet, clause_outcomes, evaluate};
use biaozhun::audit::time::parse_date_or_instant;
use biaozhun::db::Db;
use biaozhun::db::accounts::{Actor, NewUser, Role};
use biaozhun::db::audits::NewAudit;
use biaozhun::platform::generate::{self, Settings};
use biaozhun::platform::import::{Options, import_sources};
use biaozhun::report::audit::{Gathered, Sources, gather};
use biaozhun::report::tables::Table;
use biaozhun::report::{Format, render_audit};
use biaozhun::standard::Collection;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn time_format(g: &Gathered, format: Format, runs: usize) -> (Duration, usize, usize) {
    let mut times = Vec::new();
    let mut pages = 0;
    let mut size = 0;
    for _ in 0..runs {
        typst::comemo::evict(0);
        let t = Instant::now();
        let out = render_audit(g, format, Table::Clauses, true).expect("render");
        times.push(t.elapsed());
        pages = out.pages;
        size = out.bytes.len();
    }
    (median(times), pages, size)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let coll = Collection::load(&[root.join("standards")], &[]).expect("standards");
    let set = CheckSet::load(&[root.join("audits")]).expect("checks");
    let workflow = biaozhun::audit::rules::RuleSet::load(&[root.join("audits")])
        .expect("rules")
        .rules;

    let (g, gather_time) = rt.block_on(async {
        let db = Db::open(&biaozhun::db::sqlite_url(&dir.path().join("b.db")))
            .await
            .expect("db");
        let me = db
            .create_user(
                &NewUser {
                    username: "auditor",
                    display_name: "王喆",
                    password: "a long password",
                    role: Role::Auditor,
                    department: "质量部",
                },
                &Actor::default(),
            )
            .await
            .expect("user");
        let g = generate::generate(&Settings::default());
        let p = import_sources(
            g.files
                .iter()
                .map(|(n, t)| (n.clone(), t.clone().into_bytes()))
                .collect(),
            &Options { key: b"k" },
        )
        .expect("platform");
        let scope: Vec<String> = coll.standards.iter().map(|s| s.code.to_string()).collect();
        let a = db
            .create_audit(
                &NewAudit {
                    name: "2023年度平台与网点符合性审核",
                    standards: &scope,
                    period_from: "2023-01-01",
                    period_to: "2023-12-31",
                    outlets: &[],
                    max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
                },
                &me,
            )
            .await
            .expect("audit");
        let results = evaluate(
            &set,
            &p,
            parse_date_or_instant("2023-12-31", 480).expect("t"),
        );
        db.record_run(a.id, &p.snapshot, &results, &clause_outcomes(&results), &[])
            .await
            .expect("run");
        let sources = Sources {
            db: &db,
            coll: &coll,
            checks: &set,
            workflow: &workflow,
            evidence: None,
            outlets: Vec::new(),
        };
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            last = Some(gather(&sources, a.id, 1_704_067_200).await.expect("gather"));
            times.push(t.elapsed());
        }
        (last.expect("gathered"), median(times))
    });

    println!(
        "gather (SQLite, {} clauses, {} findings)      {:>8.2} ms",
        g.report.clauses.len(),
        g.report.findings.len(),
        ms(gather_time)
    );
    // The glyph check alone: every character of the report data looked up in the
    // fonts' coverage (after a first call has loaded the fonts).
    let data = serde_json::to_value(&g.report).expect("json");
    let chars = data.to_string().chars().count();
    biaozhun::report::pdf::missing_glyphs(&data);
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        std::hint::black_box(biaozhun::report::pdf::missing_glyphs(&data));
        times.push(t.elapsed());
    }
    println!(
        "glyph check ({chars} characters of report data)        {:>8.2} ms",
        ms(median(times))
    );
    // The first render also loads and parses the bundled fonts.
    let t = Instant::now();
    let first = render_audit(&g, Format::Pdf, Table::Clauses, true).expect("pdf");
    println!(
        "pdf first render in process ({} pages)         {:>8.1} ms",
        first.pages,
        ms(t.elapsed())
    );
    for format in [Format::Pdf, Format::Xlsx, Format::Csv, Format::Oscal] {
        let (t, pages, size) = time_format(&g, format, 5);
        println!(
            "{:<6} real audit {:>4} pages {:>9} bytes   p50 {:>8.1} ms",
            format!("{format:?}").to_lowercase(),
            pages,
            size,
            ms(t)
        );
    }

    // Grow the report to >= 100 pages: repeat the clause table and findings until
    // it has them (the cover, summary and appendices stay as they are).
    let grow = |copies: usize| {
        let mut big = Gathered {
            report: g.report.clone(),
            files: g.files.clone(),
        };
        for i in 1..copies {
            big.report
                .clauses
                .extend(g.report.clauses.iter().cloned().map(|mut c| {
                    c.number = format!("{}-{i}", c.number);
                    c
                }));
            big.report
                .findings
                .extend(g.report.findings.iter().cloned().map(|mut f| {
                    f.no = format!("{}-{i}", f.no);
                    f
                }));
        }
        big
    };
    let mut copies = 2;
    let big = loop {
        let big = grow(copies);
        let pages = render_audit(&big, Format::Pdf, Table::Clauses, true)
            .expect("pdf")
            .pages;
        if pages >= 100 || copies > 64 {
            break big;
        }
        copies += 1;
    };
    let (t, pages, size) = time_format(&big, Format::Pdf, 3);
    println!(
        "pdf    grown report {:>4} pages {:>9} bytes   p50 {:>8.1} ms   ({} clause rows, {} findings)",
        pages,
        size,
        ms(t),
        big.report.clauses.len(),
        big.report.findings.len()
    );
    if pages < 100 {
        println!("note: the grown report has fewer than 100 pages");
    }
}
