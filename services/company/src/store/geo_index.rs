//! The geo index in Redis: a projection of each company's offices into Redis GEO sets, and the
//! nearby search served from them.
//!
//! Every office is a member `<company>|<office>` of the set `geo:all`, and of the sets for its
//! company's industry and verification (`geo:ind:<industry>`, `geo:ver`, `geo:ver:ind:<ind>`),
//! so a filtered search reads one set and needs no post-filtering. A meta hash per company
//! (`geometa:<id>`) keeps the version and hash the checker compares, the members and sets the
//! company is in (to take them out when it changes), and what a result shows (name, industry,
//! state, offices). One Lua script compares versions and rewrites all of it atomically.

use std::collections::HashMap;

use talentmesh_storage::projection::{
    hash_live_ids, hash_stamps, run_scripted, Change, Projection, Stamp, StoreKind,
};
use talentmesh_storage::{Error, RedisPool, Result};

use crate::domain::geo::LatLng;
use crate::domain::{NearbyCompany, NearbyOffice, VerificationState};
use crate::events::{state_of, ENTITY};

/// The projection's name (in the checker's reports and the sync admin API).
pub const NAME: &str = "companies_geo";

/// Members one search reads from Redis, at most.
const MAX_MEMBERS: usize = 20_000;

/// KEYS[1] meta hash. ARGV: version, hash, deleted ("1"/"0"), sets (JSON list), points (JSON
/// list of [member, lon, lat]), then field/value pairs for the meta hash.
const UPSERT: &str = r"
local cur = redis.call('HMGET', KEYS[1], '_v', '_h', '_m', '_s')
if cur[1] then
  local stored = tonumber(cur[1])
  local incoming = tonumber(ARGV[1])
  if stored > incoming then return 0 end
  if stored == incoming and cur[2] == ARGV[2] then return 0 end
end
if cur[3] and cur[4] then
  local members = cjson.decode(cur[3])
  for _, set in ipairs(cjson.decode(cur[4])) do
    for _, m in ipairs(members) do redis.call('ZREM', set, m) end
  end
end
local sets = cjson.decode(ARGV[4])
local points = cjson.decode(ARGV[5])
local members = {}
for _, p in ipairs(points) do
  table.insert(members, p[1])
  for _, set in ipairs(sets) do redis.call('GEOADD', set, p[2], p[3], p[1]) end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '_v', ARGV[1], '_h', ARGV[2], '_d', ARGV[3],
  '_m', cjson.encode(members), '_s', ARGV[4], unpack(ARGV, 6))
return 1
";

/// The geo index: the projection (Redis GEO sets and meta hashes) and the nearby search.
pub struct GeoIndex {
    redis: RedisPool,
    meta_prefix: String,
    set_prefix: String,
    upsert_sha: String,
}

fn redis_err(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

/// Which set a search reads.
pub fn set_suffix(industry: &str, verified_only: bool) -> String {
    match (industry.is_empty(), verified_only) {
        (true, false) => "all".to_string(),
        (true, true) => "ver".to_string(),
        (false, false) => format!("ind:{industry}"),
        (false, true) => format!("ver:ind:{industry}"),
    }
}

/// One office as the meta hash keeps it for results.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct IndexedOffice {
    label: String,
    address: String,
    city_code: String,
    lat: f64,
    lon: f64,
    hq: bool,
}

impl IndexedOffice {
    fn into_office(self) -> NearbyOffice {
        NearbyOffice {
            label: self.label,
            address: self.address,
            city_code: self.city_code,
            position: LatLng::new(self.lat, self.lon),
            headquarters: self.hq,
        }
    }
}

impl GeoIndex {
    /// The index in `redis` (keys under its prefix, `company:geo*`).
    pub fn new(redis: RedisPool) -> GeoIndex {
        GeoIndex {
            meta_prefix: redis.key("company:geometa:"),
            set_prefix: redis.key("company:geo:"),
            redis,
            upsert_sha: redis::Script::new(UPSERT).get_hash().to_string(),
        }
    }

    fn meta_key(&self, id: &str) -> String {
        format!("{}{id}", self.meta_prefix)
    }

    fn upsert(&self, c: &Change) -> Result<redis::Cmd> {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.upsert_sha)
            .arg(1)
            .arg(self.meta_key(&c.id))
            .arg(c.version)
            .arg(c.content_hash())
            .arg(if c.deleted { "1" } else { "0" });
        if c.deleted {
            return Ok(cmd.arg("[]").arg("[]").to_owned());
        }
        let state = state_of(c).map_err(Error::InvalidEvent)?;
        let verified = state.verification_state == VerificationState::Verified.code();
        let mut sets = vec![self.set_prefix.clone() + &set_suffix("", false)];
        if verified {
            sets.push(self.set_prefix.clone() + &set_suffix("", true));
        }
        if !state.industry.is_empty() {
            sets.push(self.set_prefix.clone() + &set_suffix(&state.industry, false));
            if verified {
                sets.push(self.set_prefix.clone() + &set_suffix(&state.industry, true));
            }
        }
        let points: Vec<serde_json::Value> = state
            .offices
            .iter()
            .map(|o| serde_json::json!([format!("{}|{}", state.id, o.id), o.longitude, o.latitude]))
            .collect();
        let offices: HashMap<String, IndexedOffice> = state
            .offices
            .iter()
            .map(|o| {
                (
                    o.id.clone(),
                    IndexedOffice {
                        label: o.label.clone(),
                        address: o.address.clone(),
                        city_code: o.city_code.clone(),
                        lat: o.latitude,
                        lon: o.longitude,
                        hq: o.headquarters,
                    },
                )
            })
            .collect();
        let offices =
            serde_json::to_string(&offices).map_err(|e| Error::InvalidEvent(e.to_string()))?;
        cmd.arg(serde_json::Value::from(sets).to_string())
            .arg(serde_json::Value::from(points).to_string())
            .arg("name")
            .arg(&state.display_name)
            .arg("industry")
            .arg(&state.industry)
            .arg("state")
            .arg(state.verification_state)
            .arg("offices")
            .arg(offices);
        Ok(cmd)
    }

    /// Companies with an office within `radius_km` of (lat, lon) (WGS-84), nearest office
    /// first, at most `limit` companies.
    pub async fn nearby(
        &self,
        lat: f64,
        lon: f64,
        radius_km: f64,
        industry: &str,
        verified_only: bool,
        limit: usize,
    ) -> Result<Vec<NearbyCompany>> {
        let set = self.set_prefix.clone() + &set_suffix(industry, verified_only);
        let mut conn = self.redis.get().await?;
        // Redis finds every member inside the radius before it sorts and cuts, so a wide
        // radius over a dense index costs milliseconds of its single thread (20 km over 100k
        // companies: ~15 ms). The nearest `limit` companies within a small radius are the
        // nearest within any larger one, so search a sixteenth of the radius first and widen
        // only while too few companies are found.
        let mut radius = (radius_km / 16.0).max(0.05).min(radius_km);
        // A company with several offices appears once per office: ask for more members than
        // companies wanted, and for more again while duplicates leave the page short.
        let mut count = limit.saturating_mul(2).max(16);
        let hits = loop {
            let found: Vec<(String, f64)> = redis::cmd("GEOSEARCH")
                .arg(&set)
                .arg("FROMLONLAT")
                .arg(lon)
                .arg(lat)
                .arg("BYRADIUS")
                .arg(radius)
                .arg("km")
                .arg("ASC")
                .arg("COUNT")
                .arg(count)
                .arg("WITHDIST")
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            let exhausted = found.len() < count;
            let mut seen = std::collections::HashSet::new();
            let unique: Vec<(String, String, f64)> = found
                .into_iter()
                .filter_map(|(member, dist)| {
                    let (company, office) = member.split_once('|')?;
                    seen.insert(company.to_string())
                        .then(|| (company.to_string(), office.to_string(), dist))
                })
                .take(limit)
                .collect();
            if unique.len() >= limit {
                break unique;
            }
            if !exhausted && count < MAX_MEMBERS {
                count = count.saturating_mul(4).min(MAX_MEMBERS);
            } else if radius < radius_km && (exhausted || count >= MAX_MEMBERS) {
                radius = (radius * 2.0).min(radius_km);
            } else {
                break unique;
            }
        };
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (company, _, _) in &hits {
            pipe.cmd("HMGET")
                .arg(self.meta_key(company))
                .arg("name")
                .arg("industry")
                .arg("state")
                .arg("offices");
        }
        type Meta = (Option<String>, Option<String>, Option<i32>, Option<String>);
        let metas: Vec<Meta> = pipe.query_async(&mut conn).await.map_err(redis_err)?;
        Ok(hits
            .into_iter()
            .zip(metas)
            .map(
                |((company_id, office_id, distance_km), (name, industry, state, offices))| {
                    let office = offices
                        .and_then(|o| {
                            serde_json::from_str::<HashMap<String, IndexedOffice>>(&o).ok()
                        })
                        .and_then(|mut o| o.remove(&office_id))
                        .map(IndexedOffice::into_office);
                    NearbyCompany {
                        company_id,
                        office_id,
                        distance_km,
                        display_name: name.unwrap_or_default(),
                        industry: industry.unwrap_or_default(),
                        verification_state: state.and_then(VerificationState::from_code),
                        office,
                    }
                },
            )
            .collect())
    }
}

#[tonic::async_trait]
impl Projection for GeoIndex {
    fn name(&self) -> &str {
        NAME
    }

    fn store(&self) -> StoreKind {
        StoreKind::Redis
    }

    fn entity_type(&self) -> &str {
        ENTITY
    }

    async fn apply(&self, changes: &[Change]) -> Result<()> {
        let mut pipe = redis::pipe();
        for c in changes {
            pipe.add_command(self.upsert(c)?).ignore();
        }
        run_scripted(&self.redis, &pipe, UPSERT).await
    }

    async fn stamps(&self, ids: &[String]) -> Result<Vec<Stamp>> {
        hash_stamps(&self.redis, &self.meta_prefix, ids).await
    }

    async fn live_ids(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>)> {
        hash_live_ids(&self.redis, &self.meta_prefix, after, limit).await
    }

    /// Orphans: applying a tombstone at an unbeatable version takes the offices out of every
    /// set, then the meta hash goes.
    async fn remove(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let tombstones: Vec<Change> = ids
            .iter()
            .map(|id| Change {
                id: id.clone(),
                version: i64::MAX,
                deleted: true,
                state: Vec::new(),
            })
            .collect();
        self.apply(&tombstones).await?;
        let keys: Vec<String> = ids.iter().map(|id| self.meta_key(id)).collect();
        let mut conn = self.redis.get().await?;
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<redis::Value>(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }
}
