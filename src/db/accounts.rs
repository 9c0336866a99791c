//! Accounts, roles, sessions, API tokens, login throttling and the activity log.
//!
//! Passwords are hashed with argon2id (PHC strings). Session and API tokens are 256
//! random bits handed to the client once; the database keeps only their SHA-256, so a
//! leaked database does not leak live sessions. Every state-changing action goes to
//! `activity_log`, which the schema makes append-only.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Db, DbError, now};

/// Who a user is to Biaozhun. Every route states which roles may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Employee,
    Reviewer,
    Auditor,
    Expert,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Employee,
        Role::Reviewer,
        Role::Auditor,
        Role::Expert,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Employee => "employee",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Expert => "expert",
            Role::Viewer => "viewer",
        }
    }

    /// 简体中文 name shown in the UI.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Employee => "员工",
            Role::Reviewer => "标准化审核员",
            Role::Auditor => "审核员（符合性审核）",
            Role::Expert => "验收专家",
            Role::Viewer => "访客",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: String,
    pub active: bool,
    pub created_at: i64,
    /// The account still has a one-time password (the first start's generated
    /// admin password): every page sends the user to change it first.
    pub must_change_password: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("用户名已存在：{0}")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        AccountError::Db(DbError::Query(e))
    }
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    // getrandom only fails when the OS has no entropy source at all.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b[..16].copy_from_slice(&t.to_le_bytes());
    }
    hex(&b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 of a token, hex: what the database stores.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccountError::Invalid(format!("no randomness: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| AccountError::Invalid(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Invalid(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a new password: long enough to resist guessing at our rate limit.
pub fn check_password_rules(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < 10 {
        return Err(AccountError::Invalid("密码至少 10 个字符".into()));
    }
    Ok(())
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        department: r.try_get("department")?,
        active: r.try_get::<i64, _>("active")? != 0,
        created_at: r.try_get("created_at")?,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
    })
}

const USER_COLUMNS: &str =
    "id, username, display_name, role, department, active, created_at, must_change_password";

/// Who did something and from where, for the activity log.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: String,
    pub ip: String,
}

impl Actor {
    /// `user` acting, address unknown (actions not tied to a request).
    pub fn user(user: &User) -> Actor {
        Actor {
            user_id: Some(user.id),
            username: user.username.clone(),
            ip: String::new(),
        }
    }
}

/// A new account.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub role: Role,
    pub department: &'a str,
}

/// Login throttling: failures allowed per user name and per client address within
/// [`THROTTLE_WINDOW`] seconds before further attempts are refused.
pub const MAX_FAILURES_PER_USER: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;
pub const THROTTLE_WINDOW: i64 = 15 * 60;
/// Sessions last a working week without use … and end at logout.
pub const SESSION_SECONDS: i64 = 7 * 24 * 3600;

/// Outcome of a login attempt.
#[derive(Debug)]
pub enum Login {
    Ok(User),
    Wrong,
    Throttled,
}

/// A live session: the user and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

impl Db {
    pub async fn create_user(&self, u: &NewUser<'_>, by: &Actor) -> Result<User, AccountError> {
        self.insert_user(u, false, by).await
    }

    /// Creates an account whose password is one-time: the user must change it at
    /// first login (the first start's generated admin password). One statement, so
    /// the account never exists without the flag.
    pub async fn create_user_with_one_time_password(
        &self,
        u: &NewUser<'_>,
        by: &Actor,
    ) -> Result<User, AccountError> {
        self.insert_user(u, true, by).await
    }

    async fn insert_user(
        &self,
        u: &NewUser<'_>,
        one_time: bool,
        by: &Actor,
    ) -> Result<User, AccountError> {
        let name = u.username.trim();
        if name.is_empty()
            || name.chars().count() > 64
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "._-".contains(c))
        {
            return Err(AccountError::Invalid(
                "用户名须为 1–64 个字母、数字或 . _ -".into(),
            ));
        }
        check_password_rules(u.password)?;
        if self.user_by_name(name).await?.is_some() {
            return Err(AccountError::Exists(name.to_string()));
        }
        let hash = hash_password(u.password)?;
        let row = sqlx::query(
            "INSERT INTO users (username, display_name, password_hash, role, department, active, created_at, must_change_password) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7) RETURNING id",
        )
        .bind(name)
        .bind(u.display_name.trim())
        .bind(&hash)
        .bind(u.role.as_str())
        .bind(u.department.trim())
        .bind(now())
        .bind(one_time as i64)
        .fetch_one(&self.pool)
        .await?;
        let id: i64 = row.try_get("id")?;
        self.log(
            by,
            "user.create",
            name,
            &format!("role={}", u.role.as_str()),
        )
        .await?;
        self.user(id)
            .await?
            .ok_or_else(|| AccountError::Invalid("new user vanished".into()))
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, AccountError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, AccountError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(username.trim())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    pub async fn users(&self) -> Result<Vec<User>, AccountError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn user_count(&self) -> Result<i64, AccountError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Changes role, department and active flag. Deactivating ends the user's sessions.
    pub async fn update_user(
        &self,
        id: i64,
        role: Role,
        department: &str,
        active: bool,
        by: &Actor,
    ) -> Result<(), AccountError> {
        let Some(user) = self.user(id).await? else {
            return Err(AccountError::Invalid(format!("没有编号为 {id} 的用户")));
        };
        sqlx::query("UPDATE users SET role = $1, department = $2, active = $3 WHERE id = $4")
            .bind(role.as_str())
            .bind(department.trim())
            .bind(active as i64)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if !active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        self.log(
            by,
            "user.update",
            &user.username,
            &format!(
                "role={} department={} active={active}",
                role.as_str(),
                department.trim()
            ),
        )
        .await?;
        Ok(())
    }

    pub async fn set_password(
        &self,
        id: i64,
        password: &str,
        by: &Actor,
    ) -> Result<(), AccountError> {
        check_password_rules(password)?;
        let hash = hash_password(password)?;
        // A password the user chose ends a one-time password's reign.
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 0 WHERE id = $2")
            .bind(&hash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.log(by, "user.password", &id.to_string(), "").await?;
        Ok(())
    }

    /// Whether `password` is the account's password (no login attempt recorded:
    /// for the server's own checks, never for a request).
    pub async fn password_matches(&self, id: i64, password: &str) -> Result<bool, AccountError> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => verify_password(password, &r.try_get::<String, _>("password_hash")?),
            None => false,
        })
    }

    /// Gives an account that still has a one-time password a new one-time
    /// password and ends its sessions: a start that finds the first admin password
    /// never changed prints a new one, since the old one may never have been seen.
    /// False (nothing changed) when the user has chosen a password meanwhile.
    pub async fn renew_one_time_password(
        &self,
        id: i64,
        password: &str,
        by: &Actor,
    ) -> Result<bool, AccountError> {
        check_password_rules(password)?;
        let hash = hash_password(password)?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND must_change_password = 1",
        )
        .bind(&hash)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if done {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
            self.log(by, "user.password.renew", &id.to_string(), "one-time")
                .await?;
        }
        Ok(done)
    }

    /// Checks a password, with throttling per user name and per address. Every
    /// attempt is recorded; a throttled attempt does not even look at the password.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ip: &str,
    ) -> Result<Login, AccountError> {
        let since = now() - THROTTLE_WINDOW;
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM login_attempts WHERE username = $1 AND at >= $2 AND ok = 0) AS by_user, \
               (SELECT COUNT(*) FROM login_attempts WHERE ip = $3 AND at >= $2 AND ok = 0) AS by_ip",
        )
        .bind(username.trim())
        .bind(since)
        .bind(ip)
        .fetch_one(&self.pool)
        .await?;
        let by_user: i64 = row.try_get("by_user")?;
        let by_ip: i64 = row.try_get("by_ip")?;
        if by_user >= MAX_FAILURES_PER_USER || by_ip >= MAX_FAILURES_PER_IP {
            return Ok(Login::Throttled);
        }
        let stored = sqlx::query("SELECT id, password_hash, active FROM users WHERE username = $1")
            .bind(username.trim())
            .fetch_optional(&self.pool)
            .await?;
        // Verify against a fixed hash when the user does not exist, so the answer takes
        // as long either way and does not reveal which user names exist.
        let (id, hash, active) = match &stored {
            Some(r) => (
                Some(r.try_get::<i64, _>("id")?),
                r.try_get::<String, _>("password_hash")?,
                r.try_get::<i64, _>("active")? != 0,
            ),
            None => (None, DUMMY_HASH.clone(), false),
        };
        let ok = verify_password(password, &hash) && active && id.is_some();
        sqlx::query("INSERT INTO login_attempts (at, username, ip, ok) VALUES ($1, $2, $3, $4)")
            .bind(now())
            .bind(username.trim())
            .bind(ip)
            .bind(ok as i64)
            .execute(&self.pool)
            .await?;
        match (ok, id) {
            (true, Some(id)) => Ok(self.user(id).await?.map(Login::Ok).unwrap_or(Login::Wrong)),
            _ => Ok(Login::Wrong),
        }
    }

    /// Starts a session; returns the token for the cookie.
    pub async fn create_session(
        &self,
        user: &User,
        ip: &str,
    ) -> Result<(String, Session), AccountError> {
        let token = random_token();
        let csrf = random_token();
        let t = now();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at, ip) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash(&token))
        .bind(user.id)
        .bind(&csrf)
        .bind(t)
        .bind(t + SESSION_SECONDS)
        .bind(ip)
        .execute(&self.pool)
        .await?;
        let actor = Actor {
            ip: ip.to_string(),
            ..Actor::user(user)
        };
        self.log(&actor, "session.login", &user.username, "")
            .await?;
        Ok((
            token,
            Session {
                user: user.clone(),
                csrf,
            },
        ))
    }

    /// The live session behind a cookie token, if any (expired or deactivated: none).
    pub async fn session(&self, token: &str) -> Result<Option<Session>, AccountError> {
        let row = sqlx::query(
            "SELECT user_id, csrf FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user_id: i64 = row.try_get("user_id")?;
        let csrf: String = row.try_get("csrf")?;
        Ok(self
            .user(user_id)
            .await?
            .filter(|u| u.active)
            .map(|user| Session { user, csrf }))
    }

    pub async fn end_session(&self, token: &str, by: &Actor) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        self.log(by, "session.logout", &by.username, "").await?;
        Ok(())
    }

    /// Creates an API token for machine clients; the token is shown once.
    pub async fn create_api_token(
        &self,
        user: &User,
        name: &str,
        by: &Actor,
    ) -> Result<String, AccountError> {
        let token = format!("bzt_{}", random_token());
        sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, revoked) VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(user.id)
        .bind(name.trim())
        .bind(token_hash(&token))
        .bind(now())
        .execute(&self.pool)
        .await?;
        self.log(by, "token.create", &user.username, name.trim())
            .await?;
        Ok(token)
    }

    /// A user's API tokens (never the token itself), newest first.
    pub async fn api_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>, AccountError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, revoked FROM api_tokens WHERE user_id = $1 ORDER BY id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    revoked: r.try_get::<i64, _>("revoked")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Revokes one of `user`'s tokens; false when it is not theirs.
    pub async fn revoke_api_token(
        &self,
        user: &User,
        id: i64,
        by: &Actor,
    ) -> Result<bool, AccountError> {
        let done = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.id)
            .execute(&self.pool)
            .await?
            .rows_affected()
            > 0;
        if done {
            self.log(by, "token.revoke", &user.username, &id.to_string())
                .await?;
        }
        Ok(done)
    }

    /// The active user behind an API token.
    pub async fn api_user(&self, token: &str) -> Result<Option<User>, AccountError> {
        let row =
            sqlx::query("SELECT user_id FROM api_tokens WHERE token_hash = $1 AND revoked = 0")
                .bind(token_hash(token))
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("user_id")?;
        Ok(self.user(id).await?.filter(|u| u.active))
    }

    /// Appends to the activity log.
    pub async fn log(
        &self,
        by: &Actor,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), AccountError> {
        sqlx::query(
            "INSERT INTO activity_log (at, user_id, username, action, target, detail, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now())
        .bind(by.user_id)
        .bind(&by.username)
        .bind(action)
        .bind(target)
        .bind(detail)
        .bind(&by.ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` activity log entries.
    pub async fn activity(&self, limit: i64) -> Result<Vec<Activity>, AccountError> {
        let rows = sqlx::query(
            "SELECT id, at, username, action, target, detail, ip FROM activity_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Activity {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    username: r.try_get("username")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                    ip: r.try_get("ip")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub id: i64,
    pub at: i64,
    pub username: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip: String,
}

/// argon2id hash of a random password nobody knows (checked for unknown user names).
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&random_token()).unwrap_or_default());

/// A standards news item or announcement.
#[derive(Debug, Clone, Serialize)]
pub struct News {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub department: String,
    pub author: String,
    pub at: i64,
}

impl Db {
    pub async fn add_news(
        &self,
        title: &str,
        body: &str,
        department: &str,
        by: &User,
    ) -> Result<i64, AccountError> {
        if title.trim().is_empty() || title.chars().count() > 200 {
            return Err(AccountError::Invalid("标题须为 1–200 个字符".into()));
        }
        let row = sqlx::query(
            "INSERT INTO news (title, body, department, author_id, at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(title.trim())
        .bind(body.trim())
        .bind(department.trim())
        .bind(by.id)
        .bind(now())
        .fetch_one(&self.pool)
        .await?;
        self.log(
            &Actor::user(by),
            "news.create",
            title.trim(),
            department.trim(),
        )
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The newest news for `department` (company-wide items included; all items
    /// when `None`).
    pub async fn news(
        &self,
        department: Option<&str>,
        limit: i64,
    ) -> Result<Vec<News>, AccountError> {
        let rows = sqlx::query(
            "SELECT n.id, n.title, n.body, n.department, n.at, u.display_name AS author \
             FROM news n JOIN users u ON u.id = n.author_id \
             WHERE $1 = 1 OR n.department = '' OR n.department = $2 \
             ORDER BY n.at DESC, n.id DESC LIMIT $3",
        )
        .bind(department.is_none() as i64)
        .bind(department.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(News {
                    id: r.try_get("id")?,
                    title: r.try_get("title")?,
                    body: r.try_get("body")?,
                    department: r.try_get("department")?,
                    author: r.try_get("author")?,
                    at: r.try_get("at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
