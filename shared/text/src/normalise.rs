//! The normal form of searched text.

use unicode_normalization::UnicodeNormalization;

/// Whether `c` is a Han (Chinese) character: the unified ideographs, their extensions and the
/// compatibility ideographs. Chinese is written without spaces, so tokenisers treat these
/// characters one by one.
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x30000..=0x323AF)
}

/// `text` in the one form indexes store and queries are compared in: NFKC, lower case (Unicode
/// full case mapping, then NFKC again, as NFKC_Casefold does), traditional Chinese characters
/// as simplified ones, every control character and Unicode space as a plain space, runs of
/// spaces as one and none at either end.
///
/// `Ｒｕｓｔ 工程師` and `rust  工程师` both become `rust 工程师`. Idempotent: the normal form
/// of a normal form is itself, so a stored normal form may be normalised again safely.
pub fn normalise_for_search(text: &str) -> String {
    let folded: String = text.nfkc().flat_map(char::to_lowercase).nfkc().collect();
    let simplified = fast2s::convert(&folded);
    let mut out = String::with_capacity(simplified.len());
    for c in simplified.chars() {
        if c.is_whitespace() || c.is_control() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// A short name (a skill, a tag) as a key: its [`normalise_for_search`] form, so `Ｒｕｓｔ`,
/// ` rust ` and `RUST` are one key.
pub fn search_key(name: &str) -> String {
    normalise_for_search(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_case_fold_to_ascii_lower_case() {
        assert_eq!(normalise_for_search("ｒｕｓｔ"), "rust");
        assert_eq!(normalise_for_search("ＲＵＳＴ　Ｃ＋＋"), "rust c++");
        assert_eq!(
            normalise_for_search("高级Rust后端工程师"),
            "高级rust后端工程师"
        );
        // Half-width katakana compose to full width; ligatures and circled digits open up.
        assert_eq!(normalise_for_search("ｶﾞ ﬁ ①"), "ガ fi 1");
    }

    #[test]
    fn traditional_chinese_becomes_simplified() {
        assert_eq!(normalise_for_search("高級後端工程師"), "高级后端工程师");
        assert_eq!(normalise_for_search("資料分析"), "资料分析");
        assert_eq!(normalise_for_search("软件开发"), "软件开发");
        assert_eq!(normalise_for_search("後端開發"), "后端开发");
    }

    #[test]
    fn spaces_and_controls_collapse_and_the_form_is_idempotent() {
        assert_eq!(
            normalise_for_search("  a\t\n b\u{0}c\u{3000}d  "),
            "a b c d"
        );
        for s in ["Ｒｕｓｔ 工程師", "Straße ǅ", "ﾊﾟｰﾄ 兼職", "", "  "] {
            let once = normalise_for_search(s);
            assert_eq!(normalise_for_search(&once), once, "{s}");
        }
    }

    #[test]
    fn han_characters_are_recognised() {
        assert!(is_han('工') && is_han('師') && is_han('𠀀'));
        assert!(!is_han('a') && !is_han('ガ') && !is_han('，'));
    }
}
