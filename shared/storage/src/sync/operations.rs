//! Checks, repairs and rebuilds as stored records. They live in Redis under the service's
//! prefix, so whichever instance the control plane asks can report the progress of an operation
//! another instance runs; the latest finished one per projection is remembered for status.

use std::time::Duration;

use prost::Message;
use talentmesh_proto::sync::v1::Operation;

use crate::{Error, RedisPool, Result};

/// Finished operations are forgotten after a week.
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone)]
pub(crate) struct Operations {
    redis: RedisPool,
}

fn redis_err(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

impl Operations {
    pub(crate) fn new(redis: RedisPool) -> Operations {
        Operations { redis }
    }

    fn key(&self, id: &str) -> String {
        self.redis.key(&format!("sync:operation:{id}"))
    }

    fn last_key(&self, projection: &str) -> String {
        self.redis.key(&format!("sync:last:{projection}"))
    }

    pub(crate) async fn save(&self, op: &Operation) -> Result<()> {
        let id = op.name.trim_start_matches("operations/");
        let mut conn = self.redis.get().await?;
        redis::cmd("SET")
            .arg(self.key(id))
            .arg(op.encode_to_vec())
            .arg("EX")
            .arg(KEEP.as_secs())
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    /// Remembers `op` as the latest finished operation of each of its projections.
    pub(crate) async fn finish(&self, op: &Operation) -> Result<()> {
        self.save(op).await?;
        let mut pipe = redis::pipe();
        for p in &op.projections {
            pipe.cmd("SET")
                .arg(self.last_key(&p.projection))
                .arg(op.encode_to_vec())
                .ignore();
        }
        let mut conn = self.redis.get().await?;
        pipe.query_async::<()>(&mut conn).await.map_err(redis_err)
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Operation>> {
        let mut conn = self.redis.get().await?;
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.key(id))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        raw.map(|b| Operation::decode(b.as_slice()))
            .transpose()
            .map_err(|e| Error::Redis(format!("stored operation unreadable: {e}")))
    }

    pub(crate) async fn last(&self, projection: &str) -> Result<Option<Operation>> {
        let mut conn = self.redis.get().await?;
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.last_key(projection))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(raw.and_then(|b| Operation::decode(b.as_slice()).ok()))
    }
}
