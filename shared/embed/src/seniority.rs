//! The seniority vocabulary: the few career stages recruiting texts name, in English and
//! Chinese, each with one canonical name (`实习生` and `internship` are `intern`, `资深` and
//! `senior` are `senior`).
//!
//! Seniority is half of what a match is (the right role at the wrong level is the usual near
//! miss), and a small multilingual model keeps it badly across languages: a Chinese resume of
//! a campus hire sits closer to a Chinese senior posting of the same role than to the English
//! graduate posting it fits. Named stages are the same in both languages, so as a block of a
//! [`HybridEmbedder`](crate::HybridEmbedder) they carry the level across.
//!
//! Experienced hires without a title word (`mid`) have no stage here: their vector is zero,
//! which adds nothing rather than guessing.

/// (canonical stage, aliases), every alias in the `talentmesh_text::normalise_for_search`
/// form, matched as the skill aliases are (ASCII ones as whole words, Chinese ones anywhere).
/// Words with other common senses (`lead` as a verb, `staff` as in staff nurse) are left out.
pub(crate) const VOCABULARY: &[(&str, &[&str])] = &[
    (
        "intern",
        &[
            "intern",
            "interns",
            "internship",
            "internships",
            "实习",
            "实习生",
        ],
    ),
    (
        "graduate",
        &[
            "graduate",
            "graduates",
            "graduating",
            "new grad",
            "campus",
            "应届",
            "应届生",
            "毕业生",
            "校招",
            "校园招聘",
        ],
    ),
    (
        "senior",
        &[
            "senior",
            "team lead",
            "tech lead",
            "principal",
            "高级",
            "资深",
            "负责人",
            "主管",
            "专家",
        ],
    ),
];

/// The stages of [`VOCABULARY`] a text names, with how often, in vocabulary order:
/// (canonical stage, mentions ≥ 1).
pub fn mention_counts(text: &str) -> Vec<(&'static str, usize)> {
    crate::skills::count_mentions(VOCABULARY, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_meet_across_languages_and_forms() {
        assert_eq!(mention_counts("Java后端开发实习生"), [("intern", 1)]);
        assert_eq!(mention_counts("Java Backend Intern"), [("intern", 1)]);
        // Counted as often as the most used alias, as skills are.
        assert_eq!(mention_counts("2026届應屆畢業生，校招"), [("graduate", 1)]);
        assert_eq!(mention_counts("应届生；校招；应届"), [("graduate", 2)]);
        assert_eq!(mention_counts("Senior Rust Engineer"), [("senior", 1)]);
        assert_eq!(mention_counts("资深工程师"), [("senior", 1)]);
        // A verb is not a stage, and neither is a word that merely contains one.
        assert!(mention_counts("lead post-incident reviews; seniority").is_empty());
        for (_, aliases) in VOCABULARY {
            for alias in *aliases {
                assert_eq!(talentmesh_text::search_key(alias), *alias, "{alias}");
            }
        }
    }
}
