//! Relay connections: `first`/`after` arguments (a maximum page size enforced), opaque keyset
//! cursors, `pageInfo` and `totalCount`. The one way a list resolver answers:
//! [`list_request`] (the page asked for, counted only when the query selects `totalCount`) →
//! a model's `list` (a [`Listed`] page of [`Keyset`] rows) → [`connection`].

use async_graphql::{
    SimpleObject,
    connection::{Connection, Edge, EmptyFields},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::models::{Keyset, Listed, PageRequest},
    error::{AppError, AppResult},
};

/// Page size when `first` is absent.
pub const DEFAULT_PAGE_SIZE: i32 = 20;
/// Largest `first` a resolver accepts whatever the settings; the configured limit
/// (HUB_GQL_PAGE_SIZE_CEILING, at most this) is enforced before execution (`limits`).
/// (Defined with the settings, which bound HUB_GQL_PAGE_SIZE_CEILING by it: `config` imports
/// nothing of the API layer.)
pub use crate::config::PAGE_SIZE_CEILING;

/// The complexity of a list field (its `complexity` attribute): its selection counted once per
/// row it may return (`first`, else the default page size), plus the field itself. Without
/// it `users(first: 100) { … }` would cost what one user costs, and nested lists (workspaces
/// with their members) multiply unseen.
pub fn complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, PAGE_SIZE_CEILING) as usize;
    rows.saturating_mul(child_complexity).saturating_add(1)
}

#[derive(SimpleObject)]
pub struct Totals {
    /// All items of the list, across pages.
    pub total_count: i64,
}

/// A connection of `N` with `totalCount`.
pub type Page<N> = Connection<String, N, Totals, EmptyFields>;

/// The page a list field asks for: `first` checked, `after` decoded, and the rows counted only
/// when the query selects `totalCount` on this connection.
pub fn list_request(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<PageRequest> {
    Ok(PageRequest {
        count: ctx.look_ahead().field("totalCount").exists(),
        ..page_request(first, after)?
    })
}

/// Checks `first` and decodes `after` (no count: nested lists count in their batched
/// statement, see `loaders`).
pub fn page_request(first: Option<i32>, after: Option<&str>) -> AppResult<PageRequest> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(0..=PAGE_SIZE_CEILING).contains(&first) {
        return Err(AppError::bad_input(
            "first",
            format!("first must be between 0 and {PAGE_SIZE_CEILING}"),
        ));
    }
    let after = after.map(decode_cursor).transpose()?;
    Ok(PageRequest {
        limit: first as i64,
        after,
        count: false,
    })
}

pub fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("k:{}:{id}", at.timestamp_micros()))
}

pub fn decode_cursor(cursor: &str) -> AppResult<(DateTime<Utc>, Uuid)> {
    let bad = || AppError::bad_input("after", "after is not a cursor of this list");
    let raw = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    let (Some("k"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let at = micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, Uuid::try_parse(id).map_err(|_| bad())?))
}

/// A page of rows as a connection: up to `limit + 1` rows in key order (the extra one tells
/// that a next page exists), each edge's cursor the row's key; `totalCount` shows the count
/// when it was read (it is read only when selected, so 0 is never seen otherwise).
pub fn connection<R, N>(
    listed: Listed<R>,
    request: PageRequest,
    mut node: impl FnMut(R) -> N,
) -> Page<N>
where
    R: Keyset,
    N: async_graphql::OutputType,
{
    let Listed { mut rows, total } = listed;
    let has_next = rows.len() as i64 > request.limit;
    rows.truncate(request.limit as usize);
    let mut connection = Connection::with_additional_fields(
        request.after.is_some(),
        has_next,
        Totals {
            total_count: total.unwrap_or(0),
        },
    );
    connection.edges.extend(rows.into_iter().map(|row| {
        let (at, id) = row.keyset();
        Edge::new(encode_cursor(at, id), node(row))
    }));
    connection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_bad_input() {
        let at = DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        for bad in ["", "!!!", "azpx", &URL_SAFE_NO_PAD.encode("k:x:y")] {
            assert_eq!(
                decode_cursor(bad).unwrap_err().field.as_deref(),
                Some("after")
            );
        }
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_request(None, None).unwrap().limit, 20);
        assert!(page_request(Some(1001), None).is_err());
        assert!(page_request(Some(-1), None).is_err());
        assert_eq!(page_request(Some(100), None).unwrap().limit, 100);
    }
}
