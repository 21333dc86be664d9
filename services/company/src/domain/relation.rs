//! Relations companies declare about each other, and the company network read from them:
//! nodes, edges, paths and the competitor ranking.

use chrono::{DateTime, Utc};

/// Relations one company declares, at most.
pub const MAX_RELATIONS: i64 = 200;

/// How two companies relate. The codes are the stored and wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationKind {
    /// The declaring company owns the other.
    ParentOf,
    /// The declaring company is owned by the other.
    SubsidiaryOf,
    Partner,
    Competitor,
    /// Derived: the same industry in the same city.
    SameIndustryAndCity,
    /// Derived: their jobs seek some of the same skills.
    SharedSkills,
}

impl RelationKind {
    const ALL: [RelationKind; 6] = [
        RelationKind::ParentOf,
        RelationKind::SubsidiaryOf,
        RelationKind::Partner,
        RelationKind::Competitor,
        RelationKind::SameIndustryAndCity,
        RelationKind::SharedSkills,
    ];

    /// The stored code (1–6).
    pub fn code(self) -> i32 {
        match self {
            RelationKind::ParentOf => 1,
            RelationKind::SubsidiaryOf => 2,
            RelationKind::Partner => 3,
            RelationKind::Competitor => 4,
            RelationKind::SameIndustryAndCity => 5,
            RelationKind::SharedSkills => 6,
        }
    }

    /// The kind of a stored code, `None` for 0 or a code this server does not know.
    pub fn from_code(code: i32) -> Option<RelationKind> {
        RelationKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The name edges carry in the graph and the audit log records (stable across proto
    /// renames).
    pub fn name(self) -> &'static str {
        match self {
            RelationKind::ParentOf => "parent_of",
            RelationKind::SubsidiaryOf => "subsidiary_of",
            RelationKind::Partner => "partner",
            RelationKind::Competitor => "competitor",
            RelationKind::SameIndustryAndCity => "same_industry_and_city",
            RelationKind::SharedSkills => "shared_skills",
        }
    }

    /// Whether a company may declare a relation of this kind. The derived kinds (same industry
    /// and city, shared skills) are computed from the companies' data and never declared: the
    /// contract marks them so, and a declared one would pass for evidence it is not.
    pub fn is_declarable(self) -> bool {
        match self {
            RelationKind::ParentOf
            | RelationKind::SubsidiaryOf
            | RelationKind::Partner
            | RelationKind::Competitor => true,
            RelationKind::SameIndustryAndCity | RelationKind::SharedSkills => false,
        }
    }

    /// The kind of a graph edge's name, `None` for a name this server does not know.
    pub fn from_name(name: &str) -> Option<RelationKind> {
        RelationKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A relation `source` declared towards `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub id: String,
    /// The declaring company's id.
    pub source_id: String,
    pub target_id: String,
    pub kind: RelationKind,
    /// The target disputes it (the relation stays, marked).
    pub disputed: bool,
    pub dispute_reason: String,
    pub created_at: DateTime<Utc>,
}

/// A company in a network answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub display_name: String,
    /// Relations between it and the company asked about (0 for that company).
    pub distance: i64,
}

/// A relation in a network answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub source: String,
    pub target: String,
    /// `None` for a kind this server does not know.
    pub kind: Option<RelationKind>,
    pub disputed: bool,
}

/// Companies and the relations among them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Network {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A company ranked by its overlap with another.
#[derive(Debug, Clone, PartialEq)]
pub struct Competitor {
    pub id: String,
    pub display_name: String,
    /// Higher is closer.
    pub score: f64,
    /// Why, for people (e.g. `same city: 310000`).
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for k in RelationKind::ALL {
            assert_eq!(RelationKind::from_code(k.code()), Some(k));
            assert_eq!(RelationKind::from_name(k.name()), Some(k));
        }
        assert_eq!(RelationKind::from_code(0), None);
        let declarable: Vec<&str> = RelationKind::ALL
            .into_iter()
            .filter(|k| k.is_declarable())
            .map(RelationKind::name)
            .collect();
        assert_eq!(
            declarable,
            ["parent_of", "subsidiary_of", "partner", "competitor"]
        );
    }
}
