//! Platform data import: the generated Lin'an-like platform, and every kind of bad
//! row reported with file, line and field.

use biaozhun::platform::generate::{self, Settings};
use biaozhun::platform::import::{ImportError, Options, RowError, import_dir, import_sources};
use biaozhun::platform::{CodeColor, ids};
use test_case::test_case;

const KEY: Options = Options {
    key: b"test-installation-key",
};

/// A small valid export: two agencies, two workers, one outlet.
fn small() -> Vec<(String, String)> {
    vec![
        (
            "agencies.csv".into(),
            "id,name,credit_code,town,address,grade,complaint_phone\n\
             A001,安心家政,91350100M000100Y43,锦城街道,锦城街道1号,3A,0571-61234567\n\
             A002,邻里家政,91330112MA27XF6T3A,於潜镇,,,\n"
                .into(),
        ),
        (
            "workers.csv".into(),
            "id,name,id_number,phone,agency_id,registered_at,health_check_until,insurance_until\n\
             W00001,王喆,11010519491231002X,138-0013-8000,A001,2022-05-01,2023-06-30,2024-04-30\n\
             W00002,李堃,330185198506152311,,A002,2022-07-01,,2024-01-31\n"
                .into(),
        ),
        (
            "outlets.csv".into(),
            "id,name,town,address,functions,services,staff,opening_hours,displays,ledgers\n\
             O01,临安区家政服务中心,锦城街道,,招聘|培训|就业|服务|权益保护,保洁|护理,4,8:30-17:30,营业执照|投诉电话,培训台账\n"
                .into(),
        ),
    ]
}

fn run(files: Vec<(String, String)>) -> Result<biaozhun::platform::Platform, ImportError> {
    import_sources(
        files
            .into_iter()
            .map(|(n, t)| (n, t.into_bytes()))
            .collect(),
        &KEY,
    )
}

fn with(file: &str, from: &str, to: &str) -> Vec<(String, String)> {
    let mut f = small();
    let hit = f.iter_mut().find(|(n, _)| n == file).expect("file");
    assert!(hit.1.contains(from), "{from:?} not in {file}");
    hit.1 = hit.1.replacen(from, to, 1);
    f
}

fn errors(files: Vec<(String, String)>) -> Vec<RowError> {
    match run(files) {
        Err(ImportError::Rows(e)) => e,
        other => panic!("expected row errors, got {other:?}"),
    }
}

#[test]
fn a_valid_export_imports_with_masked_identifiers() {
    let p = run(small()).unwrap();
    assert_eq!(
        (p.agencies.len(), p.workers.len(), p.outlets.len()),
        (2, 2, 1)
    );
    let w = &p.workers[0];
    assert_eq!(w.name, "王喆");
    assert_eq!(w.id_masked, "1101**********002X");
    assert_eq!(w.phone_masked, "138****8000");
    assert_eq!(w.birth_year, 1949);
    assert_eq!(
        w.id_hash,
        ids::pseudonym(KEY.key, "id", "11010519491231002X")
    );
    assert!(p.workers[1].phone_masked.is_empty() && p.workers[1].health_check_until.is_none());
    // A validity date covers its whole day (China time).
    let until = w.health_check_until.unwrap();
    assert!(biaozhun::audit::time::format_instant(until, 480).starts_with("2023-06-30T23:59:59"));
    assert_eq!(p.outlets[0].functions.len(), 5);
    let json = serde_json::to_string(&p).unwrap();
    for secret in ["11010519491231002X", "330185198506152311", "13800138000"] {
        assert!(
            !json.contains(secret),
            "{secret} must not survive the import"
        );
    }
    assert_eq!(p.snapshot.len(), 64);
    assert_eq!(
        p.snapshot,
        run(small()).unwrap().snapshot,
        "stable fingerprint"
    );
    assert_ne!(
        p.snapshot,
        run(with("outlets.csv", "4,8:30", "5,8:30"))
            .unwrap()
            .snapshot,
        "any byte changes it"
    );
}

#[test_case("agencies.csv", ",3A,", ",6A,", 2, "grade", "GB/T 31772"; "grade")]
#[test_case("workers.csv", "138-0013-8000", "12345", 2, "phone", "mobile"; "phone")]
#[test_case("workers.csv", "2022-05-01", "2022-13-01", 2, "registered_at", "is not a date"; "bad month")]
#[test_case("workers.csv", ",A002,", ",A009,", 3, "agency_id", "A009 is not in agencies"; "dangling agency")]
#[test_case("workers.csv", "W00002", "W00001", 3, "id", "duplicate id W00001"; "duplicate worker")]
#[test_case("workers.csv", "W00001,王喆", ",王喆", 2, "id", "is empty"; "empty id")]
#[test_case("outlets.csv", ",4,", ",four,", 2, "staff", "whole number"; "staff count")]
fn bad_rows_say_where_and_what(
    file: &str,
    from: &str,
    to: &str,
    row: usize,
    field: &str,
    says: &str,
) {
    let e = errors(with(file, from, to));
    assert!(
        e.iter().any(|e| e.file == file
            && e.row == row
            && e.field == field
            && e.message.contains(says)),
        "wanted {file}:{row}: {field}: …{says}…, got {e:#?}"
    );
    let all: String = e.iter().map(|e| e.to_string()).collect();
    assert!(
        !all.contains("11010519491231002X") && !all.contains("110105194912310021"),
        "{all}"
    );
}

#[test]
fn structural_problems() {
    // A column renamed: every row says which columns the file has.
    let e = errors(with("outlets.csv", "id,name,town", "id,outlet_name,town"));
    assert!(
        e[0].message.contains("column is missing") && e[0].message.contains("outlet_name"),
        "{e:?}"
    );
    // A misspelt optional column would silently lose data: the schema refuses it.
    let e = errors(with("outlets.csv", ",displays,", ",display,"));
    assert!(
        e.iter().any(|e| e.field == "display"
            && e.message.contains("unknown column")
            && e.message.contains("displays")),
        "{e:?}"
    );
    // Values the schema constrains (ids are plain codes).
    let e = errors(with("workers.csv", "W00002,", "W 2,"));
    assert!(
        e.iter()
            .any(|e| e.row == 3 && e.field == "id" && e.message.contains("W 2")),
        "{e:?}"
    );
    // A row with too many fields.
    let e = errors(with("outlets.csv", "8:30-17:30,", "8:30-17:30,extra,"));
    assert_eq!((e[0].file.as_str(), e[0].row), ("outlets.csv", 2), "{e:?}");
    // A required file missing.
    let mut f = small();
    f.retain(|(n, _)| n != "outlets.csv");
    let e = errors(f);
    assert!(
        e.iter()
            .any(|e| e.file == "outlets.csv" && e.message.contains("missing")),
        "{e:?}"
    );
    // Not UTF-8 (a GBK export from Excel).
    let mut bytes: Vec<(String, Vec<u8>)> = small()
        .into_iter()
        .map(|(n, t)| (n, t.into_bytes()))
        .collect();
    bytes[0].1 = b"id,name\n\xb0\xb2\xd0\xc4\n".to_vec();
    match import_sources(bytes, &KEY) {
        Err(ImportError::Rows(e)) => assert!(e[0].message.contains("UTF-8"), "{e:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn complaints_and_json_inputs() {
    let mut f = small();
    f.push((
        "complaints.jsonl".into(),
        r#"{"id":"C1","worker_id":"W00001","agency_id":"A001","received_at":"2023-03-01T09:00:00+08:00","first_response_at":"2023-03-01T09:12:00+08:00","resolved_at":null}
{"id":"C2","worker_id":"W00002","received_at":"2023-03-02 10:00:00","first_response_at":"2023-03-02 09:00:00"}
"#
        .into(),
    ));
    let e = errors(f.clone());
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        (e[0].file.as_str(), e[0].row, e[0].field.as_str()),
        ("complaints.jsonl", 2, "first_response_at")
    );
    f[3].1 = f[3]
        .1
        .replace("\"2023-03-02 09:00:00\"", "\"2023-03-02 10:05:00\"");
    let p = run(f).unwrap();
    assert_eq!(p.complaints.len(), 2);
    assert!(p.complaints[0].resolved_at.is_none());
    // The same agencies as a JSON array.
    let mut f = small();
    f[0] = (
        "agencies.json".into(),
        r#"[{"id":"A001","name":"安心家政","credit_code":"91350100M000100Y43","town":"锦城街道"},
            {"id":"A002","name":"邻里家政","credit_code":"91330112MA27XF6T3A","town":"於潜镇","grade":null}]"#
            .into(),
    );
    assert_eq!(run(f).unwrap().agencies.len(), 2);
}

#[test]
fn the_simulated_platform_imports_cleanly_and_carries_its_faults() {
    let g = generate::generate(&Settings::default());
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &g.files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(dir.path().join("README.txt"), "not an entity file").unwrap();
    let p = import_dir(dir.path(), &KEY).unwrap();
    assert_eq!(p.outlets.len(), 18);
    assert_eq!(p.agencies.len(), 429);
    assert_eq!(p.workers.len(), 3_500);
    assert_eq!(p.workers[0].name, "王喆");
    assert_eq!(p.files.len(), 6, "README.txt is not part of the snapshot");
    // Planted faults are in the data.
    for (outlet, function) in &g.faults.outlets_missing_function {
        let o = p.outlets.iter().find(|o| &o.id == outlet).unwrap();
        assert!(!o.functions.contains(function));
    }
    // A worker whose only fault is a lapsed health check: green until the day
    // after, then yellow.
    let w = p
        .workers
        .iter()
        .find(|w| {
            g.faults.health_lapsed.contains(&w.id)
                && !g.faults.insurance_lapsed.contains(&w.id)
                && !g.faults.red_codes.contains(&w.id)
                && w.health_check_until.is_some()
        })
        .unwrap();
    let until = w.health_check_until.unwrap();
    assert_eq!(p.color_at(&w.id, until + 2), Some(CodeColor::Yellow));
    assert_eq!(p.color_at(&w.id, until - 1_000_000), Some(CodeColor::Green));
    assert!(!g.faults.late_responses.is_empty() && !g.faults.unresolved.is_empty());
    // Deterministic by seed.
    let again = generate::generate(&Settings::default());
    assert_eq!(g.files, again.files);
    let other = generate::generate(&Settings {
        seed: 2,
        ..Settings::default()
    });
    assert_ne!(g.files[1], other.files[1]);
}

/// The live source: the simulated platform written into a real database as the
/// platform's own tables, read back through the shipped mapping, gives the same
/// platform as the file export.
async fn live_source_matches_files(url: String) {
    let g = generate::generate(&Settings::default());
    let rows = generate::load_into(&url, &g).await.unwrap();
    assert!(rows > 10_000, "{rows}");
    let mapping = biaozhun::platform::source::load_mapping(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audits/sources/demo-platform.json"),
    )
    .unwrap();
    let live = biaozhun::platform::source::import_db(&url, &mapping, &KEY)
        .await
        .unwrap();
    let files = run(g.files.clone()).unwrap();
    assert_eq!(live.workers.len(), files.workers.len());
    assert_eq!(live.code_changes.len(), files.code_changes.len());
    assert_eq!(live.trainings.len(), files.trainings.len());
    let ids = |p: &biaozhun::platform::Platform| {
        p.workers
            .iter()
            .map(|w| (w.id.clone(), w.id_hash.clone(), w.health_check_until))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&live), ids(&files));
    let outlets = |p: &biaozhun::platform::Platform| {
        p.outlets
            .iter()
            .map(|o| (o.id.clone(), o.functions.clone(), o.staff))
            .collect::<Vec<_>>()
    };
    assert_eq!(outlets(&live), outlets(&files));
    let resolved = |p: &biaozhun::platform::Platform| {
        p.complaints
            .iter()
            .map(|c| c.resolved_at)
            .collect::<Vec<_>>()
    };
    assert_eq!(resolved(&live), resolved(&files));
    // A broken query names its entity; a mapping may only read.
    let mut bad = mapping.clone();
    bad.entities
        .insert("outlets".into(), "SELECT nope FROM pf_outlet".into());
    let e = biaozhun::platform::source::import_db(&url, &bad, &KEY)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("outlets"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.json");
    std::fs::write(&f, r#"{"entities": {"outlets": "DELETE FROM pf_outlet"}}"#).unwrap();
    let e = biaozhun::platform::source::load_mapping(&f).unwrap_err();
    assert!(e.contains("SELECT"), "{e}");
    std::fs::write(&f, r#"{"entities": {"shops": "SELECT 1"}}"#).unwrap();
    assert!(
        biaozhun::platform::source::load_mapping(&f)
            .unwrap_err()
            .contains("shops")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_source_on_postgres() {
    live_source_matches_files(super::db::fresh_pg_url().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_source_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    live_source_matches_files(biaozhun::db::sqlite_url(&dir.path().join("platform.db"))).await;
}

/// An identifier that fails its check does not stop the import: the platform
/// accepted it, so it is a finding. It is reported (masked) and marked invalid.
#[test]
fn invalid_identifiers_are_findings_not_import_errors() {
    let files = with("agencies.csv", "91350100M000100Y43", "91350100M000100Y44");
    let mut files2 = files.clone();
    let w = files2.iter_mut().find(|(n, _)| n == "workers.csv").unwrap();
    w.1 = w.1.replacen("11010519491231002X", "110105194912310021", 1);
    let p = run(files2).unwrap();
    assert!(!p.agencies[0].credit_code_valid && p.agencies[1].credit_code_valid);
    assert!(!p.workers[0].id_number_valid && p.workers[1].id_number_valid);
    assert_eq!(p.workers[0].id_masked, "1101**********0021");
    assert_eq!(
        p.workers[0].birth_year, 0,
        "nothing is derived from a bad number"
    );
    assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    let w0 = &p.warnings[0];
    assert_eq!(
        (w0.file.as_str(), w0.row, w0.field.as_str()),
        ("agencies.csv", 2, "credit_code")
    );
    assert!(w0.message.contains("校验位应为“3”"), "{w0:?}");
    let w1 = &p.warnings[1];
    assert_eq!(
        (w1.file.as_str(), w1.row, w1.field.as_str()),
        ("workers.csv", 2, "id_number")
    );
    assert!(
        w1.message.contains("1101**********0021") && !w1.message.contains("110105194912310021")
    );
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        !json.contains("110105194912310021"),
        "never in full, valid or not"
    );
    // A short code is invalid too, not a failed import.
    let p = run(with(
        "agencies.csv",
        "91330112MA27XF6T3A",
        "91330112MA27XF6T3",
    ))
    .unwrap();
    assert!(p.warnings[0].message.contains("应为 18 位"));
}
