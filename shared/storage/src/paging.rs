//! Keyset paging over rows ordered by (created_at, id): the token names the last row of a
//! page, so the next page starts right after it however many rows came or went meanwhile, and
//! reading page n costs the same as reading page one.
//!
//! Bad input comes back as the [`FieldViolation`] naming the request field (`page_size`,
//! `page_token`); a service puts it in its own INVALID_ARGUMENT error.

use chrono::{DateTime, Utc};
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
        let created_at = micros
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(bad_token)?;
        if id.len() != 36 || uuid::Uuid::parse_str(id).is_err() {
            return Err(bad_token());
        }
        Ok(Some(Cursor {
            created_at,
            id: id.to_string(),
        }))
    }

    pub fn token(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.id)
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
            .push_bind(c.created_at)
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
/// returns the next page's token, empty on the last page.
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
