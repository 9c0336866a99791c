//! `biaozhun serve`: the web application.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::web::{self, ServeConfig};

use super::{CliError, Result, write_err};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Data directory: database (SQLite), library, search index.
    #[arg(
        long,
        value_name = "DIR",
        env = "BIAOZHUN_DATA",
        default_value = "data"
    )]
    pub data: PathBuf,
    /// PostgreSQL (postgres://…) or SQLite (sqlite://…) URL; default: SQLite in the data dir.
    #[arg(long, value_name = "URL", env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the first start imports standards from.
    #[arg(long, value_name = "DIR", default_value = "standards")]
    pub standards: PathBuf,
    /// Password for the admin account created on first start (default: a random
    /// one-time password, printed on every start until the admin changes it, which
    /// the first login forces).
    #[arg(long, value_name = "PASSWORD")]
    pub admin_password: Option<String>,
    /// Also create one demo account per role, a simulated platform with an audit,
    /// and a live feed of simulated orders for the monitor.
    #[arg(long)]
    pub demo: bool,
    /// Cookies without `Secure`: only for plain HTTP on a private network, since
    /// browsers refuse Secure cookies over http:// except on localhost. Use HTTPS
    /// (a reverse proxy) instead wherever you can.
    #[arg(long)]
    pub insecure_cookies: bool,
    /// Codes of new enterprise standards: `{n:03}` is the next free number, `{year}` the year.
    #[arg(long, default_value = "Q/BZ {n:03}—{year}")]
    pub code_pattern: String,
    /// Live monitoring's clock: `wall` (deadlines pass in real time) or `events`
    /// (they pass as the events' own time passes: replaying a log, demos).
    #[arg(long, value_name = "CLOCK", default_value = "wall", value_parser = ["wall", "events"])]
    pub monitor_clock: String,
    /// Close an order case after this long without events (e.g. `4d`; default: the
    /// longest rule window plus an hour, at least 7 days).
    #[arg(long, value_name = "DURATION")]
    pub close_after: Option<String>,
    /// Send every raised or resolved alert to this URL (HTTP POST, JSON, signed).
    #[arg(long, value_name = "URL", env = "BIAOZHUN_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// The secret the webhook signature (`X-Biaozhun-Signature`) is made with.
    #[arg(
        long,
        value_name = "SECRET",
        env = "BIAOZHUN_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// Store pushed events but do not evaluate them.
    #[arg(long)]
    pub no_monitor: bool,
}

fn monitor_config(args: &ServeArgs) -> Result<crate::monitor::service::MonitorConfig> {
    use crate::monitor::service::{Clock, MonitorConfig, Webhook};
    let close_after = match &args.close_after {
        None => None,
        Some(s) => Some(
            crate::audit::time::parse_duration(s)
                .filter(|d| *d > 0)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "--close-after: `{s}` is not a duration; write e.g. 4d, 36h"
                    ))
                })?,
        ),
    };
    let webhook = match (&args.webhook_url, &args.webhook_secret) {
        (None, _) => None,
        (Some(url), Some(secret)) if !secret.is_empty() => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(CliError::Usage(format!(
                    "--webhook-url: `{url}` is not an http:// or https:// URL"
                )));
            }
            Some(Webhook {
                url: url.clone(),
                secret: secret.clone(),
            })
        }
        (Some(_), _) => {
            return Err(CliError::Usage(
                "--webhook-url needs --webhook-secret (or BIAOZHUN_WEBHOOK_SECRET): receivers check the signature".into(),
            ));
        }
    };
    Ok(MonitorConfig {
        enabled: !args.no_monitor,
        clock: if args.monitor_clock == "events" {
            Clock::Events
        } else {
            Clock::Wall
        },
        close_after,
        webhook,
        demo_feed: args.demo && !args.no_monitor,
        // The demo platform's data is from 2023: check its records as of the end of
        // that year, or every health check would have expired long ago.
        records_shift: if args.demo {
            crate::audit::time::parse_instant("2023-12-25T12:00:00+08:00", None)
                .map(|t| t.0)
                .unwrap_or(0)
                - crate::monitor::feed::now_us()
        } else {
            0
        },
        ..MonitorConfig::default()
    })
}

/// The admin password, when this start created the account or a generated one is
/// still unchanged (then it is printed on every start, and kept in the data
/// directory, until the admin changes it at first login).
fn print_admin_password(setup: &web::Setup, args: &ServeArgs, out: &mut dyn Write) -> Result<()> {
    let Some(pw) = &setup.admin_password else {
        return Ok(());
    };
    let file = args.data.join(web::INITIAL_PASSWORD_FILE);
    let line = match (setup.admin_password_again, args.admin_password.is_some()) {
        (false, true) => {
            format!("已创建管理员账号 admin，密码：{pw}（即 --admin-password 所给的密码）")
        }
        (false, false) => format!(
            "已创建管理员账号 admin，初始密码：{pw}（首次登录后须修改；修改之前每次启动都会再次显示，也保存在 {}）",
            file.display()
        ),
        (true, _) => format!(
            "管理员账号 admin 尚未修改初始密码，初始密码：{pw}（首次登录后须修改；也保存在 {}）",
            file.display()
        ),
    };
    writeln!(out, "{line}").map_err(write_err)
}

pub fn run(args: ServeArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    let monitor = monitor_config(&args)?;
    runtime.block_on(async {
        let cfg = ServeConfig {
            data: args.data.clone(),
            standards: args.standards.clone(),
            database_url: args.database_url.clone(),
            admin_password: args.admin_password.clone(),
            demo: args.demo,
            insecure_cookies: args.insecure_cookies,
            code_pattern: args.code_pattern.clone(),
            monitor,
        };
        // Listen first: a start that cannot (the port is taken) stops before it
        // creates anything, the admin account and its password included.
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .map_err(|e| {
                CliError::Usage(format!(
                    "无法在 {} 上监听（端口可能已被占用；请用 --addr 换一个地址，或先停止占用它的程序）：{e}",
                    args.addr
                ))
            })?;
        let (state, setup) = web::prepare(&cfg).await.map_err(CliError::Usage)?;
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| args.addr.clone());
        if setup.library_created {
            writeln!(
                out,
                "已从 {} 建立标准库：{}",
                args.standards.display(),
                args.data.join("library").display()
            )
            .map_err(write_err)?;
        }
        print_admin_password(&setup, &args, out)?;
        for line in &setup.reconciled {
            writeln!(out, "{line}").map_err(write_err)?;
        }
        for (name, role, pw) in &setup.demo_users {
            writeln!(out, "演示账号 {name}（{}）密码：{pw}", role.label()).map_err(write_err)?;
        }
        writeln!(
            out,
            "标准 已启动：http://{local}/  （数据库：{}）",
            state.db.backend.name()
        )
        .map_err(write_err)?;
        out.flush().map_err(write_err)?;
        web::serve(state, listener)
            .await
            .map_err(|e| CliError::Usage(format!("server failed: {e}")))?;
        Ok(ExitCode::SUCCESS)
    })
}
