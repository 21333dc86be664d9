//! Jobs in MySQL: the row, its proto form, the event every change records through the outbox,
//! and the checker's view of the table.

use chrono::{DateTime, SubsecRound, Utc};
use prost::Message;
use sqlx::{MySqlConnection, MySqlPool};
use talentmesh_mesh::ApiError;
use talentmesh_proto::job::v1 as pb;
use talentmesh_storage::outbox::EventDraft;
use talentmesh_storage::projection::{Change, ChangeOf, Source};

pub const ENTITY: &str = "jobs";
pub const EVENT_TYPE: &str = "talentmesh.job.v1.JobChanged";

pub fn db(e: sqlx::Error) -> ApiError {
    talentmesh_storage::Error::MySql(e).into()
}

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub company_id: String,
    pub version: i64,
    pub deleted: bool,
    pub state: i8,
    pub title: String,
    pub description: String,
    pub required_skills: String,
    pub preferred_skills: String,
    pub salary_min: i32,
    pub salary_max: i32,
    pub city_code: String,
    pub office_id: String,
    pub experience_years: i32,
    pub education: i8,
    pub employment_type: i8,
    pub recruit_type: i8,
    pub graduation_year: i32,
    pub headcount: i32,
    pub creator: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

pub const COLUMNS: &str = "id, company_id, version, deleted, state, title, description, \
    required_skills, preferred_skills, salary_min, salary_max, city_code, office_id, \
    experience_years, education, employment_type, recruit_type, graduation_year, headcount, \
    creator, created_at, updated_at, published_at";

pub fn skills_json(skills: &[String]) -> String {
    serde_json::Value::from(
        skills
            .iter()
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>(),
    )
    .to_string()
}

impl JobRow {
    pub fn state(&self) -> pb::JobState {
        pb::JobState::try_from(i32::from(self.state)).unwrap_or(pb::JobState::Unspecified)
    }

    pub fn to_pb(&self) -> pb::Job {
        if self.deleted {
            return pb::Job {
                name: format!("companies/{}/jobs/{}", self.company_id, self.id),
                version: self.version,
                deleted: true,
                ..Default::default()
            };
        }
        pb::Job {
            name: format!("companies/{}/jobs/{}", self.company_id, self.id),
            title: self.title.clone(),
            description: self.description.clone(),
            required_skills: serde_json::from_str(&self.required_skills).unwrap_or_default(),
            preferred_skills: serde_json::from_str(&self.preferred_skills).unwrap_or_default(),
            salary_min: self.salary_min,
            salary_max: self.salary_max,
            city_code: self.city_code.clone(),
            office: if self.office_id.is_empty() {
                String::new()
            } else {
                format!("companies/{}/offices/{}", self.company_id, self.office_id)
            },
            experience_years: self.experience_years,
            education: i32::from(self.education),
            employment_type: i32::from(self.employment_type),
            recruit_type: i32::from(self.recruit_type),
            graduation_year: self.graduation_year,
            headcount: self.headcount,
            state: i32::from(self.state),
            version: self.version,
            create_time: Some(timestamp(self.created_at)),
            update_time: Some(timestamp(self.updated_at)),
            publish_time: self.published_at.map(timestamp),
            creator: format!("users/{}", self.creator),
            deleted: false,
        }
    }

    pub fn change(&self) -> Change {
        change_of_job(&self.id, &self.to_pb())
    }

    pub fn draft(&self) -> EventDraft {
        let job = self.to_pb();
        EventDraft {
            event_type: EVENT_TYPE.to_string(),
            subject: job.name.clone(),
            entity_version: self.version,
            payload: prost_types::Any {
                type_url: format!("type.googleapis.com/{EVENT_TYPE}"),
                value: pb::JobChanged { job: Some(job) }.encode_to_vec(),
            },
            traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
            tracestate: String::new(),
        }
    }
}

pub fn change_of_job(id: &str, job: &pb::Job) -> Change {
    Change {
        id: id.to_string(),
        version: job.version,
        deleted: job.deleted,
        state: if job.deleted {
            Vec::new()
        } else {
            job.encode_to_vec()
        },
    }
}

/// The job id out of a name "companies/{c}/jobs/{j}".
pub fn job_id(name: &str) -> Option<&str> {
    name.rsplit_once("/jobs/").map(|(_, id)| id)
}

pub fn job_of(change: &Change) -> Result<pb::Job, String> {
    pb::Job::decode(change.state.as_slice()).map_err(|e| format!("undecodable job state: {e}"))
}

pub fn change_of() -> ChangeOf {
    std::sync::Arc::new(|envelope| {
        if envelope.r#type != EVENT_TYPE {
            return Ok(None);
        }
        let payload = envelope
            .payload
            .as_ref()
            .ok_or_else(|| "event has no payload".to_string())?;
        let event = pb::JobChanged::decode(payload.value.as_slice())
            .map_err(|e| format!("undecodable JobChanged: {e}"))?;
        let job = event
            .job
            .ok_or_else(|| "JobChanged without a job".to_string())?;
        let id = job_id(&job.name)
            .ok_or_else(|| format!("bad job name {}", job.name))?
            .to_string();
        Ok(Some(change_of_job(&id, &job)))
    })
}

pub async fn load(conn: &mut MySqlConnection, id: &str) -> Result<Option<JobRow>, ApiError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

/// The checker's view of MySQL.
pub struct JobSource {
    pool: MySqlPool,
}

impl JobSource {
    pub fn new(pool: MySqlPool) -> JobSource {
        JobSource { pool }
    }
}

fn store_err(e: sqlx::Error) -> talentmesh_storage::Error {
    talentmesh_storage::Error::MySql(e)
}

#[tonic::async_trait]
impl Source for JobSource {
    fn entity_type(&self) -> &str {
        ENTITY
    }

    async fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> talentmesh_storage::Result<Vec<Change>> {
        let rows: Vec<JobRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after.unwrap_or(""))
        .bind(u64::try_from(limit).unwrap_or(500))
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        Ok(rows.iter().map(JobRow::change).collect())
    }

    async fn load(&self, ids: &[String]) -> talentmesh_storage::Result<Vec<Change>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM jobs WHERE id IN ("));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<JobRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?;
        Ok(rows.iter().map(JobRow::change).collect())
    }

    async fn count(&self) -> talentmesh_storage::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
            .fetch_one(&self.pool)
            .await
            .map_err(store_err)
    }
}
