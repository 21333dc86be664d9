//! Reading the gateway's answers: status and JSON body, and the google.rpc details in it.

/// The status of `resp` and its body as JSON (Null when the body is not JSON).
pub async fn read(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// The `reason` of the ErrorInfo detail in a google.rpc.Status JSON body.
pub fn reason(body: &serde_json::Value) -> Option<String> {
    body["details"]
        .as_array()?
        .iter()
        .find(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.rpc.ErrorInfo"))
        })
        .and_then(|d| d["reason"].as_str().map(str::to_string))
}

/// Field names of the BadRequest detail in a google.rpc.Status JSON body.
pub fn bad_fields(body: &serde_json::Value) -> Vec<String> {
    body["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.rpc.BadRequest"))
        })
        .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["field"].as_str().map(str::to_string))
        .collect()
}
