//! Descriptor pools as sets of files keyed by name, so newer descriptors can replace older ones
//! file by file. Files travel as their raw encoded bytes: decoding into `prost_types` would drop
//! the `google.api.http` options the routes come from.

use bytes::{Buf, Bytes};
use prost::Message as _;
use prost_reflect::DescriptorPool;

use crate::error::{Error, Result};

/// The compiled-in descriptors of every talentmesh proto.
pub fn compiled_in() -> Result<DescriptorPool> {
    Ok(DescriptorPool::decode(
        talentmesh_proto::FILE_DESCRIPTOR_SET,
    )?)
}

/// One encoded `FileDescriptorProto` and its name.
#[derive(Debug, Clone)]
pub struct RawFile {
    pub name: String,
    pub bytes: Bytes,
}

impl RawFile {
    pub fn new(bytes: Bytes) -> Result<RawFile> {
        // Only the name is read; the bytes themselves are kept as they came.
        let proto = prost_types::FileDescriptorProto::decode(bytes.clone())
            .map_err(|e| Error::Descriptors(format!("undecodable file descriptor: {e}")))?;
        let name = proto
            .name
            .ok_or_else(|| Error::Descriptors("file descriptor without a name".to_string()))?;
        Ok(RawFile { name, bytes })
    }
}

/// Splits an encoded `FileDescriptorSet` into its files without decoding them.
pub fn split_set(mut set: &[u8]) -> Result<Vec<RawFile>> {
    let mut files = Vec::new();
    while set.has_remaining() {
        let bad = |e: prost::DecodeError| Error::Descriptors(format!("bad descriptor set: {e}"));
        let key = prost::encoding::decode_varint(&mut set).map_err(bad)?;
        let (field, wire_type) = (key >> 3, key & 7);
        if wire_type != 2 {
            return Err(Error::Descriptors(format!(
                "bad descriptor set: field {field} has wire type {wire_type}"
            )));
        }
        let len = usize::try_from(prost::encoding::decode_varint(&mut set).map_err(bad)?)
            .map_err(|_| Error::Descriptors("bad descriptor set: length overflow".to_string()))?;
        if len > set.len() {
            return Err(Error::Descriptors(
                "bad descriptor set: truncated".to_string(),
            ));
        }
        let (entry, rest) = set.split_at(len);
        set = rest;
        if field == 1 {
            files.push(RawFile::new(Bytes::copy_from_slice(entry))?);
        }
    }
    Ok(files)
}

/// `base` with every file of `overlay` added, replacing a base file of the same name.
pub fn merge(base: &DescriptorPool, overlay: &[RawFile]) -> Result<DescriptorPool> {
    let mut files: Vec<RawFile> = base
        .files()
        .filter(|f| !overlay.iter().any(|o| o.name == f.name()))
        .map(|f| RawFile {
            name: f.name().to_string(),
            bytes: Bytes::from(f.encode_to_vec()),
        })
        .collect();
    for file in overlay {
        if !files.iter().any(|f| f.name == file.name) {
            files.push(file.clone());
        }
    }
    let mut set = Vec::with_capacity(files.iter().map(|f| f.bytes.len() + 8).sum());
    for file in &files {
        prost::encoding::bytes::encode(1, &file.bytes, &mut set);
    }
    Ok(DescriptorPool::decode(set.as_slice())?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn split_and_merge_keep_custom_options() {
        let files = split_set(talentmesh_proto::FILE_DESCRIPTOR_SET).unwrap();
        assert!(files
            .iter()
            .any(|f| f.name == "talentmesh/identity/v1/identity.proto"));
        let merged = merge(&DescriptorPool::new(), &files).unwrap();
        let ext = merged.get_extension_by_name("google.api.http").unwrap();
        let method = merged
            .get_service_by_name("talentmesh.identity.v1.IdentityService")
            .unwrap()
            .methods()
            .next()
            .unwrap();
        assert!(method.options().has_extension(&ext));
    }

    #[test]
    fn a_file_of_the_same_name_replaces_the_base_file() {
        let base = compiled_in().unwrap();
        let replacement = base
            .get_file_by_name("talentmesh/identity/v1/identity.proto")
            .unwrap();
        let mut proto = replacement.file_descriptor_proto().clone();
        // Drop every service: after the merge the identity service must be gone.
        proto.service.clear();
        let raw = RawFile::new(Bytes::from(proto.encode_to_vec())).unwrap();
        let merged = merge(&base, &[raw]).unwrap();
        assert!(merged
            .get_service_by_name("talentmesh.identity.v1.IdentityService")
            .is_none());
        assert!(merged
            .get_message_by_name("talentmesh.identity.v1.User")
            .is_some());
    }
}
