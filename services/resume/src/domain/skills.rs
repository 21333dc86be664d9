//! The skill vocabulary: one canonical name per skill and the ways people write it, in English
//! and Chinese (`JS` is JavaScript, `k8s` is Kubernetes, `机器学习` is machine learning).
//!
//! The vocabulary itself lives in `talentmesh_embed::skills`, shared with matching, so resumes
//! and the matching service name skills alike; this module is the resume domain's door to it.

pub use talentmesh_embed::skills::{canonical, extract};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_meet_at_one_name() {
        assert_eq!(canonical("JS"), "javascript");
        assert_eq!(canonical(" K8s "), "kubernetes");
        assert_eq!(canonical("Golang"), "go");
        assert_eq!(canonical("Elixir"), "elixir");
    }

    #[test]
    fn free_text_in_both_languages() {
        let found = extract("五年Golang后端经验，熟悉k8s和微服务，写过一些JS, and Rust.");
        assert_eq!(
            found,
            ["javascript", "kubernetes", "go", "rust", "microservices"]
        );
        // Whole words only for ASCII names.
        assert!(extract("I worked at Google on javascriptish things").is_empty());
        assert_eq!(extract("C++ and C# and Node.js"), ["c++", "c#", "node.js"]);
        assert_eq!(extract("负责机器学习平台"), ["machine learning"]);
    }
}
