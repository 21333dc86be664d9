//! The demo data set as a plan: every account, company, office, job, resume and application,
//! with the stage each application ends in, computed from the seed and the sizes alone (no
//! clock, no network), so the same command gives the same data and tests can check it offline.
//! [`super::seed`] carries a plan out through the gateway.

use serde_json::{json, Value};

use super::catalog::{
    City, Role, BRANDS, CITIES, EMPLOYERS, GIVEN_EN, GIVEN_ZH, INDUSTRIES, LEVELS, REJECT_REASONS,
    ROLES, SCHOOLS, SURNAMES_EN, SURNAMES_ZH,
};
use super::rng::Rng;
use super::uscc;

/// How much to make. Accounts are few on purpose: identity allows 10 registrations an hour
/// per client address by default, so demo employers own several companies and demo candidates
/// several resumes (one per persona).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub companies: usize,
    pub jobs: usize,
    pub resumes: usize,
    pub applications: usize,
    pub employers: usize,
    pub candidates: usize,
    /// Companies left with their verification pending (for `companies verifications`).
    pub pending: usize,
}

impl Sizes {
    /// Sizes that cannot work, named; None when they can.
    pub fn problem(&self) -> Option<String> {
        if self.employers == 0 || self.candidates == 0 {
            return Some("--employers and --candidates must be at least 1".into());
        }
        if self.companies == 0 && self.jobs > 0 {
            return Some("jobs need at least one company (--companies)".into());
        }
        if self.pending > self.companies {
            return Some("--pending cannot exceed --companies".into());
        }
        if self.applications > 0 && (self.jobs == 0 || self.resumes == 0) {
            return Some("applications need jobs and resumes".into());
        }
        if self.applications > self.jobs.saturating_mul(self.candidates) {
            return Some(format!(
                "at most {} applications: one per candidate account and job",
                self.jobs * self.candidates
            ));
        }
        None
    }
}

/// The language a job posting or a resume is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// Where an application ends up, in the order the pipeline moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Applied,
    Screening,
    Interview,
    Offer,
    Hired,
    Rejected,
    Withdrawn,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Applied,
        Stage::Screening,
        Stage::Interview,
        Stage::Offer,
        Stage::Hired,
        Stage::Rejected,
        Stage::Withdrawn,
    ];

    /// The API's enum name, e.g. `STAGE_INTERVIEW`.
    pub fn api(self) -> &'static str {
        match self {
            Stage::Applied => "STAGE_APPLIED",
            Stage::Screening => "STAGE_SCREENING",
            Stage::Interview => "STAGE_INTERVIEW",
            Stage::Offer => "STAGE_OFFER",
            Stage::Hired => "STAGE_HIRED",
            Stage::Rejected => "STAGE_REJECTED",
            Stage::Withdrawn => "STAGE_WITHDRAWN",
        }
    }

    /// The forward moves (after applying) that reach this stage; rejections and withdrawals
    /// happen from screening.
    pub fn path(self) -> &'static [Stage] {
        match self {
            Stage::Applied => &[],
            Stage::Screening | Stage::Rejected | Stage::Withdrawn => &[Stage::Screening],
            Stage::Interview => &[Stage::Screening, Stage::Interview],
            Stage::Offer => &[Stage::Screening, Stage::Interview, Stage::Offer],
            Stage::Hired => &[
                Stage::Screening,
                Stage::Interview,
                Stage::Offer,
                Stage::Hired,
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OfficePlan {
    pub label: String,
    pub address: String,
    pub city_code: String,
    pub latitude: f64,
    pub longitude: f64,
    pub headquarters: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompanyPlan {
    /// Index into [`Plan::employers`].
    pub owner: usize,
    pub display_name: String,
    pub description: String,
    pub industry: String,
    pub city_code: String,
    pub size: String,
    pub uscc: String,
    pub legal_name: String,
    pub representative: String,
    pub offices: Vec<OfficePlan>,
    /// Approved by the admin; otherwise left pending.
    pub verified: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobPlan {
    /// Index into [`Plan::companies`].
    pub company: usize,
    /// Index into the company's offices.
    pub office: usize,
    pub role: usize,
    pub lang: Lang,
    /// The `CreateJob` body in the gateway's JSON (camelCase); the seed adds `office`.
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResumePlan {
    /// Index into [`Plan::candidates`].
    pub owner: usize,
    pub role: usize,
    pub lang: Lang,
    /// The `CreateResume` body in the gateway's JSON.
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationPlan {
    /// Index into [`Plan::resumes`].
    pub resume: usize,
    /// Index into [`Plan::jobs`].
    pub job: usize,
    pub stage: Stage,
    /// Why, when the stage is [`Stage::Rejected`].
    pub reject_reason: String,
    /// Interview time (RFC 3339) and place, when the application reaches the interview stage.
    pub interview: Option<(String, String)>,
}

/// Everything the seed makes, in the order it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub seed: u64,
    /// Emails of the demo employers and candidates.
    pub employers: Vec<String>,
    pub candidates: Vec<String>,
    pub companies: Vec<CompanyPlan>,
    pub jobs: Vec<JobPlan>,
    pub resumes: Vec<ResumePlan>,
    pub applications: Vec<ApplicationPlan>,
}

impl Plan {
    /// Entities the seed creates (accounts, companies, offices, jobs, resumes, applications):
    /// the length of its progress bar.
    pub fn steps(&self) -> u64 {
        let offices: usize = self.companies.iter().map(|c| c.offices.len()).sum();
        (self.employers.len()
            + self.candidates.len()
            + self.companies.len()
            + offices
            + self.jobs.len()
            + self.resumes.len()
            + self.applications.len()) as u64
    }
}

/// Streams of the generator: each part draws from its own, so changing one size leaves the
/// other parts as they were.
const COMPANIES: u64 = 1;
const JOBS: u64 = 2;
const RESUMES: u64 = 3;
const APPLICATIONS: u64 = 4;

/// The plan for `seed` and `sizes` (which [`Sizes::problem`] accepts).
pub fn plan(seed: u64, sizes: Sizes) -> Plan {
    let employers = (1..=sizes.employers)
        .map(|i| format!("demo{seed}-hr{i}@example.com"))
        .collect();
    let candidates = (1..=sizes.candidates)
        .map(|i| format!("demo{seed}-candidate{i}@example.com"))
        .collect();
    let companies = companies(seed, sizes);
    let jobs = jobs(seed, sizes, &companies);
    let resumes = resumes(seed, sizes);
    let applications = applications(seed, sizes, &jobs, &resumes);
    Plan {
        seed,
        employers,
        candidates,
        companies,
        jobs,
        resumes,
        applications,
    }
}

fn chinese_name(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SURNAMES_ZH), rng.pick(GIVEN_ZH))
}

/// A point within about a kilometre of a district's centre, rounded to 1e-5 degrees (a metre).
fn near(rng: &mut Rng, lat: f64, lon: f64) -> (f64, f64) {
    let round = |x: f64| (x * 1e5).round() / 1e5;
    (
        round(lat + (rng.unit() - 0.5) * 0.02),
        round(lon + (rng.unit() - 0.5) * 0.02),
    )
}

fn office(rng: &mut Rng, city: &City, headquarters: bool) -> OfficePlan {
    let &(district, lat, lon) = rng.pick(city.districts);
    let (latitude, longitude) = near(rng, lat, lon);
    let label = if headquarters {
        "总部".to_string()
    } else if rng.chance(0.5) {
        format!("{}研发中心", city.zh)
    } else {
        format!("{}分公司", city.zh)
    };
    OfficePlan {
        label,
        address: format!("{}市{}{}号", city.zh, district, rng.range(1, 999)),
        city_code: city.code.to_string(),
        latitude,
        longitude,
        headquarters,
    }
}

fn companies(seed: u64, sizes: Sizes) -> Vec<CompanyPlan> {
    let mut rng = Rng::new(seed, COMPANIES);
    // Every (brand, industry) pair once, shuffled: names never repeat until they run out.
    let mut names: Vec<(usize, usize)> = (0..BRANDS.len())
        .flat_map(|b| (0..INDUSTRIES.len()).map(move |i| (b, i)))
        .collect();
    rng.shuffle(&mut names);
    let sizes_enum = [
        "COMPANY_SIZE_1_TO_49",
        "COMPANY_SIZE_50_TO_199",
        "COMPANY_SIZE_200_TO_999",
        "COMPANY_SIZE_1000_PLUS",
    ];
    let headcounts = ["30", "120", "600", "2000"];
    (0..sizes.companies)
        .map(|i| {
            let (brand, industry) = names[i % names.len()];
            let industry = &INDUSTRIES[industry];
            // Later rounds through the names (only past 288 companies) get a number.
            let round = i / names.len();
            let brand = if round == 0 {
                BRANDS[brand].to_string()
            } else {
                format!("{}{}", BRANDS[brand], round + 1)
            };
            // The first five companies are in the five best-known tech cities, the rest anywhere.
            let city = &CITIES[if i < 5 { i } else { rng.below(CITIES.len()) }];
            let size = rng.below(sizes_enum.len());
            let founded = rng.range(2005, 2022);
            let mut offices = vec![office(&mut rng, city, true)];
            for _ in 0..rng.below(3) {
                let other = rng.pick(CITIES);
                offices.push(office(&mut rng, other, false));
            }
            // An organisation code of the newer kind ("MA" and six characters of the USCC set).
            let body: String = "MA"
                .chars()
                .chain((0..6).map(|_| *rng.pick(&uscc::ALPHABET[..]) as char))
                .collect();
            let code = uscc::enterprise_code(city.code, &body)
                .unwrap_or_else(|_| unreachable_code(city.code));
            CompanyPlan {
                owner: i % sizes.employers.max(1),
                display_name: format!("{brand}{}", industry.brand_word),
                description: format!(
                    "{brand}{}成立于{founded}年，总部位于{}，专注于{}领域，现有员工约{}人。",
                    industry.brand_word, city.zh, industry.zh, headcounts[size]
                ),
                industry: industry.code.to_string(),
                city_code: city.code.to_string(),
                size: sizes_enum[size].to_string(),
                uscc: code,
                legal_name: format!("{}{brand}{}", city.zh, industry.legal_ending),
                representative: chinese_name(&mut rng),
                offices,
                // The last `pending` companies wait for review.
                verified: i < sizes.companies - sizes.pending,
            }
        })
        .collect()
}

/// Division codes and bodies here come from fixed tables that `enterprise_code` accepts; a
/// fallback keeps the generator total rather than panicking.
fn unreachable_code(division: &str) -> String {
    format!("91{division}MA0000000000")
}

fn join_zh(items: &[String]) -> String {
    items.join("、")
}

fn join_en(items: &[String]) -> String {
    items.join(", ")
}

fn education_words(code: &str) -> (&'static str, &'static str) {
    match code {
        "EDUCATION_MASTER" => ("硕士", "a master's degree"),
        "EDUCATION_DOCTORATE" => ("博士", "a doctorate"),
        "EDUCATION_ASSOCIATE" => ("大专", "an associate degree"),
        _ => ("本科", "a bachelor's degree"),
    }
}

fn roles_of(industry: &str) -> Vec<usize> {
    ROLES
        .iter()
        .enumerate()
        .filter(|(_, r)| r.industries.contains(&industry))
        .map(|(i, _)| i)
        .collect()
}

fn jobs(seed: u64, sizes: Sizes, companies: &[CompanyPlan]) -> Vec<JobPlan> {
    let mut rng = Rng::new(seed, JOBS);
    if companies.is_empty() {
        return Vec::new();
    }
    (0..sizes.jobs)
        .map(|i| {
            // Round-robin first so every company posts, then bigger companies post more.
            let company = if i < companies.len() {
                i
            } else {
                rng.below(companies.len())
            };
            let c = &companies[company];
            let office = rng.below(c.offices.len());
            let roles = roles_of(&c.industry);
            let role = *rng.pick(&roles);
            let lang = if rng.chance(0.6) { Lang::Zh } else { Lang::En };
            let kind = rng.unit();
            let body = job_body(&mut rng, &ROLES[role], lang, kind, &c.offices[office]);
            JobPlan {
                company,
                office,
                role,
                lang,
                body,
            }
        })
        .collect()
}

/// A job's JSON body (without its office name, which the seed fills in). `kind` below 0.1 is
/// a campus opening, below 0.2 an internship, else an experienced hire.
fn job_body(rng: &mut Rng, role: &Role, lang: Lang, kind: f64, office: &OfficePlan) -> Value {
    let required: Vec<String> = role.required.iter().map(|s| s.to_string()).collect();
    let how_many = 1 + rng.below(role.preferred.len());
    let preferred: Vec<String> = rng
        .sample(role.preferred, how_many)
        .into_iter()
        .map(str::to_string)
        .collect();
    let (edu_zh, edu_en) = education_words(role.education);
    let (title, recruit, employment, years, min, max, graduation) = if kind < 0.1 {
        let title = match lang {
            Lang::Zh => format!("2027届校招-{}", role.zh),
            Lang::En => format!("Graduate {} (Class of 2027)", role.en),
        };
        let k = (role.salary_k.0 as f64 * 0.7).round() as i32;
        (
            title,
            "RECRUIT_TYPE_CAMPUS",
            "EMPLOYMENT_TYPE_FULL_TIME",
            0,
            k * 1000,
            (k + 6) * 1000,
            2027,
        )
    } else if kind < 0.2 {
        let title = match lang {
            Lang::Zh => format!("{}实习生", role.zh),
            Lang::En => format!("{} Intern", role.en),
        };
        let min = rng.range(4, 6) as i32 * 1000;
        (
            title,
            "RECRUIT_TYPE_INTERN",
            "EMPLOYMENT_TYPE_INTERNSHIP",
            0,
            min,
            min + 3000,
            0,
        )
    } else {
        let level = rng.pick(LEVELS);
        let title = match lang {
            Lang::Zh => format!("{}{}", level.zh, role.zh),
            Lang::En if level.en.is_empty() => role.en.to_string(),
            Lang::En => format!("{} {}", level.en, role.en),
        };
        let k = |x: i32| ((x as f64 * level.factor).round() as i32) * 1000;
        let employment = if rng.chance(0.05) {
            "EMPLOYMENT_TYPE_CONTRACT"
        } else {
            "EMPLOYMENT_TYPE_FULL_TIME"
        };
        (
            title,
            "RECRUIT_TYPE_SOCIAL",
            employment,
            rng.range(level.years.0, level.years.1) as i32,
            k(role.salary_k.0),
            k(role.salary_k.1),
            0,
        )
    };
    let description = match (lang, recruit) {
        (Lang::Zh, "RECRUIT_TYPE_CAMPUS") => format!(
            "面向2027届毕业生。\n岗位职责：\n1. 参与{}的设计与开发；\n2. 在导师指导下完成项目交付。\n任职要求：\n1. {edu_zh}及以上学历，{}等相关专业；\n2. 熟悉{}；\n3. 有{}经验者优先。",
            role.area_zh, role.major_zh, join_zh(&required), join_zh(&preferred)
        ),
        (Lang::Zh, "RECRUIT_TYPE_INTERN") => format!(
            "实习岗位，每周至少到岗4天，实习期3个月以上。\n工作内容：参与{}相关工作。\n要求：在读{edu_zh}及以上，了解{}。",
            role.area_zh, join_zh(&required)
        ),
        (Lang::Zh, _) => format!(
            "岗位职责：\n1. 负责{}的设计、开发与维护；\n2. 与产品、测试团队协作，保证交付质量；\n3. 参与技术方案评审，持续优化性能与稳定性。\n任职要求：\n1. {edu_zh}及以上学历，{years}年以上相关工作经验；\n2. 熟练掌握{}；\n3. 有{}经验者优先。",
            role.area_zh, join_zh(&required), join_zh(&preferred)
        ),
        (Lang::En, "RECRUIT_TYPE_CAMPUS") => format!(
            "For the class of 2027.\nYou will build {} with a mentor and ship real projects.\nWe look for {edu_en} in {} or a related field, a working knowledge of {}, and ideally some {}.",
            role.area_en, role.major_en, join_en(&required), join_en(&preferred)
        ),
        (Lang::En, "RECRUIT_TYPE_INTERN") => format!(
            "A three-month internship, at least four days a week, working on {}.\nYou are studying for {edu_en} and know {}.",
            role.area_en, join_en(&required)
        ),
        (Lang::En, _) => format!(
            "What you will do:\n- design, build and run {}\n- work with product and QA to ship reliably\n- review designs and improve performance\nWhat we look for:\n- {edu_en} and {years}+ years of relevant experience\n- strong {}\n- experience with {} is a plus",
            role.area_en, join_en(&required), join_en(&preferred)
        ),
    };
    let mut body = json!({
        "title": title,
        "description": description,
        "requiredSkills": required,
        "preferredSkills": preferred,
        "salaryMin": min,
        "salaryMax": max,
        "cityCode": office.city_code,
        "experienceYears": years,
        "education": role.education,
        "employmentType": employment,
        "recruitType": recruit,
        "headcount": rng.range(1, 5),
    });
    if graduation > 0 {
        body["graduationYear"] = json!(graduation);
    }
    body
}

fn year_month(year: i64, month: i64) -> Value {
    json!({"year": year, "month": month})
}

fn resumes(seed: u64, sizes: Sizes) -> Vec<ResumePlan> {
    let mut rng = Rng::new(seed, RESUMES);
    (0..sizes.resumes)
        .map(|i| {
            let role_index = rng.below(ROLES.len());
            let role = &ROLES[role_index];
            let lang = if rng.chance(0.6) { Lang::Zh } else { Lang::En };
            // Years of experience: students, early career, mid, senior.
            let band = rng.unit();
            let years = if band < 0.15 {
                0
            } else if band < 0.45 {
                rng.range(1, 3)
            } else if band < 0.75 {
                rng.range(3, 6)
            } else {
                rng.range(6, 12)
            };
            let body = resume_body(&mut rng, i, role, lang, years);
            ResumePlan {
                owner: i % sizes.candidates,
                role: role_index,
                lang,
                body,
            }
        })
        .collect()
}

fn resume_body(rng: &mut Rng, index: usize, role: &Role, lang: Lang, years: i64) -> Value {
    let (name, email) = match lang {
        Lang::Zh => (
            chinese_name(rng),
            format!("candidate{}@example.com", index + 1),
        ),
        Lang::En => {
            let given = rng.pick(GIVEN_EN);
            let surname = rng.pick(SURNAMES_EN);
            (
                format!("{given} {surname}"),
                format!(
                    "{}.{}{}@example.com",
                    given.to_lowercase(),
                    surname.to_lowercase(),
                    index + 1
                ),
            )
        }
    };
    let phone = format!(
        "1{}{:09}",
        rng.pick(&[3, 5, 7, 8, 9]),
        rng.next_u64() % 1_000_000_000
    );
    let city = rng.pick(CITIES);
    let &(_, lat, lon) = rng.pick(city.districts);
    let (latitude, longitude) = near(rng, lat, lon);
    // Careers end (or continue) in 2025; a student graduates in 2026 or 2027.
    let graduated = if years == 0 {
        rng.range(2026, 2027)
    } else {
        2025 - years
    };
    let school = rng.pick(SCHOOLS);
    let master = role.education == "EDUCATION_MASTER" || rng.chance(0.25);
    let (bachelor_end, mut education) = if master {
        (graduated - 3, Vec::new())
    } else {
        (graduated, Vec::new())
    };
    let (degree_b, degree_m, school_name, major) = match lang {
        Lang::Zh => ("本科", "硕士", school.0, role.major_zh),
        Lang::En => ("Bachelor", "Master", school.1, role.major_en),
    };
    education.push(json!({
        "school": school_name, "degree": degree_b, "major": major,
        "start": year_month(bachelor_end - 4, 9), "end": year_month(bachelor_end, 6),
    }));
    if master {
        let other = rng.pick(SCHOOLS);
        let other_name = match lang {
            Lang::Zh => other.0,
            Lang::En => other.1,
        };
        education.push(json!({
            "school": other_name, "degree": degree_m, "major": major,
            "start": year_month(graduated - 3, 9), "end": year_month(graduated, 6),
        }));
    }
    // Experience: one to three jobs filling the years, the last one current.
    let mut experience = Vec::new();
    let mut start_year = graduated;
    let mut left = years;
    let stints = if years == 0 {
        0
    } else {
        rng.range(1, 3.min(years))
    };
    for s in 0..stints {
        let last = s == stints - 1;
        let length = if last {
            left
        } else {
            rng.range(1, left - (stints - s - 1))
        };
        let employer = rng.pick(EMPLOYERS);
        let skills: Vec<String> = rng
            .sample(role.required, 2.min(role.required.len()))
            .into_iter()
            .map(str::to_string)
            .collect();
        let (company, title, description) = match lang {
            Lang::Zh => (
                employer.0.to_string(),
                role.zh.to_string(),
                format!(
                    "负责{}，使用{}完成核心模块的开发与上线。",
                    role.area_zh,
                    join_zh(&skills)
                ),
            ),
            Lang::En => (
                employer.1.to_string(),
                role.en.to_string(),
                format!(
                    "Worked on {} with {}, from design to production.",
                    role.area_en,
                    join_en(&skills)
                ),
            ),
        };
        let mut entry = json!({
            "company": company, "title": title,
            "start": year_month(start_year, 7),
            "description": description, "skills": skills,
        });
        if !last || rng.chance(0.3) {
            entry["end"] = year_month(start_year + length, 6);
        }
        experience.push(entry);
        start_year += length;
        left -= length;
    }
    let mut skills: Vec<Value> = role
        .required
        .iter()
        .map(|s| json!({"name": s, "level": rng.range(3, 5), "years": years.max(1)}))
        .collect();
    let how_many = rng.below(role.preferred.len() + 1);
    for s in rng.sample(role.preferred, how_many) {
        skills.push(json!({"name": s, "level": rng.range(1, 3), "years": (years / 2).max(1)}));
    }
    let required: Vec<String> = role.required.iter().map(|s| s.to_string()).collect();
    let (title, headline, summary, languages) = match lang {
        Lang::Zh => (
            format!("{}-{}", name, role.zh),
            if years == 0 {
                format!("{}应届毕业生，求职{}", graduated, role.zh)
            } else {
                format!("{years}年{}经验", role.zh)
            },
            format!(
                "{}专业，{}熟悉{}，关注{}。",
                role.major_zh,
                if years == 0 {
                    "在校期间参与多个项目，".to_string()
                } else {
                    format!("{years}年工作经验，")
                },
                join_zh(&required),
                role.area_zh
            ),
            json!([{"name": "中文", "level": "母语"}, {"name": "英语", "level": *rng.pick(&["CET-4", "CET-6", "流利"])}]),
        ),
        Lang::En => (
            format!("{} - {}", role.en, name),
            if years == 0 {
                format!("{} graduate looking for a {} role", graduated, role.en)
            } else {
                format!("{} with {years} years of experience", role.en)
            },
            format!(
                "{} graduate with {} in {}. Skilled in {}.",
                role.major_en,
                if years == 0 {
                    "project experience".to_string()
                } else {
                    format!("{years} years of experience")
                },
                role.area_en,
                join_en(&required)
            ),
            json!([{"name": "Chinese", "level": "Native"}, {"name": "English", "level": *rng.pick(&["Fluent", "Professional"])}]),
        ),
    };
    let visibility = if rng.chance(0.85) {
        "VISIBILITY_PUBLIC"
    } else {
        "VISIBILITY_PRIVATE"
    };
    json!({
        "title": title,
        "fullName": name,
        "headline": headline,
        "contact": {"email": email, "phone": phone},
        "location": {"cityCode": city.code, "latitude": latitude, "longitude": longitude},
        "education": education,
        "experience": experience,
        "skills": skills,
        "languages": languages,
        "summary": summary,
        "visibility": visibility,
    })
}

/// Stages after the first seven (one of each): mostly early in the pipeline, as in life.
fn weighted_stage(rng: &mut Rng) -> Stage {
    let x = rng.unit();
    match x {
        x if x < 0.30 => Stage::Applied,
        x if x < 0.50 => Stage::Screening,
        x if x < 0.65 => Stage::Interview,
        x if x < 0.73 => Stage::Offer,
        x if x < 0.80 => Stage::Hired,
        x if x < 0.92 => Stage::Rejected,
        _ => Stage::Withdrawn,
    }
}

fn applications(
    seed: u64,
    sizes: Sizes,
    jobs: &[JobPlan],
    resumes: &[ResumePlan],
) -> Vec<ApplicationPlan> {
    let mut rng = Rng::new(seed, APPLICATIONS);
    if jobs.is_empty() || resumes.is_empty() {
        return Vec::new();
    }
    let mut taken = std::collections::HashSet::new();
    let mut order: Vec<usize> = (0..resumes.len()).collect();
    rng.shuffle(&mut order);
    let mut out = Vec::new();
    let mut attempt = 0usize;
    // Bounded: each application gets a few tries at a free (candidate, job) pair.
    while out.len() < sizes.applications && attempt < sizes.applications * 20 + 100 {
        let resume = order[attempt % order.len()];
        attempt += 1;
        let owner = resumes[resume].owner;
        // A job of the resume's role when there is one (people apply to what they do).
        let same_role: Vec<usize> = jobs
            .iter()
            .enumerate()
            .filter(|(j, job)| job.role == resumes[resume].role && !taken.contains(&(owner, *j)))
            .map(|(j, _)| j)
            .collect();
        let job = if !same_role.is_empty() && rng.chance(0.8) {
            *rng.pick(&same_role)
        } else {
            rng.below(jobs.len())
        };
        if !taken.insert((owner, job)) {
            continue;
        }
        let stage = Stage::ALL
            .get(out.len())
            .copied()
            .unwrap_or_else(|| weighted_stage(&mut rng));
        let reason = rng.pick(REJECT_REASONS);
        let reject_reason = match (stage, jobs[job].lang) {
            (Stage::Rejected, Lang::Zh) => reason.0.to_string(),
            (Stage::Rejected, Lang::En) => reason.1.to_string(),
            _ => String::new(),
        };
        let interview = stage.path().contains(&Stage::Interview).then(|| {
            let day = rng.range(1, 28);
            let hour = rng.range(9, 17);
            let office = &jobs[job].body["cityCode"];
            let place = match jobs[job].lang {
                Lang::Zh => format!("现场面试（城市代码 {}）", office.as_str().unwrap_or("")),
                Lang::En => "Video call (link sent by email)".to_string(),
            };
            (format!("2026-03-{day:02}T{hour:02}:00:00Z"), place)
        });
        out.push(ApplicationPlan {
            resume,
            job,
            stage,
            reject_reason,
            interview,
        });
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    fn sizes() -> Sizes {
        Sizes {
            companies: 12,
            jobs: 60,
            resumes: 50,
            applications: 80,
            employers: 3,
            candidates: 5,
            pending: 2,
        }
    }

    #[test]
    fn the_same_seed_plans_the_same_data_and_another_seed_other_data() {
        let a = plan(42, sizes());
        assert_eq!(a, plan(42, sizes()));
        let b = plan(43, sizes());
        assert_ne!(a.companies, b.companies);
        assert_ne!(a.jobs, b.jobs);
        assert_ne!(a.resumes, b.resumes);
        assert_ne!(a.employers, b.employers);
    }

    #[test]
    fn more_jobs_leave_the_companies_and_resumes_as_they_were() {
        let a = plan(7, sizes());
        let b = plan(
            7,
            Sizes {
                jobs: 90,
                ..sizes()
            },
        );
        assert_eq!(a.companies, b.companies);
        assert_eq!(a.resumes, b.resumes);
        assert_eq!(a.jobs[..], b.jobs[..60]);
    }

    #[test]
    fn companies_have_valid_codes_distinct_names_an_hq_and_the_pending_ones_last() {
        let p = plan(42, sizes());
        assert_eq!(p.companies.len(), 12);
        let names: HashSet<&str> = p
            .companies
            .iter()
            .map(|c| c.display_name.as_str())
            .collect();
        assert_eq!(names.len(), 12, "names repeat");
        let codes: HashSet<&str> = p.companies.iter().map(|c| c.uscc.as_str()).collect();
        assert_eq!(codes.len(), 12, "codes repeat");
        for c in &p.companies {
            assert!(uscc::is_valid(&c.uscc), "{}", c.uscc);
            assert_eq!(&c.uscc[2..8], c.city_code, "the code carries the city");
            assert_eq!(c.offices.iter().filter(|o| o.headquarters).count(), 1);
            assert!(c.offices[0].headquarters);
            assert!(c.owner < 3);
        }
        let verified: Vec<bool> = p.companies.iter().map(|c| c.verified).collect();
        assert_eq!(verified.iter().filter(|v| !**v).count(), 2);
        assert!(!verified[10] && !verified[11]);
        // The first five are in the five cities the demo is known for.
        let first: Vec<&str> = p.companies[..5]
            .iter()
            .map(|c| c.city_code.as_str())
            .collect();
        assert_eq!(first, ["110000", "310000", "440300", "330100", "510100"]);
    }

    #[test]
    fn jobs_are_in_both_languages_with_sane_salaries_and_every_company_posts() {
        let p = plan(42, sizes());
        let companies: HashSet<usize> = p.jobs.iter().map(|j| j.company).collect();
        assert_eq!(companies.len(), 12);
        let zh = p.jobs.iter().filter(|j| j.lang == Lang::Zh).count();
        assert!(zh > 10 && zh < 55, "{zh} Chinese jobs of 60");
        for j in &p.jobs {
            let min = j.body["salaryMin"].as_i64().unwrap();
            let max = j.body["salaryMax"].as_i64().unwrap();
            assert!(min >= 3000 && min <= max && max <= 200_000, "{}", j.body);
            let campus = j.body["recruitType"] == "RECRUIT_TYPE_CAMPUS";
            assert_eq!(campus, j.body.get("graduationYear").is_some(), "{}", j.body);
            assert!(!j.body["requiredSkills"].as_array().unwrap().is_empty());
            let company = &p.companies[j.company];
            assert!(j.office < company.offices.len());
            assert_eq!(j.body["cityCode"], company.offices[j.office].city_code);
        }
    }

    #[test]
    fn applications_reach_every_stage_once_per_candidate_and_job() {
        let p = plan(42, sizes());
        assert_eq!(p.applications.len(), 80);
        let stages: BTreeMap<Stage, usize> =
            p.applications.iter().fold(BTreeMap::new(), |mut m, a| {
                *m.entry(a.stage).or_default() += 1;
                m
            });
        assert_eq!(stages.len(), 7, "{stages:?}");
        let pairs: HashSet<(usize, usize)> = p
            .applications
            .iter()
            .map(|a| (p.resumes[a.resume].owner, a.job))
            .collect();
        assert_eq!(pairs.len(), 80, "a candidate applied twice to one job");
        for a in &p.applications {
            assert_eq!(a.stage == Stage::Rejected, !a.reject_reason.is_empty());
            assert_eq!(
                a.interview.is_some(),
                matches!(a.stage, Stage::Interview | Stage::Offer | Stage::Hired)
            );
        }
    }

    #[test]
    fn resumes_have_consistent_dates_and_owners() {
        let p = plan(42, sizes());
        for r in &p.resumes {
            assert!(r.owner < 5);
            let ym = |v: &Value| v["year"].as_i64().unwrap() * 12 + v["month"].as_i64().unwrap();
            for e in r.body["education"].as_array().unwrap() {
                assert!(ym(&e["start"]) < ym(&e["end"]), "{e}");
            }
            let mut previous = 0;
            for e in r.body["experience"].as_array().unwrap() {
                assert!(ym(&e["start"]) >= previous, "{}", r.body);
                if let Some(end) = e.get("end") {
                    assert!(ym(&e["start"]) < ym(end), "{e}");
                    previous = ym(end);
                }
            }
            let phone = r.body["contact"]["phone"].as_str().unwrap();
            assert_eq!(phone.len(), 11, "{phone}");
        }
    }

    #[test]
    fn sizes_that_cannot_work_are_named() {
        assert!(sizes().problem().is_none());
        assert!(Sizes {
            pending: 13,
            ..sizes()
        }
        .problem()
        .is_some());
        assert!(Sizes {
            candidates: 0,
            ..sizes()
        }
        .problem()
        .is_some());
        assert!(Sizes {
            applications: 301,
            ..sizes()
        }
        .problem()
        .is_some());
        assert!(Sizes {
            companies: 0,
            ..sizes()
        }
        .problem()
        .is_some());
    }
}
