//! The skill vocabulary: one canonical name per skill and the ways people write it, in English
//! and Chinese (`JS` is JavaScript, `k8s` is Kubernetes, `机器学习` is machine learning).

/// (canonical name, aliases). Aliases are matched case-insensitively; ASCII ones only as whole
/// words (so `go` is not found in `google`), Chinese ones anywhere (Chinese has no spaces).
const VOCABULARY: &[(&str, &[&str])] = &[
    ("javascript", &["javascript", "js", "ecmascript"]),
    ("typescript", &["typescript", "ts"]),
    ("kubernetes", &["kubernetes", "k8s"]),
    ("go", &["go", "golang"]),
    ("rust", &["rust"]),
    ("python", &["python", "py"]),
    ("java", &["java"]),
    ("c++", &["c++", "cpp"]),
    ("c#", &["c#", "csharp"]),
    ("sql", &["sql"]),
    ("postgresql", &["postgresql", "postgres"]),
    ("mysql", &["mysql", "mariadb"]),
    ("redis", &["redis"]),
    ("kafka", &["kafka"]),
    ("docker", &["docker", "容器化"]),
    ("linux", &["linux"]),
    ("react", &["react", "reactjs", "react.js"]),
    ("vue", &["vue", "vuejs", "vue.js"]),
    ("node.js", &["node.js", "nodejs", "node"]),
    ("spring", &["spring", "springboot", "spring boot"]),
    ("machine learning", &["machine learning", "ml", "机器学习"]),
    ("deep learning", &["deep learning", "深度学习"]),
    ("data analysis", &["data analysis", "数据分析"]),
    (
        "distributed systems",
        &["distributed systems", "分布式系统", "分布式"],
    ),
    (
        "microservices",
        &["microservices", "microservice", "微服务"],
    ),
    ("aws", &["aws", "amazon web services"]),
    ("grpc", &["grpc"]),
    ("neo4j", &["neo4j"]),
    (
        "product management",
        &["product management", "产品管理", "产品经理"],
    ),
];

/// The canonical name of a skill as someone wrote it: a known alias maps to its skill, anything
/// else is kept (in the search normal form of `talentmesh_text`: trimmed, lower-cased,
/// full-width and traditional forms folded, as jobs key their skills) as a skill of its own.
pub fn canonical(name: &str) -> String {
    let lowered = talentmesh_text::search_key(name);
    VOCABULARY
        .iter()
        .find(|(_, aliases)| aliases.contains(&lowered.as_str()))
        .map_or(lowered, |(canon, _)| (*canon).to_string())
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '.')
}

/// Whether `alias` occurs in `text` (both lower-case): whole words for ASCII aliases.
fn mentions(text: &str, alias: &str) -> bool {
    if !alias.is_ascii() {
        return text.contains(alias);
    }
    let mut from = 0;
    while let Some(pos) = text[from..].find(alias) {
        let start = from + pos;
        let end = start + alias.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        // A trailing '.' ends a sentence, not a name ("… and Rust.").
        let after_ok = match after {
            None => true,
            Some('.') => text[end + 1..]
                .chars()
                .next()
                .is_none_or(|c| !is_word_char(c)),
            Some(c) => !is_word_char(c),
        };
        if before.is_none_or(|c| !is_word_char(c)) && after_ok {
            return true;
        }
        from = start + alias.len().max(1);
    }
    false
}

/// The known skills a free text mentions, by canonical name, in vocabulary order.
pub fn extract(text: &str) -> Vec<String> {
    let lowered = talentmesh_text::normalise_for_search(text);
    VOCABULARY
        .iter()
        .filter(|(_, aliases)| aliases.iter().any(|a| mentions(&lowered, a)))
        .map(|(canon, _)| (*canon).to_string())
        .collect()
}

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
