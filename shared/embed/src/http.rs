//! A client of an OpenAI-compatible embeddings server (`POST {base}/v1/embeddings`), such as a
//! multilingual E5 model served locally (`multilingual-e5-small`, 384 dimensions).
//!
//! Tests: the project does not mock the model server, and none is installed yet, so only the
//! request body ([`request_body`]) and the parsing of answers ([`parse_answer`]) are unit-tested,
//! on literal JSON; the HTTP exchange itself is untested until a real server runs.

use std::time::Duration;

use serde::Deserialize;

use crate::vector::l2_normalise;
use crate::{EmbedError, Embedder};

/// Where and how to reach an embeddings server.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The server's base URL without the path, `http://127.0.0.1:8090` say; `/v1/embeddings`
    /// is appended (a trailing `/` is fine).
    pub base_url: String,
    /// The `model` sent with every request, `intfloat/multilingual-e5-small` say. E5 models
    /// expect `query: ` or `passage: ` before each text; callers add it where they want it.
    pub model: String,
    /// The length of the model's vectors (384 for multilingual-e5-small); answers of another
    /// length are refused as [`EmbedError::BadAnswer`].
    pub dimensions: usize,
    /// The longest one request may take, connecting included.
    pub timeout: Duration,
    /// The most texts sent in one request; longer lists are sent in several, one after another.
    pub max_batch: usize,
}

/// An [`Embedder`] backed by an OpenAI-compatible embeddings server. Cheap to clone (the HTTP
/// connection pool is shared). Vectors are L2-normalised here whatever the server answers.
#[derive(Debug, Clone)]
pub struct HttpEmbedder {
    client: reqwest::Client,
    url: String,
    model: String,
    name: String,
    dimensions: usize,
    max_batch: usize,
}

impl HttpEmbedder {
    /// A client for `config`. [`EmbedError::Config`] for an empty base URL or model, zero
    /// dimensions, a zero batch size, or an HTTP client that cannot be built.
    pub fn new(config: HttpConfig) -> Result<HttpEmbedder, EmbedError> {
        let base = config.base_url.trim().trim_end_matches('/');
        if base.is_empty() || config.model.trim().is_empty() {
            return Err(EmbedError::Config("base_url and model must be set".into()));
        }
        if config.dimensions == 0 || config.max_batch == 0 {
            return Err(EmbedError::Config(
                "dimensions and max_batch must be at least 1".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| EmbedError::Config(e.to_string()))?;
        Ok(HttpEmbedder {
            client,
            url: format!("{base}/v1/embeddings"),
            name: format!("http:{}", config.model),
            model: config.model,
            dimensions: config.dimensions,
            max_batch: config.max_batch,
        })
    }

    /// One request for at most `max_batch` texts.
    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let unreachable = |e: reqwest::Error| EmbedError::Unreachable {
            url: self.url.clone(),
            reason: e.to_string(),
        };
        let response = self
            .client
            .post(&self.url)
            .json(&request_body(&self.model, texts))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let excerpt: String = text.chars().take(200).collect();
            return Err(EmbedError::BadAnswer(format!("status {status}: {excerpt}")));
        }
        parse_answer(&body, texts.len(), self.dimensions)
    }
}

impl Embedder for HttpEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.max_batch) {
            out.extend(self.embed_batch(batch).await?);
        }
        Ok(out)
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// `http:{model}`.
    fn name(&self) -> &str {
        &self.name
    }
}

/// The JSON body of one request: `{"model": model, "input": [texts...]}`.
pub(crate) fn request_body(model: &str, texts: &[String]) -> serde_json::Value {
    serde_json::json!({ "model": model, "input": texts })
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

/// The vectors of an answer body `{"data": [{"index": i, "embedding": [...]}, ...]}`, put in
/// `index` order (servers may answer in any order), each L2-normalised. `expected` is the
/// number of texts sent, `dimensions` the vector length. [`EmbedError::BadAnswer`] for JSON of
/// another shape, an index out of range, repeated or missing, a vector of another length, or a
/// non-finite value.
pub(crate) fn parse_answer(
    body: &[u8],
    expected: usize,
    dimensions: usize,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| EmbedError::BadAnswer(format!("not an embeddings answer: {e}")))?;
    let mut out: Vec<Option<Vec<f32>>> = vec![None; expected];
    for item in answer.data {
        let slot = out.get_mut(item.index).ok_or_else(|| {
            EmbedError::BadAnswer(format!("index {} of {expected} texts", item.index))
        })?;
        if slot.is_some() {
            return Err(EmbedError::BadAnswer(format!("index {} twice", item.index)));
        }
        if item.embedding.len() != dimensions {
            return Err(EmbedError::BadAnswer(format!(
                "vector of {} values, expected {dimensions}",
                item.embedding.len()
            )));
        }
        if item.embedding.iter().any(|x| !x.is_finite()) {
            return Err(EmbedError::BadAnswer("non-finite value".into()));
        }
        let mut v = item.embedding;
        l2_normalise(&mut v);
        *slot = Some(v);
    }
    out.into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| EmbedError::BadAnswer(format!("no vector for index {i}"))))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_openai_shaped() {
        let body = request_body("e5", &["query: k8s".to_string(), "后端".to_string()]);
        assert_eq!(
            body,
            serde_json::json!({"model": "e5", "input": ["query: k8s", "后端"]})
        );
    }

    #[test]
    fn answers_are_ordered_by_index_and_normalised() {
        let body = br#"{"object":"list","model":"e5","data":[
            {"object":"embedding","index":1,"embedding":[0.0,2.0]},
            {"object":"embedding","index":0,"embedding":[3.0,4.0]}],
            "usage":{"prompt_tokens":4,"total_tokens":4}}"#;
        assert_eq!(
            parse_answer(body, 2, 2),
            Ok(vec![vec![0.6, 0.8], vec![0.0, 1.0]])
        );
    }

    #[test]
    fn bad_answers_are_refused() {
        let bad = |body: &[u8]| matches!(parse_answer(body, 2, 2), Err(EmbedError::BadAnswer(_)));
        assert!(bad(b"<html>502</html>"));
        assert!(bad(br#"{"error":{"message":"overloaded"}}"#));
        // Missing, repeated, out of range, wrong length, non-numeric.
        assert!(bad(br#"{"data":[{"index":0,"embedding":[1,0]}]}"#));
        assert!(bad(
            br#"{"data":[{"index":0,"embedding":[1,0]},{"index":0,"embedding":[1,0]}]}"#
        ));
        assert!(bad(
            br#"{"data":[{"index":0,"embedding":[1,0]},{"index":2,"embedding":[1,0]}]}"#
        ));
        assert!(bad(
            br#"{"data":[{"index":0,"embedding":[1,0]},{"index":1,"embedding":[1,0,0]}]}"#
        ));
        assert!(bad(
            br#"{"data":[{"index":0,"embedding":[1,0]},{"index":1,"embedding":["x",0]}]}"#
        ));
    }

    #[test]
    fn configuration_is_checked() {
        let config = HttpConfig {
            base_url: "http://127.0.0.1:8090/".into(),
            model: "intfloat/multilingual-e5-small".into(),
            dimensions: 384,
            timeout: Duration::from_secs(10),
            max_batch: 32,
        };
        let e = HttpEmbedder::new(config.clone()).unwrap();
        assert_eq!(e.url, "http://127.0.0.1:8090/v1/embeddings");
        assert_eq!(
            (e.dimensions(), e.name()),
            (384, "http:intfloat/multilingual-e5-small")
        );
        for broken in [
            HttpConfig {
                base_url: " ".into(),
                ..config.clone()
            },
            HttpConfig {
                dimensions: 0,
                ..config.clone()
            },
            HttpConfig {
                max_batch: 0,
                ..config
            },
        ] {
            assert!(matches!(
                HttpEmbedder::new(broken),
                Err(EmbedError::Config(_))
            ));
        }
    }
}
