//! The company service through the gateway over HTTP, with tokens from this test's identity:
//! an employer creates and verifies a company, invites a colleague, and the permissions,
//! isolation and error mapping hold at the REST surface.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use talentmesh_e2e::{bad_fields, reason, Mesh};
use talentmesh_testkit::eventually_value;

const PASSWORD: &str = "correct horse 42";
const ADMIN: &str = "root@example.com";

async fn login(mesh: &Mesh, email: &str, role: Option<&str>) -> (String, String) {
    let session = mesh.login(email, PASSWORD, role).await;
    (session.token, session.user)
}

#[tokio::test]
async fn an_employer_verifies_a_company_and_shares_it_with_the_right_people_only() {
    let mesh = Mesh::start_with_company(|env| {
        env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN)
            .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", PASSWORD)
    })
    .await;
    let (owner, _) = login(&mesh, "boss@example.com", Some("ROLE_EMPLOYER")).await;
    let (colleague, colleague_name) = login(&mesh, "hr@example.com", Some("ROLE_EMPLOYER")).await;
    let (rival, _) = login(&mesh, "rival@example.com", Some("ROLE_EMPLOYER")).await;
    let (candidate, _) = login(&mesh, "cand@example.com", Some("ROLE_CANDIDATE")).await;
    let (admin, _) = login(&mesh, ADMIN, None).await;

    // Create: server-owned fields sent by the client are ignored.
    let (status, created) = mesh
        .call(
            Method::POST,
            "/v1/companies",
            Some(&owner),
            Some(
                json!({"displayName": "深圳星河科技", "industry": "software", "cityCode": "440300",
                        "verificationState": "VERIFICATION_STATE_VERIFIED"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["verificationState"],
        "VERIFICATION_STATE_UNVERIFIED"
    );
    assert_eq!(created["callerRole"], "owner");
    let name = created["name"].as_str().unwrap().to_string();
    let (status, _) = mesh
        .call(
            Method::POST,
            "/v1/companies",
            Some(&candidate),
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = mesh
        .call(
            Method::POST,
            "/v1/companies",
            None,
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!(status, 401);

    // Update with a mask in the query; a bad value is named.
    let (status, body) = mesh
        .call(
            Method::PATCH,
            &format!("/v1/{name}?updateMask=cityCode"),
            Some(&owner),
            Some(json!({"cityCode": "44"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(bad_fields(&body), ["company.city_code"]);
    let (status, body) = mesh
        .call(
            Method::PATCH,
            &format!("/v1/{name}?updateMask=description"),
            Some(&owner),
            Some(json!({"description": "招聘平台"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], "2");

    // Verification: a bad code is named; only an admin approves.
    let docs = |uscc: &str| {
        json!({"uscc": uscc, "legalName": "深圳星河科技有限公司", "legalRepresentative": "王五",
               "licenceDocument": "files/licence.pdf"})
    };
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}:submitVerification"),
            Some(&owner),
            Some(docs("914403001922038217")),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(bad_fields(&body), ["uscc"]);
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}:submitVerification"),
            Some(&owner),
            Some(docs("914403001922038216")),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["company"]["verificationState"],
        "VERIFICATION_STATE_PENDING"
    );
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}:reviewVerification"),
            Some(&owner),
            Some(json!({"approve": true})),
        )
        .await;
    assert_eq!(
        (status, reason(&body).as_deref()),
        (403, Some("ADMINS_ONLY")),
        "{body}"
    );
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}:reviewVerification"),
            Some(&admin),
            Some(json!({"approve": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["company"]["verificationState"],
        "VERIFICATION_STATE_VERIFIED"
    );

    // Another company's member: private data looks missing, changes are refused.
    let (status, body) = mesh.get(&format!("/v1/{name}/members"), Some(&rival)).await;
    assert_eq!(status, 404, "{body}");
    let (status, missing) = mesh
        .get(
            "/v1/companies/00000000-0000-7000-8000-000000000000/members",
            Some(&rival),
        )
        .await;
    assert_eq!((status, &missing["message"]), (404, &body["message"]));
    let (status, _) = mesh
        .get(&format!("/v1/{name}/auditEvents"), Some(&rival))
        .await;
    assert_eq!(status, 404);
    let (status, _) = mesh
        .call(
            Method::PATCH,
            &format!("/v1/{name}?updateMask=displayName"),
            Some(&rival),
            Some(json!({"displayName": "mine"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, public) = mesh.get(&format!("/v1/{name}"), None).await;
    assert_eq!(status, 200);
    assert!(public.get("verification").is_none(), "{public}");

    // Invite a colleague as recruiter; the permission holds until it is revoked.
    let (status, inv) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}/invitations"),
            Some(&owner),
            Some(json!({"email": "HR@example.com", "role": "MEMBER_ROLE_RECRUITER"})),
        )
        .await;
    assert_eq!(status, 200, "{inv}");
    let inv_name = inv["name"].as_str().unwrap();
    let (status, _) = mesh
        .call(
            Method::POST,
            &format!("/v1/{inv_name}:accept"),
            Some(&rival),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{inv_name}:accept"),
            Some(&colleague),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let check =
        json!({"check": {"subject": colleague_name, "company": name, "permission": "job.write"}});
    let (status, body) = mesh
        .call(
            Method::POST,
            "/v1/permissions:check",
            Some(&colleague),
            Some(check.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["decision"]["allowed"], true);
    let colleague_id = colleague_name.trim_start_matches("users/");
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}/members/{colleague_id}:setRole"),
            Some(&colleague),
            Some(json!({"role": "MEMBER_ROLE_OWNER"})),
        )
        .await;
    assert_eq!(status, 403, "a recruiter cannot change roles: {body}");
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}/members/{colleague_id}:setRole"),
            Some(&owner),
            Some(json!({"role": "MEMBER_ROLE_VIEWER"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = mesh
        .call(
            Method::POST,
            "/v1/permissions:check",
            Some(&colleague),
            Some(check),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["decision"]["allowed"], false,
        "revoked at once: {body}"
    );

    // An office in GCJ-02; the nearby search finds the company.
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}/offices"),
            Some(&owner),
            Some(
                json!({"address": "南山区科技园", "cityCode": "440300", "headquarters": true,
                        "location": {"latitude": 22.540796131694766, "longitude": 113.9171764808363,
                                     "system": "COORDINATE_SYSTEM_GCJ02"}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let nearby = eventually_value(Duration::from_secs(20), || async {
        let (status, body) = mesh
            .get("/v1/companies:nearby?latitude=22.543847&longitude=113.912316&radiusKm=2&verifiedOnly=true", None)
            .await;
        assert_eq!(status, 200, "{body}");
        body["companies"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await
    .expect("found nearby");
    assert_eq!(nearby[0]["company"], name.as_str());
    assert!(
        nearby[0]["distanceKm"].as_f64().unwrap() < 0.01,
        "{nearby:?}"
    );
    let (status, body) = mesh
        .get(
            "/v1/companies:nearby?latitude=22.5&longitude=113.9&radiusKm=0",
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // The owner reads the audit trail.
    let (status, audit) = mesh
        .get(
            &format!("/v1/{name}/auditEvents?actionPrefix=member."),
            Some(&owner),
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["member.role_changed", "member.added", "member.added"]
    );
    // Members, invitations and a batch of checks.
    let (status, body) = mesh.get(&format!("/v1/{name}/members"), Some(&owner)).await;
    assert_eq!(
        (status, body["members"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{body}"
    );
    let (status, body) = mesh
        .get(&format!("/v1/{name}/invitations"), Some(&owner))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["invitations"][0]["state"], "INVITATION_STATE_ACCEPTED");
    let (status, body) = mesh
        .call(
            Method::POST,
            "/v1/permissions:batchCheck",
            Some(&colleague),
            Some(json!({"checks": [
                {"subject": colleague_name, "company": name, "permission": "company.read"},
                {"subject": colleague_name, "company": name, "permission": "company.update"}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["decisions"][0]["allowed"], true);
    assert!(
        body["decisions"][1]
            .get("allowed")
            .is_none_or(|a| a == false),
        "{body}"
    );

    // Offices in another system, then gone.
    let (status, body) = mesh
        .get(
            &format!("/v1/{name}/offices?coordinateSystem=COORDINATE_SYSTEM_BD09"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["offices"][0]["location"]["system"],
        "COORDINATE_SYSTEM_BD09"
    );
    let office = body["offices"][0]["name"].as_str().unwrap().to_string();

    // The network: a declared competitor, disputed; paths; derived neighbours; the analysis.
    let (status, other) = mesh
        .call(
            Method::POST,
            "/v1/companies",
            Some(&rival),
            Some(json!({"displayName": "Rival Robotics", "industry": "software", "cityCode": "440300"})),
        )
        .await;
    assert_eq!(status, 200, "{other}");
    let other = other["name"].as_str().unwrap().to_string();
    let (status, relation) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}/relations"),
            Some(&owner),
            Some(json!({"target": other, "kind": "RELATION_KIND_COMPETITOR"})),
        )
        .await;
    assert_eq!(status, 200, "{relation}");
    let relation = relation["name"].as_str().unwrap().to_string();
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{relation}:dispute"),
            Some(&rival),
            Some(json!({"reason": "different markets"})),
        )
        .await;
    assert_eq!(
        (status, &body["relation"]["disputed"]),
        (200, &json!(true)),
        "{body}"
    );
    let (status, body) = mesh.get(&format!("/v1/{other}/relations"), None).await;
    assert_eq!(
        (status, body["received"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );
    let network = eventually_value(Duration::from_secs(20), || async {
        let (_, body) = mesh
            .get(
                &format!("/v1/{name}:network?depth=2&includeDerived=true"),
                None,
            )
            .await;
        let edges = body["edges"].as_array().cloned().unwrap_or_default();
        (edges.len() == 2).then_some(edges)
    })
    .await
    .expect("declared and derived edges");
    let mut kinds: Vec<&str> = network
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "RELATION_KIND_COMPETITOR",
            "RELATION_KIND_SAME_INDUSTRY_AND_CITY"
        ]
    );
    let (status, path) = mesh
        .get(&format!("/v1/companies:path?from={name}&to={other}"), None)
        .await;
    assert_eq!(
        (status, path["companies"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{path}"
    );
    let (status, rivals) = mesh
        .get(&format!("/v1/{name}:competitors"), Some(&owner))
        .await;
    assert_eq!(status, 200, "{rivals}");
    assert_eq!(rivals["competitors"][0]["company"], other.as_str());
    let (status, _) = mesh
        .get(&format!("/v1/{name}:competitors"), Some(&rival))
        .await;
    assert_eq!(status, 404);

    // Search, from the PostgreSQL projection ("星河", URL-encoded).
    let found = eventually_value(Duration::from_secs(20), || async {
        let (_, body) = mesh
            .get(
                "/v1/companies?query=%E6%98%9F%E6%B2%B3&industry=software",
                None,
            )
            .await;
        body["companies"]
            .as_array()
            .filter(|a| a.len() == 1)
            .cloned()
    })
    .await
    .expect("found by a Chinese query");
    assert_eq!(found[0]["name"], name.as_str());

    // Clean-up through the API: office, relation, member, company.
    for path in [
        office.as_str(),
        relation.as_str(),
        &format!("{name}/members/{colleague_id}"),
    ] {
        let (status, body) = mesh
            .call(Method::DELETE, &format!("/v1/{path}"), Some(&owner), None)
            .await;
        assert_eq!(status, 200, "DELETE {path}: {body}");
    }
    let (status, _) = mesh
        .call(
            Method::DELETE,
            &format!("/v1/{name}"),
            Some(&colleague),
            None,
        )
        .await;
    assert_eq!(status, 403, "a former member deletes nothing");
    let (status, body) = mesh
        .call(Method::DELETE, &format!("/v1/{name}"), Some(&owner), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = mesh.get(&format!("/v1/{name}"), None).await;
    assert_eq!(status, 404);
    mesh.stop().await;
}
