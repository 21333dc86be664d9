//! The OpenAPI 3.1 document of the routes, generated from the same descriptors, so the published
//! REST contract cannot drift from what the gateway serves. It is rendered once per route table
//! (at compile time, off the request path) and served as bytes.
//!
//! Shapes follow the proto3 JSON mapping the gateway speaks: lowerCamelCase property names,
//! 64-bit integers as strings, enums by name, well-known types in their JSON forms. Descriptions
//! come from the proto comments; `google.api.field_behavior` marks required and read-only fields.
//!
//! Path variables that span several segments (`{name=shelves/*/books/*}`) cannot be one OpenAPI
//! parameter (parameters do not contain `/`), so the literal segments are written into the path
//! and each wildcard becomes its own parameter named after the collection before it:
//! `/v1/shelves/{shelf}/books/{book}`. The client joins them back into `name`.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use prost_reflect::{DescriptorPool, ExtensionDescriptor};
use serde_json::{json, Map, Value as Json};

use crate::routes::RouteTable;

mod ids;
mod limits;
mod paths;
mod schemas;

use schemas::status_schema;

const STATUS: &str = "google.rpc.Status";
/// The name of the bearer-token security scheme in the document.
const BEARER: &str = "bearerAuth";

/// The RPCs (`/package.Service/Method`) the services answer without an access token; a token,
/// when sent, is still used. Every other operation requires one, which the document says
/// with its top-level `security`. These are the `PUBLIC_METHODS` the services give the kit; the
/// end-to-end suite checks that the two lists agree.
pub const PUBLIC_METHODS: &[&str] = &[
    "/talentmesh.identity.v1.IdentityService/Register",
    "/talentmesh.identity.v1.IdentityService/Login",
    "/talentmesh.identity.v1.IdentityService/Refresh",
    "/talentmesh.identity.v1.IdentityService/Logout",
    "/talentmesh.identity.v1.IdentityService/ListPublicKeys",
    "/talentmesh.identity.v1.IdentityService/ListRevokedSessions",
    "/talentmesh.identity.v1.IdentityService/GetPublicKey",
    "/talentmesh.company.v1.CompanyService/GetCompany",
    "/talentmesh.company.v1.CompanyService/ListCompanies",
    "/talentmesh.company.v1.CompanyService/ListOffices",
    "/talentmesh.company.v1.CompanyService/SearchNearbyCompanies",
    "/talentmesh.company.v1.CompanyService/ListRelations",
    "/talentmesh.company.v1.CompanyService/GetCompanyNetwork",
    "/talentmesh.company.v1.CompanyService/FindCompanyPath",
    "/talentmesh.job.v1.JobService/GetJob",
    "/talentmesh.job.v1.JobService/ListJobs",
    "/talentmesh.job.v1.JobService/SearchJobs",
];
/// How deep query parameters follow nested messages (`a.b.c`); cycles stop earlier.
const MAX_QUERY_DEPTH: usize = 4;

/// Renders the document of `table`.
pub fn document(table: &RouteTable) -> Bytes {
    let mut gen = Generator::new(table.pool());
    let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    for route in table.routes() {
        let (path, mut parameters) = gen.path(route);
        let operation = gen.operation(route, &mut parameters);
        let entry = paths.entry(path).or_default();
        let method = route.method.as_str().to_ascii_lowercase();
        entry.entry(method).or_insert(operation);
    }
    gen.reference(STATUS);
    let mut schemas = gen.finish();
    if table.pool().get_message_by_name(STATUS).is_none() {
        // Errors are rendered with the compiled-in google.rpc.Status whatever the pool holds.
        schemas.insert(STATUS.to_string(), status_schema());
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "talentmesh API",
            "version": "v1",
            "description": "REST mapping of the talentmesh gRPC services, generated from their \
                google.api.http annotations. Errors are google.rpc.Status objects in JSON.",
        },
        // Relative to where the document was fetched (OpenAPI 3.1 §4.8.5): the gateway serving
        // it, whatever name or proxy the client reached it through.
        "servers": [{ "url": "/", "description": "The gateway that serves this document." }],
        "paths": paths,
        // Every operation needs an access token unless it says otherwise.
        "security": [{ BEARER: [] }],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from POST /v1/sessions:login (an EdDSA \
                        JWT), sent as `Authorization: Bearer <token>`.",
                },
            },
        },
    });
    Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())
}

struct Generator<'p> {
    pool: &'p DescriptorPool,
    field_behavior: Option<ExtensionDescriptor>,
    /// Comments by file name, then by source path.
    comments: HashMap<String, HashMap<Vec<i32>, String>>,
    /// Messages referenced so far; `None` until their schema is generated.
    schemas: BTreeMap<String, Option<Json>>,
}

impl<'p> Generator<'p> {
    fn new(pool: &'p DescriptorPool) -> Self {
        Generator {
            pool,
            field_behavior: pool.get_extension_by_name("google.api.field_behavior"),
            comments: HashMap::new(),
            schemas: BTreeMap::new(),
        }
    }

    fn comment(&mut self, file: &prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
        let index = self
            .comments
            .entry(file.name().to_string())
            .or_insert_with(|| {
                let mut index = HashMap::new();
                if let Some(info) = &file.file_descriptor_proto().source_code_info {
                    for location in &info.location {
                        let text = location
                            .leading_comments
                            .as_deref()
                            .or(location.trailing_comments.as_deref())
                            .map(tidy)
                            .unwrap_or_default();
                        if !text.is_empty() {
                            index.insert(location.path.clone(), text);
                        }
                    }
                }
                index
            });
        index.get(path).cloned()
    }

    /// Generates every referenced schema, including those referenced while generating.
    fn finish(mut self) -> Map<String, Json> {
        while let Some(name) = self
            .schemas
            .iter()
            .find(|(_, s)| s.is_none())
            .map(|(n, _)| n.clone())
        {
            let schema = match self.pool.get_message_by_name(&name) {
                Some(message) => self.message_schema(&message),
                None if name == STATUS => status_schema(),
                None => json!({ "type": "object" }),
            };
            self.schemas.insert(name, Some(schema));
        }
        self.schemas
            .into_iter()
            .filter_map(|(name, schema)| schema.map(|s| (name, s)))
            .collect()
    }
}

/// Comment text without the leading space of each line and surrounding blank lines.
fn tidy(comment: &str) -> String {
    comment
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::paths::singular;
    use super::*;

    #[test]
    fn singular_names() {
        assert_eq!(singular("shelves"), "shelf");
        assert_eq!(singular("companies"), "company");
        assert_eq!(singular("books"), "book");
        assert_eq!(singular("addresses"), "address");
        assert_eq!(singular("data"), "data_id");
    }

    #[test]
    fn declares_bearer_tokens_and_which_operations_go_without() {
        let table = RouteTable::compile(
            crate::descriptors::compiled_in().unwrap(),
            &crate::config::mesh_services(),
        );
        let doc: Json = serde_json::from_slice(&table.openapi_json()).unwrap();
        let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "bearer");
        assert_eq!(scheme["bearerFormat"], "JWT");
        assert_eq!(doc["security"], json!([{ "bearerAuth": [] }]));
        // Public: anonymous allowed, a token optional.
        let login = &doc["paths"]["/v1/sessions:login"]["post"];
        assert_eq!(login["security"], json!([{}, { "bearerAuth": [] }]));
        // Not public: the document-wide requirement applies.
        let me = &doc["paths"]["/v1/users/me"]["get"];
        assert!(me.get("security").is_none(), "{me}");
        let public = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|ops| ops.as_object().unwrap().values())
            .filter(|op| op.get("security").is_some())
            .count();
        // Every public method has one binding, except ListPublicKeys (two) and
        // ListRevokedSessions (none: only the mesh's verifiers call it, over gRPC).
        assert_eq!(public, PUBLIC_METHODS.len());
    }

    #[test]
    fn documents_the_compiled_in_routes() {
        let table = RouteTable::compile(
            crate::descriptors::compiled_in().unwrap(),
            &crate::config::mesh_services(),
        );
        let doc: Json = serde_json::from_slice(&table.openapi_json()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let get_user = &doc["paths"]["/v1/users/{user}"]["get"];
        assert_eq!(get_user["operationId"], "IdentityService_GetUser");
        assert_eq!(get_user["parameters"][0]["name"], "user");
        let register = &doc["paths"]["/v1/users:register"]["post"];
        assert_eq!(
            register["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/talentmesh.identity.v1.RegisterRequest"
        );
        assert!(register["description"]
            .as_str()
            .unwrap()
            .contains("Creates an account"));
        let user = &doc["components"]["schemas"]["talentmesh.identity.v1.User"];
        assert_eq!(user["properties"]["createTime"]["format"], "date-time");
        assert_eq!(user["properties"]["createTime"]["readOnly"], true);
        assert!(doc["components"]["schemas"]["google.rpc.Status"].is_object());
    }
}
