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

pub use talentmesh::{common, company, events, identity, job, resume, sync};
