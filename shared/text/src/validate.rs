//! The boundary rule for text fields: what a service refuses before it stores or emits text.

/// Whether a field may hold line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, titles, codes, e-mail addresses: no control character at all, no line or
    /// paragraph separator.
    Single,
    /// Descriptions, resume sections, free text: tab, line feed and carriage return allowed.
    Multi,
}

/// Why `value` may not be stored in a field of the kind `lines`, as a field violation's
/// description (the caller names the field); `None` when it may.
///
/// Refused: control characters (C0, DEL and C1; U+0000 above all, which PostgreSQL cannot
/// store in `text` or `jsonb`) except tab, line feed and carriage return in
/// [`Lines::Multi`] fields; Unicode noncharacters (U+FDD0–U+FDEF and the last two code points
/// of every plane, which are not for interchange); and in [`Lines::Single`] fields U+2028/U+2029,
/// the bidirectional override, embedding and isolate controls (U+202A–U+202E, U+2066–U+2069:
/// they make a name display as another) and the invisible spaces U+200B and U+2060 (they make
/// two names that look the same differ). Joiners (U+200C/U+200D, needed by some scripts and
/// emoji sequences) and the direction marks U+200E/U+200F stay allowed. Unpaired surrogates cannot occur: a `&str` is valid UTF-8 (protobuf decoding and
/// JSON parsing refuse them before a handler runs). Lengths are each field's own rule.
pub fn check_text(value: &str, lines: Lines) -> Option<String> {
    for (at, c) in value.chars().enumerate() {
        let allowed_break = lines == Lines::Multi && matches!(c, '\t' | '\n' | '\r');
        let why = if c.is_control() && !allowed_break {
            match lines {
                Lines::Single => {
                    "must not contain control characters (tabs and line breaks included)"
                }
                Lines::Multi => {
                    "must not contain control characters other than tab and line breaks"
                }
            }
        } else if is_noncharacter(c) {
            "must not contain Unicode noncharacters"
        } else if lines == Lines::Single && matches!(c, '\u{2028}' | '\u{2029}') {
            "must be a single line"
        } else if lines == Lines::Single && is_bidi_control(c) {
            "must not contain bidirectional override, embedding or isolate controls"
        } else if lines == Lines::Single && matches!(c, '\u{200B}' | '\u{2060}') {
            "must not contain invisible zero-width spaces"
        } else {
            continue;
        };
        return Some(format!(
            "{why} (U+{:04X} at character {})",
            u32::from(c),
            at + 1
        ));
    }
    None
}

/// The explicit bidirectional formatting characters that reorder what follows them (UAX #9:
/// LRE, RLE, PDF, LRO, RLO and the isolates LRI, RLI, FSI, PDI): in a name they make one text
/// display as another (`abc\u{202E}fed` shows as `abcdef`; CVE-2021-42574, "Trojan Source").
/// The marks LRM/RLM/ALM, which reorder nothing, stay allowed.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_other_controls_are_refused_with_where_they_are() {
        let why = check_text("星河\u{0}科技", Lines::Single).unwrap_or_default();
        assert!(why.contains("U+0000 at character 3"), "{why}");
        for bad in ["a\u{1}", "a\u{7f}", "a\u{85}b", "a\u{9b}", "\u{1b}[31m"] {
            assert!(check_text(bad, Lines::Single).is_some(), "{bad:?}");
            assert!(check_text(bad, Lines::Multi).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn tabs_and_line_breaks_only_in_multi_line_fields() {
        for text in ["a\tb", "a\nb", "a\r\nb"] {
            assert!(check_text(text, Lines::Single).is_some(), "{text:?}");
            assert_eq!(check_text(text, Lines::Multi), None, "{text:?}");
        }
        assert!(check_text("a\u{2028}b", Lines::Single).is_some());
        assert_eq!(check_text("a\u{2028}b", Lines::Multi), None);
    }

    #[test]
    fn names_refuse_reordering_controls_and_invisible_spaces_documents_keep_them() {
        for bad in [
            "abc\u{202e}fed",
            "\u{202a}x",
            "x\u{2066}y\u{2069}",
            "星河\u{200b}科技",
            "a\u{2060}b",
        ] {
            let why = check_text(bad, Lines::Single).unwrap_or_default();
            assert!(why.contains("U+"), "{bad:?}: {why}");
            assert_eq!(check_text(bad, Lines::Multi), None, "{bad:?}");
        }
        for good in ["שלום\u{200f} Ltd", "می\u{200c}خواهم", "👩\u{200d}💻 Studio"] {
            assert_eq!(check_text(good, Lines::Single), None, "{good:?}");
        }
    }

    #[test]
    fn noncharacters_are_refused_and_ordinary_text_passes() {
        for bad in [
            "\u{fffe}",
            "\u{ffff}",
            "\u{fdd0}",
            "\u{10ffff}",
            "\u{1fffe}",
        ] {
            assert!(check_text(bad, Lines::Multi).is_some(), "{bad:?}");
        }
        for good in [
            "",
            "高级Rust后端工程师",
            "Ｒｕｓｔ",
            "😀 café",
            "\u{feff}x",
            "\u{200d}",
        ] {
            assert_eq!(check_text(good, Lines::Single), None, "{good:?}");
        }
    }
}
