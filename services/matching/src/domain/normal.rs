//! The search normal form of `talentmesh_text` with a way back to the original text, so a
//! pattern found in normal form (`k8s` in `Ｋ８Ｓ`, `限男性` in `僅限男性`) can be reported as a
//! span of what the user wrote.

use std::collections::HashMap;

/// A text in normal form, each of its characters remembering the original character it came
/// from. Unlike `normalise_for_search`, a run of white space that holds a line break becomes
/// `\n` (so patterns can stop at line ends) and nothing is trimmed.
pub(crate) struct Normalised {
    /// Lower case, NFKC, simplified Chinese; white space runs folded to one ' ' or '\n'.
    pub text: String,
    /// Per character of `text`: (byte offset in `text`, char index in the original).
    map: Vec<(usize, usize)>,
}

impl Normalised {
    pub fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len());
        let mut buf = [0u8; 4];
        // Chinese text repeats few characters many times; normalising each once is cheaper.
        let mut seen: HashMap<char, String> = HashMap::new();
        for (i, c) in original.chars().enumerate() {
            if c.is_whitespace() || c.is_control() {
                let brk = c == '\n' || c == '\r';
                match text.chars().next_back() {
                    Some(' ') if brk => {
                        text.pop();
                        map.pop();
                    }
                    Some(' ' | '\n') => continue,
                    _ => {}
                }
                map.push((text.len(), i));
                text.push(if brk { '\n' } else { ' ' });
                continue;
            }
            if c.is_ascii() {
                map.push((text.len(), i));
                text.push(c.to_ascii_lowercase());
                continue;
            }
            // One character at a time keeps the way back exact; the full form differs only
            // for combining sequences and context-dependent traditional characters, neither
            // of which a skill name or a requirement pattern depends on.
            let piece = seen
                .entry(c)
                .or_insert_with(|| talentmesh_text::normalise_for_search(c.encode_utf8(&mut buf)));
            for n in piece.chars() {
                map.push((text.len(), i));
                text.push(n);
            }
        }
        Self { text, map }
    }

    /// The same text with every character that comes from inside one of `spans` (sorted,
    /// disjoint original char spans) replaced by a space.
    pub fn masked(self, spans: &[(usize, usize)]) -> Self {
        if spans.is_empty() {
            return self;
        }
        let mut text = String::with_capacity(self.text.len());
        let mut map = Vec::with_capacity(self.map.len());
        for (&(_, origin), c) in self.map.iter().zip(self.text.chars()) {
            let k = spans.partition_point(|&(_, e)| e <= origin);
            let hidden = spans.get(k).is_some_and(|&(s, _)| s <= origin);
            map.push((text.len(), origin));
            text.push(if hidden { ' ' } else { c });
        }
        Self { text, map }
    }

    /// The original char span `[start, end)` of the normal-form byte span `[from, to)`
    /// (`from < to`, both on char boundaries of `text`).
    pub fn origin(&self, from: usize, to: usize) -> (usize, usize) {
        let first = self.map.partition_point(|&(b, _)| b < from);
        let last = self.map.partition_point(|&(b, _)| b < to).saturating_sub(1);
        let start = self.map.get(first).map_or(0, |&(_, o)| o);
        let end = self.map.get(last).map_or(start, |&(_, o)| o + 1);
        (start, end.max(start))
    }
}

/// The characters `[start, end)` of `text`.
pub(crate) fn char_slice(text: &str, start: usize, end: usize) -> String {
    text.chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn back(n: &Normalised, original: &str, needle: &str) -> String {
        let from = n.text.find(needle).unwrap();
        let (s, e) = n.origin(from, from + needle.len());
        char_slice(original, s, e)
    }

    #[test]
    fn spans_in_normal_form_map_back_to_what_was_written() {
        let original = "熟悉  Ｋ８Ｓ 與\n\n 後端開發";
        let n = Normalised::new(original);
        assert_eq!(n.text, "熟悉 k8s 与\n后端开发");
        assert_eq!(back(&n, original, "k8s"), "Ｋ８Ｓ");
        assert_eq!(back(&n, original, "后端开发"), "後端開發");
        assert_eq!(back(&n, original, "与\n后"), "與\n\n 後");
    }

    #[test]
    fn a_character_that_opens_into_several_maps_back_whole() {
        let original = "ﬁle ①";
        let n = Normalised::new(original);
        assert_eq!(n.text, "file 1");
        assert_eq!(back(&n, original, "fi"), "ﬁ");
        assert_eq!(back(&n, original, "i"), "ﬁ");
        assert_eq!(back(&n, original, "1"), "①");
    }
}
