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
/// of every plane, which are not for interchange); and U+2028/U+2029 in [`Lines::Single`]
/// fields. Unpaired surrogates cannot occur: a `&str` is valid UTF-8 (protobuf decoding and
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
