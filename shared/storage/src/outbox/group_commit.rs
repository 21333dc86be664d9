//! Group commit: concurrent writes share one MySQL transaction.
//!
//! A create through the outbox costs four round trips (BEGIN, the entity insert, the outbox
//! insert, COMMIT) and a log flush. Under load most of that is waiting on the network and the
//! disk, so writers queue their requests here and a few committer tasks take whatever is queued
//! (never waiting for more) and write it as one transaction with multi-row inserts. A lone
//! request goes out at once, alone; a crowd shares the round trips and the flush.
//!
//! Every request is still acknowledged only after its transaction committed, with its event in
//! it. If a shared transaction fails, each of its requests is retried in a transaction of its
//! own, so one bad request (a duplicate key, a check that fails) fails alone.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::{MySql, MySqlPool, Transaction};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::{Error, Result};

/// Writes a batch of requests inside `tx`, returning one answer per request in order.
pub type WriteBatch<Req, Resp> = Arc<
    dyn for<'t> Fn(
            &'t mut Transaction<'static, MySql>,
            &'t [Req],
        ) -> BoxFuture<'t, Result<Vec<Resp>>>
        + Send
        + Sync,
>;

type Job<Req, Resp> = (Req, oneshot::Sender<Result<Resp>>);

pub struct GroupCommit<Req, Resp> {
    queue: mpsc::Sender<Job<Req, Resp>>,
}

impl<Req, Resp> Clone for GroupCommit<Req, Resp> {
    fn clone(&self) -> Self {
        GroupCommit {
            queue: self.queue.clone(),
        }
    }
}

impl<Req, Resp> GroupCommit<Req, Resp>
where
    Req: Clone + Send + Sync + 'static,
    Resp: Send + 'static,
{
    /// Starts `committers` tasks (the most transactions in flight at once) writing batches of
    /// at most `max_batch` requests with `write`. They stop when every handle is dropped.
    pub fn spawn(
        pool: MySqlPool,
        committers: usize,
        max_batch: usize,
        write: WriteBatch<Req, Resp>,
    ) -> GroupCommit<Req, Resp> {
        let max_batch = max_batch.max(1);
        let (queue, jobs) = mpsc::channel::<Job<Req, Resp>>(max_batch * committers.max(1) * 4);
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..committers.max(1) {
            let jobs = Arc::clone(&jobs);
            let pool = pool.clone();
            let write = Arc::clone(&write);
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut jobs = jobs.lock().await;
                        let Some(first) = jobs.recv().await else {
                            return;
                        };
                        let mut batch = vec![first];
                        while batch.len() < max_batch {
                            match jobs.try_recv() {
                                Ok(job) => batch.push(job),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    commit(&pool, &write, batch).await;
                }
            });
        }
        GroupCommit { queue }
    }

    /// Writes `req` in the next shared transaction and answers once it committed.
    pub async fn submit(&self, req: Req) -> Result<Resp> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send((req, tx))
            .await
            .map_err(|_| Error::InvalidUpdate("the group committer has stopped".into()))?;
        rx.await
            .map_err(|_| Error::InvalidUpdate("the group committer dropped a request".into()))?
    }
}

async fn write_in_tx<Req, Resp>(
    pool: &MySqlPool,
    write: &WriteBatch<Req, Resp>,
    reqs: &[Req],
) -> Result<Vec<Resp>> {
    let mut tx = pool.begin().await.map_err(Error::MySql)?;
    let answers = write(&mut tx, reqs).await?;
    if answers.len() != reqs.len() {
        return Err(Error::InvalidUpdate(format!(
            "batch writer answered {} of {} requests",
            answers.len(),
            reqs.len()
        )));
    }
    tx.commit().await.map_err(Error::MySql)?;
    Ok(answers)
}

async fn commit<Req: Clone, Resp>(
    pool: &MySqlPool,
    write: &WriteBatch<Req, Resp>,
    batch: Vec<Job<Req, Resp>>,
) {
    let (reqs, replies): (Vec<Req>, Vec<oneshot::Sender<Result<Resp>>>) = batch.into_iter().unzip();
    match write_in_tx(pool, write, &reqs).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        // Nothing of the shared transaction committed: each request alone, so only a bad one
        // fails (and a store outage fails each with its own error).
        Err(_) if reqs.len() > 1 => {
            for (req, reply) in reqs.into_iter().zip(replies) {
                let answer = write_in_tx(pool, write, std::slice::from_ref(&req))
                    .await
                    .and_then(|mut a| {
                        a.pop()
                            .ok_or_else(|| Error::InvalidUpdate("no answer".into()))
                    });
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
    }
}
