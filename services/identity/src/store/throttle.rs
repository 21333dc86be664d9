//! Login throttling in Redis, per (account, client address) pair and per client address. Each
//! failed login counts in a fixed window that starts at the first failure. Once a counter reaches
//! its limit, logins to that account from that address (or any login from that address) are
//! refused until the window ends, a correct password included (otherwise an attacker would learn
//! the password by the one attempt that is let in).
//!
//! There is deliberately no lock on an account alone: failures from one address must never stop
//! the right password from another, or anyone could lock anyone out, the admin included. A guess
//! at one account from many addresses is slowed by each address's own limit and argon2's cost.

use std::time::Duration;

use talentmesh_storage::RedisPool;

use crate::error::Result;

/// How many failed logins slow down an (account, address) pair or an address, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The counting window; it starts at the first failure.
    pub window: Duration,
    /// Failed logins to one account from one address within a window before that pair waits
    /// for the window's end.
    pub per_account_address: u64,
    /// Failed logins per client address within a window before it locks.
    pub per_address: u64,
}

/// The failed-login counters in Redis (`throttle:pair:<email>|<address>`,
/// `throttle:addr:<address>`; the email ends in its domain, which has no `|`, so the pair key is
/// unambiguous).
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
            self.redis
                .key(&format!("throttle:pair:{account}|{address}")),
            self.redis.key(&format!("throttle:addr:{address}")),
        ]
    }

    /// `Some(retry_after)` while this account from this address, or this address, is slowed
    /// down.
    pub async fn locked(&self, account: &str, address: &str) -> Result<Option<Duration>> {
        let [pair, addr] = self.keys(account, address);
        let mut conn = self.redis.get().await?;
        let (a, a_ttl, b, b_ttl): (Option<u64>, i64, Option<u64>, i64) = redis::pipe()
            .get(&pair)
            .ttl(&pair)
            .get(&addr)
            .ttl(&addr)
            .query_async(&mut conn)
            .await
            .map_err(|e| talentmesh_storage::Error::Redis(e.to_string()))?;
        let mut wait = None;
        if a.unwrap_or(0) >= self.limits.per_account_address {
            wait = Some(a_ttl.max(1));
        }
        if b.unwrap_or(0) >= self.limits.per_address {
            wait = Some(wait.unwrap_or(0).max(b_ttl.max(1)));
        }
        Ok(wait.map(|s| Duration::from_secs(s.unsigned_abs())))
    }

    /// Counts one failed login against the (account, address) pair and the address.
    pub async fn failed(&self, account: &str, address: &str) -> Result<()> {
        let [pair, addr] = self.keys(account, address);
        let window = self.limits.window.as_secs().max(1);
        let mut conn = self.redis.get().await?;
        // EXPIRE ... NX starts the window at the first failure and never extends it.
        redis::pipe()
            .atomic()
            .incr(&pair, 1)
            .ignore()
            .cmd("EXPIRE")
            .arg(&pair)
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
