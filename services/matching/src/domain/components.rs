//! The non-skill components of a match, each a value in 0..=1 (or unknown) and one sentence
//! saying why. Missing data on either side is unknown, never agreement.

use super::education::highest_degree;
use super::geo::{haversine_km, region, Region};
use super::profile::{CandidateProfile, JobProfile, Preferences, RecruitType, YearMonth};
use super::stage::{stage_fit, CandidateLevel, JobLevel, YEARS_ASKED_WHY, YEARS_HELD_WHY};

/// Distance at which the distance component is worth one half: 30 km, a long commute.
pub const HALF_VALUE_KM: f64 = 30.0;

/// One component's outcome: value in 0..=1 (`None`: unknown) and a sentence.
pub(crate) type Outcome = (Option<f64>, String);

fn unknown(why: &str) -> Outcome {
    (None, format!("unknown: {why}"))
}

/// `3`, `2.5`: years with at most one decimal.
fn years(y: f64) -> String {
    let tenths = (y * 10.0).round();
    if tenths % 10.0 == 0.0 {
        format!("{:.0}", tenths / 10.0)
    } else {
        format!("{:.1}", tenths / 10.0)
    }
}

/// A candidate's years of work: `total_years` when given, else the months covered by the
/// dated positions (overlaps counted once; a current one ends at `as_of`). `None` when
/// neither says.
pub(crate) fn candidate_years(c: &CandidateProfile) -> Option<f64> {
    if let Some(y) = c.total_years.filter(|y| y.is_finite() && *y >= 0.0) {
        return Some(y);
    }
    let mut spans: Vec<(i64, i64)> = c
        .experience
        .iter()
        .filter_map(|e| {
            let start = e.start?.index()?;
            let end = e.end.or(c.as_of)?.index()?;
            // Months are inclusive: January to December is twelve.
            (end >= start).then_some((start, end + 1))
        })
        .collect();
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let (mut months, mut reach) = (0, i64::MIN);
    for (s, e) in spans {
        let s = s.max(reach);
        if e > s {
            months += e - s;
        }
        reach = reach.max(e);
    }
    Some(months as f64 / 12.0)
}

/// Experience and level: the candidate's years against the years the job asks (1 when met,
/// else the fraction met: 3 of 5 years is 0.6; more years than asked are never marked down,
/// which would stand in for age), and the candidate's career stage against the job's
/// ([`stage_fit`]). Both read the structured fields first and the texts when those are empty
/// ([`job_level`], [`candidate_level`]). When both parts are known the value is the lesser;
/// the stage part is left out when both stages come from years alone (it would repeat the
/// years part). Scoring calls [`experience_of`] with the candidate's level read once.
#[cfg(test)]
pub(crate) fn experience(job: &JobProfile, c: &CandidateProfile) -> Outcome {
    experience_of(
        &super::stage::job_level(job),
        &super::stage::candidate_level(c),
    )
}

/// [`experience`] of levels already read (a prepared candidate reads theirs once).
pub(crate) fn experience_of(job: &JobLevel, c: &CandidateLevel) -> Outcome {
    let years_part = match job.years {
        None => None,
        Some(0) => Some((1.0, "the job asks for no experience".to_string())),
        Some(asked) => c.years.map(|has| {
            let detail = format!("{} of {asked} years of experience asked", years(has));
            ((has / f64::from(asked)).min(1.0), detail)
        }),
    };
    let stage_part = match (job.stage, c.stage) {
        (Some((_, YEARS_ASKED_WHY)), Some((_, YEARS_HELD_WHY))) => None,
        (Some((asked, job_why)), Some((has, why))) => Some((
            stage_fit(asked, has),
            format!(
                "the job hires at {} level (from {job_why}); the resume reads as {} (from {why})",
                asked.label(),
                has.label()
            ),
        )),
        _ => None,
    };
    match (years_part, stage_part) {
        (Some((y, yd)), Some((s, sd))) => (Some(y.min(s)), format!("{yd}; {sd}")),
        (Some((y, d)), None) | (None, Some((y, d))) => (Some(y), d),
        (None, None) if job.years.is_none() && job.stage.is_none() => {
            unknown("the job states no experience requirement or level")
        }
        (None, None) => unknown("the resume states no years of experience or career stage"),
    }
}

/// The candidate's highest degree against the job's: 1 when met, halved per level short.
pub(crate) fn education(job: &JobProfile, c: &CandidateProfile) -> Outcome {
    let Some(asked) = job.education else {
        return unknown("the job states no education requirement");
    };
    if asked == super::profile::Education::Any {
        return (Some(1.0), "the job accepts any education".into());
    }
    let Some(has) = highest_degree(c) else {
        return unknown("the resume states no degree");
    };
    let short = asked.level().saturating_sub(has.level());
    let detail = format!("holds {}; {} asked", has.label(), asked.label());
    (Some(0.5f64.powi(short as i32)), detail)
}

/// The job's salary range against the least salary the candidate asked for: 1 when the range
/// reaches it, else falling linearly to 0 at half of it (paying 10% less is 0.8).
pub(crate) fn salary_fit(job: &JobProfile, prefs: &Preferences) -> Outcome {
    let Some(range) = job.salary.filter(|r| r.min > 0 || r.max > 0) else {
        return unknown("the job states no salary");
    };
    let Some(want) = prefs.salary_min.filter(|w| *w > 0) else {
        return unknown("no expected salary was given");
    };
    let top = (range.max > 0).then(|| range.max.max(range.min));
    match top {
        None => (
            Some(1.0),
            format!(
                "the job pays from {} CNY a month, open-ended; {want} wanted",
                range.min
            ),
        ),
        Some(top) if top >= want => (
            Some(1.0),
            format!("the job pays up to {top} CNY a month; {want} wanted"),
        ),
        Some(top) => {
            let short = f64::from(want - top) / f64::from(want);
            let detail = format!(
                "the job pays at most {top} CNY a month, {:.0}% below the {want} wanted",
                short * 100.0
            );
            (Some((1.0 - 2.0 * short).max(0.0)), detail)
        }
    }
}

/// How near the job is. A city asked for in the request decides alone (same city 1, same
/// province 0.4, else 0); otherwise two points give `1 / (1 + (km / HALF_VALUE_KM)²)`;
/// otherwise the two region codes give same city 0.8, same province 0.4, else 0.
pub(crate) fn distance(job: &JobProfile, c: &CandidateProfile, prefs: &Preferences) -> Outcome {
    if let Some(asked) = prefs.city_code.as_deref() {
        let Some(city) = job.city_code.as_deref() else {
            return unknown("the job states no city");
        };
        return match region(asked, city) {
            None => unknown("a city code is not six digits"),
            Some(Region::SameCity) => (Some(1.0), "the job is in the city asked for".into()),
            Some(Region::SameProvince) => (
                Some(0.4),
                "the job is in another city of the province asked for".into(),
            ),
            Some(Region::Elsewhere) => (
                Some(0.0),
                "the job is outside the province asked for".into(),
            ),
        };
    }
    if let (Some(a), Some(b)) = (c.location, job.location) {
        if a.is_valid() && b.is_valid() {
            let km = haversine_km(a, b);
            let value = 1.0 / (1.0 + (km / HALF_VALUE_KM).powi(2));
            return (Some(value), format!("{km:.1} km from the candidate"));
        }
    }
    match (c.city_code.as_deref(), job.city_code.as_deref()) {
        (Some(a), Some(b)) => match region(a, b) {
            None => unknown("a city code is not six digits"),
            Some(Region::SameCity) => (Some(0.8), "in the candidate's city".into()),
            Some(Region::SameProvince) => (
                Some(0.4),
                "in another city of the candidate's province".into(),
            ),
            Some(Region::Elsewhere) => (Some(0.0), "outside the candidate's province".into()),
        },
        (None, _) => unknown("the resume states no location"),
        (_, None) => unknown("the job states no location"),
    }
}

fn recruit_name(r: RecruitType) -> &'static str {
    match r {
        RecruitType::Campus => "campus",
        RecruitType::Intern => "intern",
        RecruitType::Social => "experienced-hire",
    }
}

/// The recruit type asked for against the job's (same 1, campus against intern 0.5, else 0).
/// Without one asked, for a campus or intern job only: the candidate's latest graduation
/// against the job's graduation year (same year 1, else 0), or, when the job names none,
/// against the resume's date (graduating within a year 1, graduated two or more years
/// before 0); unknown otherwise.
pub(crate) fn recruit_type(job: &JobProfile, c: &CandidateProfile, prefs: &Preferences) -> Outcome {
    let Some(offered) = job.recruit_type else {
        return unknown("the job states no recruit type");
    };
    if let Some(asked) = prefs.recruit_type {
        let value = match (asked, offered) {
            (a, o) if a == o => 1.0,
            (RecruitType::Campus, RecruitType::Intern)
            | (RecruitType::Intern, RecruitType::Campus) => 0.5,
            _ => 0.0,
        };
        let detail = format!(
            "{} hiring asked for; the job is {} hiring",
            recruit_name(asked),
            recruit_name(offered)
        );
        return (Some(value), detail);
    }
    if offered == RecruitType::Social {
        return unknown("no recruit type was asked for");
    }
    let Some(graduation) = c.education.iter().filter_map(|e| e.end).max() else {
        return unknown("the resume states no graduation date");
    };
    if let Some(class) = job.graduation_year {
        let value = if graduation.year == class { 1.0 } else { 0.0 };
        let detail = format!(
            "graduates in {}; the job recruits the class of {class}",
            graduation.year
        );
        return (Some(value), detail);
    }
    let (Some(now), Some(grad)) = (c.as_of.and_then(YearMonth::index), graduation.index()) else {
        return unknown("the resume has no date to judge graduation against");
    };
    let detail = format!(
        "graduates in {}; the job is {} hiring",
        graduation.year,
        recruit_name(offered)
    );
    if grad >= now - 12 {
        (Some(1.0), detail)
    } else if grad <= now - 24 {
        (Some(0.0), detail)
    } else {
        unknown("graduated a year or two before; too close to call")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "components_tests.rs"]
mod tests;
