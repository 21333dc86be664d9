//! The `company_offices` table (positions as WGS-84 degrees).

use chrono::{DateTime, Utc};
use sqlx::MySqlPool;
use talentmesh_storage::time::datetime;

use super::Tx;
use crate::domain::geo::LatLng;
use crate::domain::Office;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct OfficeRow {
    pub(super) id: String,
    pub(super) company_id: String,
    label: String,
    address: String,
    city_code: String,
    latitude: f64,
    longitude: f64,
    headquarters: bool,
}

pub(super) const OFFICE_COLUMNS: &str =
    "id, company_id, label, address, city_code, latitude, longitude, headquarters";

impl OfficeRow {
    pub(super) fn into_office(self) -> Office {
        Office {
            id: self.id,
            company_id: self.company_id,
            label: self.label,
            address: self.address,
            city_code: self.city_code,
            position: LatLng::new(self.latitude, self.longitude),
            headquarters: self.headquarters,
        }
    }
}

/// Offices of companies.
#[derive(Clone)]
pub struct OfficeStore {
    pool: MySqlPool,
}

impl OfficeStore {
    /// Queries on `pool`.
    pub fn new(pool: MySqlPool) -> OfficeStore {
        OfficeStore { pool }
    }

    /// How many offices the company has.
    pub async fn count(&self, tx: &mut Tx, company: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM company_offices WHERE company_id = ?")
                .bind(company)
                .fetch_one(&mut **tx)
                .await?,
        )
    }

    /// Makes none of the company's offices its head office.
    pub async fn clear_headquarters(&self, tx: &mut Tx, company: &str) -> Result<()> {
        sqlx::query("UPDATE company_offices SET headquarters = FALSE WHERE company_id = ?")
            .bind(company)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Inserts an office created at `at`.
    pub async fn insert(&self, tx: &mut Tx, office: &Office, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO company_offices ({OFFICE_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&office.id)
        .bind(&office.company_id)
        .bind(&office.label)
        .bind(&office.address)
        .bind(&office.city_code)
        .bind(office.position.lat)
        .bind(office.position.lng)
        .bind(office.headquarters)
        .bind(datetime(at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The company's offices, oldest first.
    pub async fn list(&self, company: &str) -> Result<Vec<Office>> {
        let rows: Vec<OfficeRow> = sqlx::query_as(&format!(
            "SELECT {OFFICE_COLUMNS} FROM company_offices WHERE company_id = ? ORDER BY created_at, id"
        ))
        .bind(company)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(OfficeRow::into_office).collect())
    }

    /// Office `id` of `company`, if there is one.
    pub async fn get(&self, company: &str, id: &str) -> Result<Option<Office>> {
        let row: Option<OfficeRow> = sqlx::query_as(&format!(
            "SELECT {OFFICE_COLUMNS} FROM company_offices WHERE id = ? AND company_id = ?"
        ))
        .bind(id)
        .bind(company)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(OfficeRow::into_office))
    }

    /// Deletes office `id` of `company`; false when there was none.
    pub async fn delete(&self, tx: &mut Tx, company: &str, id: &str) -> Result<bool> {
        let gone = sqlx::query("DELETE FROM company_offices WHERE id = ? AND company_id = ?")
            .bind(id)
            .bind(company)
            .execute(&mut **tx)
            .await?;
        Ok(gone.rows_affected() > 0)
    }
}
