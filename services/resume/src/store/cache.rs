//! The read cache in Redis: each resume's newest version, encoded, in one hash fed by a
//! projection. A read first learns the resume's current version from its MySQL row (one small
//! row by key) and takes the content from the cache only when the cached version is that
//! version, so a reader never sees an older version than MySQL holds, and the owner always
//! reads their own last save. On a miss (the projection trails a save, or Redis is away) the
//! content comes from MySQL.

use std::sync::Arc;

use base64::Engine;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_storage::projection::{Change, RedisHashes};
use talentmesh_storage::RedisPool;

use super::ENTITY;
use crate::domain::Resume;

/// The projection's name in the sync admin API.
pub const NAME: &str = "resumes_cache";

/// The projection (also the reader): hash `resumecache:{id}` with field `resume`, the base64
/// of the encoded wire `Resume`.
pub fn projection(redis: RedisPool) -> RedisHashes {
    RedisHashes::new(
        NAME,
        ENTITY,
        "resumecache",
        redis,
        Arc::new(|c: &Change| {
            Ok(serde_json::json!({
                "resume": base64::engine::general_purpose::STANDARD.encode(&c.state),
            }))
        }),
    )
}

/// Version `version` of resume `id` from the cache, if that is the version it holds (anything
/// unreadable is a miss).
pub async fn version(cache: &RedisHashes, id: &str, version: i64) -> Option<Resume> {
    let (stored, fields) = cache.live(id, &["resume"]).await?;
    if stored != version {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(fields.first()?.as_deref()?)
        .ok()?;
    let message: pb::Resume = prost::Message::decode(bytes.as_slice()).ok()?;
    if message.version != version {
        return None;
    }
    crate::grpc::convert::resume_from_pb(message).ok()
}
