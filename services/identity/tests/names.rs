//! Malformed resource names are INVALID_ARGUMENT naming `name`, never a NOT_FOUND that echoes
//! control characters back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::start;
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_testkit::TestEnv;
use tonic::Code;

#[tokio::test]
async fn a_name_with_control_characters_is_invalid_not_missing() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;
    for name in ["publicKeys/\u{0}", "publicKeys/k\u{7f}"] {
        let status = client
            .get_public_key(pb::GetPublicKeyRequest {
                name: name.to_string(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name:?}: {status:?}");
        let violations = field_violations_of(&status);
        assert_eq!(violations[0].field, "name", "{violations:?}");
        assert!(!status.message().contains('\u{0}'), "{status:?}");
    }
    // A well-formed name that names nothing is still NOT_FOUND.
    let status = client
        .get_public_key(pb::GetPublicKeyRequest {
            name: "publicKeys/nothing-here".to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    app.stop().await;
}
