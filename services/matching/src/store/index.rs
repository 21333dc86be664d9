//! The in-memory vector index of each instance: every live document's vector (jobs and resumes
//! in two corpora) with the document's filter fields, rebuilt from PostgreSQL at start and
//! kept fresh by reading the embeddings written since (`seq`), so a job published on any
//! instance is searchable on every instance within the refresh period plus the embedding time.
//!
//! Search is by cosine (vectors are unit length) with a filter over the document's fields;
//! `talentmesh-vector` chooses exact or approximate (HNSW) search by corpus size.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use talentmesh_proto::matching::v1 as pb;
use talentmesh_vector::{IndexConfig, VectorError, VectorIndex};

use super::documents::Kind;
use super::embeddings::{Embedded, Embeddings};

/// A document found by a search, with its cosine similarity to the query.
#[derive(Debug, Clone)]
pub struct Found {
    pub document: Arc<pb::MatchDocument>,
    pub similarity: f32,
}

/// One corpus: the vectors and, by key, the documents (without their text).
struct Corpus {
    vectors: VectorIndex,
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    keys: HashMap<String, u64>,
    documents: HashMap<u64, Arc<pb::MatchDocument>>,
    next: u64,
}

impl Corpus {
    fn new(dimensions: usize) -> Result<Corpus, VectorError> {
        Ok(Corpus {
            vectors: VectorIndex::new(dimensions, IndexConfig::default())?,
            entries: RwLock::new(Entries::default()),
        })
    }

    fn apply(&self, row: Embedded) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if row.deleted || row.vector.is_empty() {
            if let Some(key) = entries.keys.remove(&row.id) {
                entries.documents.remove(&key);
                self.vectors.remove(key);
            }
            return;
        }
        let key = match entries.keys.get(&row.id) {
            Some(k) => *k,
            None => {
                entries.next += 1;
                let k = entries.next;
                entries.keys.insert(row.id.clone(), k);
                k
            }
        };
        if let Err(e) = self.vectors.upsert(key, &row.vector) {
            tracing::warn!(id = %row.id, error = %e, "vector not indexed");
            entries.keys.remove(&row.id);
            return;
        }
        let mut document = row.document;
        document.text.clear();
        entries.documents.insert(key, Arc::new(document));
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(&pb::MatchDocument) -> bool,
    ) -> Vec<Found> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let filter = |key: u64| entries.documents.get(&key).is_some_and(|d| keep(d));
        let hits = match self.vectors.search(query, k, &filter) {
            Ok(hits) => hits,
            Err(e) => {
                tracing::warn!(error = %e, "vector search failed");
                return Vec::new();
            }
        };
        hits.into_iter()
            .filter_map(|h| {
                entries.documents.get(&h.key).map(|d| Found {
                    document: d.clone(),
                    similarity: h.score,
                })
            })
            .collect()
    }

    fn vector(&self, name: &str) -> Option<Vec<f32>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let key = entries.keys.get(name)?;
        self.vectors.get(*key)
    }

    fn len(&self) -> usize {
        self.vectors.len()
    }
}

/// The index over jobs and resumes.
pub struct Index {
    embeddings: Embeddings,
    jobs: Corpus,
    resumes: Corpus,
    seq: AtomicI64,
    loaded: AtomicBool,
}

impl Index {
    /// An empty index of `dimensions`-long vectors over `embeddings`.
    ///
    /// Errors: [`VectorError::Config`] for 0 dimensions.
    pub fn new(embeddings: Embeddings, dimensions: usize) -> Result<Index, VectorError> {
        Ok(Index {
            embeddings,
            jobs: Corpus::new(dimensions)?,
            resumes: Corpus::new(dimensions)?,
            seq: AtomicI64::new(0),
            loaded: AtomicBool::new(false),
        })
    }

    /// Reads every embedding written since the last read (at start: all of them) and applies
    /// it. Returns how many rows were read.
    pub async fn refresh(&self) -> talentmesh_storage::Result<usize> {
        let mut total = 0;
        loop {
            let from = self.seq.load(Ordering::Acquire);
            let rows = self.embeddings.changed_since(from, 5_000).await?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            total += rows.len();
            for row in rows {
                match Kind::of(&row.id) {
                    Kind::Job => self.jobs.apply(row),
                    Kind::Resume => self.resumes.apply(row),
                }
            }
            self.seq.store(last, Ordering::Release);
        }
        self.loaded.store(true, Ordering::Release);
        Ok(total)
    }

    /// Keeps the index fresh until the process ends: a refresh every `every`.
    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let index = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = index.refresh().await {
                    tracing::warn!(error = %e, "index refresh failed; retrying");
                }
            }
        })
    }

    /// Whether the start-up load has finished.
    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The `k` most similar jobs passing `keep`.
    pub fn search_jobs(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(&pb::MatchDocument) -> bool,
    ) -> Vec<Found> {
        self.jobs.search(query, k, keep)
    }

    /// The `k` most similar resumes passing `keep`.
    pub fn search_resumes(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(&pb::MatchDocument) -> bool,
    ) -> Vec<Found> {
        self.resumes.search(query, k, keep)
    }

    /// The indexed vector of a job or resume.
    pub fn vector(&self, name: &str) -> Option<Vec<f32>> {
        match Kind::of(name) {
            Kind::Job => self.jobs.vector(name),
            Kind::Resume => self.resumes.vector(name),
        }
    }

    /// (jobs, resumes) indexed.
    pub fn sizes(&self) -> (usize, usize) {
        (self.jobs.len(), self.resumes.len())
    }
}
