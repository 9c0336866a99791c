//! Audit reports for real: an audit run on the simulated platform, with an
//! auditor's verdicts, findings and a photo, rendered as PDF (read back with
//! `super::pdf`: pages, text, images), XLSX (read back with calamine), CSV and OSCAL (validated
//! against the official OSCAL 1.1 assessment-results schema) — on SQLite and
//! PostgreSQL.

use std::io::Write;
use std::path::PathBuf;

use biaozhun::audit::checks::{CheckSet, clause_outcomes, evaluate};
use biaozhun::audit::evidence::EvidenceStore;
use biaozhun::audit::time::parse_date_or_instant;
use biaozhun::db::Db;
use biaozhun::db::accounts::{Actor, NewUser, Role};
use biaozhun::db::audits::{NewAudit, NewEvidence, Verdict};
use biaozhun::platform::generate::{self, Settings};
use biaozhun::platform::import::{Options, import_sources};
use biaozhun::report::audit::{Gathered, Sources, gather};
use biaozhun::report::tables::Table;
use biaozhun::report::{Format, render_audit};
use biaozhun::standard::Collection;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn standards() -> Collection {
    let c = Collection::load(&[root().join("standards")], &[]).unwrap();
    assert!(!c.standards.is_empty());
    c
}

/// A 4×3 RGB PNG, written by hand (zlib from flate2, CRC-32 below).
pub fn png() -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    let (w, h) = (4u32, 3u32);
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        for x in 0..w {
            raw.extend([(x * 60) as u8, (y * 80) as u8, 200]);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).unwrap();
    let idat = z.finish().unwrap();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

const SCOPE: [&str; 2] = ["T/ZTAC 002—2023", "DB3301/T 0441—2024"];

/// Two audits of the same scope (for the trend), the second with an auditor's
/// verdicts, a finding about worker W00001 王喆 with a photo, and an observation.
async fn prepare(db: &Db, evidence: &EvidenceStore) -> i64 {
    let lead = db
        .create_user(
            &NewUser {
                username: "likun",
                display_name: "李堃",
                password: "a long password",
                role: Role::Auditor,
                department: "质量部",
            },
            &Actor::default(),
        )
        .await
        .unwrap();
    let set = CheckSet::load(&[root().join("audits")]).unwrap();
    let g = generate::generate(&Settings::default());
    let p = import_sources(
        g.files
            .iter()
            .map(|(n, t)| (n.clone(), t.clone().into_bytes()))
            .collect(),
        &Options { key: b"k" },
    )
    .unwrap();
    let scope: Vec<String> = SCOPE.iter().map(|s| s.to_string()).collect();
    let mut last = 0;
    for (name, from, to) in [
        ("2022年度平台与网点符合性审核", "2022-01-01", "2022-12-31"),
        ("2023年度平台与网点符合性审核", "2023-01-01", "2023-12-31"),
    ] {
        let a = db
            .create_audit(
                &NewAudit {
                    name,
                    standards: &scope,
                    period_from: from,
                    period_to: to,
                    outlets: &[],
                    max_skipped: biaozhun::audit::DEFAULT_MAX_SKIPPED,
                },
                &lead,
            )
            .await
            .unwrap();
        let results = evaluate(&set, &p, parse_date_or_instant(to, 480).unwrap());
        db.record_run(a.id, &p.snapshot, &results, &clause_outcomes(&results), &[])
            .await
            .unwrap();
        last = a.id;
    }
    db.set_clause_verdict(
        last,
        "T/ZTAC 002—2023#5.1",
        Verdict::Observation,
        "",
        "服务站公示栏信息齐全，但投诉电话字号偏小（镕）",
        &lead,
    )
    .await
    .unwrap();
    let f = db
        .add_finding(
            last,
            "T/ZTAC 002—2023#4.2",
            "major",
            "家政员健康证过期仍在派单",
            "抽查家政员 W00001 王喆 的档案，健康证已过期，审核期间仍接单；同站另有家政员刘䶮的体检记录缺失。",
            "W00001 王喆",
            "锦城街道服务站 站长",
            "2024-02-29",
            &lead,
        )
        .await
        .unwrap();
    let stored = evidence.put(&png(), "健康证照片.png").unwrap();
    db.add_evidence(
        last,
        &NewEvidence {
            finding_id: Some(f),
            item_id: "",
            target: "W00001",
            stored: &stored,
            name: "健康证照片.png",
        },
        &lead,
    )
    .await
    .unwrap();
    // A file that claims to be a JPEG but is not one: listed, not embedded, and
    // the PDF still renders.
    let broken = evidence
        .put(b"\xFF\xD8\xFF\xE0 not really a jpeg", "损坏的照片.jpg")
        .unwrap();
    db.add_evidence(
        last,
        &NewEvidence {
            finding_id: Some(f),
            item_id: "",
            target: "W00001",
            stored: &broken,
            name: "损坏的照片.jpg",
        },
        &lead,
    )
    .await
    .unwrap();
    last
}

async fn gathered(db: &Db, evidence: &EvidenceStore, id: i64, coll: &Collection) -> Gathered {
    let set = CheckSet::load(&[root().join("audits")]).unwrap();
    let workflow = biaozhun::audit::rules::RuleSet::load(&[root().join("audits")])
        .unwrap()
        .rules;
    let sources = Sources {
        db,
        coll,
        checks: &set,
        workflow: &workflow,
        evidence: Some(evidence),
        outlets: vec![("O01".into(), "锦城街道服务站".into())],
    };
    gather(&sources, id, 1_704_067_200).await.unwrap()
}

/// Text without whitespace: the PDF's text breaks lines where layout did.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn check_pdf(g: &Gathered, dir: &std::path::Path) {
    let out = render_audit(g, Format::Pdf, Table::Clauses, true).unwrap();
    assert!(out.bytes.starts_with(b"%PDF-"));
    assert!(out.missing.is_empty());
    let file = dir.join("report.pdf");
    std::fs::write(&file, &out.bytes).unwrap();
    let pages = super::pdf::pages(std::fs::read(&file).unwrap());
    assert_eq!(pages, out.pages);
    let r = &g.report;
    // Cover, contents, summary, scope, clause table, findings, actions, gaps,
    // signatures, appendix: at least a page each for the long ones.
    assert!((8..=120).contains(&pages), "{pages} pages");
    let flat = super::pdf::flat_text(std::fs::read(&file).unwrap());
    for heading in [
        "符合性审核报告",
        "目录",
        "审核结论概要",
        "各标准符合率",
        "符合率趋势",
        "审核范围与方法",
        "数据来源",
        "条款符合性评价",
        "不符合项与观察项",
        "纠正措施计划",
        "覆盖缺口",
        "审核签字",
        "附录A检查规则定义",
        "附录B自动检查结果",
    ] {
        assert!(flat.contains(heading), "missing heading {heading}");
    }
    // Rare characters in names come out as themselves, not blanks.
    for name in ["王喆", "李堃", "刘䶮", "（镕）"] {
        assert!(flat.contains(name), "{name} not in the PDF text");
    }
    // The counts, as the summary states them.
    let s = &r.summary;
    assert!(flat.contains(&squash(&format!(
        "发现不符合 {} 项（其中严重 {} 项、一般 {} 项），观察项 {} 项",
        s.major + s.minor,
        s.major,
        s.minor,
        s.observations
    ))));
    assert!(flat.contains(&s.rate_text), "{}", s.rate_text);
    // Every clause of the table, by number, and the report number in the running
    // header of every page but the cover.
    for c in &r.clauses {
        assert!(flat.contains(&squash(&c.number)), "clause {}", c.id);
    }
    assert!(flat.contains("T/ZTAC002—2023") && flat.contains("DB3301/T0441—2024"));
    assert!(flat.matches(&r.report_no).count() >= pages - 1);
    // Numbered from the first page after the cover.
    assert!(flat.contains(&format!("第1页共{}页", pages - 1)));
    // Findings in detail, with the photo's name and hash prefix.
    assert!(flat.contains("NC-01家政员健康证过期仍在派单"));
    assert!(flat.contains("健康证照片.png"));
    // The photo is in the PDF as an image (4×3 pixels), the broken one is not.
    let images = super::pdf::images(std::fs::read(&file).unwrap());
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(
        (images[0].width, images[0].height, images[0].soft_mask),
        (4, 3, false),
        "{images:?}"
    );
    // The checklist's corrective action, with owner and due date.
    assert!(flat.contains("锦城街道服务站站长") && flat.contains("2024-02-29"));
}

fn check_tables(g: &Gathered) {
    use calamine::{Data, Reader, Xlsx};
    let r = &g.report;
    let out = render_audit(g, Format::Xlsx, Table::Clauses, false).unwrap();
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(out.bytes)).unwrap();
    assert_eq!(
        wb.sheet_names(),
        ["概要", "条款评价", "发现与整改", "自动检查"]
    );
    let clauses = wb.worksheet_range("条款评价").unwrap();
    assert_eq!(clauses.height(), r.clauses.len() + 1);
    let header: Vec<String> = clauses
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[0], "条款");
    assert_eq!(header[4], "结论");
    let row = clauses
        .rows()
        .find(|row| row[0] == Data::String("T/ZTAC 002—2023#5.1".into()))
        .unwrap();
    assert_eq!(row[4].to_string(), "观察项");
    assert!(row[8].to_string().contains("字号偏小"));
    let findings = wb.worksheet_range("发现与整改").unwrap();
    assert_eq!(findings.height(), r.findings.len() + 1);
    let nc1 = findings.rows().nth(1).unwrap();
    assert_eq!(nc1[0].to_string(), "NC-01");
    assert_eq!(nc1[5].to_string(), "W00001 王喆");
    assert_eq!(nc1[9].to_string(), "待整改");
    let summary = wb.worksheet_range("概要").unwrap();
    assert!(
        summary
            .rows()
            .any(|row| row[0] == Data::String("总体符合率".into())
                && row[1] == Data::String(r.summary.rate_text.clone()))
    );

    for (table, n, first) in [
        (Table::Clauses, r.clauses.len(), "条款"),
        (Table::Findings, r.findings.len(), "编号"),
    ] {
        let out = render_audit(g, Format::Csv, table, false).unwrap();
        assert!(
            out.bytes.starts_with("\u{feff}".as_bytes()),
            "Excel needs the BOM"
        );
        let mut rd = csv::Reader::from_reader(&out.bytes[3..]);
        assert_eq!(&rd.headers().unwrap()[0], first);
        assert_eq!(rd.records().count(), n);
    }
}

fn check_oscal(g: &Gathered) {
    let out = render_audit(g, Format::Oscal, Table::Clauses, false).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/oscal_assessment-results_schema.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let r = &g.report;
    let result = &doc["assessment-results"]["results"][0];
    let findings = result["findings"].as_array().unwrap();
    let stated = r
        .clauses
        .iter()
        .filter(|c| {
            matches!(
                c.verdict_code.as_str(),
                "conform" | "nonconform" | "observation"
            )
        })
        .count();
    assert_eq!(findings.len(), stated);
    let nc = findings
        .iter()
        .find(|f| f["target"]["target-id"] == "t-ztac-002-2023_4.2")
        .unwrap();
    assert_eq!(nc["target"]["status"]["state"], "not-satisfied");
    assert!(nc["remarks"].as_str().unwrap().contains("NC-01"));
    // The recorded finding is an observation with the photo as evidence, whose
    // hash is in the back matter.
    let obs = result["observations"].as_array().unwrap();
    let photo = &r.findings[0].photos[0];
    assert!(obs.iter().any(|o| {
        o["relevant-evidence"].as_array().is_some_and(|e| {
            e.iter().any(|e| {
                e["description"]
                    .as_str()
                    .unwrap_or("")
                    .contains(&photo.sha256)
            })
        })
    }));
    let resources = doc["assessment-results"]["back-matter"]["resources"]
        .as_array()
        .unwrap();
    assert!(
        resources
            .iter()
            .any(|r| r["rlinks"][0]["hashes"][0]["value"] == photo.sha256.as_str())
    );
    // Stable: the same report exports to the same document.
    let again = render_audit(g, Format::Oscal, Table::Clauses, false).unwrap();
    assert_eq!(again.bytes, out.bytes);
    // A broken document is refused by the same validator (the check can fail).
    let mut broken = doc.clone();
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
        "maybe".into();
    assert!(!validator.is_valid(&broken));
}

async fn exercise(db: Db) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let evidence = EvidenceStore::new(&dir.path().join("evidence"));
    let id = prepare(&db, &evidence).await;
    let coll = standards();
    let g = gathered(&db, &evidence, id, &coll).await;
    let r = &g.report;
    assert!(r.report_no.starts_with("BZSH-20") && r.report_no.ends_with(&format!("-{id:04}")));
    assert_eq!(r.auditors.len(), 1);
    assert_eq!(r.auditors[0].name, "李堃");
    assert_eq!(r.summary.trend.len(), 2, "the earlier audit and this one");
    assert!(r.summary.trend[1].current);
    // The rate is the documented formula over the verdict counts.
    let n = |code: &str| r.summary.counts.iter().find(|c| c.code == code).unwrap().n;
    let expect = (n("conform") + n("observation")) as f64 * 100.0
        / (n("conform") + n("observation") + n("nonconform")) as f64;
    assert!((r.summary.rate.unwrap() - expect).abs() < 1e-9);
    assert_eq!(n("observation"), 1);
    // Findings: the recorded one first (NC-01, with the photo), then one per
    // nonconforming or observed clause nobody recorded, derived from the failed
    // checks (4.2 has the recorded one, so it is not repeated).
    assert_eq!(r.findings[0].no, "NC-01");
    assert_eq!(r.findings[0].photos.len(), 1);
    assert!(
        r.findings[0].attachments[0].starts_with("损坏的照片.jpg"),
        "{:?}",
        r.findings[0].attachments
    );
    assert!(!r.findings[0].clause_text.is_empty(), "clause text quoted");
    assert!(r.findings[1..].iter().all(|f| f.derived));
    assert!(
        r.findings[1..].iter().any(|f| !f.samples.is_empty()),
        "failing records as samples"
    );
    assert_eq!(r.findings.len(), n("nonconform") + n("observation"));
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.no.starts_with("OB-"))
            .count(),
        1
    );
    check_pdf(&g, dir.path());
    check_tables(&g);
    check_oscal(&g);
    render_audit(&g, Format::Csv, Table::Clauses, false)
        .unwrap()
        .bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_reports_render_the_same_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::open(&biaozhun::db::sqlite_url(&dir.path().join("r.db")))
        .await
        .unwrap();
    let a = exercise(sqlite).await;
    let b = exercise(super::db::fresh_pg().await).await;
    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
}

#[test]
fn a_character_no_font_has_is_named_with_where_it_occurs() {
    use biaozhun::report::pdf::{Job, PdfError, render};
    let data = serde_json::json!({ "findings": [ { "observed": "家政员王喆\u{10FFFD}" } ] });
    let template = "#let d = json(\"/data.json\")\n#set text(font: \"Noto Serif CJK SC\")\n#for f in d.findings [#f.observed]\n";
    let job = |strict| Job {
        template_name: "t.typ",
        template,
        data: &data,
        files: Vec::new(),
        today: "2026-01-01",
        strict,
    };
    match render(job(true)) {
        Err(PdfError::MissingGlyphs(m)) => {
            assert!(
                m.contains("U+10FFFD") && m.contains("findings[0].observed"),
                "{m}"
            );
            assert!(!m.contains("U+5586"), "喆 is covered: {m}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("strict mode must refuse"),
    }
    let lenient = render(job(false)).unwrap();
    assert_eq!(lenient.missing.len(), 1);
    assert!(lenient.pdf.starts_with(b"%PDF-"));
}

#[test]
fn template_errors_say_line_and_column() {
    use biaozhun::report::pdf::{Job, PdfError, render};
    let data = serde_json::json!({});
    let err = render(Job {
        template_name: "t.typ",
        template: "= 标题\n\n#let x = (1 +\n",
        data: &data,
        files: Vec::new(),
        today: "2026-01-01",
        strict: true,
    });
    match err {
        Err(PdfError::Template { line, .. }) => assert_eq!(line, 3),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a broken template must fail"),
    }
}

/// The bundled fonts alone (no system font) cover every character of the shipped
/// standards, rare characters of people's names, and the whole CJK Unified
/// Ideographs block and Extension A (the BMP hanzi of GB 18030).
#[test]
fn bundled_fonts_cover_gb18030_hanzi_and_the_shipped_standards() {
    use biaozhun::report::pdf::bundled_covers;
    for c in "喆堃镕䶮王标准，。、《》“”—…①℃".chars() {
        assert!(bundled_covers(c), "{c} U+{:04X}", c as u32);
    }
    let missing: Vec<char> = ('\u{4E00}'..='\u{9FA5}')
        .chain('\u{3400}'..='\u{4DB5}')
        .filter(|c| !bundled_covers(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "{} uncovered, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let coll = standards();
    for s in &coll.standards {
        let text = std::fs::read_to_string(&s.path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for c in line.chars().filter(|c| !c.is_ascii() && !c.is_whitespace()) {
                assert!(
                    bundled_covers(c),
                    "{}:{}: {c} U+{:04X}",
                    s.path,
                    n + 1,
                    c as u32
                );
            }
        }
    }
}

/// The vendored OSCAL schema is the official file, byte for byte (schemas/README.md
/// records where it came from and this digest).
#[test]
fn the_vendored_oscal_schema_is_unmodified() {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(root().join("schemas/oscal_assessment-results_schema.json")).unwrap();
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "d9e34757f0c12aff61f52b821f0b8f83ba0ba75b3a149a202b08ba82f82bc4c3"
    );
    let readme = std::fs::read_to_string(root().join("schemas/README.md")).unwrap();
    assert!(readme.contains(&hex));
}
