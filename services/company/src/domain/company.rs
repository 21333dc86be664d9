//! The company aggregate: a profile anyone may read, the enterprise verification only members
//! and admins see, and the checks on what a client may set.

use chrono::{DateTime, Utc};
use talentmesh_text::Lines;

use super::office::Office;
use super::permissions::Role;
use super::relation::Relation;
use super::uscc::Uscc;
use super::{text_problem, Invalid};

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;

/// Head count bands. The codes are the stored and wire values (0: not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompanySize {
    #[default]
    Unspecified,
    From1To49,
    From50To199,
    From200To999,
    From1000Plus,
}

impl CompanySize {
    /// The stored code.
    pub fn code(self) -> i32 {
        match self {
            CompanySize::Unspecified => 0,
            CompanySize::From1To49 => 1,
            CompanySize::From50To199 => 2,
            CompanySize::From200To999 => 3,
            CompanySize::From1000Plus => 4,
        }
    }

    /// The band of a stored code, `None` for a code this server does not know.
    pub fn from_code(code: i32) -> Option<CompanySize> {
        [
            CompanySize::Unspecified,
            CompanySize::From1To49,
            CompanySize::From50To199,
            CompanySize::From200To999,
            CompanySize::From1000Plus,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// Where a company's enterprise verification stands. The codes are the stored and wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerificationState {
    Unverified,
    Pending,
    Verified,
    Rejected,
}

impl VerificationState {
    /// The stored code (1–4).
    pub fn code(self) -> i32 {
        match self {
            VerificationState::Unverified => 1,
            VerificationState::Pending => 2,
            VerificationState::Verified => 3,
            VerificationState::Rejected => 4,
        }
    }

    /// The state of a stored code, `None` for a code this server does not know.
    pub fn from_code(code: i32) -> Option<VerificationState> {
        [
            VerificationState::Unverified,
            VerificationState::Pending,
            VerificationState::Verified,
            VerificationState::Rejected,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// Whether a change of the display name from `from` to `to` must go (back) to review.
    ///
    /// The names a verification vouches for are the legal name and the credit code (only
    /// [`VerificationInput`] sets them, and only an unverified or rejected company may submit
    /// one) and the display name the reviewer approved them under. A verified company that
    /// renames itself loses its badge until an admin has looked again (pending); a pending one
    /// starts its review again; unverified and rejected companies rename freely. This is what
    /// badge-carrying platforms do (a verified X account or Google Business Profile that
    /// changes its name goes back to review) and what Chinese recruiting sites ask of a company
    /// name change (重新认证): refusing instead would leave a verified company no way to
    /// rebrand.
    pub fn rename_needs_review(self, from: &str, to: &str) -> bool {
        matches!(
            self,
            VerificationState::Verified | VerificationState::Pending
        ) && from != to
    }

    /// The name the audit log records.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationState::Unverified => "unverified",
            VerificationState::Pending => "pending",
            VerificationState::Verified => "verified",
            VerificationState::Rejected => "rejected",
        }
    }
}

/// The public profile of a company.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    /// Trimmed, 1–200 characters.
    pub display_name: String,
    pub description: String,
    /// An industry code ([`valid_industry`]) or empty.
    pub industry: String,
    /// A six-digit division code or empty.
    pub city_code: String,
    /// An http(s) URL or empty.
    pub website: String,
    pub size: CompanySize,
}

/// The profile fields a client may set (the update mask's paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileField {
    DisplayName,
    Description,
    Industry,
    CityCode,
    Website,
    Size,
}

impl ProfileField {
    /// Every settable field, in the order errors name them.
    pub const ALL: [ProfileField; 6] = [
        ProfileField::DisplayName,
        ProfileField::Description,
        ProfileField::Industry,
        ProfileField::CityCode,
        ProfileField::Website,
        ProfileField::Size,
    ];

    /// The field's path in an update mask.
    pub fn path(self) -> &'static str {
        match self {
            ProfileField::DisplayName => "display_name",
            ProfileField::Description => "description",
            ProfileField::Industry => "industry",
            ProfileField::CityCode => "city_code",
            ProfileField::Website => "website",
            ProfileField::Size => "size",
        }
    }

    /// The field a mask path names, `None` when it names nothing settable.
    pub fn parse(path: &str) -> Option<ProfileField> {
        ProfileField::ALL.into_iter().find(|f| f.path() == path)
    }

    /// The settable paths, comma-separated (for error messages).
    pub fn paths() -> String {
        ProfileField::ALL
            .iter()
            .map(|f| f.path())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Profile fields as a client sent them, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    pub display_name: String,
    pub description: String,
    pub industry: String,
    pub city_code: String,
    pub website: String,
    /// `None`: a size code this server does not know.
    pub size: Option<CompanySize>,
}

impl ProfileInput {
    /// The problems of the fields in `fields` (reported as `company.<path>`).
    pub fn check(&self, fields: &[ProfileField]) -> Vec<Invalid> {
        let mut out = Vec::new();
        for field in fields {
            let name = format!("company.{}", field.path());
            // Characters first: a field with a control character is refused whatever else.
            let text = match field {
                ProfileField::DisplayName => Some((&self.display_name, Lines::Single)),
                ProfileField::Description => Some((&self.description, Lines::Multi)),
                ProfileField::Industry => Some((&self.industry, Lines::Single)),
                ProfileField::CityCode => Some((&self.city_code, Lines::Single)),
                ProfileField::Website => Some((&self.website, Lines::Single)),
                ProfileField::Size => None,
            };
            if let Some(problem) = text.and_then(|(v, lines)| text_problem(&name, v, lines)) {
                out.push(problem);
                continue;
            }
            match field {
                ProfileField::DisplayName => {
                    let n = self.display_name.trim().chars().count();
                    if n == 0 {
                        out.push(Invalid::new(name, "is required"));
                    } else if n > MAX_NAME {
                        out.push(Invalid::new(name, format!("at most {MAX_NAME} characters")));
                    }
                }
                ProfileField::Description if self.description.chars().count() > MAX_DESCRIPTION => {
                    out.push(Invalid::new(
                        name,
                        format!("at most {MAX_DESCRIPTION} characters"),
                    ));
                }
                ProfileField::Industry if !valid_industry(&self.industry) => out.push(
                    Invalid::new(name, "lower-case letters, digits and hyphens, at most 64"),
                ),
                ProfileField::CityCode
                    if !self.city_code.is_empty() && !valid_city(&self.city_code) =>
                {
                    out.push(Invalid::new(name, "a six-digit division code, e.g. 310000"));
                }
                ProfileField::Website
                    if !self.website.is_empty()
                        && (self.website.len() > 2048
                            || !(self.website.starts_with("https://")
                                || self.website.starts_with("http://"))) =>
                {
                    out.push(Invalid::new(name, "an http(s) URL of at most 2048 bytes"));
                }
                ProfileField::Size if self.size.is_none() => {
                    out.push(Invalid::new(name, "unknown size"));
                }
                _ => {}
            }
        }
        out
    }

    /// The profile these fields make, the name trimmed (call after [`ProfileInput::check`]
    /// found nothing).
    pub fn into_profile(self) -> Profile {
        Profile {
            display_name: self.display_name.trim().to_string(),
            description: self.description,
            industry: self.industry,
            city_code: self.city_code,
            website: self.website,
            size: self.size.unwrap_or_default(),
        }
    }
}

/// An industry code: empty, or up to 64 lower-case letters, digits and hyphens starting with a
/// letter or digit.
pub fn valid_industry(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 64
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
}

/// A six-digit administrative division code, e.g. `310000`.
pub fn valid_city(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The enterprise verification of a company (企业认证).
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub state: VerificationState,
    /// The code submitted, once one was.
    pub uscc: Option<String>,
    pub legal_name: String,
    pub legal_representative: String,
    /// Where the business licence scan is kept.
    pub licence_document: String,
    /// Why the last review rejected it ("" otherwise).
    pub reject_reason: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub reviewed_at: Option<DateTime<Utc>>,
    /// The reviewing admin's user id.
    pub reviewer: Option<String>,
}

/// A verification as a client submits it, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct VerificationInput {
    pub uscc: String,
    pub legal_name: String,
    pub legal_representative: String,
    pub licence_document: String,
}

/// A checked submission: the credit code and the trimmed texts.
#[derive(Debug, Clone)]
pub struct Submission {
    pub uscc: Uscc,
    pub legal_name: String,
    pub legal_representative: String,
    pub licence_document: String,
}

impl VerificationInput {
    /// Checks every field, reporting all problems at once.
    ///
    /// # Errors
    /// The fields' problems, by request field name.
    pub fn parse(self) -> Result<Submission, Vec<Invalid>> {
        let mut problems = Vec::new();
        let uscc = match Uscc::parse(&self.uscc) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(Invalid::new("uscc", e.to_string()));
                None
            }
        };
        for (field, value, max) in [
            ("legal_name", &self.legal_name, 200),
            ("legal_representative", &self.legal_representative, 100),
            ("licence_document", &self.licence_document, 1024),
        ] {
            let n = value.trim().chars().count();
            if let Some(problem) = text_problem(field, value, Lines::Single) {
                problems.push(problem);
            } else if n == 0 {
                problems.push(Invalid::new(field, "is required"));
            } else if n > max {
                problems.push(Invalid::new(field, format!("at most {max} characters")));
            }
        }
        match (uscc, problems.is_empty()) {
            (Some(uscc), true) => Ok(Submission {
                uscc,
                legal_name: self.legal_name.trim().to_string(),
                legal_representative: self.legal_representative.trim().to_string(),
                licence_document: self.licence_document.trim().to_string(),
            }),
            _ => Err(problems),
        }
    }
}

/// One company as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Company {
    pub id: String,
    /// Bumped by every change to the company's state (profile, offices, relations).
    pub version: i64,
    pub deleted: bool,
    pub profile: Profile,
    /// The user id of who created it.
    pub creator: String,
    pub verification: Verification,
    /// Bumped by every membership change.
    pub permission_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A company with everything its state (the `CompanyChanged` event) includes.
#[derive(Debug, Clone)]
pub struct CompanyAggregate {
    pub company: Company,
    pub offices: Vec<Office>,
    /// The relations it declared.
    pub relations: Vec<Relation>,
}

/// A company as one caller may see it.
#[derive(Debug, Clone)]
pub struct CompanyView {
    pub company: Company,
    /// The caller's role in it, if a member.
    pub role: Option<Role>,
    /// Whether the verification documents are shown (members and platform admins).
    pub private: bool,
}

/// Which verification state a listing asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    #[default]
    Any,
    Only(VerificationState),
    /// A code this server does not know (refused).
    Unknown,
}

/// The filters of a company listing, as a client sent them.
#[derive(Debug, Clone, Default)]
pub struct CompanyFilter {
    pub industry: String,
    pub city_code: String,
    pub verification_state: StateFilter,
    /// Words that must all occur in the name or description (case-insensitive).
    pub query: String,
}

impl CompanyFilter {
    /// The filters' problems, by request field name.
    pub fn check(&self) -> Vec<Invalid> {
        let mut problems = Vec::new();
        if !valid_industry(&self.industry) {
            problems.push(Invalid::new("industry", "not an industry code"));
        }
        if !self.city_code.is_empty() && !valid_city(&self.city_code) {
            problems.push(Invalid::new("city_code", "a six-digit division code"));
        }
        if self.verification_state == StateFilter::Unknown {
            problems.push(Invalid::new("verification_state", "unknown state"));
        }
        if self.query.chars().count() > 100 {
            problems.push(Invalid::new("query", "at most 100 characters"));
        }
        problems.extend(text_problem("query", &self.query, Lines::Single));
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..=4 {
            assert_eq!(
                CompanySize::from_code(code).map(CompanySize::code),
                Some(code)
            );
        }
        for code in 1..=4 {
            assert_eq!(
                VerificationState::from_code(code).map(VerificationState::code),
                Some(code)
            );
        }
        assert_eq!(CompanySize::from_code(9), None);
        assert_eq!(VerificationState::from_code(0), None);
    }

    #[test]
    fn renaming_a_vouched_company_goes_to_review() {
        use VerificationState::*;
        assert!(Verified.rename_needs_review("星河科技", "腾讯"));
        assert!(Pending.rename_needs_review("星河科技", "腾讯"));
        assert!(!Verified.rename_needs_review("星河科技", "星河科技"));
        assert!(!Unverified.rename_needs_review("星河科技", "腾讯"));
        assert!(!Rejected.rename_needs_review("星河科技", "腾讯"));
    }

    #[test]
    fn only_the_named_fields_are_checked() {
        let input = ProfileInput {
            website: "ftp://x".into(),
            size: Some(CompanySize::Unspecified),
            ..Default::default()
        };
        assert!(input.check(&[ProfileField::Description]).is_empty());
        let fields: Vec<String> = input
            .check(&ProfileField::ALL)
            .into_iter()
            .map(|i| i.field)
            .collect();
        assert_eq!(fields, ["company.display_name", "company.website"]);
    }
}
