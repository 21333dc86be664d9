//! An embedder wrapper that remembers vectors, so every row built on the model server costs
//! one pass over it (the model is ~250 ms a text on the local server).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use talentmesh_embed::{EmbedError, EmbedRole, Embedder};

/// An embedder that asks `inner` once per (role, text) and answers later calls from memory,
/// so the rows built on the model cost one pass over the server. Clones share the memory.
#[derive(Clone)]
pub struct Cached<E> {
    /// The embedder asked on a miss.
    pub inner: E,
    /// The vectors seen so far, shared by clones.
    pub memory: Arc<Mutex<Memory>>,
}

/// The vectors [`Cached`] has seen, by role and text.
pub type Memory = HashMap<(EmbedRole, String), Vec<f32>>;

impl<E: Embedder + Sync> Embedder for Cached<E> {
    async fn embed(&self, role: EmbedRole, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let missing: Vec<String> = {
            let memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            texts
                .iter()
                .filter(|t| !memory.contains_key(&(role, (*t).clone())))
                .cloned()
                .collect()
        };
        let fresh = if missing.is_empty() {
            Vec::new()
        } else {
            self.inner.embed(role, &missing).await?
        };
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        for (t, v) in missing.into_iter().zip(fresh) {
            memory.insert((role, t), v);
        }
        texts
            .iter()
            .map(|t| {
                memory
                    .get(&(role, t.clone()))
                    .cloned()
                    .ok_or_else(|| EmbedError::BadAnswer("the embedder skipped a text".to_string()))
            })
            .collect()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use talentmesh_embed::BuiltinEmbedder;

    use super::*;

    #[tokio::test]
    async fn the_cache_answers_what_the_embedder_answers() {
        let cached = Cached {
            inner: BuiltinEmbedder::new(),
            memory: Arc::default(),
        };
        let texts = ["Rust 工程师", "k8s", "Rust 工程师"].map(String::from);
        let first = cached.embed(EmbedRole::Query, &texts).await.unwrap();
        let again = cached.embed(EmbedRole::Query, &texts[1..]).await.unwrap();
        let direct = BuiltinEmbedder::new()
            .embed(EmbedRole::Query, &texts)
            .await
            .unwrap();
        assert_eq!(first, direct);
        assert_eq!(again, direct[1..]);
        assert_eq!(cached.memory.lock().unwrap().len(), 2);
    }
}
