//! The notes API over gRPC: validation, then the store.

use talentmesh_mesh::{ApiError, ErrorCode, FieldViolation};
use tonic::{Request, Response, Status};

use crate::notes::NoteStore;
use crate::pb::note_service_server::NoteService;
use crate::pb::{
    CreateNoteRequest, CreateNoteResponse, DeleteNoteRequest, DeleteNoteResponse, GetNoteRequest,
    GetNoteResponse, UpdateNoteRequest, UpdateNoteResponse,
};

/// Callable without a token (the fixture has no users); its admin contract is not.
pub const PUBLIC_METHODS: [&str; 4] = [
    "/talentmesh.syncfixture.v1.NoteService/CreateNote",
    "/talentmesh.syncfixture.v1.NoteService/UpdateNote",
    "/talentmesh.syncfixture.v1.NoteService/DeleteNote",
    "/talentmesh.syncfixture.v1.NoteService/GetNote",
];

pub struct NotesGrpc {
    pub store: NoteStore,
}

fn check_content(title: &str, tags: &[String]) -> Result<(), Status> {
    let mut problems = Vec::new();
    if title.trim().is_empty() || title.chars().count() > 200 {
        problems.push(FieldViolation::new("title", "must be 1-200 characters"));
    }
    if tags.len() > 20 || tags.iter().any(|t| t.is_empty() || t.len() > 50) {
        problems.push(FieldViolation::new(
            "tags",
            "at most 20 tags of 1-50 characters",
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(problems).into())
    }
}

fn check_id(id: &str) -> Result<(), Status> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ApiError::invalid(vec![FieldViolation::new("id", "must be a note id")]).into())
}

fn store_err(e: talentmesh_storage::Error) -> Status {
    if let talentmesh_storage::Error::Conflict(c) = &e {
        if c.actual.is_none() {
            return ApiError::not_found(format!("note {} not found", c.id)).into();
        }
    }
    ApiError::from(e).into()
}

#[tonic::async_trait]
impl NoteService for NotesGrpc {
    async fn create_note(
        &self,
        req: Request<CreateNoteRequest>,
    ) -> Result<Response<CreateNoteResponse>, Status> {
        let r = req.into_inner();
        check_content(&r.title, &r.tags)?;
        let note = self
            .store
            .create(&r.title, &r.body, &r.tags)
            .await
            .map_err(store_err)?;
        Ok(Response::new(CreateNoteResponse { note: Some(note) }))
    }

    async fn update_note(
        &self,
        req: Request<UpdateNoteRequest>,
    ) -> Result<Response<UpdateNoteResponse>, Status> {
        let r = req.into_inner();
        check_id(&r.id)?;
        check_content(&r.title, &r.tags)?;
        let note = self
            .store
            .update(&r.id, r.expected_version, &r.title, &r.body, &r.tags)
            .await
            .map_err(store_err)?;
        Ok(Response::new(UpdateNoteResponse { note: Some(note) }))
    }

    async fn delete_note(
        &self,
        req: Request<DeleteNoteRequest>,
    ) -> Result<Response<DeleteNoteResponse>, Status> {
        let r = req.into_inner();
        check_id(&r.id)?;
        let note = self
            .store
            .delete(&r.id, r.expected_version)
            .await
            .map_err(store_err)?;
        Ok(Response::new(DeleteNoteResponse { note: Some(note) }))
    }

    async fn get_note(
        &self,
        req: Request<GetNoteRequest>,
    ) -> Result<Response<GetNoteResponse>, Status> {
        let r = req.into_inner();
        check_id(&r.id)?;
        match self.store.get(&r.id).await.map_err(store_err)? {
            Some(note) if !note.deleted => Ok(Response::new(GetNoteResponse { note: Some(note) })),
            _ => Err(ApiError::new(ErrorCode::NotFound, format!("note {} not found", r.id)).into()),
        }
    }
}
