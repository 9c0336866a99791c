//! `biaozhun provisions [--text "…" | FILE | -]`

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::standard::Classifier;
use crate::standard::parse::decode;
use crate::standard::provision::split_sentences;

use super::{CliError, Result, write_err};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Text to classify.
    #[arg(long, conflicts_with = "file")]
    pub text: Option<String>,
    /// A UTF-8 text file, or `-` for standard input.
    pub file: Option<PathBuf>,
    /// JSON output: type, negative flag, trigger word and all forms per sentence.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<ExitCode> {
    let text = match (&args.text, &args.file) {
        (Some(t), _) => t.clone(),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|source| CliError::Io {
                    path: "stdin".into(),
                    source,
                })?;
            decode(&buf, "stdin").map_err(|d| CliError::Usage(d.to_string()))?
        }
        (None, Some(p)) => {
            let bytes = std::fs::read(p).map_err(|source| CliError::Io {
                path: p.display().to_string(),
                source,
            })?;
            decode(&bytes, &p.display().to_string()).map_err(|d| CliError::Usage(d.to_string()))?
        }
        (None, None) => {
            return Err(CliError::Usage(
                "give text to classify: --text \"…\", a FILE, or - for standard input".into(),
            ));
        }
    };
    let classifier = Classifier::global();
    let sentences: Vec<&str> = split_sentences(&text, true)
        .into_iter()
        .map(|r| &text[r])
        .collect();
    if args.json {
        let rows: Vec<_> = sentences
            .iter()
            .map(|s| {
                let c = classifier.classify(s);
                json!({
                    "sentence": s,
                    "type": c.kind,
                    "label": c.kind.label(),
                    "negative": c.negative,
                    "trigger": c.trigger,
                    "forms": c.forms,
                    "discouraged": c.forms.iter().any(|f| f.discouraged),
                })
            })
            .collect();
        super::print_json(out, &rows)?;
    } else {
        for (i, s) in sentences.iter().enumerate() {
            let c = classifier.classify(s);
            let label = format!(
                "{}{}",
                c.kind.label(),
                if c.negative { "·否定" } else { "" }
            );
            let trigger = c
                .trigger
                .as_deref()
                .map(|t| format!("「{t}」"))
                .unwrap_or_else(|| "—".into());
            writeln!(
                out,
                "{:>3}  {}  {}  {s}",
                i + 1,
                super::table::pad(&label, 12),
                super::table::pad(&trigger, 8)
            )
            .map_err(write_err)?;
            for f in c.forms.iter().filter(|f| f.discouraged) {
                let better = if f.negative { "不应" } else { "应" };
                writeln!(
                    out,
                    "     warning: 「{}」 is not a GB/T 1.1—2020 verbal form; write 「{better}」",
                    f.word
                )
                .map_err(write_err)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
