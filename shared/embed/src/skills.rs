//! The skill vocabulary of the mesh: one canonical name per skill and the ways people write it,
//! in English and Chinese (`JS` is JavaScript, `k8s` and `容器编排` are Kubernetes, `机器学习` is
//! machine learning), for a recruiting platform's usual roles: backend, frontend, mobile, data,
//! machine learning, operations, testing, product and design.
//!
//! The resume service analyses resumes with it and the matching service embeds texts with it,
//! so a skill has the same name everywhere. Canonical names are in the search normal form of
//! `talentmesh_text` (lower case, simplified Chinese), as jobs key their skills.

/// (canonical name, aliases), every alias in the `talentmesh_text::normalise_for_search` form.
/// Aliases are matched case-insensitively; ASCII ones only as whole words (so `go` is not found
/// in `google`), Chinese ones anywhere (Chinese has no spaces). The order is the order
/// [`extract`] answers in: new skills go at the end. A Chinese alias is found inside any longer
/// word, so none may be a common piece of other words (`服务` is in `微服务`; `后端` alone is in
/// `后端经验`, which names no skill).
pub(crate) const VOCABULARY: &[(&str, &[&str])] = &[
    ("javascript", &["javascript", "js", "ecmascript", "es6"]),
    ("typescript", &["typescript", "ts"]),
    ("kubernetes", &["kubernetes", "k8s", "容器编排"]),
    ("go", &["go", "golang"]),
    ("rust", &["rust"]),
    ("python", &["python", "py", "python3"]),
    ("java", &["java", "jvm"]),
    ("c++", &["c++", "cpp"]),
    ("c#", &["c#", "csharp", ".net"]),
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
    (
        "spring",
        &["spring", "springboot", "spring boot", "spring cloud"],
    ),
    ("machine learning", &["machine learning", "ml", "机器学习"]),
    ("deep learning", &["deep learning", "深度学习"]),
    (
        "data analysis",
        &["data analysis", "data analytics", "数据分析"],
    ),
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
        &[
            "product management",
            "product manager",
            "产品管理",
            "产品经理",
        ],
    ),
    // Frontend and mobile.
    ("html", &["html", "html5"]),
    ("css", &["css", "css3", "scss", "sass"]),
    ("angular", &["angular", "angularjs"]),
    ("webpack", &["webpack", "vite"]),
    (
        "frontend development",
        &[
            "frontend development",
            "frontend",
            "front-end",
            "前端开发",
            "前端",
        ],
    ),
    (
        "mini programs",
        &["mini program", "mini programs", "小程序"],
    ),
    ("ios", &["ios", "ios开发"]),
    ("android", &["android", "安卓"]),
    ("swift", &["swift", "swiftui"]),
    ("kotlin", &["kotlin"]),
    ("flutter", &["flutter"]),
    // Backend.
    (
        "backend development",
        &["backend development", "backend", "back-end", "后端开发"],
    ),
    (
        "full stack development",
        &["full stack", "full-stack", "fullstack", "全栈"],
    ),
    ("c", &["c语言", "ansi c"]),
    ("php", &["php", "laravel"]),
    ("ruby", &["ruby", "ruby on rails", "rails"]),
    ("scala", &["scala"]),
    ("django", &["django"]),
    ("flask", &["flask", "fastapi"]),
    ("mongodb", &["mongodb", "mongo"]),
    ("elasticsearch", &["elasticsearch", "elk"]),
    ("rabbitmq", &["rabbitmq"]),
    ("nginx", &["nginx"]),
    ("graphql", &["graphql"]),
    ("restful api", &["restful", "rest api", "restful api"]),
    ("high concurrency", &["high concurrency", "高并发"]),
    (
        "system design",
        &["system design", "系统设计", "架构设计", "系统架构"],
    ),
    (
        "algorithms",
        &["algorithms", "data structures", "算法", "数据结构"],
    ),
    (
        "embedded systems",
        &["embedded", "embedded systems", "嵌入式"],
    ),
    // Cloud and operations.
    ("gcp", &["gcp", "google cloud"]),
    ("azure", &["azure"]),
    ("alibaba cloud", &["alibaba cloud", "aliyun", "阿里云"]),
    ("terraform", &["terraform"]),
    (
        "ci/cd",
        &[
            "ci/cd",
            "cicd",
            "continuous integration",
            "continuous delivery",
            "持续集成",
            "持续交付",
        ],
    ),
    ("jenkins", &["jenkins"]),
    ("devops", &["devops", "sre", "运维开发"]),
    ("git", &["git", "github", "gitlab"]),
    ("shell", &["shell", "bash", "shell脚本"]),
    (
        "information security",
        &[
            "information security",
            "cybersecurity",
            "网络安全",
            "信息安全",
        ],
    ),
    // Testing.
    (
        "software testing",
        &[
            "software testing",
            "qa",
            "quality assurance",
            "软件测试",
            "测试开发",
            "自动化测试",
        ],
    ),
    // Data and machine learning.
    ("hadoop", &["hadoop", "hdfs"]),
    ("spark", &["spark", "pyspark"]),
    ("hive", &["hive"]),
    ("flink", &["flink"]),
    ("tableau", &["tableau"]),
    ("power bi", &["power bi", "powerbi"]),
    ("excel", &["excel", "电子表格"]),
    ("statistics", &["statistics", "统计学", "统计分析"]),
    (
        "data visualization",
        &["data visualization", "data visualisation", "数据可视化"],
    ),
    ("data mining", &["data mining", "数据挖掘"]),
    (
        "a/b testing",
        &["a/b testing", "a/b test", "ab testing", "a/b测试", "ab测试"],
    ),
    (
        "natural language processing",
        &["natural language processing", "nlp", "自然语言处理"],
    ),
    ("computer vision", &["computer vision", "计算机视觉"]),
    ("pytorch", &["pytorch", "torch"]),
    ("tensorflow", &["tensorflow"]),
    (
        "large language models",
        &[
            "large language models",
            "large language model",
            "llm",
            "llms",
            "大模型",
            "大语言模型",
        ],
    ),
    ("matlab", &["matlab"]),
    // Product, design and management.
    ("product design", &["product design", "产品设计"]),
    (
        "requirements analysis",
        &[
            "requirements analysis",
            "requirement analysis",
            "prd",
            "需求分析",
        ],
    ),
    ("user research", &["user research", "用户研究", "用户调研"]),
    ("prototyping", &["prototyping", "axure", "原型设计"]),
    ("figma", &["figma"]),
    (
        "ui/ux design",
        &[
            "ui/ux",
            "ui design",
            "ux design",
            "ux",
            "交互设计",
            "ui设计",
        ],
    ),
    (
        "user growth",
        &["user growth", "growth hacking", "用户增长"],
    ),
    (
        "project management",
        &["project management", "pmp", "项目管理"],
    ),
    ("agile", &["agile", "scrum", "敏捷开发"]),
    ("english", &["english", "英语"]),
];

/// Every skill: (canonical name, aliases in normal form), in vocabulary order.
pub fn vocabulary() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
    VOCABULARY.iter().copied()
}

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

/// Whether `name` is a known skill or one of its aliases (in any width, case or script).
pub fn is_known(name: &str) -> bool {
    let lowered = talentmesh_text::search_key(name);
    VOCABULARY
        .iter()
        .any(|(_, aliases)| aliases.contains(&lowered.as_str()))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '.')
}

/// How often `alias` occurs in `text` (both in normal form): whole words for ASCII aliases.
fn occurrences(text: &str, alias: &str) -> usize {
    if !alias.is_ascii() {
        return text.matches(alias).count();
    }
    let mut found = 0;
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
            found += 1;
        }
        from = start + alias.len().max(1);
    }
    found
}

/// The known skills a free text mentions, by canonical name, in vocabulary order.
pub fn extract(text: &str) -> Vec<String> {
    mention_counts(text)
        .into_iter()
        .map(|(canon, _)| canon.to_string())
        .collect()
}

/// The known skills a free text mentions with how often, in vocabulary order: (canonical name,
/// mentions ≥ 1). A skill written several ways counts as often as its most used alias, so
/// `spring boot` is one mention, not one of `spring` and one of `spring boot`.
pub fn mention_counts(text: &str) -> Vec<(&'static str, usize)> {
    count_mentions(VOCABULARY, text)
}

/// [`mention_counts`] over any vocabulary of (canonical name, aliases in normal form), matched
/// the same way (ASCII aliases as whole words, Chinese ones anywhere); shared with
/// [`crate::seniority`].
pub(crate) fn count_mentions(
    vocabulary: &'static [(&'static str, &'static [&'static str])],
    text: &str,
) -> Vec<(&'static str, usize)> {
    let lowered = talentmesh_text::normalise_for_search(text);
    vocabulary
        .iter()
        .filter_map(|(canon, aliases)| {
            let n = aliases
                .iter()
                .map(|a| occurrences(&lowered, a))
                .max()
                .unwrap_or(0);
            (n > 0).then_some((*canon, n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_vocabulary_is_large_normalised_and_unambiguous() {
        assert!(VOCABULARY.len() >= 60, "{}", VOCABULARY.len());
        let mut seen = HashSet::new();
        for (canon, aliases) in VOCABULARY {
            assert_eq!(talentmesh_text::search_key(canon), *canon);
            for alias in *aliases {
                assert_eq!(talentmesh_text::search_key(alias), *alias, "{alias}");
                assert!(seen.insert(*alias), "{alias} names two skills");
            }
        }
    }

    #[test]
    fn synonyms_in_both_languages_meet_at_one_name() {
        for k in ["k8s", "Kubernetes", "容器编排", "Ｋ８Ｓ", "容器編排"] {
            assert_eq!(canonical(k), "kubernetes", "{k}");
            assert!(is_known(k));
        }
        assert_eq!(canonical("数据分析"), "data analysis");
        assert_eq!(canonical("產品經理"), "product management");
        assert_eq!(canonical("Elixir"), "elixir");
        assert!(!is_known("Elixir"));
    }

    #[test]
    fn mentions_are_counted() {
        assert_eq!(
            mention_counts("K8s, k8s and Spring Boot; 容器编排"),
            [("kubernetes", 2), ("spring", 1)]
        );
        assert_eq!(
            extract("负责前端开发与小程序，熟悉数据可视化"),
            [
                "frontend development",
                "mini programs",
                "data visualization"
            ]
        );
        assert!(mention_counts("").is_empty());
    }
}
