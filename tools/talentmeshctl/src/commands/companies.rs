//! `companies verifications …`: the platform admin's review of enterprise verifications —
//! list companies by verification state with the documents they submitted (admins see them in
//! `ListCompanies`), approve or reject (`:reviewVerification`).

use std::process::ExitCode;

use serde_json::{json, Value};

use crate::cli::VerificationCommand;
use crate::commands::sync::encode;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::{self, short, text};

/// `companies/{id}` from `companies/{id}` or the bare id.
pub fn company_resource(company: &str) -> String {
    if company.starts_with("companies/") {
        company.to_string()
    } else {
        format!("companies/{company}")
    }
}

/// `companies verifications list|approve|reject`.
pub async fn verifications(ctx: &Context, cmd: VerificationCommand) -> Result<ExitCode> {
    let admin = ctx.admin().await?;
    match cmd {
        VerificationCommand::List { state, city, limit } => {
            let mut companies: Vec<Value> = Vec::new();
            let mut token = String::new();
            loop {
                let mut path = format!(
                    "/v1/companies?verificationState={}&pageSize=100",
                    state.api()
                );
                if let Some(city) = &city {
                    path.push_str(&format!("&cityCode={}", encode(city)));
                }
                if !token.is_empty() {
                    path.push_str(&format!("&pageToken={}", encode(&token)));
                }
                let body = admin.gateway.get(&path).await?;
                companies.extend(body["companies"].as_array().cloned().unwrap_or_default());
                token = text(&body["nextPageToken"]);
                if token.is_empty() || companies.len() >= limit {
                    break;
                }
            }
            companies.truncate(limit);
            if ctx.json() {
                output::json(&json!({ "companies": companies }));
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = output::table([
                "COMPANY",
                "NAME",
                "CITY",
                "STATE",
                "USCC",
                "LEGAL NAME",
                "REPRESENTATIVE",
                "SUBMITTED",
            ]);
            for c in &companies {
                let v = &c["verification"];
                table.add_row(vec![
                    text(&c["name"]),
                    text(&c["displayName"]),
                    text(&c["cityCode"]),
                    short(&c["verificationState"], "VERIFICATION_STATE_"),
                    text(&v["uscc"]),
                    text(&v["legalName"]),
                    text(&v["legalRepresentative"]),
                    text(&v["submitTime"]),
                ]);
            }
            println!("{table}");
            println!("{} companies", companies.len());
        }
        VerificationCommand::Approve { companies } => {
            review(ctx, &admin.gateway, &companies, json!({"approve": true})).await?;
        }
        VerificationCommand::Reject { companies, reason } => {
            if reason.trim().is_empty() {
                return Err(Error::Usage("--reason must say why".into()));
            }
            review(
                ctx,
                &admin.gateway,
                &companies,
                json!({"approve": false, "reason": reason}),
            )
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reviews each company in turn; stops at the first refusal (the ones before it are done:
/// with `--json` the document beside the error lists them, else stderr does and stdout stays
/// empty).
async fn review(
    ctx: &Context,
    gateway: &crate::gateway::Gateway,
    companies: &[String],
    decision: Value,
) -> Result<()> {
    let mut done = Vec::new();
    let mut failure = None;
    for company in companies {
        let name = company_resource(company);
        match gateway
            .post(&format!("/v1/{name}:reviewVerification"), &decision)
            .await
        {
            Ok(body) => done.push(body["company"].clone()),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if ctx.json() {
        let output = json!({ "companies": done });
        // One document on stdout: the companies reviewed so far beside the error.
        return match failure {
            Some(e) => Err(Error::Partial {
                output: Box::new(output),
                error: Box::new(e),
            }),
            None => {
                output::json(&output);
                Ok(())
            }
        };
    }
    if let Some(e) = failure {
        // Nothing on stdout on failure; what was done before it goes with the error on stderr.
        for c in &done {
            eprintln!(
                "talentmeshctl: reviewed before the error: {} ({})",
                text(&c["name"]),
                short(&c["verificationState"], "VERIFICATION_STATE_")
            );
        }
        return Err(e);
    }
    let mut table = output::table(["COMPANY", "NAME", "STATE"]);
    for c in &done {
        table.add_row(vec![
            text(&c["name"]),
            text(&c["displayName"]),
            short(&c["verificationState"], "VERIFICATION_STATE_"),
        ]);
    }
    println!("{table}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companies_are_named_either_way() {
        assert_eq!(company_resource("abc"), "companies/abc");
        assert_eq!(company_resource("companies/abc"), "companies/abc");
    }
}
