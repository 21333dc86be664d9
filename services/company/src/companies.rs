//! Company profiles and enterprise verification.

use talentmesh_mesh::auth::Caller;
use talentmesh_mesh::error::FieldViolation;
use talentmesh_mesh::ApiError;
use talentmesh_proto::company::v1 as pb;

use crate::audit::AuditLog;
use crate::core::{
    already_exists, company_id, failed_precondition, invalid, is_duplicate, not_found, now,
    page_size, timestamp, Core, Privacy,
};
use crate::domain::permissions::{Permission, Role};
use crate::domain::uscc::Uscc;
use crate::search::{self, Filter};
use crate::state::{db, load_many, load_one, Aggregate, CompanyRow};

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
const MUTABLE: [&str; 6] = [
    "display_name",
    "description",
    "industry",
    "city_code",
    "website",
    "size",
];

pub fn valid_industry(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 64
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
}

pub fn valid_city(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The profile fields a client sets, checked; `paths` limits which are looked at.
fn check_profile(c: &pb::Company, paths: &[&str], out: &mut Vec<FieldViolation>) {
    let f = |p: &str| format!("company.{p}");
    for p in paths {
        match *p {
            "display_name" => {
                let n = c.display_name.trim().chars().count();
                if n == 0 {
                    out.push(FieldViolation::new(f(p), "is required"));
                } else if n > MAX_NAME {
                    out.push(FieldViolation::new(
                        f(p),
                        format!("at most {MAX_NAME} characters"),
                    ));
                }
            }
            "description" if c.description.chars().count() > MAX_DESCRIPTION => {
                out.push(FieldViolation::new(
                    f(p),
                    format!("at most {MAX_DESCRIPTION} characters"),
                ));
            }
            "industry" if !valid_industry(&c.industry) => out.push(FieldViolation::new(
                f(p),
                "lower-case letters, digits and hyphens, at most 64",
            )),
            "city_code" if !c.city_code.is_empty() && !valid_city(&c.city_code) => {
                out.push(FieldViolation::new(
                    f(p),
                    "a six-digit division code, e.g. 310000",
                ));
            }
            "website"
                if !c.website.is_empty()
                    && (c.website.len() > 2048
                        || !(c.website.starts_with("https://")
                            || c.website.starts_with("http://"))) =>
            {
                out.push(FieldViolation::new(
                    f(p),
                    "an http(s) URL of at most 2048 bytes",
                ));
            }
            "size" if pb::CompanySize::try_from(c.size).is_err() => {
                out.push(FieldViolation::new(f(p), "unknown size"));
            }
            _ => {}
        }
    }
}

/// A company as a caller sees it: the verification documents only for members and admins.
pub fn to_pb(row: &CompanyRow, role: Option<Role>, private: bool) -> pb::Company {
    let verification = private.then(|| pb::Verification {
        state: i32::from(row.verification_state),
        uscc: row.uscc.clone().unwrap_or_default(),
        legal_name: row.legal_name.clone(),
        legal_representative: row.legal_representative.clone(),
        licence_document: row.licence_document.clone(),
        reject_reason: row.reject_reason.clone(),
        submit_time: row.submitted_at.map(timestamp),
        review_time: row.reviewed_at.map(timestamp),
        reviewer: row
            .reviewer
            .as_ref()
            .map(|r| format!("users/{r}"))
            .unwrap_or_default(),
    });
    pb::Company {
        name: format!("companies/{}", row.id),
        display_name: row.display_name.clone(),
        description: row.description.clone(),
        industry: row.industry.clone(),
        city_code: row.city_code.clone(),
        website: row.website.clone(),
        size: i32::from(row.size),
        verification_state: i32::from(row.verification_state),
        verification,
        version: row.version,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        creator: format!("users/{}", row.creator),
        caller_role: role.map(|r| r.as_str().to_string()).unwrap_or_default(),
    }
}

fn state(v: pb::VerificationState) -> i8 {
    i8::try_from(v as i32).unwrap_or(0)
}

impl Core {
    async fn view(&self, caller: &Caller, aggregate: &Aggregate) -> Result<pb::Company, ApiError> {
        let m = self
            .authz
            .membership(&caller.user_id, &aggregate.company.id)
            .await?;
        let private = caller.is_admin() || m.allows(Permission::CompanyRead);
        Ok(to_pb(&aggregate.company, m.role, private))
    }

    pub async fn create_company(
        &self,
        caller: &Caller,
        company: Option<pb::Company>,
    ) -> Result<pb::Company, ApiError> {
        if !(caller.has_role("employer") || caller.is_admin()) {
            return Err(
                ApiError::permission_denied("only employers create companies")
                    .with_reason("EMPLOYERS_ONLY"),
            );
        }
        let c = company.ok_or_else(|| invalid("company", "is required"))?;
        let mut problems = Vec::new();
        check_profile(&c, &MUTABLE, &mut problems);
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        // Ids, owner, verification and timestamps are the server's: whatever the client sent
        // for them is ignored.
        let id = uuid::Uuid::now_v7().to_string();
        let at = now();
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO companies (id, display_name, description, industry, city_code, website, \
             size, creator, verification_state, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(c.display_name.trim())
        .bind(&c.description)
        .bind(&c.industry)
        .bind(&c.city_code)
        .bind(&c.website)
        .bind(i8::try_from(c.size).unwrap_or(0))
        .bind(&caller.user_id)
        .bind(state(pb::VerificationState::Unverified))
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO company_members (company_id, user_id, email, role, joined_at) \
             VALUES (?, ?, ?, 'owner', ?)",
        )
        .bind(&id)
        .bind(&caller.user_id)
        .bind(&caller.email)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        AuditLog::record(
            &mut tx,
            &id,
            "member.added",
            &caller.user_id,
            &format!("companies/{id}/members/{}", caller.user_id),
            serde_json::json!({"role": "owner", "via": "create"}),
        )
        .await?;
        let aggregate = load_one(&mut tx, &id)
            .await
            .map_err(db)?
            .ok_or_else(|| not_found("company"))?;
        self.outbox
            .record(&mut tx, aggregate.draft())
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(db)?;
        Ok(to_pb(&aggregate.company, Some(Role::Owner), true))
    }

    pub async fn get_company(&self, caller: &Caller, name: &str) -> Result<pb::Company, ApiError> {
        let id = company_id("name", name)?;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let aggregate = load_one(&mut conn, id)
            .await
            .map_err(db)?
            .filter(|a| !a.company.deleted)
            .ok_or_else(|| not_found("company"))?;
        drop(conn);
        self.view(caller, &aggregate).await
    }

    pub async fn list_companies(
        &self,
        caller: &Caller,
        req: pb::ListCompaniesRequest,
    ) -> Result<(Vec<pb::Company>, String), ApiError> {
        let mut problems = Vec::new();
        if !valid_industry(&req.industry) {
            problems.push(FieldViolation::new("industry", "not an industry code"));
        }
        if !req.city_code.is_empty() && !valid_city(&req.city_code) {
            problems.push(FieldViolation::new(
                "city_code",
                "a six-digit division code",
            ));
        }
        if pb::VerificationState::try_from(req.verification_state).is_err() {
            problems.push(FieldViolation::new("verification_state", "unknown state"));
        }
        if req.query.chars().count() > 100 {
            problems.push(FieldViolation::new("query", "at most 100 characters"));
        }
        if !req.page_token.is_empty() && uuid::Uuid::parse_str(&req.page_token).is_err() {
            problems.push(FieldViolation::new(
                "page_token",
                "not a token from this list",
            ));
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        let limit = page_size("page_size", req.page_size, 20, 100)?;
        let filter = Filter {
            city_code: req.city_code,
            industry: req.industry,
            verification_state: req.verification_state,
            query: req.query,
        };
        let (ids, next) = search::list(&self.pg, &filter, &req.page_token, limit).await?;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let mut found = load_many(&mut conn, &ids).await.map_err(db)?;
        drop(conn);
        // The index may lag MySQL by a moment: a company deleted since is left out.
        found.retain(|a| !a.company.deleted);
        found.sort_by(|a, b| a.company.id.cmp(&b.company.id));
        let mut out = Vec::with_capacity(found.len());
        for a in &found {
            out.push(to_pb(&a.company, None, caller.is_admin()));
        }
        Ok((out, next.unwrap_or_default()))
    }

    pub async fn update_company(
        &self,
        caller: &Caller,
        req: pb::UpdateCompanyRequest,
    ) -> Result<pb::Company, ApiError> {
        let c = req
            .company
            .ok_or_else(|| invalid("company", "is required"))?;
        let id = company_id("company.name", &c.name)?.to_string();
        let paths: Vec<String> = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(invalid("update_mask", "name at least one field to change"));
        }
        let mut problems = Vec::new();
        for p in &paths {
            if !MUTABLE.contains(&p.as_str()) {
                problems.push(FieldViolation::new(
                    "update_mask",
                    format!(
                        "{p} cannot be changed here (changeable: {})",
                        MUTABLE.join(", ")
                    ),
                ));
            }
        }
        let known: Vec<&str> = paths.iter().map(String::as_str).collect();
        check_profile(&c, &known, &mut problems);
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        let m = self
            .require(caller, &id, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = self.begin_change(&id).await?;
        if req.expected_version > 0 {
            let current: i64 = sqlx::query_scalar("SELECT version FROM companies WHERE id = ?")
                .bind(&id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if current != req.expected_version {
                return Err(ApiError::from(talentmesh_storage::Error::Conflict(
                    talentmesh_storage::outbox::Conflict {
                        table: "companies",
                        id: id.clone(),
                        expected: req.expected_version,
                        actual: Some(current),
                    },
                )));
            }
        }
        let mut q = sqlx::QueryBuilder::new("UPDATE companies SET ");
        let mut set = q.separated(", ");
        for p in &known {
            match *p {
                "display_name" => {
                    set.push("display_name = ")
                        .push_bind_unseparated(c.display_name.trim().to_string());
                }
                "description" => {
                    set.push("description = ")
                        .push_bind_unseparated(c.description.clone());
                }
                "industry" => {
                    set.push("industry = ")
                        .push_bind_unseparated(c.industry.clone());
                }
                "city_code" => {
                    set.push("city_code = ")
                        .push_bind_unseparated(c.city_code.clone());
                }
                "website" => {
                    set.push("website = ")
                        .push_bind_unseparated(c.website.clone());
                }
                "size" => {
                    set.push("size = ")
                        .push_bind_unseparated(i8::try_from(c.size).unwrap_or(0));
                }
                _ => {}
            }
        }
        q.push(" WHERE id = ").push_bind(id.clone());
        q.build().execute(&mut *tx).await.map_err(db)?;
        let aggregate = self.finish_change(tx, &id).await?;
        Ok(to_pb(&aggregate.company, m.role, true))
    }

    pub async fn delete_company(&self, caller: &Caller, name: &str) -> Result<(), ApiError> {
        let id = company_id("name", name)?.to_string();
        self.require(caller, &id, Permission::CompanyDelete, Privacy::Public)
            .await?;
        self.authz.before_change(&id).await?;
        let mut tx = self.begin_change(&id).await?;
        // The code is freed for another company; memberships stop granting anything.
        sqlx::query(
            "UPDATE companies SET deleted = TRUE, verified_uscc = NULL, \
             permission_version = permission_version + 1 WHERE id = ?",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        AuditLog::record(
            &mut tx,
            &id,
            "company.deleted",
            &caller.user_id,
            name,
            serde_json::json!({}),
        )
        .await?;
        let aggregate = self.finish_change(tx, &id).await?;
        self.authz
            .after_change(&id, aggregate.company.permission_version)
            .await;
        Ok(())
    }

    pub async fn submit_verification(
        &self,
        caller: &Caller,
        req: pb::SubmitVerificationRequest,
    ) -> Result<pb::Company, ApiError> {
        let id = company_id("name", &req.name)?.to_string();
        let mut problems = Vec::new();
        let uscc = match Uscc::parse(&req.uscc) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(FieldViolation::new("uscc", e.to_string()));
                None
            }
        };
        for (field, value, max) in [
            ("legal_name", &req.legal_name, 200),
            ("legal_representative", &req.legal_representative, 100),
            ("licence_document", &req.licence_document, 1024),
        ] {
            let n = value.trim().chars().count();
            if n == 0 {
                problems.push(FieldViolation::new(field, "is required"));
            } else if n > max {
                problems.push(FieldViolation::new(
                    field,
                    format!("at most {max} characters"),
                ));
            }
        }
        let (Some(uscc), true) = (uscc, problems.is_empty()) else {
            return Err(ApiError::invalid(problems));
        };
        let m = self
            .require(caller, &id, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = self.begin_change(&id).await?;
        let current: i8 =
            sqlx::query_scalar("SELECT verification_state FROM companies WHERE id = ?")
                .bind(&id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        if current == state(pb::VerificationState::Pending) {
            return Err(failed_precondition(
                "a verification is already pending",
                "VERIFICATION_PENDING",
            ));
        }
        if current == state(pb::VerificationState::Verified) {
            return Err(failed_precondition(
                "the company is already verified",
                "ALREADY_VERIFIED",
            ));
        }
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM companies WHERE verified_uscc = ? AND id <> ?")
                .bind(uscc.as_str())
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if taken.is_some() {
            return Err(already_exists(
                "this credit code belongs to another verified company",
                "USCC_ALREADY_VERIFIED",
            ));
        }
        sqlx::query(
            "UPDATE companies SET verification_state = ?, uscc = ?, legal_name = ?, \
             legal_representative = ?, licence_document = ?, reject_reason = '', \
             submitted_at = ?, reviewed_at = NULL, reviewer = NULL WHERE id = ?",
        )
        .bind(state(pb::VerificationState::Pending))
        .bind(uscc.as_str())
        .bind(req.legal_name.trim())
        .bind(req.legal_representative.trim())
        .bind(req.licence_document.trim())
        .bind(now())
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let from = if current == state(pb::VerificationState::Rejected) {
            "rejected"
        } else {
            "unverified"
        };
        AuditLog::record(
            &mut tx,
            &id,
            "verification.submitted",
            &caller.user_id,
            &req.name,
            serde_json::json!({"from": from, "to": "pending", "uscc": uscc.as_str()}),
        )
        .await?;
        let aggregate = self.finish_change(tx, &id).await?;
        Ok(to_pb(&aggregate.company, m.role, true))
    }

    pub async fn review_verification(
        &self,
        caller: &Caller,
        req: pb::ReviewVerificationRequest,
    ) -> Result<pb::Company, ApiError> {
        let id = company_id("name", &req.name)?.to_string();
        if !req.approve && req.reason.trim().is_empty() {
            return Err(invalid("reason", "is required when rejecting"));
        }
        if req.reason.chars().count() > 1000 {
            return Err(invalid("reason", "at most 1000 characters"));
        }
        if !caller.is_admin() {
            return Err(
                ApiError::permission_denied("only platform admins review verifications")
                    .with_reason("ADMINS_ONLY"),
            );
        }
        let mut tx = self.begin_change(&id).await?;
        let current: i8 =
            sqlx::query_scalar("SELECT verification_state FROM companies WHERE id = ?")
                .bind(&id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        if current != state(pb::VerificationState::Pending) {
            return Err(failed_precondition(
                "no verification is pending",
                "VERIFICATION_NOT_PENDING",
            ));
        }
        let (to, action) = if req.approve {
            (pb::VerificationState::Verified, "verification.approved")
        } else {
            (pb::VerificationState::Rejected, "verification.rejected")
        };
        let updated = sqlx::query(
            "UPDATE companies SET verification_state = ?, reject_reason = ?, reviewed_at = ?, \
             reviewer = ?, verified_uscc = IF(? , uscc, NULL) WHERE id = ?",
        )
        .bind(state(to))
        .bind(if req.approve { "" } else { req.reason.trim() })
        .bind(now())
        .bind(&caller.user_id)
        .bind(req.approve)
        .bind(&id)
        .execute(&mut *tx)
        .await;
        match updated {
            Err(e) if is_duplicate(&e) => {
                return Err(already_exists(
                    "this credit code belongs to another verified company",
                    "USCC_ALREADY_VERIFIED",
                ));
            }
            other => {
                other.map_err(db)?;
            }
        }
        AuditLog::record(
            &mut tx,
            &id,
            action,
            &caller.user_id,
            &req.name,
            serde_json::json!({"from": "pending", "to": if req.approve {"verified"} else {"rejected"}, "reason": req.reason.trim()}),
        )
        .await?;
        let aggregate = self.finish_change(tx, &id).await?;
        self.view(caller, &aggregate).await
    }
}
