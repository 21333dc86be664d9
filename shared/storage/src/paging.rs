//! Keyset paging, the one scheme every paged RPC uses: the token names the last row of a
//! page by its sort key, so the next page starts right after it however many rows came or
//! went meanwhile (an insert never repeats or hides a row the walk has yet to reach), and
//! reading page n costs the same as reading page one.
//!
//! A token is opaque (base64url) and bound to its list and request: [`Pages`] is built from
//! the list's name and the request fields that pick and order its rows (query, filters,
//! order, parent, caller), and a token carries a fingerprint of them. A token sent with
//! another query, order or list is refused, not read as a position in a different order.
//! `page_size` is not bound: a client may change it between pages. Tokens are not signed: a
//! hand-made one can only start a walk at some position of the caller's own list.
//!
//! The sort key is any [`SortKey`]: [`Cursor`] for rows ordered by (created_at, id), an id, a
//! row number, or a list's own (the job search's (tier, published_at, id)). [`push_page`]
//! writes the MySQL keyset condition for a [`Cursor`].
//!
//! Bad input comes back as the [`FieldViolation`] naming the request field (`page_size`,
//! `page_token`); a service puts it in its own INVALID_ARGUMENT error.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use talentmesh_mesh::error::FieldViolation;

/// Where a page ended: its last row's creation time and id. As a token,
/// "<microseconds>.<id>".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

fn bad_token() -> FieldViolation {
    FieldViolation::new("page_token", "not a token from this list")
}

impl Cursor {
    /// The cursor in a `page_token` (None for the first page); a violation naming
    /// `page_token` when it is not one this module made.
    pub fn parse(token: &str) -> Result<Option<Cursor>, FieldViolation> {
        if token.is_empty() {
            return Ok(None);
        }
        let (micros, id) = token.split_once('.').ok_or_else(bad_token)?;
        // Only times the stores can hold (1970 to 9999): a tampered token must be refused here,
        // not reach a query bind that cannot encode it.
        let created_at = micros
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .and_then(talentmesh_mesh::time::in_range)
            .ok_or_else(bad_token)?;
        if id.len() != 36 || uuid::Uuid::parse_str(id).is_err() {
            return Err(bad_token());
        }
        Ok(Some(Cursor {
            created_at,
            id: id.to_string(),
        }))
    }

    /// The cursor as text, "<microseconds>.<id>" (not bound to a request: a list's
    /// `page_token` comes from [`Pages::token`]).
    pub fn token(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.id)
    }
}

/// A list's sort key, as a page token carries it: the last row of a page.
pub trait SortKey: Sized {
    /// The key as text parts; none may hold the unit separator (U+001F).
    fn parts(&self) -> Vec<String>;
    /// The key back from its [`SortKey::parts`]; None when they do not make one.
    fn from_parts(parts: &[&str]) -> Option<Self>;
}

impl SortKey for Cursor {
    fn parts(&self) -> Vec<String> {
        vec![
            self.created_at.timestamp_micros().to_string(),
            self.id.clone(),
        ]
    }

    fn from_parts(parts: &[&str]) -> Option<Self> {
        match parts {
            [micros, id] => Cursor::parse(&format!("{micros}.{id}")).ok().flatten(),
            _ => None,
        }
    }
}

/// A row number (an auto-increment id, newest first or oldest first).
impl SortKey for i64 {
    fn parts(&self) -> Vec<String> {
        vec![self.to_string()]
    }

    fn from_parts(parts: &[&str]) -> Option<Self> {
        match parts {
            [n] => n.parse().ok(),
            _ => None,
        }
    }
}

/// A text key (an id the list is ordered by), 1 to 200 bytes; the list checks its shape.
impl SortKey for String {
    fn parts(&self) -> Vec<String> {
        vec![self.clone()]
    }

    fn from_parts(parts: &[&str]) -> Option<Self> {
        match parts {
            [s] if (1..=200).contains(&s.len()) => Some((*s).to_string()),
            _ => None,
        }
    }
}

/// The first byte of every token: its layout, so a later one can be told apart.
const TOKEN_VERSION: u8 = 1;
/// Bytes of the request fingerprint a token carries.
const FINGERPRINT: usize = 12;
const SEP: char = '\u{1f}';

/// The page tokens of one list for one request: made with [`Pages::of`] and the request's
/// [`Pages::bind`]s, it writes the next page's token and reads the one a request brought.
///
/// Bind every field that picks or orders the rows (never `page_size` or `page_token`), in
/// the same order on every call; a value is bound as its `Display` text, length-prefixed.
#[derive(Clone)]
pub struct Pages {
    hasher: Sha256,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl Pages {
    /// The tokens of list `list` (e.g. "job.search"; unique in the mesh, so a token of
    /// another list is refused).
    pub fn of(list: &str) -> Pages {
        Pages {
            hasher: Sha256::new(),
        }
        .bind(list)
    }

    /// Binds the tokens to one more request field's value.
    #[must_use]
    pub fn bind(mut self, value: impl std::fmt::Display) -> Pages {
        let text = value.to_string();
        self.hasher.update((text.len() as u64).to_le_bytes());
        self.hasher.update(text.as_bytes());
        self
    }

    fn fingerprint(&self) -> [u8; FINGERPRINT] {
        let digest = self.hasher.clone().finalize();
        let mut out = [0; FINGERPRINT];
        out.copy_from_slice(&digest[..FINGERPRINT]);
        out
    }

    /// The token of the page that starts after `key`.
    pub fn token<K: SortKey>(&self, key: &K) -> String {
        let mut bytes = vec![TOKEN_VERSION];
        bytes.extend_from_slice(&self.fingerprint());
        let parts = key.parts();
        bytes.extend_from_slice(parts.join(&SEP.to_string()).as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The key in `token` (None for the first page, an empty token); a violation naming
    /// `page_token` when it is not a token of this list, or was made for another request.
    pub fn parse<K: SortKey>(&self, token: &str) -> Result<Option<K>, FieldViolation> {
        if token.is_empty() {
            return Ok(None);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .filter(|b| b.len() > 1 + FINGERPRINT && b[0] == TOKEN_VERSION)
            .ok_or_else(bad_token)?;
        if bytes[1..=FINGERPRINT] != self.fingerprint() {
            return Err(FieldViolation::new(
                "page_token",
                "made for another request: send the query, filters and order of the first page",
            ));
        }
        let text = std::str::from_utf8(&bytes[1 + FINGERPRINT..]).map_err(|_| bad_token())?;
        let parts: Vec<&str> = text.split(SEP).collect();
        K::from_parts(&parts).map(Some).ok_or_else(bad_token)
    }

    /// Cuts `rows` (read with one row past the page) to the page and returns the next
    /// page's token, the key of the page's last row; empty on the last page.
    pub fn next_token<T, K: SortKey>(
        &self,
        rows: &mut Vec<T>,
        limit: i64,
        key: impl Fn(&T) -> K,
    ) -> String {
        let limit = usize::try_from(limit).unwrap_or(0);
        if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| self.token(&key(r))).unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// Which way a list runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// Ends `q` (a MySQL query over rows with `created_at` and `id`, its WHERE clause open) with
/// the page: the rows past `after` in `order`, one more than `limit` so the caller learns
/// whether another page follows.
pub fn push_page(
    q: &mut sqlx::QueryBuilder<'_, sqlx::MySql>,
    after: Option<Cursor>,
    order: Order,
    limit: i64,
) {
    let (past, direction) = match order {
        Order::OldestFirst => (">", "ASC"),
        Order::NewestFirst => ("<", "DESC"),
    };
    if let Some(c) = after {
        q.push(format_args!(" AND (created_at, id) {past} ("))
            .push_bind(crate::time::datetime(c.created_at))
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
    q.push(format_args!(
        " ORDER BY created_at {direction}, id {direction} LIMIT "
    ))
    .push_bind(limit + 1);
}

/// A request's `page_size`: 0 means `default`; 1 to `max` as asked; anything else is a
/// violation naming `page_size`.
pub fn page_size(asked: i32, default: i64, max: i64) -> Result<i64, FieldViolation> {
    match i64::from(asked) {
        0 => Ok(default),
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(FieldViolation::new(
            "page_size",
            format!("1 to {max}, or 0 for {default}"),
        )),
    }
}

/// Cuts `rows` (read with one row past the page, as (id, created_at, …)) to the page and
/// returns the next page's cursor as text ([`Cursor::token`]), empty on the last page. Not
/// bound to a request: a list's tokens come from [`Pages::next_token`].
pub fn next_token<T>(rows: &mut Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> String {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| key(r).token()).unwrap_or_default()
    } else {
        String::new()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_ones_are_refused() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: "01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf".into(),
        };
        assert_eq!(Cursor::parse(&c.token()).unwrap(), Some(c));
        assert_eq!(Cursor::parse("").unwrap(), None);
        for bad in [
            "x",
            "12.not-an-id",
            "nan.01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf",
            // Times no store can hold: year 262142 and before 1970.
            "8210266876799999999.01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf",
            "-99999999999999999.01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf",
            "253402300800000000.01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf",
        ] {
            let e = Cursor::parse(bad).unwrap_err();
            assert_eq!(e.field, "page_token", "{bad}");
        }
    }

    #[test]
    fn pages_continue_past_the_cursor_in_either_order() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(5).unwrap(),
            id: "01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf".into(),
        };
        let mut q = sqlx::QueryBuilder::new("SELECT id FROM t WHERE a = 1");
        push_page(&mut q, Some(cursor), Order::NewestFirst, 10);
        assert_eq!(
            q.sql(),
            "SELECT id FROM t WHERE a = 1 AND (created_at, id) < (?, ?) \
             ORDER BY created_at DESC, id DESC LIMIT ?"
        );
        let mut q = sqlx::QueryBuilder::new("SELECT id FROM t WHERE a = 1");
        push_page(&mut q, None, Order::OldestFirst, 10);
        assert_eq!(
            q.sql(),
            "SELECT id FROM t WHERE a = 1 ORDER BY created_at ASC, id ASC LIMIT ?"
        );
    }

    #[test]
    fn bound_tokens_round_trip_and_are_opaque() {
        let pages = Pages::of("job.search").bind("rust").bind(true);
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: "01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf".into(),
        };
        let token = pages.token(&c);
        assert!(!token.contains(&c.id), "{token}");
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(pages.parse::<Cursor>(&token).unwrap(), Some(c));
        assert_eq!(pages.parse::<Cursor>("").unwrap(), None);
        let n = Pages::of("company.audit").bind("c1");
        assert_eq!(n.parse::<i64>(&n.token(&42_i64)).unwrap(), Some(42));
    }

    #[test]
    fn tokens_of_another_request_or_list_are_refused() {
        let pages = |list: &str, query: &str| Pages::of(list).bind(query).bind("recency");
        let token = pages("job.search", "rust").token(&"a".to_string());
        for other in [pages("job.search", "java"), pages("jobs", "rust")] {
            let e = other.parse::<String>(&token).unwrap_err();
            assert_eq!(e.field, "page_token");
            assert!(e.description.contains("another request"), "{e:?}");
        }
        // Fields are length-prefixed: ("ab", "c") is not ("a", "bc").
        let ab = Pages::of("l").bind("ab").bind("c");
        let a = Pages::of("l").bind("a").bind("bc");
        assert!(a.parse::<String>(&ab.token(&"x".to_string())).is_err());
        let mine = pages("job.search", "rust");
        for bad in ["x", "o20", "01a2154b-2cb1-75bd-93c3-7c32c9fc0aaf", "!!"] {
            let e = mine.parse::<String>(bad).unwrap_err();
            assert_eq!(e.field, "page_token", "{bad}");
        }
        // A token of the right request whose key is not this list's kind.
        let e = mine.parse::<Cursor>(&token).unwrap_err();
        assert_eq!(e.field, "page_token");
    }

    #[test]
    fn the_bound_next_token_names_the_last_row_of_a_full_page() {
        let pages = Pages::of("t");
        let mut rows: Vec<i64> = vec![9, 8, 7];
        let token = pages.next_token(&mut rows, 2, |r| *r);
        assert_eq!(rows, [9, 8]);
        assert_eq!(pages.parse::<i64>(&token).unwrap(), Some(8));
        assert_eq!(pages.next_token(&mut rows, 2, |r| *r), "");
    }

    #[test]
    fn page_sizes_default_and_bound() {
        assert_eq!(page_size(0, 50, 200).unwrap(), 50);
        assert_eq!(page_size(7, 50, 200).unwrap(), 7);
        assert!(page_size(201, 50, 200).is_err());
        assert!(page_size(-1, 50, 200).is_err());
    }

    #[test]
    fn the_next_token_names_the_last_row_of_a_full_page() {
        let at = DateTime::from_timestamp_micros(5).unwrap();
        let key = |id: &String| Cursor {
            created_at: at,
            id: id.clone(),
        };
        let mut rows: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
        assert_eq!(next_token(&mut rows, 2, key), "5.b");
        assert_eq!(rows, ["a", "b"]);
        let mut short: Vec<String> = vec!["a".into()];
        assert_eq!(next_token(&mut short, 2, key), "");
    }
}
