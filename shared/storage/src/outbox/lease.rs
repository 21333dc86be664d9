//! The relay's leader lease: a MariaDB user lock (`GET_LOCK('<db>.outbox_relay', 0)`) held on a
//! connection of its own. Two relays publishing the same rows would double every event, so only
//! the holder relays. The server frees the lock when the holder's connection closes, so a dead
//! relay (crash, kill, network loss) hands over without any timeout bookkeeping here.
//!
//! The leader runs its outbox queries on this same connection: while they succeed the connection
//! is alive, and so is the lock.

use std::time::Duration;

use sqlx::mysql::{MySqlConnection, MySqlPool};
use sqlx::{ConnectOptions, Connection};

use crate::{Error, Result};

/// MariaDB rejects lock names longer than 64 characters.
const MAX_LOCK_NAME: usize = 64;
const LOCK_SUFFIX: &str = ".outbox_relay";
/// How long a graceful release may take before the connection is simply dropped.
const CLOSE_PATIENCE: Duration = Duration::from_secs(5);

/// A dedicated connection that may hold the relay lock.
pub(crate) struct LeaseConn {
    conn: MySqlConnection,
    name: String,
}

impl LeaseConn {
    /// Opens a connection outside the pool (a pooled one could be handed back and reused while
    /// still holding the lock).
    pub(crate) async fn open(pool: &MySqlPool) -> Result<LeaseConn> {
        let mut conn = pool
            .connect_options()
            .connect()
            .await
            .map_err(Error::MySql)?;
        // READ COMMITTED: the relay's `UPDATE … WHERE id IN (…)` may be planned as a scan on a
        // small table, and at REPEATABLE READ that scan waits on the row lock of an outbox insert
        // still in an open transaction, stalling the relay until it commits. At READ COMMITTED
        // InnoDB skips locked rows that do not match (semi-consistent read).
        sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .execute(&mut conn)
            .await
            .map_err(Error::MySql)?;
        let db: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
            .fetch_one(&mut conn)
            .await
            .map_err(Error::MySql)?;
        let keep = MAX_LOCK_NAME - LOCK_SUFFIX.len();
        let db: String = db.unwrap_or_default().chars().take(keep).collect();
        let name = format!("{db}{LOCK_SUFFIX}");
        Ok(LeaseConn { conn, name })
    }

    /// Tries to take the lock without waiting; true when this connection holds it.
    pub(crate) async fn try_lock(&mut self) -> Result<bool> {
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
            .bind(&self.name)
            .fetch_one(&mut self.conn)
            .await
            .map_err(Error::MySql)?;
        Ok(got == Some(1))
    }

    pub(crate) fn conn(&mut self) -> &mut MySqlConnection {
        &mut self.conn
    }

    /// Releases the lock and closes the connection. Closing alone would free it too; the explicit
    /// release lets a standby take over on its next try rather than after the server notices.
    /// Bounded, because a half-open connection would otherwise hang the relay here; dropping
    /// it after the timeout closes the socket, which frees the lock just the same.
    pub(crate) async fn close(mut self) {
        let goodbye = async {
            let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
                .bind(&self.name)
                .execute(&mut self.conn)
                .await;
            let _ = self.conn.close().await;
        };
        let _ = tokio::time::timeout(CLOSE_PATIENCE, goodbye).await;
    }
}
