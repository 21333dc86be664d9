//! The resume service (issue 5), built up in slices. This first slice is the analysis every save
//! runs, as pure functions: skills found in free text (Chinese and English, with synonyms)
//! merged with the declared ones, years of experience in all and per skill, the seniority band,
//! and how complete the resume is with the missing parts named.

pub mod domain;
