//! English patterns, over the normal form (lower case).

use super::FlagKind::{self, *};

pub(super) const FLAGS: &[(FlagKind, &str)] = &[
    // male only, women preferred, female candidates only, men wanted
    (
        Gender,
        r"\b(?:male|female|men|women|man|woman)s?\s+(?:candidates?\s+|applicants?\s+)?(?:only|preferred|wanted|required)\b",
    ),
    // only men, must be male, prefer a woman, looking for a male
    (
        Gender,
        r"\b(?:only|must be|should be|prefer(?:ably)?|seeking|looking for)\s+(?:an?\s+)?(?:male|female|man|woman|men|women)\b",
    ),
    (Gender, r"\b(?:gender|sex)\s*[:：]\s*(?:male|female|m|f)\b"),
    // younger than 30, maximum age 35, under the age of 40, age limit: 35
    (
        Age,
        r"\b(?:younger than|not older than|no older than|not over|max(?:imum)? age(?: of)?|age limit(?: of)?|up to (?:the )?age(?: of)?|(?:under|below|over|above) the age of)\s*[:：]?\s*\d{2}\b",
    ),
    // under 35 years old, over 40 years of age
    (
        Age,
        r"\b(?:under|below|over|above)\s+\d{2}\s*(?:years?|yrs?)[\s-]*(?:old|of age)\b",
    ),
    // under 35 — only where the sentence ends there ("under 10 ms" is not an age)
    (
        Age,
        r"(?P<span>\b(?:under|below)\s+\d{2}(?:\s+(?:only|preferred))?)\s*(?:[.,;!)\n]|$)",
    ),
    // aged 25-35, age 25 to 35, age range: 25–35, between 25 and 35 years old
    (
        Age,
        r"\b(?:aged?|age\s+range|age\s+requirement)\s*[:：]?\s*(?:between\s+)?\d{2}\s*(?:-|–|—|~|to|and)\s*\d{2}\b",
    ),
    (
        Age,
        r"\b(?:between\s+)?\d{2}\s*(?:-|–|—|to|and)\s*\d{2}\s*(?:years?|yrs?)[\s-]*(?:old|of age)\b",
    ),
    (Age, r"\bage\s*[:：]\s*\d{2}\b"),
    (
        Age,
        r"\b\d{2}\s*(?:years?|yrs?)[\s-]*old\s+(?:or\s+)?(?:younger|below|under|max(?:imum)?|or less)\b",
    ),
    // young candidates, young and energetic people, someone young, digital natives
    (
        Age,
        r"\b(?:young|younger)\s+(?:and\s+(?:energetic|dynamic|vibrant)\s+)?(?:people|persons?|candidates?|applicants?|talents?|professionals?|men|women|staff|workers?|employees?|team members?|graduates?|ladies|girls|guys)\b",
    ),
    (
        Age,
        r"\b(?:someone|somebody|a person|candidates? who (?:is|are))\s+young\b|\bdigital natives?\b",
    ),
    // married, single candidates, no children, not pregnant
    (
        MaritalStatus,
        r"\b(?:married|unmarried|single)\s+(?:candidates?|applicants?|women|men|people|only|preferred)\b|\bmust\s+be\s+(?:single|married|unmarried)\b|\bmarital status\b",
    ),
    (
        MaritalStatus,
        r"\b(?:no|without)\s+(?:kids|children)\b|\bnot\s+(?:be\s+)?pregnant\b|\bno\s+(?:plans?\s+(?:to|for)\s+)?(?:pregnancy|children)\b",
    ),
    (
        Ethnicity,
        r"\b(?:caucasian|white|black|asian|han chinese|hispanic|latino)s?\s+(?:only|preferred|candidates?\s+only)\b|\b(?:ethnicity|race|ethnic background)\s*[:：]",
    ),
    (
        Household,
        r"\b(?:local\s+)?hukou\b|\bhousehold registration\b|\blocal (?:residents?|candidates?) only\b",
    ),
    (
        Appearance,
        r"\b(?:good|attractive|pleasant|nice)[\s-]+(?:looking|appearance)\b|\b(?:attractive|beautiful|handsome|pretty|slim)\s+(?:candidates?|applicants?|women|men|girls?|ladies|appearance|figure)\b",
    ),
    (
        Appearance,
        r"\b(?:height|weight)\s*(?:of\s+)?(?:at least|over|above|minimum|min\.?|:)?\s*\d{2,3}\s*(?:cm|kg|lbs?)\b|\b\d{3}\s*cm\b|\bphoto\s+(?:required|must be attached)\b|\b(?:attach|include|send)\s+(?:a\s+)?(?:recent\s+)?(?:photo|picture)\b",
    ),
    (
        Health,
        r"\bhepatitis b\b|\bhbv\b|\b(?:no|without)\s+disabilit(?:y|ies)\b",
    ),
];

/// Statements that are not requirements: openness and benefits.
pub(super) const ALLOWED: &[&str] = &[
    r"\b(?:male or female|men or women|women or men|women and men|men and women|all genders|any gender)\b",
    r"\bregardless of (?:\w+\s*,?\s*(?:or|and)?\s*){1,8}",
    r"\bequal opportunit\w*",
    r"\b(?:children|kids|students|pupils|patients|users|learners|seniors)\s+(?:aged|under|below|over|above|between|from)\s+\d[\d\s\-–~]*(?:(?:to|and)\s+\d+)?",
    r"\bhukou (?:support|sponsorship|assistance|quota)\b|\b(?:help|assist|sponsor|provide|offer)\w*\s+(?:with\s+)?(?:a\s+)?(?:\w+\s+)?hukou\b",
];
