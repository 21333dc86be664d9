//! Rules of the resume domain that are pure functions.

pub mod analysis;
pub mod skills;
