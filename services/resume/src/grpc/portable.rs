//! The export document, a wire format: every resume with every version, as JSON a person can
//! read (the protobuf JSON mapping of `talentmesh.resume.v1.Resume`), and the strict reading of
//! it back. What is in a document (and who may import it) is the service's; the document's
//! shape is this module's.
//!
//! `{"format": "talentmesh.resumes/1", "resumes": [{"versions": [<Resume>, ...]}, ...]}`; an
//! export comes in pages ([`Page`]), each such a document, cut to a size an import and a
//! message take.

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use talentmesh_mesh::FieldViolation;
use talentmesh_proto::resume::v1 as pb;

use crate::error::{Error, Result};

/// The document's `format`.
pub const FORMAT: &str = "talentmesh.resumes/1";
/// Import documents larger than this are refused unread: 16 MiB, four resumes at the largest
/// size a resume may have (`domain::limits::MAX_RESUME_BYTES`), so an export of a resume at
/// the size limit, with several versions, can be imported again. Under the mesh's message limit
/// (32 MiB by default) and, escaped in a JSON body, the gateway's body limit (33 MiB).
pub const MAX_DOCUMENT: usize = 16 * 1024 * 1024;
/// Most resumes in one import document (as many as an export page holds). An import saves
/// one version, and records one event, per resume, so this bounds what one import writes.
pub const MAX_IMPORT_RESUMES: usize = 100;
/// Most versions of one resume in an import document (as many as an export gives of each).
/// Only the newest is saved; the rest are read and checked for shape, which the document's
/// size bounds.
pub const MAX_IMPORT_VERSIONS: usize = 200;

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("export document: {e}"))
}

fn descriptor() -> Result<MessageDescriptor> {
    let pool = DescriptorPool::decode(talentmesh_proto::FILE_DESCRIPTOR_SET).map_err(internal)?;
    pool.get_message_by_name("talentmesh.resume.v1.Resume")
        .ok_or_else(|| internal("Resume descriptor missing"))
}

/// The document of `resumes` (each a list of versions, oldest first), whole.
pub fn export(resumes: &[Vec<pb::Resume>]) -> Result<String> {
    let mut page = Page::new(usize::MAX)?;
    for versions in resumes {
        page.push(versions)?;
    }
    Ok(page.finish())
}

/// One page of an export: a document filled resume by resume while it stays within a budget
/// of bytes, so it imports on its own (under [`MAX_DOCUMENT`]) and fits in a message.
pub struct Page {
    desc: MessageDescriptor,
    /// Largest document, in bytes.
    budget: usize,
    /// Each resume taken, as its JSON `{"versions": [...]}`.
    resumes: Vec<String>,
    /// Bytes of the document so far.
    used: usize,
}

/// The document around its resumes: `{"format":"...","resumes":[` and `]}`.
fn frame() -> (String, &'static str) {
    (format!("{{\"format\":\"{FORMAT}\",\"resumes\":["), "]}")
}

impl Page {
    /// An empty page of at most `budget` bytes.
    pub fn new(budget: usize) -> Result<Page> {
        let (open, close) = frame();
        Ok(Page {
            desc: descriptor()?,
            budget,
            resumes: Vec::new(),
            used: open.len() + close.len(),
        })
    }

    /// Adds resume `versions` (oldest first) when the document stays within the budget, and
    /// says whether it did. An empty page always takes the resume: whole if it fits, else its
    /// newest versions that fit (at least the newest one, however large), so every page moves
    /// an export on.
    pub fn push(&mut self, versions: &[pb::Resume]) -> Result<bool> {
        let mut json = Vec::with_capacity(versions.len());
        for v in versions {
            let dynamic = DynamicMessage::decode(
                self.desc.clone(),
                prost::Message::encode_to_vec(v).as_slice(),
            )
            .map_err(internal)?;
            json.push(serde_json::to_string(&dynamic).map_err(internal)?);
        }
        // `{"versions":[` a, b, ... `]}`, and the comma before it unless it is the first.
        let wrap = r#"{"versions":[]}"#.len() + usize::from(!self.resumes.is_empty());
        let size = |parts: &[String]| {
            wrap + parts.iter().map(String::len).sum::<usize>() + parts.len().saturating_sub(1)
        };
        let room = self.budget.saturating_sub(self.used);
        let mut from = 0;
        if size(&json) > room {
            if !self.resumes.is_empty() {
                return Ok(false);
            }
            from = json.len().saturating_sub(1);
            while from > 0 && size(&json[from - 1..]) <= room {
                from -= 1;
            }
        }
        let kept = &json[from..];
        self.used += size(kept);
        self.resumes
            .push(format!(r#"{{"versions":[{}]}}"#, kept.join(",")));
        Ok(true)
    }

    /// The page's document.
    pub fn finish(self) -> String {
        let (open, close) = frame();
        format!("{open}{}{close}", self.resumes.join(","))
    }
}

fn bad(field: impl Into<String>, why: impl Into<String>) -> FieldViolation {
    FieldViolation::new(field, why)
}

/// Reads an export; every problem is named, and any problem refuses the whole document.
pub fn import(document: &str) -> Result<Vec<Vec<pb::Resume>>> {
    if document.len() > MAX_DOCUMENT {
        return Err(Error::Invalid(vec![bad(
            "document",
            format!("larger than {MAX_DOCUMENT} bytes"),
        )]));
    }
    let value: serde_json::Value = serde_json::from_str(document)
        .map_err(|e| Error::Invalid(vec![bad("document", format!("not JSON: {e}"))]))?;
    if value["format"] != FORMAT {
        return Err(Error::Invalid(vec![bad(
            "document.format",
            format!("must be {FORMAT}"),
        )]));
    }
    let Some(resumes) = value["resumes"].as_array() else {
        return Err(Error::Invalid(vec![bad(
            "document.resumes",
            "must be a list",
        )]));
    };
    if resumes.len() > MAX_IMPORT_RESUMES {
        return Err(Error::Invalid(vec![bad(
            "document.resumes",
            format!("at most {MAX_IMPORT_RESUMES} resumes"),
        )]));
    }
    let desc = descriptor()?;
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(resumes.len());
    for (i, r) in resumes.iter().enumerate() {
        let Some(versions) = r["versions"].as_array() else {
            problems.push(bad(
                format!("document.resumes[{i}].versions"),
                "must be a list",
            ));
            continue;
        };
        if versions.len() > MAX_IMPORT_VERSIONS {
            problems.push(bad(
                format!("document.resumes[{i}].versions"),
                format!("at most {MAX_IMPORT_VERSIONS} versions"),
            ));
            continue;
        }
        let mut parsed = Vec::with_capacity(versions.len());
        for (j, v) in versions.iter().enumerate() {
            match DynamicMessage::deserialize(desc.clone(), v) {
                Ok(m) => match m.transcode_to::<pb::Resume>() {
                    Ok(resume) => parsed.push(resume),
                    Err(e) => problems.push(bad(
                        format!("document.resumes[{i}].versions[{j}]"),
                        e.to_string(),
                    )),
                },
                Err(e) => problems.push(bad(
                    format!("document.resumes[{i}].versions[{j}]"),
                    e.to_string(),
                )),
            }
        }
        out.push(parsed);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Invalid(problems))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn first_field(e: Error) -> String {
        match e {
            Error::Invalid(v) => v[0].field.clone(),
            other => panic!("not a field problem: {other}"),
        }
    }

    #[test]
    fn an_export_reads_back_and_junk_is_named() {
        let r = pb::Resume {
            title: "后端".into(),
            skills: vec![pb::Skill {
                name: "Rust".into(),
                level: 4,
                years: 3.0,
            }],
            ..Default::default()
        };
        let doc = export(&[vec![r.clone(), r.clone()]]).unwrap();
        assert!(doc.contains("\"title\":\"后端\""), "{doc}");
        let back = import(&doc).unwrap();
        assert_eq!(back, vec![vec![r.clone(), r]]);
        let e = import(r#"{"format":"talentmesh.resumes/1","resumes":[{"versions":[{"title":"x","nope":1}]}]}"#).unwrap_err();
        assert_eq!(first_field(e), "document.resumes[0].versions[0]");
        let big = "x".repeat(MAX_DOCUMENT + 1);
        assert_eq!(first_field(import(&big).unwrap_err()), "document");
        assert_eq!(first_field(import("{}").unwrap_err()), "document.format");
    }
}
