//! `demo seed`: a realistic, deterministic demo data set.
//!
//! - [`rng`]: the seeded generator (SplitMix64).
//! - [`uscc`]: unified social credit codes with their GB 32100 / GB 11714 check characters.
//! - [`catalog`]: cities, industries, roles, names.
//! - [`plan`]: the data as a pure function of the seed and sizes.
//! - [`seed`]: carrying the plan out through the gateway, with a progress bar and a summary.

pub mod catalog;
pub mod plan;
pub mod rng;
pub mod seed;
pub mod uscc;
