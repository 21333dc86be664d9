//! Login throttling in Redis, per account and per client address. Each failed login counts in a
//! fixed window that starts at the first failure. Once a counter reaches its limit, every login
//! for that account or from that address is refused until the window ends, a correct password
//! included (otherwise an attacker would learn the password by the one attempt that is let in).

use std::time::Duration;

use talentmesh_storage::RedisPool;

use crate::error::Result;

/// How many failed logins lock an account or an address, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The counting window; it starts at the first failure.
    pub window: Duration,
    /// Failed logins per account within a window before it locks.
    pub per_account: u64,
    /// Failed logins per client address within a window before it locks.
    pub per_address: u64,
}

/// The failed-login counters in Redis (`throttle:acct:<email>`, `throttle:addr:<address>`).
pub struct Throttle {
    redis: RedisPool,
    limits: Limits,
}

impl Throttle {
    /// Counters on `redis` with `limits`.
    pub fn new(redis: RedisPool, limits: Limits) -> Self {
        Throttle { redis, limits }
    }

    fn keys(&self, account: &str, address: &str) -> [String; 2] {
        [
            self.redis.key(&format!("throttle:acct:{account}")),
            self.redis.key(&format!("throttle:addr:{address}")),
        ]
    }

    /// `Some(retry_after)` while the account or the address is locked out.
    pub async fn locked(&self, account: &str, address: &str) -> Result<Option<Duration>> {
        let [acct, addr] = self.keys(account, address);
        let mut conn = self.redis.get().await?;
        let (a, a_ttl, b, b_ttl): (Option<u64>, i64, Option<u64>, i64) = redis::pipe()
            .get(&acct)
            .ttl(&acct)
            .get(&addr)
            .ttl(&addr)
            .query_async(&mut conn)
            .await
            .map_err(|e| talentmesh_storage::Error::Redis(e.to_string()))?;
        let mut wait = None;
        if a.unwrap_or(0) >= self.limits.per_account {
            wait = Some(a_ttl.max(1));
        }
        if b.unwrap_or(0) >= self.limits.per_address {
            wait = Some(wait.unwrap_or(0).max(b_ttl.max(1)));
        }
        Ok(wait.map(|s| Duration::from_secs(s.unsigned_abs())))
    }

    /// Counts one failed login against the account and the address.
    pub async fn failed(&self, account: &str, address: &str) -> Result<()> {
        let [acct, addr] = self.keys(account, address);
        let window = self.limits.window.as_secs().max(1);
        let mut conn = self.redis.get().await?;
        // EXPIRE ... NX starts the window at the first failure and never extends it.
        redis::pipe()
            .atomic()
            .incr(&acct, 1)
            .ignore()
            .cmd("EXPIRE")
            .arg(&acct)
            .arg(window)
            .arg("NX")
            .ignore()
            .incr(&addr, 1)
            .ignore()
            .cmd("EXPIRE")
            .arg(&addr)
            .arg(window)
            .arg("NX")
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| talentmesh_storage::Error::Redis(e.to_string()).into())
    }
}
