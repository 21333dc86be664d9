//! The read cache in Redis (projection `jobs_cache`): one hash per job with its encoded state,
//! so a public read of a published job costs one Redis call. Versions guard every write, so
//! the cache never goes back to an older state; it trails MySQL by the projection's lag.

use std::sync::Arc;

use base64::Engine;
use talentmesh_proto::job::v1 as pb;
use talentmesh_storage::projection::{Change, RedisHashes};
use talentmesh_storage::RedisPool;

use super::jobs::ENTITY;
use crate::domain::{Job, JobState};
use crate::events::job_of;
use crate::grpc::wire;

/// The projection's name.
pub const CACHE: &str = "jobs_cache";

/// The cache as a projection: `state` (the job state's number) and `job` (the encoded
/// `pb::Job`, base64) per job.
pub fn cache(redis: RedisPool) -> RedisHashes {
    RedisHashes::new(
        CACHE,
        ENTITY,
        "jobcache",
        redis,
        Arc::new(|c: &Change| {
            let j = job_of(c)?;
            Ok(serde_json::json!({
                "state": j.state,
                "job": base64::engine::general_purpose::STANDARD.encode(&c.state),
            }))
        }),
    )
}

/// Reads of the cache.
pub struct JobCache {
    hashes: RedisHashes,
}

impl JobCache {
    /// The cache in `redis` (this service's key prefix).
    pub fn new(redis: RedisPool) -> JobCache {
        JobCache {
            hashes: cache(redis),
        }
    }

    /// Published job `id` from the cache, if it is there (`None` on a miss or any doubt).
    pub async fn published(&self, id: &str) -> Option<Job> {
        let (_, fields) = self.hashes.live(id, &["state", "job"]).await?;
        let [state, encoded] = fields.as_slice() else {
            return None;
        };
        if state.as_deref()?.parse::<i32>().ok()? != JobState::Published.code() {
            return None;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_deref()?)
            .ok()?;
        let job: pb::Job = prost::Message::decode(bytes.as_slice()).ok()?;
        wire::job_from_pb(job)
    }
}
