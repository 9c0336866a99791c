//! `biaozhun survey stats`: a 问卷星 export read against a survey definition:
//! validity, then the statistics of docs/surveys.md.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{CliError, Result, write_err};
use crate::survey::stats::{Stats, compute};
use crate::survey::validity::{self, Rules};
use crate::survey::{Kind, Response, Survey, wjx};

#[derive(Debug, clap::Args)]
pub struct SurveyArgs {
    #[command(subcommand)]
    pub command: SurveyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SurveyCommand {
    /// Statistics of a 问卷星 export (.csv, .xlsx, .xls; text or coded layout).
    Stats(StatsArgs),
    /// The return-visit (回访) sample of an audit period: completed orders,
    /// stratified by outlet × service type, as a phone-interview list (CSV).
    Sample(SampleArgs),
}

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// The order log (CSV or JSON Lines).
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// Orders completed from this date …
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// … to this date (inclusive).
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// The platform export, to place orders in outlets through their worker.
    #[arg(long, value_name = "DIR")]
    pub platform: Option<PathBuf>,
    /// Target margin of error at 95% (0.05 = ±5 percentage points).
    #[arg(long, default_value_t = 0.05)]
    pub margin: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Interviewers, assigned in turn (comma-separated).
    #[arg(long, value_name = "NAMES", default_value = "")]
    pub interviewers: String,
    /// Where to write the list (CSV with BOM for Excel); `-` or absent: stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The export.
    pub file: PathBuf,
    /// The survey definition (YAML, see surveys/).
    #[arg(long, value_name = "YAML")]
    pub survey: PathBuf,
    /// The previous survey's export, to compare with (same definition unless
    /// --previous-survey).
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    #[arg(long, value_name = "YAML")]
    pub previous_survey: Option<PathBuf>,
    /// Online responses faster than this many seconds are invalid (0: no limit;
    /// DB3301/T 0441—2024 7.3 asks for 60).
    #[arg(long, default_value_t = 60)]
    pub min_seconds: u32,
    /// The same export downloaded in 问卷星's other layout (按选项文本 / 按选项序号):
    /// both are read and must agree answer for answer, or nothing is reported.
    #[arg(long, value_name = "FILE")]
    pub other_layout: Option<PathBuf>,
    /// A column whose title differs from the definition's: 问卷星 question number
    /// = question id (repeatable), e.g. `--map 5=channels`.
    #[arg(long = "map", value_name = "N=ID")]
    pub map: Vec<String>,
    /// Flag straight-lining when the survey has at least this many scored questions.
    #[arg(long, value_name = "N")]
    pub straight_line: Option<usize>,
    /// Also write the workbook (概要, 题目统计, 答卷 with every response and its
    /// validity) to FILE.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
    /// Also write the 满意度测评报告 (PDF) to FILE.
    #[arg(long, value_name = "FILE")]
    pub pdf: Option<PathBuf>,
    /// Improvement suggestions for the report: a text file, one per line.
    #[arg(long, value_name = "FILE")]
    pub suggestions: Option<PathBuf>,
    /// The organisation named on the report.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub organisation: String,
    /// Refuse to write a PDF in which a character has no glyph.
    #[arg(long)]
    pub strict: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SurveyArgs, out: &mut dyn Write) -> Result<ExitCode> {
    match args.command {
        SurveyCommand::Stats(a) => stats(a, out),
        SurveyCommand::Sample(a) => sample(a, out),
    }
}

fn sample(args: SampleArgs, out: &mut dyn Write) -> Result<ExitCode> {
    use crate::survey::sample::{draw, sample_size};
    if !(args.margin > 0.0 && args.margin < 0.5) {
        return Err(CliError::Usage(format!(
            "--margin {}: give a margin between 0 and 0.5, e.g. 0.05 for ±5 points",
            args.margin
        )));
    }
    let day = |s: &str, what: &str| {
        crate::audit::time::parse_date_or_instant(s, 480)
            .map_err(|e| CliError::Usage(format!("--{what} {s}: {e}; write e.g. 2023-01-01")))
    };
    let (from, to) = (
        day(&args.from, "from")?,
        day(&args.to, "to")? + 86_400_000_000,
    );
    let name = args.log.display().to_string();
    let events = crate::monitor::feed::read_log(&args.log, "log").map_err(CliError::Usage)?;
    let places = match &args.platform {
        Some(dir) => {
            let p = crate::platform::import::import_dir(
                dir,
                &crate::platform::import::Options { key: b"sample" },
            )
            .map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?;
            Some(crate::monitor::service::Places::new(&p))
        }
        None => None,
    };
    let orders = crate::survey::sample::completed_orders(&events, from, to, places.as_ref());
    let interviewers: Vec<String> = args
        .interviewers
        .split([',', '，', '、'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let picks = draw(&orders, args.margin, args.seed, &interviewers);
    let strata: std::collections::BTreeSet<(&str, &str)> = orders
        .iter()
        .map(|o| (o.outlet.as_str(), o.service.as_str()))
        .collect();
    let mut csv = String::from("\u{feff}序号,订单编号,网点,服务类别,客户,联系电话,访问员\n");
    for (i, p) in picks.iter().enumerate() {
        let cells = [
            (i + 1).to_string(),
            p.order.clone(),
            p.outlet.clone(),
            p.service.clone(),
            p.customer.clone(),
            p.phone.clone(),
            p.interviewer.clone(),
        ];
        csv.push_str(&crate::survey::sample::csv_line(&cells));
    }
    let summary = format!(
        "{name}: {} orders completed {} to {} in {} strata (outlet × service type); sample {} of n = {} for ±{:.1} points at 95% (finite-population corrected), seed {}",
        orders.len(),
        args.from,
        args.to,
        strata.len(),
        picks.len(),
        sample_size(orders.len(), args.margin),
        args.margin * 100.0,
        args.seed
    );
    match args.out.as_deref() {
        Some(p) if p != Path::new("-") => {
            write_atomic(p, csv.as_bytes())?;
            writeln!(out, "{summary}\nwrote {}", p.display()).map_err(write_err)?;
        }
        _ => {
            write!(out, "{csv}").map_err(write_err)?;
            eprintln!("{summary}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn load_survey(path: &Path) -> Result<Survey> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Survey::from_yaml(&text, &path.display().to_string()).map_err(|e| CliError::Usage(e.join("\n")))
}

fn load_responses(
    path: &Path,
    survey: &Survey,
    map: &std::collections::BTreeMap<usize, String>,
) -> Result<wjx::Imported> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let name = path.display().to_string();
    wjx::import_mapped(&bytes, &name, survey, map).map_err(|errors| {
        let n = errors.len();
        let shown: Vec<String> = errors.into_iter().take(50).collect();
        CliError::Usage(format!(
            "{name}: nothing imported, {n} problem(s):\n  {}{}",
            shown.join("\n  "),
            if n > 50 { "\n  …" } else { "" }
        ))
    })
}

/// Writes beside the target and renames: never half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            CliError::Io {
                path: path.display().to_string(),
                source,
            }
        })
}

fn f2(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
}

fn parse_map(args: &[String]) -> Result<std::collections::BTreeMap<usize, String>> {
    let mut map = std::collections::BTreeMap::new();
    for m in args {
        let parsed = m
            .split_once('=')
            .and_then(|(n, id)| Some((n.trim().parse::<usize>().ok()?, id.trim().to_string())));
        match parsed {
            Some((n, id)) => {
                map.insert(n, id);
            }
            None => {
                return Err(CliError::Usage(format!(
                    "--map {m}: write the 问卷星 question number and the question id, e.g. --map 5=channels"
                )));
            }
        }
    }
    Ok(map)
}

/// The export read again in its other layout: the two must agree.
fn check_other_layout(
    args: &StatsArgs,
    survey: &Survey,
    map: &std::collections::BTreeMap<usize, String>,
    imported: &wjx::Imported,
) -> Result<()> {
    let Some(path) = &args.other_layout else {
        return Ok(());
    };
    let other = load_responses(path, survey, map)?;
    let differ = wjx::disagreements(survey, imported, &other);
    if differ.is_empty() {
        eprintln!(
            "{} 与 {} 逐题一致（{} 份答卷）",
            args.file.display(),
            path.display(),
            imported.responses.len()
        );
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "{} 与 {} 的答案不一致，未作统计（同一次下载的两种格式应逐题相同；常见原因是问卷定义的 scale 与问卷实际的选项顺序不同）：\n  {}",
        args.file.display(),
        path.display(),
        differ.join("\n  ")
    )))
}

fn previous_responses(
    args: &StatsArgs,
    survey: &Survey,
    map: &std::collections::BTreeMap<usize, String>,
    rules: &Rules,
) -> Result<Option<(Survey, Vec<Response>)>> {
    let Some(p) = &args.previous else {
        return Ok(None);
    };
    let ps = match &args.previous_survey {
        Some(y) => load_survey(y)?,
        None => survey.clone(),
    };
    let pr = load_responses(p, &ps, map)?.responses;
    let pv = validity::check(&ps, &pr, rules);
    let valid: Vec<Response> = pr
        .into_iter()
        .zip(pv)
        .filter(|(_, v)| v.is_empty())
        .map(|(r, _)| r)
        .collect();
    Ok(Some((ps, valid)))
}

fn write_pdf(
    args: &StatsArgs,
    path: &Path,
    survey: &Survey,
    responses: &[Response],
    validity: &[Vec<validity::Reason>],
    rules: &Rules,
    s: &Stats,
) -> Result<()> {
    let suggestions = match &args.suggestions {
        None => Vec::new(),
        Some(f) => std::fs::read_to_string(f)
            .map_err(|source| CliError::Io {
                path: f.display().to_string(),
                source,
            })?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    };
    let date = crate::audit::time::format_instant(crate::monitor::feed::now_us(), 480)
        .get(..10)
        .unwrap_or_default()
        .to_string();
    let ctx = crate::survey::report::Context {
        organisation: args.organisation.clone(),
        suggestions,
        date: date.clone(),
    };
    let data = crate::survey::report::data(survey, responses, validity, rules, s, &ctx);
    let r = crate::report::pdf::render(crate::report::pdf::Job {
        template_name: "templates/survey_report.typ",
        template: crate::survey::report::TEMPLATE,
        data: &data,
        files: Vec::new(),
        today: &date,
        strict: args.strict,
    })
    .map_err(|e| CliError::Usage(format!("cannot render the report: {e}")))?;
    for m in &r.missing {
        eprintln!("warning: no font has {m}; it is blank in the PDF");
    }
    write_atomic(path, &r.pdf)
}

fn stats(args: StatsArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let survey = load_survey(&args.survey)?;
    let map = parse_map(&args.map)?;
    let imported = load_responses(&args.file, &survey, &map)?;
    check_other_layout(&args, &survey, &map, &imported)?;
    let rules = Rules {
        min_seconds: (args.min_seconds > 0).then_some(args.min_seconds),
        straight_line_items: args.straight_line,
        ..Rules::default()
    };
    let responses = &imported.responses;
    let validity = validity::check(&survey, responses, &rules);
    let previous = previous_responses(&args, &survey, &map, &rules)?;
    let s: Stats = compute(
        &survey,
        responses,
        &validity,
        previous.as_ref().map(|(s, r)| (s, r.as_slice())),
    );
    if let Some(path) = &args.xlsx {
        let bytes = crate::survey::export::xlsx(&survey, responses, &validity, &rules, &s)
            .map_err(|e| CliError::Usage(format!("cannot build the workbook: {e}")))?;
        write_atomic(path, &bytes)?;
    }
    if let Some(path) = &args.pdf {
        write_pdf(&args, path, &survey, responses, &validity, &rules, &s)?;
    }
    let layout = imported.layout;
    if args.json {
        let invalid: Vec<serde_json::Value> = responses
            .iter()
            .zip(&validity)
            .filter(|(_, v)| !v.is_empty())
            .map(|(r, v)| serde_json::json!({ "source": r.source, "reasons": v }))
            .collect();
        super::print_json(
            out,
            &serde_json::json!({
                "survey": survey.id, "layout": layout, "rules": rules, "stats": s,
                "invalid": invalid, "read_as": imported.samples, "notes": imported.notes,
            }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    print_text(out, &args, &survey, &imported, &validity, &s)
}

/// The first responses as read, for a person to check a coded file's reading.
fn print_read_as(out: &mut dyn Write, survey: &Survey, imported: &wjx::Imported) -> Result<()> {
    if imported.layout != "按选项序号" {
        return Ok(());
    }
    for n in &imported.notes {
        writeln!(out, "{n}").map_err(write_err)?;
    }
    writeln!(
        out,
        "前 {} 份答卷读作（请与问卷星后台核对）：",
        imported.samples.len()
    )
    .map_err(write_err)?;
    for s in &imported.samples {
        let cells: Vec<String> = s
            .cells
            .iter()
            .filter(|(id, _, _)| survey.question(id).is_some_and(|q| q.kind == Kind::Likert))
            .map(|(id, raw, read)| match read.is_empty() {
                true => format!("{id} 未答"),
                false => format!("{id} {raw}→{read}"),
            })
            .collect();
        writeln!(out, "  {}：{}", s.source, cells.join("，")).map_err(write_err)?;
    }
    Ok(())
}

fn print_text(
    out: &mut dyn Write,
    args: &StatsArgs,
    survey: &Survey,
    imported: &wjx::Imported,
    validity: &[Vec<validity::Reason>],
    s: &Stats,
) -> Result<ExitCode> {
    let (responses, layout) = (&imported.responses, imported.layout);
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(write_err);
    w(
        out,
        format!("{}（{}，{layout}）", survey.title, args.file.display()),
    )?;
    print_read_as(out, survey, imported)?;
    let channels: Vec<String> = s
        .by_channel
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    w(
        out,
        format!(
            "答卷 {}，有效 {}（{}），无效 {}",
            s.responses,
            s.valid,
            channels.join("，"),
            s.invalid
        ),
    )?;
    let f1 = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into());
    w(
        out,
        format!(
            "满意度（{}答“非常满意”或“满意”的比例，DB3301/T 0441—2024 7.4）{}% ± {} 个百分点（95%）",
            s.csat_basis,
            f1(s.csat_percent),
            f1(s.csat_margin)
        ),
    )?;
    w(
        out,
        format!(
            "平均得分 {}（满分 5）；得分率 {}%（试点口径：平均得分÷5，不同于满意度）",
            f2(s.score),
            f1(s.satisfaction_percent)
        ),
    )?;
    w(
        out,
        format!(
            "受访者得分 均值 {} 标准差 {} 95% 置信区间 {}；Cronbach's α {}（{} 份完整答卷）",
            f2(s.respondent_mean),
            f2(s.respondent_sd),
            s.respondent_ci95
                .map(|(a, b)| format!("[{a:.2}, {b:.2}]"))
                .unwrap_or_else(|| "—".into()),
            f2(s.alpha),
            s.alpha_n
        ),
    )?;
    if let Some(c) = &s.comparison {
        w(
            out,
            format!(
                "与上次相比：得分 {:.2} → {}（{:+.2}，p = {:.3}，{}）；CSAT {:+.2} 个百分点（p = {:.3}，{}）",
                c.previous_score,
                f2(s.score),
                c.score_change,
                c.p,
                if c.significant { "显著" } else { "不显著" },
                c.csat_change,
                c.csat_p,
                if c.csat_significant {
                    "显著"
                } else {
                    "不显著"
                }
            ),
        )?;
    }
    for q in &s.questions {
        w(out, String::new())?;
        let mut head = format!("{} {}（作答 {}）", q.id, q.text, q.answered);
        if let Some(m) = q.mean {
            head.push_str(&format!("  均值 {m:.2} 标准差 {}", f2(q.sd)));
        }
        w(out, head)?;
        let rows: Vec<Vec<String>> = q
            .options
            .iter()
            .map(|o| {
                vec![
                    o.option.clone(),
                    o.count.to_string(),
                    format!("{:.2}%", o.percent),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let t = super::table::render(&["选项", "人数", "占比"], &rows, &[false, true, true]);
            w(out, t.trim_end().to_string())?;
        }
        for t in q.texts.iter().take(10) {
            w(out, format!("  · {t}"))?;
        }
    }
    let invalid: Vec<String> = responses
        .iter()
        .zip(validity)
        .filter(|(_, v)| !v.is_empty())
        .map(|(r, v)| {
            format!(
                "  {}：{}",
                r.source,
                v.iter().map(|x| x.label()).collect::<Vec<_>>().join("；")
            )
        })
        .collect();
    if !invalid.is_empty() {
        w(out, String::new())?;
        w(out, "无效答卷（保留，不计入统计）：".into())?;
        for l in invalid {
            w(out, l)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
