//! A simulated Lin'an-like platform for demos and tests: 18 town outlets, ~400
//! agencies, 3,500 workers (ids `W00001`… as in the order log of
//! [`crate::audit::generate`]), their 安心码 history, complaints and trainings over
//! 2023 — written as the import files of [`super::import`].
//!
//! The data is realistic rather than clean: a few outlets lack a function or a
//! public display, some health checks and insurance policies lapse during the
//! year (and the 安心码 turns yellow), some complaints are answered late or never
//! resolved. [`Faults`] records exactly what was planted so tests can check that
//! audits find it.

use std::fmt::Write as _;

use crate::audit::generate::Rng;
use crate::audit::time::{self, Micros};

/// Lin'an district's 5 streets and 13 towns (镇街).
pub const TOWNS: [&str; 18] = [
    "锦城街道",
    "锦北街道",
    "锦南街道",
    "玲珑街道",
    "青山湖街道",
    "高虹镇",
    "太湖源镇",
    "於潜镇",
    "天目山镇",
    "太阳镇",
    "潜川镇",
    "昌化镇",
    "河桥镇",
    "湍口镇",
    "清凉峰镇",
    "岛石镇",
    "板桥镇",
    "龙岗镇",
];

pub const FUNCTIONS: [&str; 5] = ["招聘", "培训", "就业", "服务", "权益保护"];
pub const SERVICES: [&str; 5] = ["保洁", "护理", "助餐", "维修", "搬运"];
pub const DISPLAYS: [&str; 5] = ["营业执照", "服务项目", "收费标准", "投诉电话", "营业时间"];
pub const LEDGERS: [&str; 4] = ["培训台账", "服务台账", "投诉台账", "人员台账"];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "钱", "俞", "楼", "方", "金", "章", "汪", "叶",
];
const GIVEN: &[&str] = &[
    "秀英", "桂英", "丽娟", "美华", "春梅", "红霞", "玉兰", "建芬", "彩萍", "素琴", "月娥", "晓燕",
    "海燕", "丽萍", "雪芳", "金花", "小红", "建国", "志强", "伟", "芳", "敏", "静", "丽", "强",
    "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "桂芳", "淑珍",
];
/// Given names with characters outside the common fonts' usual coverage, so
/// reports are exercised on them (王喆 is always worker W00001).
const RARE_GIVEN: &[&str] = &["喆", "堃", "镕", "䶮", "昇", "珺"];

/// What the generator planted.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Faults {
    /// Outlets lacking one of the five functions (outlet id, missing function).
    pub outlets_missing_function: Vec<(String, String)>,
    /// Outlets not displaying one of the required items.
    pub outlets_missing_display: Vec<(String, String)>,
    /// Workers whose health check lapsed during the period.
    pub health_lapsed: Vec<String>,
    /// Workers whose insurance lapsed during the period.
    pub insurance_lapsed: Vec<String>,
    /// Workers with a red code at some point.
    pub red_codes: Vec<String>,
    /// Complaints first answered after 24 h.
    pub late_responses: Vec<String>,
    /// Complaints never resolved.
    pub unresolved: Vec<String>,
}

/// The generated files (name, contents) and what was planted.
pub struct Generated {
    pub files: Vec<(String, String)>,
    pub faults: Faults,
}

/// Size of the simulated platform.
#[derive(Debug, Clone)]
pub struct Settings {
    pub seed: u64,
    pub agencies: usize,
    pub workers: usize,
    pub complaints: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 1,
            agencies: 429,
            workers: 3_500,
            complaints: 420,
        }
    }
}

fn day(d: i64) -> Micros {
    // 2023-01-01T00:00+08:00 plus d days.
    let start = time::days_from_civil(2023, 1, 1) * 86_400 - 8 * 3600;
    (start + d * 86_400) * 1_000_000
}

fn date(t: Micros) -> String {
    time::format_instant(t, 480)[..10].to_string()
}

fn instant(t: Micros) -> String {
    time::format_instant(t, 480)
}

/// A valid 统一社会信用代码 for an enterprise (`91`) registered in Lin'an (330112).
fn credit_code(rng: &mut Rng) -> String {
    const ORG: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut body = String::from("91330112");
    let mut org = Vec::new();
    for _ in 0..8 {
        org.push(ORG[rng.range(0, 30) as usize]);
    }
    // GB 11714 check of the organisation code.
    let weights = [3u32, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = org
        .iter()
        .zip(weights)
        .map(|(c, w)| {
            let v = if c.is_ascii_digit() {
                (c - b'0') as u32
            } else {
                (c - b'A') as u32 + 10
            };
            v * w
        })
        .sum();
    let check = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).unwrap_or('0'),
    };
    body.push_str(std::str::from_utf8(&org).unwrap_or("00000000"));
    body.push(check);
    let last = super::ids::uscc_check_char(body.as_bytes()).unwrap_or('0');
    body.push(last);
    body
}

/// A valid 18-digit ID number of someone born between 1965 and 1999 in Lin'an.
fn id_number(rng: &mut Rng) -> String {
    let region = if rng.chance(0.7) { "330112" } else { "330185" };
    let y = rng.range(1965, 1999);
    let m = rng.range(1, 12);
    let d = rng.range(1, 28);
    let seq = rng.range(0, 999);
    let body = format!("{region}{y:04}{m:02}{d:02}{seq:03}");
    let weights = [7u32, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(weights)
        .map(|(c, w)| (c - b'0') as u32 * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn csv_row(out: &mut String, fields: &[&str]) {
    let row: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect();
    let _ = writeln!(out, "{}", row.join(","));
}

/// Generates the platform.
pub fn generate(s: &Settings) -> Generated {
    let mut rng = Rng::new(s.seed ^ 0x005E_ED0F_B1A0);
    let mut faults = Faults::default();

    // Outlets: one per town, outlet O01 in 锦城街道 is the service centre.
    let mut outlets = String::new();
    csv_row(
        &mut outlets,
        &[
            "id",
            "name",
            "town",
            "address",
            "functions",
            "services",
            "staff",
            "opening_hours",
            "displays",
            "ledgers",
        ],
    );
    for (i, town) in TOWNS.iter().enumerate() {
        let id = format!("O{:02}", i + 1);
        let mut functions: Vec<&str> = FUNCTIONS.to_vec();
        let mut displays: Vec<&str> = DISPLAYS.to_vec();
        // Planted: two outlets without 权益保护, one without 投诉电话.
        if i == 9 || i == 15 {
            functions.retain(|f| *f != "权益保护");
            faults
                .outlets_missing_function
                .push((id.clone(), "权益保护".into()));
        }
        if i == 12 {
            displays.retain(|d| *d != "投诉电话");
            faults
                .outlets_missing_display
                .push((id.clone(), "投诉电话".into()));
        }
        let services: Vec<&str> = SERVICES
            .iter()
            .copied()
            .filter(|_| rng.chance(0.85))
            .collect();
        let services = if services.is_empty() {
            vec!["保洁"]
        } else {
            services
        };
        let name = if i == 0 {
            "临安区家政服务中心".to_string()
        } else {
            format!("{town}家政服务网点")
        };
        csv_row(
            &mut outlets,
            &[
                &id,
                &name,
                town,
                &format!("杭州市临安区{town}便民服务中心一楼"),
                &functions.join("|"),
                &services.join("|"),
                &rng.range(2, 6).to_string(),
                "周一至周日 8:30-17:30",
                &displays.join("|"),
                &LEDGERS.join("|"),
            ],
        );
    }

    // Agencies.
    let mut agencies = String::new();
    csv_row(
        &mut agencies,
        &[
            "id",
            "name",
            "credit_code",
            "town",
            "address",
            "grade",
            "complaint_phone",
        ],
    );
    for i in 0..s.agencies {
        let town = TOWNS[rng.range(0, 17) as usize];
        let grade = match rng.range(0, 9) {
            0 => "3A",
            1 => "4A",
            2 => "2A",
            3 => "5A",
            _ => "",
        };
        csv_row(
            &mut agencies,
            &[
                &format!("A{:03}", i + 1),
                &format!(
                    "杭州临安{}家政服务有限公司",
                    [
                        "安心",
                        "好帮手",
                        "邻里",
                        "慧家",
                        "锦程",
                        "青山",
                        "天目",
                        "康乐",
                        "惠民",
                        "家和"
                    ][i % 10]
                        .to_string()
                        + &(i / 10 + 1).to_string()
                ),
                &credit_code(&mut rng),
                town,
                &format!("杭州市临安区{town}{}号", rng.range(1, 300)),
                grade,
                &format!("0571-6{:07}", rng.range(0, 9_999_999)),
            ],
        );
    }

    // Workers, their codes and trainings.
    let mut workers = String::new();
    csv_row(
        &mut workers,
        &[
            "id",
            "name",
            "id_number",
            "phone",
            "agency_id",
            "registered_at",
            "health_check_until",
            "insurance_until",
        ],
    );
    let mut codes = String::new();
    csv_row(&mut codes, &["worker_id", "at", "color", "reason"]);
    let mut trainings = String::new();
    csv_row(
        &mut trainings,
        &["worker_id", "title", "date", "hours", "passed", "outlet_id"],
    );
    for i in 0..s.workers {
        let id = format!("W{:05}", i + 1);
        let name = if i == 0 {
            "王喆".to_string()
        } else if rng.chance(0.01) {
            format!(
                "{}{}",
                SURNAMES[rng.range(0, SURNAMES.len() as i64 - 1) as usize],
                RARE_GIVEN[rng.range(0, RARE_GIVEN.len() as i64 - 1) as usize]
            )
        } else {
            format!(
                "{}{}",
                SURNAMES[rng.range(0, SURNAMES.len() as i64 - 1) as usize],
                GIVEN[rng.range(0, GIVEN.len() as i64 - 1) as usize]
            )
        };
        let registered = day(-rng.range(30, 700));
        // Health check and insurance: yearly; most renewed in time, some lapse
        // during 2023, a few were never entered.
        let health_lapses = rng.chance(0.04);
        let insurance_lapses = rng.chance(0.03);
        let health_until = if health_lapses {
            faults.health_lapsed.push(id.clone());
            Some(day(rng.range(30, 300)))
        } else if rng.chance(0.01) {
            None
        } else {
            Some(day(rng.range(380, 700)))
        };
        let insurance_until = if insurance_lapses {
            faults.insurance_lapsed.push(id.clone());
            Some(day(rng.range(30, 300)))
        } else {
            Some(day(rng.range(370, 730)))
        };
        if health_until.is_none() {
            faults.health_lapsed.push(id.clone());
        }
        csv_row(
            &mut workers,
            &[
                &id,
                &name,
                &id_number(&mut rng),
                &format!(
                    "1{}{:09}",
                    [3, 5, 7, 8, 9][rng.range(0, 4) as usize],
                    rng.range(0, 999_999_999)
                ),
                &format!("A{:03}", rng.range(1, s.agencies as i64)),
                &date(registered),
                &health_until.map(date).unwrap_or_default(),
                &insurance_until.map(date).unwrap_or_default(),
            ],
        );
        // 安心码: green on registration (yellow when no health check); yellow from
        // the day after a lapse (a validity date covers its whole day); a few
        // turn red.
        let initial = if health_until.is_none() {
            "yellow"
        } else {
            "green"
        };
        csv_row(
            &mut codes,
            &[
                &id,
                &instant(registered + 3_600_000_000),
                initial,
                "注册赋码",
            ],
        );
        let lapse = [
            health_until.filter(|_| health_lapses),
            insurance_until.filter(|_| insurance_lapses),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(t) = lapse {
            csv_row(
                &mut codes,
                &[
                    &id,
                    &instant(t + 86_400_000_000),
                    "yellow",
                    "健康证或保险过期",
                ],
            );
        }
        if rng.chance(0.005) {
            faults.red_codes.push(id.clone());
            csv_row(
                &mut codes,
                &[
                    &id,
                    &instant(day(rng.range(10, 350))),
                    "red",
                    "身份信息异常",
                ],
            );
        }
        for _ in 0..rng.range(1, 3) {
            let title = [
                "岗前培训",
                "母婴护理技能培训",
                "居家保洁规范培训",
                "安全与应急培训",
                "标准化知识培训",
            ][rng.range(0, 4) as usize];
            csv_row(
                &mut trainings,
                &[
                    &id,
                    title,
                    &date(day(rng.range(0, 364))),
                    &[4, 8, 16, 24][rng.range(0, 3) as usize].to_string(),
                    if rng.chance(0.95) { "true" } else { "false" },
                    &format!("O{:02}", rng.range(1, 18)),
                ],
            );
        }
    }

    // Complaints: most answered within minutes to hours and resolved within two
    // days; some late, some never resolved.
    let mut complaints = String::new();
    csv_row(
        &mut complaints,
        &[
            "id",
            "order_id",
            "agency_id",
            "worker_id",
            "outlet_id",
            "category",
            "received_at",
            "first_response_at",
            "resolved_at",
        ],
    );
    for i in 0..s.complaints {
        let id = format!("C{:04}", i + 1);
        let received = day(rng.range(0, 360)) + rng.range(8 * 3600, 20 * 3600) * 1_000_000;
        let late = rng.chance(0.05);
        let response = if late {
            faults.late_responses.push(id.clone());
            received + rng.range(25 * 3600, 72 * 3600) * 1_000_000
        } else {
            received + rng.range(5 * 60, 6 * 3600) * 1_000_000
        };
        let unresolved = rng.chance(0.03);
        let resolved = if unresolved {
            faults.unresolved.push(id.clone());
            String::new()
        } else {
            instant(response + rng.range(3600, 40 * 3600) * 1_000_000)
        };
        csv_row(
            &mut complaints,
            &[
                &id,
                &format!("ORD{:07}", rng.range(1, 99_999)),
                &format!("A{:03}", rng.range(1, s.agencies as i64)),
                &format!("W{:05}", rng.range(1, s.workers as i64)),
                &format!("O{:02}", rng.range(1, 18)),
                ["服务质量", "服务态度", "迟到", "收费", "物品损坏"][rng.range(0, 4) as usize],
                &instant(received),
                &instant(response),
                &resolved,
            ],
        );
    }

    Generated {
        files: vec![
            ("agencies.csv".into(), agencies),
            ("workers.csv".into(), workers),
            ("outlets.csv".into(), outlets),
            ("code_changes.csv".into(), codes),
            ("complaints.csv".into(), complaints),
            ("trainings.csv".into(), trainings),
        ],
        faults,
    }
}

/// How the demo platform's own database names things (it is not our file format:
/// a mapping translates, as it would for the real platform).
/// (export file, table, column renames export → table).
type DemoTable = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const DEMO_TABLES: [DemoTable; 6] = [
    ("agencies.csv", "pf_agency", &[("credit_code", "uscc")]),
    (
        "workers.csv",
        "pf_worker",
        &[("id_number", "sfzh"), ("phone", "mobile")],
    ),
    ("outlets.csv", "pf_outlet", &[]),
    (
        "code_changes.csv",
        "pf_code_change",
        &[("color", "code_color")],
    ),
    ("complaints.csv", "pf_complaint", &[]),
    ("trainings.csv", "pf_training", &[]),
];

/// Writes the generated platform into a database (PostgreSQL or SQLite) as the
/// platform's own tables (`pf_*`, replacing them), in one transaction: the live
/// source that `audits/sources/demo-platform.json` maps.
pub async fn load_into(url: &str, g: &Generated) -> Result<usize, String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", crate::db::redact(url)))?;
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    let mut rows = 0;
    for (file, table, renames) in DEMO_TABLES {
        let Some((_, text)) = g.files.iter().find(|(n, _)| n == file) else {
            continue;
        };
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|h| {
                renames
                    .iter()
                    .find(|(from, _)| *from == h)
                    .map(|(_, to)| to.to_string())
                    .unwrap_or_else(|| h.to_string())
            })
            .collect();
        // Names are our constants, never input.
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        let cols: Vec<String> = headers.iter().map(|h| format!("{h} TEXT")).collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {table} ({})",
            cols.join(", ")
        )))
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
        let placeholders: Vec<String> = (1..=headers.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            headers.join(", "),
            placeholders.join(", ")
        );
        for rec in rdr.records() {
            let rec = rec.map_err(|e| e.to_string())?;
            let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for v in rec.iter() {
                q = q.bind(if v.is_empty() {
                    None
                } else {
                    Some(v.to_string())
                });
            }
            q.execute(&mut *tx).await.map_err(|e| e.to_string())?;
            rows += 1;
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    pool.close().await;
    Ok(rows)
}
