//! The public job search: the tokens documents and queries are made of, and the search
//! question as a request asks it, checked into a [`Query`] and a page.

use std::collections::HashSet;

use talentmesh_mesh::FieldViolation;

use super::city::known_city;
use super::job::RecruitType;
use super::names::company_of;
use super::salary::search_range_ok;

/// A search as asked (the wire's fields, unchecked).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Free text, at most 100 characters.
    pub query: String,
    pub city_code: String,
    pub skill: String,
    /// CNY a month; 0 for open.
    pub salary_min: i32,
    /// CNY a month; 0 for open.
    pub salary_max: i32,
    /// A `talentmesh.job.v1.RecruitType` number, 0 for any.
    pub recruit_type: i32,
    /// `companies/{c}`, or empty for every company.
    pub company: String,
    /// "relevance" (or empty) or "recency".
    pub order_by: String,
    pub page_size: i32,
    /// "o{offset}" from the previous page, or empty.
    pub page_token: String,
}

/// A checked search: what the index is asked for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The query text's [`tokens`]; every one must be in a match.
    pub tokens: Vec<String>,
    pub city_code: String,
    pub skill: String,
    pub salary_min: i32,
    pub salary_max: i32,
    pub recruit_type: i32,
    pub company_id: String,
    /// Title matches first (newest first within each tier), or newest first only.
    pub by_relevance: bool,
}

/// Which page of the results: `limit` jobs from `offset`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Page {
    /// The token of the page after this one.
    pub fn next_token(self) -> String {
        format!("o{}", self.offset + self.limit)
    }
}

impl SearchRequest {
    /// The query and page asked for, or every field that is wrong (paths are the request's).
    pub fn parse(self) -> Result<(Query, Page), Vec<FieldViolation>> {
        let mut problems = Vec::new();
        if self.query.chars().count() > 100 {
            problems.push(FieldViolation::new("query", "at most 100 characters"));
        }
        if !self.city_code.is_empty() && !known_city(&self.city_code) {
            problems.push(FieldViolation::new(
                "city_code",
                "not a known division code",
            ));
        }
        if !search_range_ok(self.salary_min, self.salary_max) {
            problems.push(FieldViolation::new(
                "salary_min",
                "0 ≤ salary_min ≤ salary_max",
            ));
        }
        if RecruitType::from_code(self.recruit_type).is_none() {
            problems.push(FieldViolation::new("recruit_type", "unknown recruit type"));
        }
        let company_id = if self.company.is_empty() {
            String::new()
        } else {
            match company_of("company", &self.company) {
                Ok(c) => c.to_string(),
                Err(v) => {
                    problems.push(v);
                    String::new()
                }
            }
        };
        let by_relevance = match self.order_by.as_str() {
            "" | "relevance" => true,
            "recency" => false,
            _ => {
                problems.push(FieldViolation::new("order_by", "relevance or recency"));
                true
            }
        };
        let offset: i64 = if self.page_token.is_empty() {
            0
        } else {
            match self
                .page_token
                .strip_prefix("o")
                .and_then(|n| n.parse().ok())
            {
                Some(n) if (0..=10_000).contains(&n) => n,
                _ => {
                    problems.push(FieldViolation::new(
                        "page_token",
                        "not a token from this search",
                    ));
                    0
                }
            }
        };
        let limit = match self.page_size {
            0 => 20,
            n if n < 0 => {
                problems.push(FieldViolation::new("page_size", "must not be negative"));
                20
            }
            n => i64::from(n.min(100)),
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok((
            Query {
                tokens: tokens(&self.query),
                city_code: self.city_code,
                skill: self.skill,
                salary_min: self.salary_min,
                salary_max: self.salary_max,
                recruit_type: self.recruit_type,
                company_id,
                by_relevance,
            },
            Page { offset, limit },
        ))
    }
}

/// Skill names as the index and the graph keep them.
pub fn skill_key(s: &str) -> String {
    s.trim().to_lowercase()
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Search tokens of a text: lower-cased words of letters and digits (keeping `+`, `#` and `.`
/// inside, for C++, C#, Node.js), and overlapping character pairs of Chinese runs (a lone
/// character stands for itself). `Rust工程师` → rust, 工程, 程师 — all found in
/// `高级Rust后端工程师` (高级, rust, 后端, 端工, 工程, 程师), so "every query token in the
/// document" matches Chinese without a dictionary.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        let w = word.trim_end_matches(['.', '+', '#']).to_string();
        let keep = if word.ends_with('+') || word.ends_with('#') {
            word.clone()
        } else {
            w
        };
        if !keep.is_empty() {
            out.push(keep);
        }
        word.clear();
    };
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => out.push(run[0].to_string()),
            _ => out.extend(run.windows(2).map(|w| w.iter().collect::<String>())),
        }
        run.clear();
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() || (!word.is_empty() && matches!(c, '+' | '#' | '.')) {
            flush_run(&mut run, &mut out);
            word.push(c);
        } else {
            flush_word(&mut word, &mut out);
            flush_run(&mut run, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_run(&mut run, &mut out);
    let mut seen = HashSet::new();
    out.retain(|t| seen.insert(t.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_queries_find_longer_chinese_titles() {
        let doc = tokens("高级Rust后端工程师");
        assert_eq!(doc, ["高级", "rust", "后端", "端工", "工程", "程师"]);
        assert!(tokens("Rust工程师").iter().all(|t| doc.contains(t)));
        assert!(!tokens("Java工程师").iter().all(|t| doc.contains(t)));
        let en = tokens("Senior Rust Engineer");
        assert!(tokens("rust engineer").iter().all(|t| en.contains(t)));
    }

    #[test]
    fn programming_names_survive() {
        assert_eq!(
            tokens("C++ / C# / Node.js, k8s."),
            ["c++", "c#", "node.js", "k8s"]
        );
        assert_eq!(tokens("招"), ["招"]);
    }

    #[test]
    fn a_bad_search_names_every_field() {
        let fields: Vec<String> = SearchRequest {
            city_code: "999999".into(),
            salary_min: 5,
            salary_max: 1,
            recruit_type: 9,
            company: "acme".into(),
            order_by: "price".into(),
            page_size: -1,
            page_token: "x".into(),
            ..Default::default()
        }
        .parse()
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.field)
        .collect();
        assert_eq!(
            fields,
            [
                "city_code",
                "salary_min",
                "recruit_type",
                "company",
                "order_by",
                "page_token",
                "page_size"
            ]
        );
        let (q, page) = SearchRequest {
            query: "Rust工程师".into(),
            page_token: "o20".into(),
            ..Default::default()
        }
        .parse()
        .unwrap_or_default();
        assert_eq!(q.tokens, ["rust", "工程", "程师"]);
        assert_eq!(
            page,
            Page {
                offset: 20,
                limit: 20
            }
        );
        assert_eq!(page.next_token(), "o40");
    }
}
