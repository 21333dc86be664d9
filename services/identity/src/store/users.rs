//! Identity's MySQL queries: the users table.

use chrono::{DateTime, SubsecRound, Utc};
use prost::Message;
use sqlx::MySqlPool;
use talentmesh_proto::events::v1::UserRegistered;
use talentmesh_storage::outbox::{EventDraft, Outbox};

use crate::domain::{Email, Role, User};

pub struct UserStore {
    pool: MySqlPool,
    outbox: Outbox,
}

const USER_REGISTERED: &str = "talentmesh.events.v1.UserRegistered";

/// The `UserRegistered` event of a new account (`roles` as stored, comma-separated).
fn registered(id: &str, email: &Email, roles: &str) -> EventDraft {
    let event = UserRegistered {
        user: format!("users/{id}"),
        email: email.as_str().to_string(),
        roles: roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
    };
    EventDraft {
        event_type: USER_REGISTERED.to_string(),
        subject: format!("users/{id}"),
        entity_version: 1,
        payload: prost_types::Any {
            type_url: format!("type.googleapis.com/{USER_REGISTERED}"),
            value: event.encode_to_vec(),
        },
        traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
        tracestate: String::new(),
    }
}

/// Store failures that are not a taken email.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Outbox(#[from] talentmesh_storage::Error),
}

/// A user row with the password hash, for login only.
pub struct Credentials {
    pub user: User,
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
    pub fn new(pool: MySqlPool) -> Self {
        UserStore {
            pool,
            outbox: Outbox::new("identity"),
        }
    }

    /// Inserts a user and records `UserRegistered` in the same transaction; `Ok(None)` when
    /// the email is taken.
    pub async fn insert(
        &self,
        email: &Email,
        password_hash: &str,
        roles: &[Role],
    ) -> Result<Option<User>, InsertError> {
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
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        self.outbox
            .record(&mut tx, registered(&id, email, &roles_text))
            .await?;
        tx.commit().await?;
        Ok(Some(User {
            id,
            email: email.clone(),
            roles: roles.to_vec(),
            created_at: now,
        }))
    }

    pub async fn by_email(&self, email: &Email) -> Result<Option<Credentials>, sqlx::Error> {
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

    pub async fn by_id(&self, id: &str) -> Result<Option<User>, sqlx::Error> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, email, password_hash, roles, created_at FROM users WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().and_then(to_user))
    }

    /// Makes sure an admin with this email exists (bootstrap), adding the role if needed.
    pub async fn ensure_admin(
        &self,
        email: &Email,
        password_hash: &str,
    ) -> Result<(), InsertError> {
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
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // One row affected: a new account, announced like any other. (Two: an existing
        // account got the admin role; zero: nothing changed.)
        if done.rows_affected() == 1 {
            self.outbox
                .record(&mut tx, registered(&id, email, "admin"))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
