//! Idempotent creates (AIP-155, <https://google.aip.dev/155>): a Create RPC that carries a
//! `request_id` (a UUID) and is retried, by a client that never saw the first answer, returns the
//! first answer instead of creating a second resource.
//!
//! It sits in front of a service's create path, after the request is decoded and before anything
//! is written. One Redis key per caller, method and request id,
//! `<service>:request:<caller>:<method>:<request_id>` (under the service's key prefix, the only
//! keys its Redis user may touch), goes through two states:
//! - `pending:<token>`, claimed with `SET NX` and a short expiry ([`Idempotency::CLAIM`]) while
//!   the first create runs: a duplicate arriving then is refused with [`Refusal::InProgress`]
//!   (ABORTED; the client retries). If the create fails, the claim is released (only by its
//!   owner's token) so a retry may try again.
//! - `done:<name>`, written only after the create committed and kept [`Idempotency::KEEP`]
//!   (24 h): a replay reads the resource back by name and writes nothing, emits nothing. If it
//!   was deleted since, the read's NOT_FOUND is the answer.
//!
//! The caller's user id is part of the key, so one user's request id cannot replay (or block)
//! another user's create. The body is not part of the key: the same request id with a different
//! body returns the first answer (AIP-155 allows it; clients must not reuse ids).
//!
//! Limits, by design: a create that outlasts the claim expiry can be duplicated by a retry that
//! arrives after the expiry; and if Redis fails between the commit and the `done:` write, the
//! create is answered normally but a later retry creates again. Both trade a rare duplicate for
//! never refusing a create that committed.

use std::future::Future;
use std::time::Duration;

use redis::AsyncCommands;

use crate::{Error, RedisPool};

/// Releases a claim only if it is still the caller's own (`KEYS[1]` holds `ARGV[1]`).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A request id that parsed: a UUID, kept in its hyphenated lowercase form so `A...` and `a...`
/// are one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// `None` for an empty field (no idempotency asked for), the id for a UUID.
    ///
    /// # Errors
    /// [`Refusal::InvalidRequestId`] for anything else; services report it as a `BadRequest`
    /// field violation on `request_id`.
    pub fn parse(raw: &str) -> Result<Option<RequestId>, Refusal> {
        if raw.is_empty() {
            return Ok(None);
        }
        uuid::Uuid::try_parse(raw)
            .map(|id| Some(RequestId(id.hyphenated().to_string())))
            .map_err(|_| Refusal::InvalidRequestId)
    }

    /// The canonical text (hyphenated, lowercase).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an idempotent create was refused before it ran. Each service maps it to its own error:
/// `InvalidRequestId` to INVALID_ARGUMENT on `request_id`, `InProgress` to ABORTED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `request_id` is set but is not a UUID.
    #[error("must be a UUID")]
    InvalidRequestId,
    /// The first request with this id has not finished yet.
    #[error("a request with this request_id is in progress; retry")]
    InProgress,
}

/// The request ids of one service, in its Redis.
#[derive(Clone)]
pub struct Idempotency {
    redis: RedisPool,
}

/// What the key says when a request arrives.
enum Seen {
    /// Nobody had the key: this request claimed it with the token.
    Claimed(String),
    /// Another request with the same id is running.
    InFlight,
    /// A request with the same id created this resource name.
    Done(String),
}

impl Idempotency {
    /// How long a finished create's name is kept: a retry within it replays.
    pub const KEEP: Duration = Duration::from_secs(24 * 60 * 60);
    /// How long a running create holds its id before a duplicate may run anyway; longer than
    /// any create should take (the mesh's call deadlines are shorter).
    pub const CLAIM: Duration = Duration::from_secs(60);

    /// Request ids kept in `redis`, under its key prefix.
    pub fn new(redis: RedisPool) -> Idempotency {
        Idempotency { redis }
    }

    /// The Redis key of `caller`'s `method` call with `id`:
    /// `<prefix>request:<caller>:<method>:<id>`.
    pub fn key(&self, caller: &str, method: &str, id: &RequestId) -> String {
        self.redis
            .key(&format!("request:{caller}:{method}:{}", id.as_str()))
    }

    /// Runs `create` at most once per `(caller, method, request_id)` within [`Self::KEEP`].
    ///
    /// - `request_id` empty, or no `caller` (the create then refuses the call itself): `create`
    ///   runs as without this module.
    /// - first time: claims the id, runs `create`; on success records `name_of(&created)` and
    ///   returns the created resource, on failure releases the claim and returns the failure.
    /// - a replay: returns `read(name)` of the first create's name; nothing else runs.
    ///
    /// # Errors
    /// [`Refusal::InvalidRequestId`] when `request_id` is not a UUID, [`Refusal::InProgress`]
    /// while the first request with the id runs, [`Error::Redis`] when Redis does not answer
    /// before the create ran (nothing was written), and whatever `create` or `read` return.
    pub async fn once<T, E, C, R>(
        &self,
        caller: Option<&str>,
        method: &str,
        request_id: &str,
        create: impl FnOnce() -> C,
        name_of: impl FnOnce(&T) -> String,
        read: impl FnOnce(String) -> R,
    ) -> Result<T, E>
    where
        C: Future<Output = Result<T, E>>,
        R: Future<Output = Result<T, E>>,
        E: From<Refusal> + From<Error>,
    {
        let id = RequestId::parse(request_id)?;
        let (Some(caller), Some(id)) = (caller, id) else {
            return create().await;
        };
        let key = self.key(caller, method, &id);
        let token = match self.see(&key).await? {
            Seen::Claimed(token) => token,
            Seen::InFlight => return Err(Refusal::InProgress.into()),
            Seen::Done(name) => {
                tracing::debug!(method, request_id = id.as_str(), %name, "create replayed");
                return read(name).await;
            }
        };
        match create().await {
            Ok(created) => {
                let name = name_of(&created);
                if let Err(e) = self.finish(&key, &name).await {
                    // The resource exists; refusing now would make the client retry into a
                    // duplicate for sure. Answer it and let the claim expire.
                    tracing::warn!(error = %e, method, "request id not recorded");
                }
                Ok(created)
            }
            Err(e) => {
                if let Err(release) = self.release(&key, &token).await {
                    tracing::warn!(error = %release, method, "request id claim not released");
                }
                Err(e)
            }
        }
    }

    /// Claims `key`, or says what holds it.
    async fn see(&self, key: &str) -> Result<Seen, Error> {
        let mut conn = self.redis.get().await?;
        // A key that expires between the failed claim and the read is claimed again.
        for _ in 0..3 {
            let token = format!("pending:{}", uuid::Uuid::new_v4());
            let claimed: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(millis(Self::CLAIM))
                .query_async(&mut conn)
                .await
                .map_err(redis_error)?;
            if claimed.is_some() {
                return Ok(Seen::Claimed(token));
            }
            let held: Option<String> = conn.get(key).await.map_err(redis_error)?;
            match held {
                Some(v) if v.starts_with("pending:") => return Ok(Seen::InFlight),
                Some(v) => match v.strip_prefix("done:") {
                    Some(name) => return Ok(Seen::Done(name.to_owned())),
                    None => return Err(Error::Redis(format!("unexpected value under {key}"))),
                },
                None => continue,
            }
        }
        Ok(Seen::InFlight)
    }

    /// Records the created `name` under `key` for [`Self::KEEP`].
    async fn finish(&self, key: &str, name: &str) -> Result<(), Error> {
        let mut conn = self.redis.get().await?;
        conn.set_ex::<_, _, ()>(key, format!("done:{name}"), Self::KEEP.as_secs())
            .await
            .map_err(redis_error)
    }

    /// Drops the claim `token` holds on `key`, if it still does.
    async fn release(&self, key: &str, token: &str) -> Result<(), Error> {
        let mut conn = self.redis.get().await?;
        redis::Script::new(RELEASE)
            .key(key)
            .arg(token)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(redis_error)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn redis_error(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_no_request_id() {
        assert_eq!(RequestId::parse(""), Ok(None));
    }

    #[test]
    fn a_uuid_is_kept_in_canonical_form() {
        let id = RequestId::parse("6F9619FF-8B86-D011-B42D-00C04FC964FF")
            .unwrap()
            .unwrap();
        assert_eq!(id.as_str(), "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    }

    #[test]
    fn anything_else_is_refused() {
        for raw in [
            "1",
            "not-a-uuid",
            "6f9619ff-8b86-d011-b42d-00c04fc964f",
            " ",
        ] {
            assert_eq!(
                RequestId::parse(raw),
                Err(Refusal::InvalidRequestId),
                "{raw}"
            );
        }
    }
}
