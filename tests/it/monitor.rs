//! Live monitoring's pull mode against a real PostgreSQL "platform" table, storing
//! into a real SQLite file: pages, the cursor committed with the events, idempotent
//! re-reads, and a bad row refused with nothing half-stored.

use biaozhun::db::Db;
use biaozhun::monitor::pull::{PullError, pull};

const QUERY: &str = "SELECT e.id AS cursor, e.uuid AS id, e.order_no AS case_id, e.step AS activity, \
     e.at::text AS timestamp, e.worker AS worker_id FROM order_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_follows_a_platform_table_by_cursor() {
    let source = super::db::fresh_pg_url().await;
    let platform = sqlx::AnyPool::connect(&source).await.unwrap();
    sqlx::query(
        "CREATE TABLE order_events (id BIGSERIAL PRIMARY KEY, uuid TEXT, order_no TEXT, step TEXT, at TIMESTAMPTZ, worker TEXT)",
    )
    .execute(&platform)
    .await
    .unwrap();
    let insert = |from: i64, n: i64| {
        let platform = platform.clone();
        async move {
            sqlx::query(
                "INSERT INTO order_events (uuid, order_no, step, at, worker) \
                 SELECT 'u' || g, 'O' || (g / 5), '派单', TIMESTAMPTZ '2024-05-01 10:00:00+08' + g * INTERVAL '1 second', 'W' || (g % 7) \
                 FROM generate_series($1::bigint, $2::bigint) g",
            )
            .bind(from)
            .bind(from + n - 1)
            .execute(&platform)
            .await
            .unwrap();
        }
    };
    insert(1, 2500).await;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&biaozhun::db::sqlite_url(&dir.path().join("m.db")))
        .await
        .unwrap();
    let p = pull(&db, &source, "orders", QUERY, 1000).await.unwrap();
    assert_eq!(
        (p.read, p.accepted, p.duplicates, p.cursor),
        (2500, 2500, 0, 2500)
    );
    let stored = db.events_after(0, 10).await.unwrap();
    assert_eq!(stored[0].id, "u1");
    assert_eq!(stored[0].attrs["worker_id"], "W1");
    assert!(
        stored[0].timestamp.starts_with("2024-05-01"),
        "{}",
        stored[0].timestamp
    );
    // Only what is new; nothing when nothing is.
    insert(2501, 10).await;
    let p = pull(&db, &source, "orders", QUERY, 1000).await.unwrap();
    assert_eq!((p.read, p.accepted, p.cursor), (10, 10, 2510));
    let p = pull(&db, &source, "orders", QUERY, 1000).await.unwrap();
    assert_eq!((p.read, p.accepted), (0, 0));
    // A cursor behind the stored events (a crash after the read, before the
    // commit, looks like this): the rows are read again and stored once.
    sqlx::query("UPDATE event_cursors SET position = 2000 WHERE name = 'orders'")
        .execute(&db.pool)
        .await
        .unwrap();
    let p = pull(&db, &source, "orders", QUERY, 1000).await.unwrap();
    assert_eq!((p.read, p.accepted, p.duplicates), (510, 0, 510));
    assert_eq!(db.events_after(0, 100_000).await.unwrap().len(), 2510);
    // A bad row: refused with where, nothing of its page stored, cursor kept.
    insert(2511, 3).await;
    sqlx::query("UPDATE order_events SET at = NULL WHERE id = 2512")
        .execute(&platform)
        .await
        .unwrap();
    match pull(&db, &source, "orders", QUERY, 1000).await {
        Err(PullError::Invalid { after, error }) => {
            assert_eq!(after, 2510);
            assert!(error.contains("events[1].timestamp"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.events_after(0, 100_000).await.unwrap().len(), 2510);
    assert_eq!(db.event_cursor("orders").await.unwrap(), 2510);
    // A query without a cursor column says so.
    let no_cursor = "SELECT uuid AS id FROM order_events WHERE id > $1 LIMIT $2";
    assert!(matches!(
        pull(&db, &source, "other", no_cursor, 10).await,
        Err(PullError::NoCursor { row: 1 })
    ));
    platform.close().await;
}
