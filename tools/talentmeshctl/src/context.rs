//! Connections and credentials from the global options: the gateway client, the admin's login
//! (password from `TALENTMESH_ADMIN_PASSWORD` or the password file `dev/mesh.sh` writes), and
//! Consul with its token (`TALENTMESH_CONSUL_TOKEN` or the management token file).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Global;
use crate::consul::Consul;
use crate::error::{Error, Result};
use crate::gateway::{Gateway, Login};
use crate::secret::Secret;

/// The global options of one invocation, and the clients made from them.
pub struct Context {
    pub global: Global,
}

/// `$TALENTMESH_DATA` (default `/var/lib/talentmesh`, as in dev/lib.sh) joined with `rest`.
fn data_path(rest: &str) -> PathBuf {
    let data = std::env::var("TALENTMESH_DATA")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/var/lib/talentmesh".to_string());
    PathBuf::from(data).join(rest)
}

/// A secret from the variable `var` when set, else from `file` (trimmed).
fn secret_from(var: &str, file: &PathBuf, what: &str) -> Result<Secret> {
    if let Some(value) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
        return Ok(Secret::new(value));
    }
    std::fs::read_to_string(file)
        .map(|s| Secret::new(s.trim()))
        .map_err(|e| {
            Error::Usage(format!(
                "no {what}: set {var} or point to a file ({} : {e})",
                file.display()
            ))
        })
}

impl Context {
    /// Whether to print JSON instead of tables.
    pub fn json(&self) -> bool {
        self.global.json
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.global.timeout.max(1))
    }

    /// The gateway, anonymous.
    pub fn gateway(&self) -> Result<Gateway> {
        Gateway::new(&self.global.gateway, self.timeout())
    }

    /// The admin's password.
    pub fn admin_password(&self) -> Result<Secret> {
        let file = self
            .global
            .password_file
            .clone()
            .unwrap_or_else(|| data_path("mesh/admin-password"));
        secret_from("TALENTMESH_ADMIN_PASSWORD", &file, "admin password")
    }

    /// The gateway as the platform admin. A refusal keeps its kind (HTTP 401: exit code
    /// [`crate::error::exit::PERMISSION`], with a hint naming the options to check).
    pub async fn admin(&self) -> Result<Login> {
        let password = self.admin_password()?;
        self.gateway()?
            .login(&self.global.email, &password)
            .await
            .map_err(|e| Error::Context {
                what: format!("logging in as {}", self.global.email),
                source: Box::new(e),
            })
    }

    /// Consul with the token from `TALENTMESH_CONSUL_TOKEN` or the token file (none when
    /// neither exists: an agent without ACLs).
    ///
    /// # Errors
    /// [`Error::Setting`] when the token file exists but is empty (`--consul-token-file
    /// /dev/null`): Consul would take the request as the anonymous token's, whose empty catalog
    /// makes every service look missing.
    pub fn consul(&self) -> Result<Consul> {
        let file = self
            .global
            .consul_token_file
            .clone()
            .unwrap_or_else(|| data_path("consul/management.token"));
        let token =
            secret_from("TALENTMESH_CONSUL_TOKEN", &file, "consul token").unwrap_or_default();
        if token.is_empty() && file.exists() {
            return Err(Error::Setting {
                message: format!(
                    "the Consul token file {} is empty: Consul would answer as its anonymous \
                     token, which sees no services",
                    file.display()
                ),
                hint: "give --consul-token-file (TALENTMESH_CONSUL_TOKEN_FILE) a file holding \
                       an ACL token that may read the catalog, such as \
                       $TALENTMESH_DATA/consul/management.token, or set TALENTMESH_CONSUL_TOKEN"
                    .into(),
            });
        }
        Consul::new(&self.global.consul, token, self.timeout())
    }
}
