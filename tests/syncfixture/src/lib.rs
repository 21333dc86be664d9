//! The sync fixture: a notes service built exactly like a real one on the data-sync framework.
//! Writes go through its gRPC API into MySQL with their outbox event in the same transaction;
//! three projections follow them: a search table in PostgreSQL, a tag graph in Neo4j and a
//! cache in Redis. Tests and the benchmark drive it to prove the framework under faults.
//!
//! Module map: `notes` (the MySQL side: writes, reads, the checker's source), `projections`
//! (the three derived views and the event → change mapping), `grpc` (the adapter), `app`
//! (wiring and serving), `gate` (a test hook that holds the checker between projections).

pub mod app;
pub mod gate;
pub mod grpc;
pub mod notes;
pub mod projections;

pub mod pb {
    tonic::include_proto!("talentmesh.syncfixture.v1");

    /// The fixture's contract and its imports, encoded, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/syncfixture_descriptor.bin"));

    // The service kit serves only servers whose message size limit it can set.
    talentmesh_proto::message_limits!(
        server note_service_server::NoteServiceServer,
        note_service_server::NoteService
    );
    talentmesh_proto::message_limits!(client note_service_client::NoteServiceClient);
}

pub use app::{App, AppOptions};
