//! Index terms of searched text, for an inverted index that finds documents holding every
//! term of a query (PostgreSQL `text[] @> text[]` over a GIN index, say).

use std::collections::HashSet;

use crate::normalise::{is_han, normalise_for_search};

/// The pieces of normalised text: words and runs of Han characters.
enum Piece {
    Word(String),
    Han(Vec<char>),
}

/// Words of letters and digits (keeping `+`, `#` and `.` inside, for C++, C#, Node.js; a
/// trailing `.` is punctuation, a trailing `+` or `#` is not) and runs of Han characters, of
/// the [`normalise_for_search`] form of `text`.
fn pieces(text: &str) -> Vec<Piece> {
    let normal = normalise_for_search(text);
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut Vec<Piece>| {
        let kept = word.trim_end_matches('.');
        if !kept.is_empty() {
            out.push(Piece::Word(kept.to_string()));
        }
        word.clear();
    };
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<Piece>| {
        if !run.is_empty() {
            out.push(Piece::Han(std::mem::take(run)));
        }
    };
    for c in normal.chars() {
        if is_han(c) {
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
    out
}

fn dedup(mut terms: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms
}

/// The terms an index keeps for `text`: its words, and of each Han run every character and
/// every overlapping pair. `高级Rust后端工程师` → 高, 级, 高级, rust, 后, 端, 工, 程, 师, 后端,
/// 端工, 工程, 程师 (each once, in first-seen order). The single characters are what a
/// one-character query finds; the pairs let longer queries match without a dictionary.
pub fn document_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in pieces(text) {
        match piece {
            Piece::Word(w) => out.push(w),
            Piece::Han(run) => {
                out.extend(run.iter().map(char::to_string));
                out.extend(run.windows(2).map(|w| w.iter().collect::<String>()));
            }
        }
    }
    dedup(out)
}

/// The terms a query asks for, every one of which a matching document's
/// [`document_tokens`] hold: its words, and of each Han run its overlapping pairs (a lone
/// character stands for itself). `Rust工程師` → rust, 工程, 程师.
pub fn query_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in pieces(text) {
        match piece {
            Piece::Word(w) => out.push(w),
            Piece::Han(run) if run.len() == 1 => out.push(run[0].to_string()),
            Piece::Han(run) => out.extend(run.windows(2).map(|w| w.iter().collect::<String>())),
        }
    }
    dedup(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finds(query: &str, doc: &str) -> bool {
        let d = document_tokens(doc);
        let q = query_tokens(query);
        !q.is_empty() && q.iter().all(|t| d.contains(t))
    }

    #[test]
    fn queries_find_documents_across_widths_cases_and_scripts() {
        assert!(finds("ｒｕｓｔ", "高级Rust后端工程师"));
        assert!(finds("Rust工程師", "高级Rust后端工程师"));
        assert!(finds("高级后端", "高級後端工程師"));
        assert!(finds("後端", "高级Rust后端工程师"));
        assert!(!finds("Java工程师", "高级Rust后端工程师"));
        assert!(finds("rust engineer", "Senior RUST Engineer"));
    }

    #[test]
    fn one_chinese_character_finds_longer_words() {
        assert!(finds("招", "招聘前端"));
        assert!(finds("師", "工程师"));
        assert!(!finds("医", "工程师"));
    }

    #[test]
    fn terms_of_documents_and_queries() {
        assert_eq!(
            document_tokens("Rust工程师"),
            ["rust", "工", "程", "师", "工程", "程师"]
        );
        assert_eq!(
            query_tokens("高級Rust工程師"),
            ["高级", "rust", "工程", "程师"]
        );
        assert_eq!(
            query_tokens("C++ / C# / Node.js, k8s."),
            ["c++", "c#", "node.js", "k8s"]
        );
        assert_eq!(query_tokens("Ｃ＋＋"), ["c++"]);
        assert!(query_tokens(" \u{0}\t ").is_empty());
    }
}
