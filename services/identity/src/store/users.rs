//! Identity's MySQL queries on the `users` table. A new account and its `UserRegistered` event
//! (built in `events.rs`) are written in one transaction.

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::MySqlPool;
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::time::datetime;

use crate::domain::{Email, Role, User};
use crate::error::Result;
use crate::events;

/// The `users` table and the outbox its changes are announced through.
pub struct UserStore {
    pool: MySqlPool,
    outbox: Outbox,
}

/// A user row with the password hash, for login only.
pub struct Credentials {
    /// The account.
    pub user: User,
    /// Its Argon2 PHC string.
    pub password_hash: String,
}

type Row = (String, String, String, String, DateTime<Utc>);

fn to_user((id, email, _hash, roles, created_at): &Row) -> User {
    User {
        id: id.clone(),
        email: Email::stored(email.clone()),
        roles: roles.split(',').filter_map(Role::from_name).collect(),
        created_at: *created_at,
    }
}

impl UserStore {
    /// A store on `pool` (the identity database, migrations applied).
    pub fn new(pool: MySqlPool) -> Self {
        UserStore {
            pool,
            outbox: Outbox::new(events::SOURCE),
        }
    }

    /// Inserts a user and records `UserRegistered` in the same transaction; `Ok(None)` when
    /// the email is taken.
    pub async fn insert(
        &self,
        email: &Email,
        password_hash: &str,
        roles: &[Role],
    ) -> Result<Option<User>> {
        let id = uuid::Uuid::now_v7().to_string();
        // MySQL keeps microseconds; the answer to the insert must equal what a later read shows.
        let now = Utc::now().trunc_subsecs(6);
        let roles_text = roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "INSERT INTO users (id, email, password_hash, roles, version, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 1, ?, ?)",
        )
        .bind(&id)
        .bind(email.as_str())
        .bind(password_hash)
        .bind(&roles_text)
        .bind(datetime(now))
        .bind(datetime(now))
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        self.outbox
            .record(&mut tx, events::user_registered(&id, email, roles))
            .await?;
        tx.commit().await?;
        Ok(Some(User {
            id,
            email: email.clone(),
            roles: roles.to_vec(),
            created_at: now,
        }))
    }

    /// The account with this email and its password hash, for login; `None` when unknown.
    pub async fn by_email(&self, email: &Email) -> Result<Option<Credentials>> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, email, password_hash, roles, created_at FROM users WHERE email = ?",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Credentials {
            user: to_user(&r),
            password_hash: r.2.clone(),
        }))
    }

    /// The account with this id; `None` when unknown.
    pub async fn by_id(&self, id: &str) -> Result<Option<User>> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, email, password_hash, roles, created_at FROM users WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(to_user))
    }

    /// Bootstrap: creates an admin account with this email, announced with `UserRegistered`.
    /// An account that already has the email is left alone unless `promote_existing` is set,
    /// in which case it gets the admin role and keeps its own password.
    pub async fn bootstrap_admin(
        &self,
        email: &Email,
        password_hash: &str,
        promote_existing: bool,
    ) -> Result<Bootstrap> {
        if let Some(user) = self.insert(email, password_hash, &[Role::Admin]).await? {
            return Ok(Bootstrap::Created(user.id));
        }
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT id, roles FROM users WHERE email = ? FOR UPDATE")
                .bind(email.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        // Deleted between the insert and the read: rare enough to report as nothing done.
        let Some((id, roles)) = row else {
            return Ok(Bootstrap::Declined(String::new()));
        };
        if roles.split(',').any(|r| r == Role::Admin.as_str()) {
            return Ok(Bootstrap::AlreadyAdmin(id));
        }
        if !promote_existing {
            return Ok(Bootstrap::Declined(id));
        }
        sqlx::query(
            "UPDATE users SET roles = CONCAT(roles, ',admin'), version = version + 1, \
             updated_at = ? WHERE id = ?",
        )
        .bind(datetime(Utc::now()))
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Bootstrap::Promoted(id))
    }
}

/// What the bootstrap of the configured admin did; each carries the account id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// A new admin account with the configured password.
    Created(String),
    /// The account with that email is an admin already; nothing changed.
    AlreadyAdmin(String),
    /// An existing account got the admin role (explicitly allowed), keeping its password.
    Promoted(String),
    /// An existing non-admin account has that email and was left alone.
    Declined(String),
}
