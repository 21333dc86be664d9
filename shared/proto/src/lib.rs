//! The talentmesh contracts as Rust types: tonic clients and servers and prost messages generated
//! from `proto/` at build time, plus the encoded descriptor set that the reflection service and the
//! REST gateway read. Every other crate reaches the wire through this one.

pub use {prost, prost_types, tonic};

/// The encoded `FileDescriptorSet` of every proto in the repository, with imports and source info.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/talentmesh_descriptor.bin"));

pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub mod talentmesh {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("talentmesh.common.v1");
        }
    }
    pub mod company {
        pub mod v1 {
            tonic::include_proto!("talentmesh.company.v1");
        }
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("talentmesh.events.v1");
        }
    }
    pub mod identity {
        pub mod v1 {
            tonic::include_proto!("talentmesh.identity.v1");
        }
    }
    pub mod job {
        pub mod v1 {
            tonic::include_proto!("talentmesh.job.v1");
        }
    }
    pub mod matching {
        pub mod v1 {
            tonic::include_proto!("talentmesh.matching.v1");
        }
    }
    pub mod resume {
        pub mod v1 {
            tonic::include_proto!("talentmesh.resume.v1");
        }
    }
    pub mod sync {
        pub mod v1 {
            tonic::include_proto!("talentmesh.sync.v1");
        }
    }
}

pub use talentmesh::{common, company, events, identity, job, matching, resume, sync};

/// A generated client or server whose message size limits can be set: every talentmesh
/// service's (implemented from the descriptors at build time), and any other crate's through
/// [`message_limits!`]. The service kit sets the mesh's limit (`TALENTMESH_GRPC_MAX_MESSAGE`) on
/// every server it serves and the mesh channel on every client built over it, so both sides of
/// a call agree on it instead of each keeping tonic's 4 MiB default.
pub trait MessageLimits: Sized {
    /// Sets the largest message, in encoded bytes, this side decodes and encodes.
    #[must_use]
    fn limit_messages(self, max_bytes: usize) -> Self;
}

/// Implements [`MessageLimits`] for a generated server (`server path::FooServer, path::Foo`,
/// the second path the service trait) or client (`client path::FooClient`); paths as seen
/// from the invoking module, without generics.
#[macro_export]
macro_rules! message_limits {
    (server $($server:ident)::+, $($service:ident)::+) => {
        impl<T: $($service)::+> $crate::MessageLimits for $($server)::+<T> {
            fn limit_messages(self, max_bytes: usize) -> Self {
                self.max_decoding_message_size(max_bytes)
                    .max_encoding_message_size(max_bytes)
            }
        }
    };
    (client $($client:ident)::+) => {
        impl<T> $crate::MessageLimits for $($client)::+<T>
        where
            T: $crate::tonic::client::GrpcService<$crate::tonic::body::Body>,
            T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
            T::ResponseBody: $crate::tonic::codegen::Body<Data = $crate::tonic::codegen::Bytes>
                + Send
                + 'static,
            <T::ResponseBody as $crate::tonic::codegen::Body>::Error:
                Into<Box<dyn std::error::Error + Send + Sync>> + Send,
        {
            fn limit_messages(self, max_bytes: usize) -> Self {
                self.max_decoding_message_size(max_bytes)
                    .max_encoding_message_size(max_bytes)
            }
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/message_limits.rs"));
