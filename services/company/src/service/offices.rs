//! Offices (stored as WGS-84 / CGCS2000, returned in the system asked for) and the nearby
//! search served from the Redis geo index.

use std::sync::Arc;

use talentmesh_mesh::CallContext;

use super::{begin_change, caller, Access, Privacy};
use crate::domain::geo::Datum;
use crate::domain::names::{child_id, company_id};
use crate::domain::office::MAX_OFFICES;
use crate::domain::{NearbyCompany, NearbyQuery, Office, OfficeInput, Permission};
use crate::error::{Error, Result};
use crate::store::audit::Record;
use crate::store::{now, AuditLog, CompanyStore, GeoIndex, OfficeStore};

/// Offices and the nearby search.
pub struct Offices {
    companies: CompanyStore,
    offices: OfficeStore,
    geo: Arc<GeoIndex>,
    access: Access,
}

impl Offices {
    /// The service over its stores, the geo index and the access rule.
    pub fn new(
        companies: CompanyStore,
        offices: OfficeStore,
        geo: Arc<GeoIndex>,
        access: Access,
    ) -> Offices {
        Offices {
            companies,
            offices,
            geo,
            access,
        }
    }

    /// Adds an office to company `parent` (at most [`MAX_OFFICES`]); a new head office takes
    /// over from the old one. Returns the office and the system its position was given in.
    pub async fn create(
        &self,
        ctx: &CallContext,
        parent: &str,
        office: Option<OfficeInput>,
    ) -> Result<(Office, Datum)> {
        let caller = caller(ctx)?;
        let company = company_id("parent", parent)?.to_string();
        let input = office.ok_or_else(|| Error::invalid("office", "is required"))?;
        let new = input.parse()?;
        self.access
            .require(caller, &company, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = begin_change(&self.companies, &company).await?;
        if self.offices.count(&mut tx, &company).await? >= MAX_OFFICES {
            return Err(Error::TooManyOffices);
        }
        let office = Office {
            id: uuid::Uuid::now_v7().to_string(),
            company_id: company.clone(),
            label: new.label,
            address: new.address,
            city_code: new.city_code,
            position: new.position,
            headquarters: new.headquarters,
        };
        if office.headquarters {
            // One head office: the new one takes over.
            self.offices.clear_headquarters(&mut tx, &company).await?;
        }
        self.offices.insert(&mut tx, &office, now()).await?;
        self.companies.finish_change(tx, &company).await?;
        Ok((office, new.datum))
    }

    /// Office `name` (`companies/{company}/offices/{office}`) of a live company, to be shown
    /// in `datum`: what a replayed create answers.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the company or the office is gone.
    pub async fn get(&self, name: &str, datum: Datum) -> Result<(Office, Datum)> {
        let (company, id) = child_id("name", name, "offices")?;
        if !self.companies.is_live(company).await? {
            return Err(Error::not_found("company"));
        }
        let office = self
            .offices
            .get(company, id)
            .await?
            .ok_or_else(|| Error::not_found("office"))?;
        Ok((office, datum))
    }

    /// The offices of live company `parent`, oldest first, to be shown in `datum` (`None`: a
    /// system this server does not know, refused).
    pub async fn list(&self, parent: &str, datum: Option<Datum>) -> Result<(Vec<Office>, Datum)> {
        let company = company_id("parent", parent)?;
        let datum = datum
            .ok_or_else(|| Error::invalid("coordinate_system", "unknown coordinate system"))?;
        if !self.companies.is_live(company).await? {
            return Err(Error::not_found("company"));
        }
        Ok((self.offices.list(company).await?, datum))
    }

    /// Deletes an office.
    pub async fn delete(&self, ctx: &CallContext, name: &str) -> Result<()> {
        let caller = caller(ctx)?;
        let (company, office) = child_id("name", name, "offices")?;
        let company = company.to_string();
        self.access
            .require(caller, &company, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = begin_change(&self.companies, &company).await?;
        if !self.offices.delete(&mut tx, &company, office).await? {
            return Err(Error::not_found("office"));
        }
        AuditLog::record(
            &mut tx,
            Record {
                company: &company,
                action: "office.deleted",
                actor: &caller.user_id,
                target: name,
                detail: serde_json::json!({}),
            },
        )
        .await?;
        self.companies.finish_change(tx, &company).await?;
        Ok(())
    }

    /// Companies with an office near a point, nearest first; answers use the query's system.
    pub async fn nearby(&self, query: NearbyQuery) -> Result<(Vec<NearbyCompany>, Datum)> {
        let search = query.parse()?;
        let hits = self
            .geo
            .nearby(
                search.centre.lat,
                search.centre.lng,
                search.radius_km,
                &search.industry,
                search.verified_only,
                search.limit,
            )
            .await?;
        Ok((hits, search.datum))
    }
}
