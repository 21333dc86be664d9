//! The public job search: the tokens documents and queries are made of, and the search
//! question as a request asks it, checked into a [`Query`] and a page.

use talentmesh_mesh::FieldViolation;
use talentmesh_storage::paging::{Pages, SortKey};

use super::city::known_city;
use super::job::{RecruitType, MAX_SKILL_LEN};
use super::names::{company_of, is_id};
use super::salary::search_range_ok;

/// The longest search query, in characters.
pub const MAX_QUERY: usize = 100;
/// The longest `order_by`, in characters ("relevance" is 9).
const MAX_ORDER_BY: usize = 16;

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
    /// The previous page's `next_page_token` (bound to this search: see [`Page`]), or empty.
    pub page_token: String,
}

/// A checked search: what the index is asked for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The query text's [`tokens`]; every one must be in a match.
    pub tokens: Vec<String>,
    /// The query has text but no searchable word in it (only emoji, symbols or punctuation):
    /// it matches no job, as a full-text match of no terms does, rather than every job.
    pub matches_nothing: bool,
    pub city_code: String,
    pub skill: String,
    pub salary_min: i32,
    pub salary_max: i32,
    pub recruit_type: i32,
    pub company_id: String,
    /// Title matches first (newest first within each tier), or newest first only.
    pub by_relevance: bool,
}

/// A job's place in a search's order, and so where a page ends: relevance tier first (0:
/// every query word in the title; 1: elsewhere; always 0 by recency or without words), then
/// newest first (`published_at`, microseconds since the epoch), then id ascending.
///
/// A keyset on it keeps pages stable while jobs are published: a new job sorts before the
/// page the walk is on (it is the newest of its tier) or after it, never shifting the rest.
/// A job whose key changes mid-walk (its title edited across tiers, republished) may be
/// seen twice or not at all, as in any keyset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchKey {
    pub tier: u8,
    pub published_at: i64,
    pub id: String,
}

impl SortKey for SearchKey {
    fn parts(&self) -> Vec<String> {
        vec![
            self.tier.to_string(),
            self.published_at.to_string(),
            self.id.clone(),
        ]
    }

    fn from_parts(parts: &[&str]) -> Option<Self> {
        match parts {
            [tier, at, id] if is_id(id) => Some(SearchKey {
                tier: tier.parse().ok().filter(|t| *t <= 1)?,
                published_at: at.parse().ok()?,
                id: (*id).to_string(),
            }),
            _ => None,
        }
    }
}

/// Which page of the results: `limit` jobs after `after` (None: the first page); and the
/// search's page tokens, bound to its query, filters and order, so a token sent with another
/// search is refused (INVALID_ARGUMENT on `page_token`). The query is bound as sent.
#[derive(Debug, Clone)]
pub struct Page {
    pub after: Option<SearchKey>,
    pub limit: i64,
    pub pages: Pages,
}

impl Page {
    /// The token of the page after the one ending at `last`.
    pub fn next_token(&self, last: &SearchKey) -> String {
        self.pages.token(last)
    }
}

impl SearchRequest {
    /// The query and page asked for, or every field that is wrong (paths are the request's).
    pub fn parse(self) -> Result<(Query, Page), Vec<FieldViolation>> {
        let mut problems = Vec::new();
        // Every string is capped here, not only at the gateway: raw gRPC takes up to the
        // message limit (a 3 MiB skill once reached the index query).
        for (field, value, max) in [
            ("query", &self.query, MAX_QUERY),
            ("skill", &self.skill, MAX_SKILL_LEN),
            ("order_by", &self.order_by, MAX_ORDER_BY),
        ] {
            problems.extend(super::capped_text(
                field,
                value,
                max,
                talentmesh_text::Lines::Single,
            ));
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
            // Already refused when too long.
            o if o.len() > MAX_ORDER_BY => true,
            _ => {
                problems.push(FieldViolation::new("order_by", "relevance or recency"));
                true
            }
        };
        let pages = Pages::of("job.search")
            .bind(&self.query)
            .bind(&self.city_code)
            .bind(&self.skill)
            .bind(self.salary_min)
            .bind(self.salary_max)
            .bind(self.recruit_type)
            .bind(&self.company)
            .bind(by_relevance);
        let after = match super::page_token_violation(&self.page_token) {
            Some(v) => {
                problems.push(v);
                None
            }
            None => pages.parse(&self.page_token).unwrap_or_else(|v| {
                problems.push(v);
                None
            }),
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
        let tokens = tokens(&self.query);
        Ok((
            Query {
                matches_nothing: tokens.is_empty() && !self.query.trim().is_empty(),
                tokens,
                city_code: self.city_code,
                skill: self.skill,
                salary_min: self.salary_min,
                salary_max: self.salary_max,
                recruit_type: self.recruit_type,
                company_id,
                by_relevance,
            },
            Page {
                after,
                limit,
                pages,
            },
        ))
    }
}

/// Skill names as the index and the graph keep them: the search normal form
/// (`talentmesh_text::search_key`), so `Ｒｕｓｔ`, `RUST` and ` rust ` are one skill.
pub fn skill_key(s: &str) -> String {
    talentmesh_text::search_key(s)
}

/// Search terms of a query: the shared normal form (NFKC, lower case, simplified Chinese), cut
/// into words and Chinese character pairs (`talentmesh_text::query_tokens`). `Rust工程師` →
/// rust, 工程, 程师 — all among the [`document_tokens`] of `高级Rust后端工程师`.
pub fn tokens(text: &str) -> Vec<String> {
    talentmesh_text::query_tokens(text)
}

/// Terms the index keeps for a job's text: words, and every Chinese character and character
/// pair (`talentmesh_text::document_tokens`), so one-character queries find it too.
pub fn document_tokens(text: &str) -> Vec<String> {
    talentmesh_text::document_tokens(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_queries_find_longer_chinese_titles() {
        let doc = document_tokens("高级Rust后端工程师");
        assert!(tokens("Rust工程师").iter().all(|t| doc.contains(t)));
        assert!(tokens("ｒｕｓｔ").iter().all(|t| doc.contains(t)));
        assert!(tokens("工程師").iter().all(|t| doc.contains(t)));
        assert!(tokens("师").iter().all(|t| doc.contains(t)));
        assert!(!tokens("Java工程师").iter().all(|t| doc.contains(t)));
        let en = document_tokens("Senior Rust Engineer");
        assert!(tokens("rust engineer").iter().all(|t| en.contains(t)));
    }

    #[test]
    fn programming_names_survive() {
        assert_eq!(
            tokens("C++ / C# / Node.js, k8s."),
            ["c++", "c#", "node.js", "k8s"]
        );
        assert_eq!(tokens("招"), ["招"]);
        assert_eq!(skill_key(" Ｒｕｓｔ "), "rust");
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
        let asked = |order_by: &str, page_token: String| SearchRequest {
            query: "Rust工程师".into(),
            order_by: order_by.into(),
            page_token,
            ..Default::default()
        };
        let Ok((q, first)) = asked("", String::new()).parse() else {
            panic!("a good search")
        };
        assert_eq!(q.tokens, ["rust", "工程", "程师"]);
        assert_eq!((first.after.clone(), first.limit), (None, 20));
        let last = SearchKey {
            tier: 1,
            published_at: 1_764_000_000_000_000,
            id: "01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf".into(),
        };
        let token = first.next_token(&last);
        let Ok((_, next)) = asked("relevance", token.clone()).parse() else {
            panic!("the same search, its order named")
        };
        assert_eq!(next.after, Some(last));
        let Err(refused) = asked("recency", token).parse() else {
            panic!("a token of the relevance order, sent by recency")
        };
        assert_eq!(refused[0].field, "page_token");
    }
}
