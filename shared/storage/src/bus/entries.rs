//! Reading stream replies by hand: entries whose data was trimmed away come back as nil, and a
//! generic reply parser would fail the whole batch on them (and stall the consumer forever).

use std::collections::HashMap;

use prost::Message;
use redis::Value;
use talentmesh_proto::events::v1::Envelope;

/// One stream entry as Redis returned it; `fields` is None when the entry was trimmed.
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    pub id: String,
    pub fields: Option<HashMap<String, Vec<u8>>>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// `[[id, [field, value, …] | nil], …]`, the entry list of XRANGE, XREADGROUP and XAUTOCLAIM.
pub(crate) fn parse_entry_list(v: &Value) -> Vec<RawEntry> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Value::Array(pair) = item else {
                return None;
            };
            let id = text(pair.first()?)?;
            let fields = match pair.get(1) {
                Some(Value::Array(kv)) => Some(
                    kv.chunks(2)
                        .filter_map(|c| Some((text(c.first()?)?, bytes(c.get(1)?)?)))
                        .collect(),
                ),
                _ => None,
            };
            Some(RawEntry { id, fields })
        })
        .collect()
}

/// The entries of an XREADGROUP reply for one stream (nil when nothing arrived in time).
pub(crate) fn parse_read_reply(v: &Value) -> Vec<RawEntry> {
    let Value::Array(streams) = v else {
        return Vec::new();
    };
    streams
        .iter()
        .flat_map(|s| match s {
            Value::Array(pair) => pair.get(1).map(parse_entry_list).unwrap_or_default(),
            _ => Vec::new(),
        })
        .collect()
}

/// An XAUTOCLAIM reply: next cursor and the claimed entries.
pub(crate) fn parse_autoclaim_reply(v: &Value) -> (String, Vec<RawEntry>) {
    let Value::Array(parts) = v else {
        return ("0-0".into(), Vec::new());
    };
    let cursor = parts.first().and_then(text).unwrap_or_else(|| "0-0".into());
    let entries = parts.get(1).map(parse_entry_list).unwrap_or_default();
    (cursor, entries)
}

/// The delivery counts of an extended XPENDING reply: `[[id, consumer, idle, count], …]`.
pub(crate) fn parse_pending_counts(v: &Value) -> HashMap<String, u64> {
    let Value::Array(items) = v else {
        return HashMap::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Array(f) => {
                let id = text(f.first()?)?;
                let count = match f.get(3)? {
                    Value::Int(n) => u64::try_from(*n).ok()?,
                    other => text(other)?.parse().ok()?,
                };
                Some((id, count))
            }
            _ => None,
        })
        .collect()
}

/// Reads a field of an XINFO reply (a flat [name, value, …] array, or a map under RESP3).
pub(crate) fn info_field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Array(items) => items.chunks(2).find_map(|kv| match kv.first() {
            Some(Value::BulkString(k)) if k == name.as_bytes() => kv.get(1),
            Some(Value::SimpleString(k)) if k == name => kv.get(1),
            _ => None,
        }),
        Value::Map(pairs) => pairs.iter().find_map(|(k, val)| match k {
            Value::BulkString(k) if k == name.as_bytes() => Some(val),
            Value::SimpleString(k) if k == name => Some(val),
            _ => None,
        }),
        _ => None,
    }
}

pub(crate) fn as_i64(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Int(n)) => *n,
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).parse().unwrap_or(0),
        _ => 0,
    }
}

pub(crate) fn as_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Milliseconds since the epoch encoded in a stream id (`<ms>-<seq>`).
pub(crate) fn id_millis(id: &str) -> Option<i64> {
    id.split('-').next()?.parse().ok()
}

/// The envelope of an entry written by the relay.
pub(crate) fn envelope_of(fields: &HashMap<String, Vec<u8>>) -> Result<Envelope, String> {
    let raw = fields
        .get("envelope")
        .ok_or_else(|| "entry has no envelope field".to_string())?;
    Envelope::decode(raw.as_slice()).map_err(|e| format!("undecodable envelope: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn trimmed_entries_parse_as_missing_fields() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("type"), bulk("a")]),
            ]),
            Value::Array(vec![bulk("2-0"), Value::Nil]),
        ]);
        let entries = parse_entry_list(&reply);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0]
                .fields
                .as_ref()
                .and_then(|f| f.get("type"))
                .cloned(),
            Some(b"a".to_vec())
        );
        assert!(entries[1].fields.is_none());
    }

    #[test]
    fn pending_counts_and_id_times() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("5-1"),
            bulk("c1"),
            Value::Int(10),
            Value::Int(3),
        ])]);
        assert_eq!(parse_pending_counts(&reply).get("5-1"), Some(&3));
        assert_eq!(id_millis("1700000000123-4"), Some(1_700_000_000_123));
        assert_eq!(id_millis("x"), None);
    }
}
