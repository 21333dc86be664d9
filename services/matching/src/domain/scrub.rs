//! Scrubbing protected attributes (gender, age, birth date, marital and family status,
//! ethnicity, political status, religion, health, household origin, height, weight, photos,
//! and labelled names) out of a candidate's free text before it is embedded or searched for
//! skills, so that none of them can move a score. A name written without a label ("张三，男")
//! cannot be told from other words and stays; the resume service keeps names in their own
//! field, which matching never reads.

use std::sync::LazyLock;

use regex::Regex;

use super::normal::Normalised;
use super::patterns::{compile, merge, spans};

/// Characters that delimit a standalone value such as `男` in `张三 | 男 | 28岁`.
macro_rules! delim {
    () => {
        r"[\s,，;；|｜/、:：()（）\[\]【】。]"
    };
}

/// Patterns over the normal form (lower case, simplified Chinese, line breaks kept).
const SOURCES: &[&str] = &[
    // Labelled names: Chinese names of 2–4 characters, Latin ones of up to three words.
    concat!(
        r"(?P<span>(?:姓名|名字)\s*[:：]?\s*\p{Han}{2,4}?)(?:性别|年龄|出生|民族|籍贯|电话|手机|邮箱|婚姻|",
        delim!(),
        r"|$)"
    ),
    r"\b(?:(?P<not>project|company|product|school|file|domain|user|brand|app|team|package|host|display|model|course)\s+)?(?:full\s+)?name\s*[:：]\s*\p{L}[\p{L}'.\-]*(?:[ \t]+\p{L}[\p{L}'.\-]*){0,2}",
    // Gender.
    r"性别\s*[:：]?\s*[男女]性?",
    r"\b(?:gender|sex)\s*[:：]\s*[a-z\-]+",
    concat!(
        "(?:^|",
        delim!(),
        ")(?P<span>[男女][性士]?)(?:$|",
        delim!(),
        ")"
    ),
    r"\b(?:male|female)\b",
    r"\b(?:he/him|she/her|they/them)(?:/[a-z]+)?\b",
    r"\bmrs?\.(?:\s|$)",
    // Age and birth.
    r"年龄\s*[:：]?\s*\d{1,3}\s*周?岁?",
    // Not the ages of the people served (4-12岁少儿, children aged 6).
    r"\d{1,3}\s*周?岁半?(?P<not>\s*(?:以下|以上|以内)?\s*的?(?:少儿|儿童|孩子|学生|青少年|幼儿|宝宝|小朋友|学员|用户|老人|长者|患者|人群))?",
    r"\b(?:(?P<not>children|kids|students|pupils|patients|users|learners|seniors)\s+)?(?:age|aged)\s*[:：]?\s*\d{1,3}\b",
    r"\b\d{1,3}[\s-]*(?:years?|yrs?)[\s-]*old\b",
    r"(?:^|\D)(?P<span>(?:[5-9]|0)[05]后)",
    r"(?:出生(?:日期|年月|年份|于|在)?|生日|生于)\s*[:：]?\s*\d{2,4}\s*(?:年|[-./])(?:\s*\d{1,2}\s*(?:月|[-./])?)?(?:\s*\d{1,2}\s*日?)?",
    r"生日\s*[:：]?\s*\d{1,2}\s*月\s*\d{1,2}\s*日?",
    r"\d{4}\s*年\s*(?:\d{1,2}\s*月\s*)?(?:\d{1,2}\s*日\s*)?(?:出生|生人)",
    r"(?P<span>\d{4}\s*年\s*(?:\d{1,2}\s*月\s*)?生)(?:$|[\s,，;；|｜/、。)）])",
    r"\bborn\b(?:\s+(?:in|on))?\s*[:：]?\s*(?:[a-z]+\.?\s+)?(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?(?:[a-z]+\.?,?\s+)?\d{4}\b",
    r"\b(?:date of birth|birth\s?date|birthday|d\.?o\.?b\.?)\s*[:：]?\s*(?:(?:[a-z]+\.?\s+)?\d{1,2}(?:st|nd|rd|th)?,?\s+(?:[a-z]+\.?,?\s+)?\d{4}|[a-z]+\.?\s+\d{4}|\d[\d./\-]*\d)",
    // Marital and family status.
    r"婚姻(?:状况|状态)?\s*[:：]\s*[^\s,，;；|｜/、。]{1,4}",
    r"已婚已育|已婚未育|已婚|未婚|离异|丧偶|已育|未育|单身",
    r"有\s*(?:一|二|两|三|\d)?\s*(?:个|名)?\s*(?:孩子|小孩|子女|女儿|儿子)",
    r"\bmarital status\s*[:：]?\s*[a-z]+\b",
    r"\b(?:married|unmarried|divorced|widowed)\b",
    r"\b(?:one|two|three|\d)\s+(?:kids|children)\b",
    // Ethnicity, political status, religion, health, origin.
    r"民族\s*[:：]\s*[^\s,，;；|｜/、。]{1,6}",
    r"(?:土家|蒙古|维吾尔|朝鲜|哈萨克|傈僳|仡佬|东乡|拉祜|纳西|仫佬|锡伯|柯尔克孜|景颇|达斡尔|撒拉|布朗|毛南|塔吉克|普米|阿昌|鄂温克|基诺|德昂|保安|俄罗斯|裕固|乌孜别克|门巴|鄂伦春|独龙|赫哲|高山|珞巴|塔塔尔|布依|汉|回|满|壮|藏|苗|彝|瑶|侗|白|傣|黎|畲|佤|羌|怒|京)族",
    r"\b(?:ethnicity|race|nationality|ethnic group|religion|political affiliation|hometown|place of birth|birthplace)\s*[:：]\s*[a-z\-]+",
    r"\bhan chinese\b",
    r"(?:政治面貌|宗教信仰|宗教|信仰|健康状况|身体状况|籍贯|户口所在地|户籍所在地|户籍|户口|出生地)\s*[:：]\s*[^\s,，;；|｜/、。]{1,8}",
    r"中共(?:预备)?党员|共青团员",
    // Height, weight, photos.
    r"身高\s*[:：]?\s*\d+(?:\.\d+)?\s*(?:cm|厘米|公分|m|米)?",
    r"体重\s*[:：]?\s*\d+(?:\.\d+)?\s*(?:kg|公斤|斤)?",
    r"\b(?:height|weight)\s*[:：]?\s*\d+(?:\.\d+)?\s*(?:cm|m|kg|lbs?)?\b",
    r"\b\d{3}\s*cm\b|\d{3}\s*(?:厘米|公分)",
    r"(?:个人)?(?:照片|证件照|免冠照|头像|生活照)(?:\s*[:：]\s*[^\s,，;；|｜/、。]*)?",
    r"\b(?:photo|headshot)\s*[:：]\s*[^\s,;|]*",
];

static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| compile(SOURCES));

/// Char spans `[start, end)` of `text` that state a protected attribute, sorted and merged.
pub(crate) fn protected_spans(text: &str) -> Vec<(usize, usize)> {
    if text.is_empty() {
        return Vec::new();
    }
    protected_spans_in(&Normalised::new(text))
}

/// [`protected_spans`] of an already normalised text.
pub(crate) fn protected_spans_in(normal: &Normalised) -> Vec<(usize, usize)> {
    merge(PATTERNS.iter().flat_map(|re| spans(re, normal)).collect())
}

/// `text` with every protected character replaced by a space: the same length in chars, so
/// spans found in it are spans of `text`, and nothing protected can be found in it.
pub(crate) fn mask(text: &str) -> String {
    let spans = protected_spans(text);
    if spans.is_empty() {
        return text.to_string();
    }
    let mut next = spans.iter().peekable();
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            while next.peek().is_some_and(|&&(_, e)| e <= i) {
                next.next();
            }
            match next.peek() {
                Some(&&(s, _)) if s <= i => ' ',
                _ => c,
            }
        })
        .collect()
}

fn is_gap(c: char) -> bool {
    c.is_whitespace() || ",，;；|｜/、:：。".contains(c)
}

/// Whether `chars[i]` separates: a gap character, or a full stop that ends a sentence.
fn separates(chars: &[char], i: usize) -> bool {
    match chars[i] {
        '.' => chars.get(i + 1).is_none_or(|c| c.is_whitespace()),
        c => is_gap(c),
    }
}

/// `text` without the protected attributes it states (see the module docs): `姓名：张三，
/// 性别：男，28岁，5年Rust经验` → `5年Rust经验`, `Name: Ann Lee | Female | born 1996 | Rust
/// engineer` → `Rust engineer`. Where something was cut, the separators left on both sides of
/// the cut become one and an emptied bracket pair goes; the rest of the text is kept as it
/// was, so two texts that differ only in protected attributes scrub to the same string.
pub fn scrub(text: &str) -> String {
    let spans = protected_spans(text);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for &(s, e) in &spans {
        out.extend(&chars[from..s]);
        from = e;
        // Drop the separators right of the cut when the left side already ends in one.
        let left_gap = out.chars().next_back().is_none_or(is_gap);
        if left_gap {
            while from < chars.len() && separates(&chars, from) {
                from += 1;
            }
        }
        let trimmed = out.trim_end();
        if (trimmed.ends_with('(') || trimmed.ends_with('（'))
            && matches!(chars.get(from), Some(')' | '）'))
        {
            out.truncate(trimmed.len() - trimmed.chars().next_back().map_or(0, char::len_utf8));
            from += 1;
        }
    }
    out.extend(&chars[from.min(chars.len())..]);
    out.trim_matches(is_gap).to_string()
}

#[cfg(test)]
#[path = "scrub_tests.rs"]
mod tests;
