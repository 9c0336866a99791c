//! The database layer on both backends: a real SQLite file and a real PostgreSQL
//! database (127.0.0.1:5432, database `test`), each test in its own schema so tests
//! run in parallel without seeing each other's rows.

use biaozhun::db::accounts::{Actor, Login, NewUser, Role};
use biaozhun::db::{Backend, Db, sqlite_url};

/// PostgreSQL server for tests; `BIAOZHUN_TEST_PG` overrides it.
fn pg_base() -> String {
    std::env::var("BIAOZHUN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh database of each backend: (SQLite in a temp dir, PostgreSQL in a new schema).
pub async fn both() -> (Vec<Db>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::open(&sqlite_url(&dir.path().join("bz.db")))
        .await
        .unwrap();
    (vec![sqlite, fresh_pg().await], dir)
}

pub async fn fresh_pg() -> Db {
    Db::open(&fresh_pg_url().await).await.unwrap()
}

/// The URL of a new, empty schema on the test PostgreSQL server.
pub async fn fresh_pg_url() -> String {
    let schema = format!("t_{}", &biaozhun::db::accounts::random_token()[..16]);
    // A plain connection: the schema is created before anything is migrated into it.
    let admin = pg_admin().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let sep = if pg_base().contains('?') { '&' } else { '?' };
    format!("{}{sep}options=-c%20search_path%3D{schema}", pg_base())
}

/// Set once the test server has not answered: every later test then fails at once
/// with the same message instead of waiting for a pool's timeout of its own.
static PG_DOWN: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// A pool on the test server, or a panic that says which server, why not, and what
/// to start. One plain connection is tried first: it fails at once with the reason
/// (refused, no such database, authentication), where a pool retries for 30 s and
/// then says only `PoolTimedOut`.
async fn pg_admin() -> sqlx::AnyPool {
    use sqlx::Connection;
    if let Some(message) = PG_DOWN.lock().unwrap().clone() {
        panic!("{message}");
    }
    sqlx::any::install_default_drivers();
    let url = pg_base();
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        sqlx::AnyConnection::connect(&url),
    )
    .await;
    let failure = match probe {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            None
        }
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 10 s".to_string()),
    };
    if let Some(reason) = failure {
        let message = format!(
            "the PostgreSQL tests need a server at {} ({reason}); set BIAOZHUN_TEST_PG \
             to use another one. On Debian start the installed cluster with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             (.ci/run does); it needs trust auth for user postgres and a database `test` \
             (`createdb -h 127.0.0.1 -U postgres test`)",
            biaozhun::db::redact(&url)
        );
        *PG_DOWN.lock().unwrap() = Some(message.clone());
        panic!("{message}");
    }
    sqlx::AnyPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e}", biaozhun::db::redact(&url)))
}

/// Without a server the database tests fail at once, each saying which server they
/// need and what to start — not after a 30 s pool timeout with `PoolTimedOut` and a
/// fixed address whatever `BIAOZHUN_TEST_PG` said. Runs one of them in this test
/// binary against a port nothing listens on.
#[test]
fn a_missing_postgresql_server_fails_at_once_saying_what_to_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "db::accounts_sessions_and_tokens_work_on_both_backends",
        ])
        .env("BIAOZHUN_TEST_PG", &url)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("1 failed"), "{said}");
    for needle in [
        &format!("need a server at {url} ("),
        "refused",
        "BIAOZHUN_TEST_PG",
        "pg_ctlcluster --skip-systemctl-redirect",
    ] {
        assert!(said.contains(needle), "{needle:?} not in: {said}");
    }
    assert!(
        took < std::time::Duration::from_secs(15),
        "{took:?}: {said}"
    );
}

fn admin_actor() -> Actor {
    Actor {
        user_id: None,
        username: "setup".into(),
        ip: "127.0.0.1".into(),
    }
}

#[tokio::test]
async fn accounts_sessions_and_tokens_work_on_both_backends() {
    let (dbs, _dir) = both().await;
    let backends: Vec<Backend> = dbs.iter().map(|d| d.backend).collect();
    assert_eq!(backends, [Backend::Sqlite, Backend::Postgres]);
    for db in dbs {
        let b = db.backend.name();
        let by = admin_actor();
        let u = db
            .create_user(
                &NewUser {
                    username: "wangzhe",
                    display_name: "王喆",
                    password: "correct horse battery",
                    role: Role::Reviewer,
                    department: "标准化办公室",
                },
                &by,
            )
            .await
            .unwrap();
        assert_eq!(
            (u.role, u.display_name.as_str(), u.active),
            (Role::Reviewer, "王喆", true),
            "{b}"
        );
        // Duplicate user names and weak passwords are refused.
        let dup = db
            .create_user(
                &NewUser {
                    username: "wangzhe",
                    display_name: "x",
                    password: "another long one",
                    role: Role::Viewer,
                    department: "",
                },
                &by,
            )
            .await;
        assert!(dup.is_err(), "{b}");
        let weak = db
            .create_user(
                &NewUser {
                    username: "li",
                    display_name: "x",
                    password: "short",
                    role: Role::Viewer,
                    department: "",
                },
                &by,
            )
            .await;
        assert!(weak.unwrap_err().to_string().contains("10"), "{b}");
        // Login.
        assert!(
            matches!(
                db.login("wangzhe", "correct horse battery", "10.0.0.1")
                    .await
                    .unwrap(),
                Login::Ok(_)
            ),
            "{b}"
        );
        assert!(
            matches!(
                db.login("wangzhe", "wrong password!!", "10.0.0.1")
                    .await
                    .unwrap(),
                Login::Wrong
            ),
            "{b}"
        );
        assert!(
            matches!(
                db.login("nobody", "whatever it is", "10.0.0.1")
                    .await
                    .unwrap(),
                Login::Wrong
            ),
            "{b}"
        );
        // Sessions: the token opens the session, logout closes it.
        let (token, s) = db.create_session(&u, "10.0.0.1").await.unwrap();
        let back = db.session(&token).await.unwrap().expect("session");
        assert_eq!((back.user.id, back.csrf), (u.id, s.csrf.clone()), "{b}");
        assert!(db.session("not-a-token").await.unwrap().is_none(), "{b}");
        // Deactivation ends sessions and blocks login and tokens.
        let api = db.create_api_token(&u, "ci", &by).await.unwrap();
        assert_eq!(
            db.api_user(&api).await.unwrap().map(|x| x.id),
            Some(u.id),
            "{b}"
        );
        db.update_user(u.id, Role::Reviewer, "标准化办公室", false, &by)
            .await
            .unwrap();
        assert!(db.session(&token).await.unwrap().is_none(), "{b}");
        assert!(db.api_user(&api).await.unwrap().is_none(), "{b}");
        assert!(
            matches!(
                db.login("wangzhe", "correct horse battery", "10.0.0.1")
                    .await
                    .unwrap(),
                Login::Wrong
            ),
            "{b}"
        );
        // The log has every change, newest first, and refuses edits.
        let log = db.activity(50).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "user.update",
                "token.create",
                "session.login",
                "user.create"
            ],
            "{b}"
        );
        let edit = sqlx::query("UPDATE activity_log SET action = 'x'")
            .execute(&db.pool)
            .await;
        assert!(edit.is_err(), "{b}: the activity log is append-only");
        let delete = sqlx::query("DELETE FROM activity_log")
            .execute(&db.pool)
            .await;
        assert!(delete.is_err(), "{b}: the activity log is append-only");
    }
}

#[tokio::test]
async fn repeated_failures_throttle_logins_per_user() {
    let (dbs, _dir) = both().await;
    for db in dbs {
        let b = db.backend.name();
        let u = db
            .create_user(
                &NewUser {
                    username: "zhao",
                    display_name: "赵",
                    password: "a long password",
                    role: Role::Viewer,
                    department: "",
                },
                &admin_actor(),
            )
            .await
            .unwrap();
        for _ in 0..biaozhun::db::accounts::MAX_FAILURES_PER_USER {
            assert!(
                matches!(
                    db.login(&u.username, "wrong password", "10.0.0.2")
                        .await
                        .unwrap(),
                    Login::Wrong
                ),
                "{b}"
            );
        }
        // Even the right password is refused while throttled.
        assert!(
            matches!(
                db.login(&u.username, "a long password", "10.0.0.3")
                    .await
                    .unwrap(),
                Login::Throttled
            ),
            "{b}"
        );
    }
}

mod submissions {
    use super::*;
    use biaozhun::db::submissions::{Conflict, NewSubmission};
    use biaozhun::submission::State;

    async fn user(db: &Db, name: &str, role: Role) -> biaozhun::db::accounts::User {
        db.create_user(
            &NewUser {
                username: name,
                display_name: name,
                password: "a long password",
                role,
                department: "家政服务部",
            },
            &admin_actor(),
        )
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn transitions_are_atomic_and_edits_never_lost() {
        let (dbs, _dir) = both().await;
        for db in dbs {
            let b = db.backend.name();
            let author = user(&db, "li", Role::Employee).await;
            let reviewer = user(&db, "zhou", Role::Reviewer).await;
            let s = db
                .create_submission(
                    &NewSubmission {
                        title: "家政服务人员上门服务规范",
                        code: "Q/BZ 001—2026",
                        kind: "new",
                        base_code: "",
                        department: "家政服务部",
                        category: "服务提供标准/服务提供规范",
                        text: "v1",
                    },
                    &author,
                )
                .await
                .unwrap();
            assert_eq!((s.state, s.version), (State::Draft, 1), "{b}");
            // Optimistic concurrency: an edit on a stale page is refused.
            let v2 = db.edit_submission(s.id, 1, "v2", &author).await.unwrap();
            assert_eq!(v2, 2);
            let stale = db
                .edit_submission(s.id, 1, "v2 from an old tab", &author)
                .await;
            assert!(
                matches!(
                    stale,
                    Err(Conflict::Stale {
                        seen: 1,
                        current: 2
                    })
                ),
                "{b}: {stale:?}"
            );
            assert_eq!(
                db.submission(s.id).await.unwrap().unwrap().text,
                "v2",
                "{b}: nothing overwritten"
            );
            db.transition(s.id, State::Draft, State::Submitted, &author, "")
                .await
                .unwrap();
            // Not editable once submitted.
            let late = db.edit_submission(s.id, 3, "v3", &author).await;
            assert!(matches!(late, Err(Conflict::Moved(_))), "{b}: {late:?}");
            db.transition(s.id, State::Submitted, State::InReview, &reviewer, "")
                .await
                .unwrap();
            // Eight reviewers approve at the same moment: exactly one succeeds.
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let db = db.clone();
                let reviewer = reviewer.clone();
                tasks.push(tokio::spawn(async move {
                    db.transition(s.id, State::InReview, State::Approved, &reviewer, "")
                        .await
                }));
            }
            let mut ok = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(()) => ok += 1,
                    Err(Conflict::Moved(_)) => {}
                    Err(e) => panic!("{b}: unexpected {e}"),
                }
            }
            assert_eq!(ok, 1, "{b}: approved exactly once");
            let events = db.submission_events(s.id).await.unwrap();
            let path: Vec<(&str, &str)> = events
                .iter()
                .map(|e| (e.from_state.as_str(), e.to_state.as_str()))
                .collect();
            assert_eq!(
                path,
                [
                    ("draft", "submitted"),
                    ("submitted", "in_review"),
                    ("in_review", "approved")
                ],
                "{b}"
            );
            // Threaded clause comments.
            let root = db
                .add_comment(s.id, "5.2", None, "时限应明确", &reviewer)
                .await
                .unwrap();
            db.add_comment(s.id, "5.2", Some(root), "已改为30 min", &author)
                .await
                .unwrap();
            let comments = db.comments(s.id).await.unwrap();
            assert_eq!(comments.len(), 2);
            assert_eq!(
                (comments[1].parent_id, comments[1].clause.as_str()),
                (Some(root), "5.2"),
                "{b}"
            );
            // Lists: the review queue and the author's own.
            assert_eq!(
                db.submissions(&[State::Approved], None)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert_eq!(
                db.submissions(&[], Some(reviewer.id)).await.unwrap().len(),
                0
            );
        }
    }
}
