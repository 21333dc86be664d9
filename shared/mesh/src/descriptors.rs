//! The protobuf descriptors a process knows, put to two uses: reflection that describes exactly
//! what one port serves ([`served_set`]: the files defining the served services and the files
//! they import, nothing else), and the kind of each RPC (`unary`, `server_stream`, ...) that the
//! `grpc_type` label of the RPC metrics needs ([`MethodCatalog`]).
//!
//! Sources: talentmesh's own set (`shared/proto`), the standard health and reflection contracts
//! (tonic-health, tonic-reflection), and sets a service adds for contracts outside `proto/`.

use std::collections::{BTreeSet, HashMap};

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

/// The kind of an RPC, as the `grpc_type` label spells it (the go-grpc-prometheus values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RpcType {
    Unary,
    ClientStream,
    ServerStream,
    BidiStream,
}

impl RpcType {
    /// `unary`, `client_stream`, `server_stream` or `bidi_stream`.
    pub fn as_str(self) -> &'static str {
        match self {
            RpcType::Unary => "unary",
            RpcType::ClientStream => "client_stream",
            RpcType::ServerStream => "server_stream",
            RpcType::BidiStream => "bidi_stream",
        }
    }

    fn of(client_streaming: bool, server_streaming: bool) -> RpcType {
        match (client_streaming, server_streaming) {
            (false, false) => RpcType::Unary,
            (true, false) => RpcType::ClientStream,
            (false, true) => RpcType::ServerStream,
            (true, true) => RpcType::BidiStream,
        }
    }
}

/// One RPC: its service's full proto name, its method name and its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodInfo {
    /// e.g. `talentmesh.job.v1.JobService`.
    pub service: String,
    /// e.g. `GetJob`.
    pub method: String,
    pub kind: RpcType,
}

/// The encoded descriptor sets every process knows: talentmesh's, health's, reflection's.
fn builtin_sets() -> [&'static [u8]; 3] {
    [
        talentmesh_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    ]
}

/// One descriptor file: decoded for reading its name, imports and services, and its bytes as
/// they were compiled. Reflection must send the compiled bytes: prost drops fields it does not
/// know on decode, which would strip custom options (`google.api.http`, field behaviour) that
/// the gateway builds its routes from.
#[derive(Clone)]
struct File {
    proto: FileDescriptorProto,
    encoded: Vec<u8>,
}

/// A `google.protobuf.FileDescriptorSet` with each file left encoded (field 1, repeated).
#[derive(Clone, PartialEq, prost::Message)]
struct EncodedSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// Decodes `sets` into files by name; the first file of a name wins (talentmesh's own copies of
/// shared imports come first, as they did when every set was registered whole).
///
/// # Errors
/// A set that is not an encoded `google.protobuf.FileDescriptorSet`.
fn files_by_name(
    sets: impl IntoIterator<Item = &'static [u8]>,
) -> Result<HashMap<String, File>, prost::DecodeError> {
    let mut files = HashMap::new();
    for set in sets {
        for encoded in EncodedSet::decode(set)?.file {
            let proto = FileDescriptorProto::decode(encoded.as_slice())?;
            files
                .entry(proto.name().to_string())
                .or_insert(File { proto, encoded });
        }
    }
    Ok(files)
}

fn full_name(package: &str, name: &str) -> String {
    if package.is_empty() {
        name.to_string()
    } else {
        format!("{package}.{name}")
    }
}

/// The descriptor set reflection answers from on a port that serves `services` (full proto
/// names) plus grpc.health.v1: the files that define them and, transitively, every file they
/// import — so a client can resolve every message of every method it is shown, and nothing of
/// the contracts the port does not serve. Files go whole (reflection's unit, and the same bytes
/// under the same name on every port): a service declared in the same file as a served one is
/// described too, though not listed. `extra` are encoded sets for contracts outside
/// `proto/`.
///
/// A served service no known file defines is logged and left out (reflection still lists its
/// name; a client then cannot describe it).
///
/// # Errors
/// A descriptor set that does not decode.
pub fn served_set(
    services: &[&str],
    extra: &[&'static [u8]],
) -> Result<FileDescriptorSet, prost::DecodeError> {
    Ok(FileDescriptorSet {
        file: served_files(services, extra)?
            .into_iter()
            .map(|f| f.proto)
            .collect(),
    })
}

/// [`served_set`] encoded with every file's compiled bytes (custom options kept), for
/// reflection to serve.
///
/// # Errors
/// A descriptor set that does not decode.
pub fn served_set_encoded(
    services: &[&str],
    extra: &[&'static [u8]],
) -> Result<Vec<u8>, prost::DecodeError> {
    let set = EncodedSet {
        file: served_files(services, extra)?
            .into_iter()
            .map(|f| f.encoded)
            .collect(),
    };
    Ok(set.encode_to_vec())
}

fn served_files(
    services: &[&str],
    extra: &[&'static [u8]],
) -> Result<Vec<File>, prost::DecodeError> {
    let files = files_by_name(builtin_sets().into_iter().chain(extra.iter().copied()))?;
    let mut defining: HashMap<String, &str> = HashMap::new();
    for (name, file) in &files {
        for service in &file.proto.service {
            defining.insert(
                full_name(file.proto.package(), service.name()),
                name.as_str(),
            );
        }
    }
    let mut wanted = Vec::new();
    for service in services
        .iter()
        .copied()
        .chain([crate::server::HEALTH_SERVICE])
    {
        match defining.get(service) {
            Some(file) => wanted.push(file.to_string()),
            None => tracing::warn!(service, "no descriptor defines a served service"),
        }
    }
    // Depth-first over the imports; BTreeSet keeps the output order stable.
    let mut closure = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if !closure.insert(name.clone()) {
            continue;
        }
        if let Some(file) = files.get(&name) {
            wanted.extend(file.proto.dependency.iter().cloned());
        } else {
            tracing::warn!(file = %name, "an imported descriptor file is missing");
        }
    }
    Ok(closure
        .into_iter()
        .filter_map(|name| files.get(&name).cloned())
        .collect())
}

/// Every RPC of a set of descriptors, by request path (`/pkg.Service/Method`).
#[derive(Clone, Debug, Default)]
pub struct MethodCatalog {
    methods: HashMap<String, MethodInfo>,
}

impl MethodCatalog {
    /// The RPCs of talentmesh's contracts, grpc.health.v1 and gRPC reflection.
    pub fn builtin() -> MethodCatalog {
        let mut catalog = MethodCatalog::default();
        for set in builtin_sets() {
            if let Err(e) = catalog.add(set) {
                // The sets are compiled in: this is a build defect, not an input.
                tracing::error!(error = %e, "a compiled-in descriptor set does not decode");
            }
        }
        catalog
    }

    /// Adds the RPCs of an encoded `FileDescriptorSet`.
    ///
    /// # Errors
    /// `set` does not decode.
    pub fn add(&mut self, set: &[u8]) -> Result<(), prost::DecodeError> {
        for file in FileDescriptorSet::decode(set)?.file {
            for service in &file.service {
                let service_name = full_name(file.package(), service.name());
                for method in &service.method {
                    let path = format!("/{service_name}/{}", method.name());
                    self.methods.insert(
                        path,
                        MethodInfo {
                            service: service_name.clone(),
                            method: method.name().to_string(),
                            kind: RpcType::of(method.client_streaming(), method.server_streaming()),
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// The RPC at request path `path`, if a known contract defines it.
    pub fn get(&self, path: &str) -> Option<&MethodInfo> {
        self.methods.get(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_files_keep_their_custom_options() {
        // The gateway routes by `google.api.http`, an extension prost does not know: a file
        // decoded and encoded again loses it, the compiled bytes keep it.
        let route = b"/v1/jobs:search";
        let has_route = |bytes: &[u8]| bytes.windows(route.len()).any(|w| w == route);
        let services = ["talentmesh.job.v1.JobService"];
        let encoded = served_set_encoded(&services, &[]).unwrap_or_default();
        assert!(has_route(&encoded), "the http rule is served");
        let decoded = served_set(&services, &[]).unwrap_or_default();
        assert!(
            !has_route(&decoded.encode_to_vec()),
            "a re-encoded set would have lost it (this test would not see the difference)"
        );
        let again = FileDescriptorSet::decode(encoded.as_slice()).unwrap_or_default();
        assert_eq!(again.file.len(), decoded.file.len(), "the same files");
    }

    #[test]
    fn a_served_set_holds_the_service_its_imports_and_health_only() {
        let set = served_set(&["talentmesh.job.v1.JobService"], &[]).unwrap_or_default();
        let names: BTreeSet<&str> = set.file.iter().map(|f| f.name()).collect();
        let services: BTreeSet<String> = set
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(|s| full_name(f.package(), s.name()))
                    .collect::<Vec<_>>()
            })
            .collect();
        // The file is reflection's unit: job.proto's other service comes along, and no
        // other contract's does.
        assert_eq!(
            services,
            BTreeSet::from([
                "talentmesh.job.v1.JobService".to_string(),
                "talentmesh.job.v1.ApplicationService".to_string(),
                "grpc.health.v1.Health".to_string()
            ]),
            "files: {names:?}"
        );
        assert!(!names.contains("talentmesh/company/v1/company.proto"));
        // Every import of every file in the set is in the set.
        for file in &set.file {
            for dep in &file.dependency {
                assert!(
                    names.contains(dep.as_str()),
                    "{} imports {dep}",
                    file.name()
                );
            }
        }
    }

    #[test]
    fn the_catalog_knows_each_rpc_kind() {
        let catalog = MethodCatalog::builtin();
        let check = catalog.get("/grpc.health.v1.Health/Check").map(|m| m.kind);
        assert_eq!(check, Some(RpcType::Unary));
        let watch = catalog.get("/grpc.health.v1.Health/Watch").map(|m| m.kind);
        assert_eq!(watch, Some(RpcType::ServerStream));
        let reflect = catalog
            .get("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
            .map(|m| m.kind);
        assert_eq!(reflect, Some(RpcType::BidiStream));
        assert!(catalog
            .get("/talentmesh.job.v1.JobService/GetJob")
            .is_some());
        assert!(catalog.get("/x.Y/Z").is_none());
    }
}
