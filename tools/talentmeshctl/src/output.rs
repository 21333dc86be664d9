//! How results are shown: a table for people, or one JSON document on stdout for scripts
//! (`--json`). Progress bars and notes go to stderr, so stdout stays parseable.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

/// A table with `header`, laid out to the terminal's width when there is one.
pub fn table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}

/// Prints `value` as pretty JSON on stdout.
pub fn json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// A JSON scalar as table text: strings bare, numbers as written, null empty.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An enum name without its type prefix: `STAGE_INTERVIEW` → `interview`.
pub fn short(value: &Value, prefix: &str) -> String {
    let s = text(value);
    s.strip_prefix(prefix).unwrap_or(&s).to_lowercase()
}
