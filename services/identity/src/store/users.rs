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

fn to_user((id, email, _hash, roles, created_at): &Row) -> Option<User> {
    Some(User {
        id: id.clone(),
        email: Email::parse(email).ok()?,
        roles: roles.split(',').filter_map(Role::from_name).collect(),
        created_at: *created_at,
    })
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
        Ok(row.and_then(|r| {
            to_user(&r).map(|user| Credentials {
                user,
                password_hash: r.2.clone(),
            })
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
        Ok(row.as_ref().and_then(to_user))
    }

    /// Makes sure an admin with this email exists (bootstrap), adding the role if needed.
    pub async fn ensure_admin(&self, email: &Email, password_hash: &str) -> Result<()> {
        let now = Utc::now();
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO users (id, email, password_hash, roles, version, created_at, updated_at) \
             VALUES (?, ?, ?, 'admin', 1, ?, ?) \
             ON DUPLICATE KEY UPDATE \
               roles = IF(FIND_IN_SET('admin', roles) > 0, roles, CONCAT(roles, ',admin')), \
               version = version + IF(FIND_IN_SET('admin', roles) > 0, 0, 1), \
               updated_at = IF(FIND_IN_SET('admin', roles) > 0, updated_at, VALUES(updated_at))",
        )
        .bind(&id)
        .bind(email.as_str())
        .bind(password_hash)
        .bind(datetime(now))
        .bind(datetime(now))
        .execute(&mut *tx)
        .await?;
        // One row affected: a new account, announced like any other. (Two: an existing
        // account got the admin role; zero: nothing changed.)
        if done.rows_affected() == 1 {
            self.outbox
                .record(&mut tx, events::user_registered(&id, email, &[Role::Admin]))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
