//! The hot layer in front of the Redis read cache: published jobs this instance served in the
//! last moment, kept in memory for at most `ttl`. A popular job is then read from Redis once
//! per `ttl` per instance instead of once per request.
//!
//! It adds at most `ttl` of staleness to public reads, on top of the Redis cache's own lag
//! behind MySQL; this instance forgets a job at once when it changes it. Employers and admins
//! read MySQL and never see it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::Job;

/// Published jobs by id, each with the instant it was put.
pub struct HotJobs {
    ttl: Duration,
    capacity: usize,
    // Read-mostly: every request of a popular job reads its entry at once, so readers share
    // the lock and copy the job after letting go of it.
    entries: RwLock<HashMap<String, (Instant, Arc<Job>)>>,
}

impl HotJobs {
    /// At most `capacity` jobs, each for at most `ttl`; a zero `ttl` turns the layer off.
    pub fn new(ttl: Duration, capacity: usize) -> HotJobs {
        HotJobs {
            ttl,
            capacity,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The job put under `id` less than `ttl` ago.
    pub fn get(&self, id: &str) -> Option<Job> {
        if self.ttl.is_zero() {
            return None;
        }
        let job = {
            let entries = self.entries.read().ok()?;
            let (at, job) = entries.get(id)?;
            (at.elapsed() < self.ttl).then(|| Arc::clone(job))?
        };
        Some(Job::clone(&job))
    }

    /// Keeps `job` under `id` for `ttl`.
    pub fn put(&self, id: &str, job: &Job) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.capacity {
            // Full: the expired go first; if all are fresh, start over (a burst of distinct
            // jobs is what Redis is for).
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(id.to_string(), (Instant::now(), Arc::new(job.clone())));
    }

    /// Drops `id` (this instance changed it).
    pub fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(title: &str) -> Job {
        Job {
            id: "j".into(),
            company_id: "c".into(),
            version: 1,
            deleted: false,
            state: crate::domain::JobState::Published,
            fields: crate::domain::JobFields {
                title: title.into(),
                ..Default::default()
            },
            creator: "u".into(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
            published_at: None,
        }
    }

    #[test]
    fn entries_expire_and_are_forgotten() {
        let hot = HotJobs::new(Duration::from_millis(50), 10);
        hot.put("a", &job("A"));
        assert_eq!(hot.get("a").map(|j| j.fields.title), Some("A".to_string()));
        hot.forget("a");
        assert!(hot.get("a").is_none());
        hot.put("b", &job("B"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(hot.get("b").is_none(), "older than the ttl");
    }

    #[test]
    fn stays_within_capacity_and_off_when_ttl_is_zero() {
        let hot = HotJobs::new(Duration::from_secs(60), 3);
        for i in 0..10 {
            hot.put(&i.to_string(), &job("x"));
        }
        assert!(hot.entries.read().map(|e| e.len()).unwrap_or(99) <= 3);
        let off = HotJobs::new(Duration::ZERO, 3);
        off.put("a", &job("A"));
        assert!(off.get("a").is_none());
    }
}
