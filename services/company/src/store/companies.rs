//! The `companies` table: profiles, verification, the version every state change bumps and
//! the permission version every membership change bumps; and loading a company's whole state
//! (with its offices and declared relations) for events, answers and the checker.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, MySqlPool};
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::time::datetime;

use super::offices::{OfficeRow, OFFICE_COLUMNS};
use super::relations::{RelationRow, RELATION_COLUMNS};
use super::{in_list, is_duplicate, now, Tx};
use crate::domain::company::Submission;
use crate::domain::{
    Company, CompanyAggregate, CompanySize, Profile, ProfileField, Verification, VerificationState,
};
use crate::error::{Error, Result};
use crate::events;

/// One `companies` row.
#[derive(Debug, Clone, sqlx::FromRow)]
struct CompanyRow {
    id: String,
    version: i64,
    deleted: bool,
    display_name: String,
    description: String,
    industry: String,
    city_code: String,
    website: String,
    size: i8,
    creator: String,
    verification_state: i8,
    uscc: Option<String>,
    legal_name: String,
    legal_representative: String,
    licence_document: String,
    reject_reason: String,
    submitted_at: Option<DateTime<Utc>>,
    reviewed_at: Option<DateTime<Utc>>,
    reviewer: Option<String>,
    permission_version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COMPANY_COLUMNS: &str = "id, version, deleted, display_name, description, industry, \
    city_code, website, size, creator, verification_state, uscc, legal_name, \
    legal_representative, licence_document, reject_reason, submitted_at, reviewed_at, reviewer, \
    permission_version, created_at, updated_at";

fn unreadable(what: String) -> talentmesh_storage::Error {
    talentmesh_storage::Error::InvalidEvent(what)
}

fn state_of_code(id: &str, code: i8) -> talentmesh_storage::Result<VerificationState> {
    VerificationState::from_code(i32::from(code))
        .ok_or_else(|| unreadable(format!("company {id}: unknown verification state {code}")))
}

impl CompanyRow {
    fn into_company(self) -> talentmesh_storage::Result<Company> {
        let size = CompanySize::from_code(i32::from(self.size)).ok_or_else(|| {
            unreadable(format!("company {}: unknown size {}", self.id, self.size))
        })?;
        let state = state_of_code(&self.id, self.verification_state)?;
        Ok(Company {
            version: self.version,
            deleted: self.deleted,
            profile: Profile {
                display_name: self.display_name,
                description: self.description,
                industry: self.industry,
                city_code: self.city_code,
                website: self.website,
                size,
            },
            creator: self.creator,
            verification: Verification {
                state,
                uscc: self.uscc,
                legal_name: self.legal_name,
                legal_representative: self.legal_representative,
                licence_document: self.licence_document,
                reject_reason: self.reject_reason,
                submitted_at: self.submitted_at,
                reviewed_at: self.reviewed_at,
                reviewer: self.reviewer,
            },
            permission_version: self.permission_version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            id: self.id,
        })
    }
}

fn mysql(e: sqlx::Error) -> talentmesh_storage::Error {
    talentmesh_storage::Error::MySql(e)
}

/// Reads companies `ids` (deleted ones included) with their offices and relations, on `conn`
/// (a transaction's connection sees its own uncommitted writes). Absent ids are left out.
///
/// # Errors
/// MySQL failures; a row this server cannot read as `InvalidEvent`.
pub async fn load_many(
    conn: &mut MySqlConnection,
    ids: &[String],
) -> talentmesh_storage::Result<Vec<CompanyAggregate>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let companies: Vec<CompanyRow> = in_list(
        &format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE id IN ("),
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await
    .map_err(mysql)?;
    let offices: Vec<OfficeRow> = in_list(
        &format!("SELECT {OFFICE_COLUMNS} FROM company_offices WHERE company_id IN ("),
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await
    .map_err(mysql)?;
    let relations: Vec<RelationRow> = in_list(
        &format!("SELECT {RELATION_COLUMNS} FROM company_relations WHERE source_id IN ("),
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await
    .map_err(mysql)?;
    let mut out = Vec::with_capacity(companies.len());
    for row in companies {
        let company = row.into_company()?;
        out.push(CompanyAggregate {
            offices: offices
                .iter()
                .filter(|o| o.company_id == company.id)
                .cloned()
                .map(OfficeRow::into_office)
                .collect(),
            relations: relations
                .iter()
                .filter(|r| r.source_id == company.id)
                .cloned()
                .map(RelationRow::into_relation)
                .collect::<talentmesh_storage::Result<_>>()?,
            company,
        });
    }
    Ok(out)
}

/// One company's state (deleted included), on `conn`.
///
/// # Errors
/// As [`load_many`].
pub async fn load_one(
    conn: &mut MySqlConnection,
    id: &str,
) -> talentmesh_storage::Result<Option<CompanyAggregate>> {
    Ok(load_many(conn, &[id.to_string()]).await?.into_iter().next())
}

/// What a new company is created with.
#[derive(Debug, Clone)]
pub struct NewCompany<'a> {
    pub id: &'a str,
    pub profile: &'a Profile,
    pub creator: &'a str,
    pub at: DateTime<Utc>,
}

/// The `companies` table and the end of every change to a company's state.
#[derive(Clone)]
pub struct CompanyStore {
    pool: MySqlPool,
    outbox: Outbox,
}

impl CompanyStore {
    /// Queries on `pool`; events recorded in the outbox of `service`.
    pub fn new(pool: MySqlPool, service: &str) -> CompanyStore {
        CompanyStore {
            pool,
            outbox: Outbox::new(service),
        }
    }

    /// The pool (for stores that share it).
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// A plain transaction.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// Starts a change to a company's state: a transaction holding the company's row lock;
    /// `None` when the company does not exist or was deleted.
    pub async fn begin_change(&self, company: &str) -> Result<Option<Tx>> {
        let mut tx = self.pool.begin().await?;
        let found: Option<bool> =
            sqlx::query_scalar("SELECT deleted FROM companies WHERE id = ? FOR UPDATE")
                .bind(company)
                .fetch_optional(&mut *tx)
                .await?;
        Ok((found == Some(false)).then_some(tx))
    }

    /// Ends a change: bumps the version, then [`CompanyStore::record_state`].
    pub async fn finish_change(&self, mut tx: Tx, company: &str) -> Result<CompanyAggregate> {
        sqlx::query("UPDATE companies SET version = version + 1, updated_at = ? WHERE id = ?")
            .bind(datetime(now()))
            .bind(company)
            .execute(&mut *tx)
            .await?;
        self.record_state(tx, company).await
    }

    /// Reads the company's state in `tx`, records its `CompanyChanged` event and commits.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the company is not there (the caller's transaction lost it).
    pub async fn record_state(&self, mut tx: Tx, company: &str) -> Result<CompanyAggregate> {
        let aggregate = load_one(&mut tx, company)
            .await?
            .ok_or_else(|| Error::not_found("company"))?;
        self.outbox
            .record(&mut tx, events::changed(&aggregate))
            .await?;
        tx.commit().await?;
        Ok(aggregate)
    }

    /// One company's state (deleted included).
    pub async fn load(&self, id: &str) -> Result<Option<CompanyAggregate>> {
        let mut conn = self.pool.acquire().await?;
        Ok(load_one(&mut conn, id).await?)
    }

    /// Companies `ids` (deleted included; absent ones left out).
    pub async fn load_many(&self, ids: &[String]) -> Result<Vec<CompanyAggregate>> {
        let mut conn = self.pool.acquire().await?;
        Ok(load_many(&mut conn, ids).await?)
    }

    /// Whether company `id` exists and is not deleted.
    pub async fn is_live(&self, id: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        Ok(super::is_live(&mut conn, id).await?)
    }

    /// The display name of a live company, `None` when absent or deleted.
    pub async fn live_name(&self, id: &str) -> Result<Option<String>> {
        let row: Option<(String, bool)> =
            sqlx::query_as("SELECT display_name, deleted FROM companies WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(name, deleted)| (!deleted).then_some(name)))
    }

    /// Inserts a new, unverified company.
    pub async fn insert(&self, tx: &mut Tx, new: NewCompany<'_>) -> Result<()> {
        let p = new.profile;
        sqlx::query(
            "INSERT INTO companies (id, display_name, description, industry, city_code, website, \
             size, creator, verification_state, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id)
        .bind(&p.display_name)
        .bind(&p.description)
        .bind(&p.industry)
        .bind(&p.city_code)
        .bind(&p.website)
        .bind(i8::try_from(p.size.code()).unwrap_or(0))
        .bind(new.creator)
        .bind(code(VerificationState::Unverified))
        .bind(datetime(new.at))
        .bind(datetime(new.at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The company's current version.
    pub async fn version(&self, tx: &mut Tx, id: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT version FROM companies WHERE id = ?")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?,
        )
    }

    /// Sets the profile fields named in `fields` from `profile`.
    pub async fn set_profile(
        &self,
        tx: &mut Tx,
        id: &str,
        profile: &Profile,
        fields: &[ProfileField],
    ) -> Result<()> {
        let mut q = sqlx::QueryBuilder::new("UPDATE companies SET ");
        let mut set = q.separated(", ");
        for field in fields {
            match field {
                ProfileField::DisplayName => {
                    set.push("display_name = ")
                        .push_bind_unseparated(profile.display_name.clone());
                }
                ProfileField::Description => {
                    set.push("description = ")
                        .push_bind_unseparated(profile.description.clone());
                }
                ProfileField::Industry => {
                    set.push("industry = ")
                        .push_bind_unseparated(profile.industry.clone());
                }
                ProfileField::CityCode => {
                    set.push("city_code = ")
                        .push_bind_unseparated(profile.city_code.clone());
                }
                ProfileField::Website => {
                    set.push("website = ")
                        .push_bind_unseparated(profile.website.clone());
                }
                ProfileField::Size => {
                    set.push("size = ")
                        .push_bind_unseparated(i8::try_from(profile.size.code()).unwrap_or(0));
                }
            }
        }
        q.push(" WHERE id = ").push_bind(id.to_string());
        q.build().execute(&mut **tx).await?;
        Ok(())
    }

    /// Marks the company deleted: its credit code is freed for another company and its
    /// memberships stop granting anything (the permission version moves on).
    pub async fn mark_deleted(&self, tx: &mut Tx, id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE companies SET deleted = TRUE, verified_uscc = NULL, \
             permission_version = permission_version + 1 WHERE id = ?",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Bumps the permission version (a membership change) and returns the new one.
    pub async fn bump_permission_version(&self, tx: &mut Tx, id: &str) -> Result<i64> {
        sqlx::query(
            "UPDATE companies SET permission_version = permission_version + 1 WHERE id = ?",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT permission_version FROM companies WHERE id = ?")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?,
        )
    }

    /// The company's verification state.
    pub async fn verification_state(&self, tx: &mut Tx, id: &str) -> Result<VerificationState> {
        let code: i8 = sqlx::query_scalar("SELECT verification_state FROM companies WHERE id = ?")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
        Ok(state_of_code(id, code)?)
    }

    /// The company's verification state and its display name, as they stand in `tx`.
    pub async fn vouched_name(&self, tx: &mut Tx, id: &str) -> Result<(VerificationState, String)> {
        let (code, name): (i8, String) =
            sqlx::query_as("SELECT verification_state, display_name FROM companies WHERE id = ?")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
        Ok((state_of_code(id, code)?, name))
    }

    /// Puts the company's verification back to review (pending, submitted `at`, the last
    /// review forgotten), keeping its documents. The credit code stays held
    /// (`verified_uscc`) while the review runs: a rename does not change the legal entity, and
    /// nobody else may claim the code meanwhile; a rejection frees it.
    pub async fn reopen_verification(
        &self,
        tx: &mut Tx,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE companies SET verification_state = ?, reject_reason = '', submitted_at = ?, \
             reviewed_at = NULL, reviewer = NULL WHERE id = ?",
        )
        .bind(code(VerificationState::Pending))
        .bind(datetime(at))
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Whether another company is verified with `uscc`.
    pub async fn verified_elsewhere(&self, tx: &mut Tx, uscc: &str, id: &str) -> Result<bool> {
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM companies WHERE verified_uscc = ? AND id <> ?")
                .bind(uscc)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        Ok(taken.is_some())
    }

    /// Records a submitted verification: pending, the last review forgotten.
    pub async fn submit_verification(
        &self,
        tx: &mut Tx,
        id: &str,
        s: &Submission,
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE companies SET verification_state = ?, uscc = ?, legal_name = ?, \
             legal_representative = ?, licence_document = ?, reject_reason = '', \
             submitted_at = ?, reviewed_at = NULL, reviewer = NULL WHERE id = ?",
        )
        .bind(code(VerificationState::Pending))
        .bind(s.uscc.as_str())
        .bind(&s.legal_name)
        .bind(&s.legal_representative)
        .bind(&s.licence_document)
        .bind(datetime(at))
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records a review: verified (the code now belongs to this company) or rejected with
    /// `reason`. `Ok(false)` when another company is already verified with the same code.
    pub async fn review(
        &self,
        tx: &mut Tx,
        id: &str,
        approve: bool,
        reason: &str,
        reviewer: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let to = if approve {
            VerificationState::Verified
        } else {
            VerificationState::Rejected
        };
        let updated = sqlx::query(
            "UPDATE companies SET verification_state = ?, reject_reason = ?, reviewed_at = ?, \
             reviewer = ?, verified_uscc = IF(? , uscc, NULL) WHERE id = ?",
        )
        .bind(code(to))
        .bind(if approve { "" } else { reason })
        .bind(datetime(at))
        .bind(reviewer)
        .bind(approve)
        .bind(id)
        .execute(&mut **tx)
        .await;
        match updated {
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(true),
        }
    }
}

fn code(state: VerificationState) -> i8 {
    i8::try_from(state.code()).unwrap_or(0)
}
