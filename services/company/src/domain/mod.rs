//! Rules of the company domain that are pure functions.

pub mod geo;
pub mod permissions;
pub mod uscc;
