//! Where the stores are and which namespace of each belongs to the service.

use talentmesh_mesh::config::Env;
use talentmesh_mesh::Secret;

/// Which stores a service uses; health reports NOT_SERVING while one of these is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub mysql: bool,
    pub postgres: bool,
    pub neo4j: bool,
    pub redis: bool,
}

impl Needs {
    pub const ALL: Needs = Needs {
        mysql: true,
        postgres: true,
        neo4j: true,
        redis: true,
    };
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Server URL without a database, e.g. `mysql://root@127.0.0.1:13306`.
    pub mysql_url: Secret,
    /// The service's own database, created if missing.
    pub mysql_database: String,
    /// Server URL, e.g. `postgres://postgres@127.0.0.1:15432/postgres`.
    pub postgres_url: Secret,
    /// The service's own schema, created if missing and first on the search path.
    pub postgres_schema: String,
    pub neo4j_uri: String,
    pub neo4j_user: String,
    pub neo4j_password: Secret,
    /// Value of the `ns` property on every node the service writes: Neo4j community has one
    /// database, so services (and tests) keep apart by namespace.
    pub neo4j_namespace: String,
    pub redis_url: Secret,
    /// Prefix of every Redis key of the service, e.g. `identity:`.
    pub redis_prefix: String,
    pub max_connections: u32,
    pub needs: Needs,
}

impl StorageConfig {
    /// Reads `TALENTMESH_MYSQL_URL`, `TALENTMESH_POSTGRES_URL`, `TALENTMESH_NEO4J_URI`,
    /// `TALENTMESH_REDIS_URL` and the namespace overrides; defaults fit the local servers.
    pub fn load(env: &mut Env, service: &str, needs: Needs) -> StorageConfig {
        let config = StorageConfig {
            mysql_url: env.secret("TALENTMESH_MYSQL_URL", "mysql://root@127.0.0.1:13306"),
            mysql_database: namespace(
                env,
                "TALENTMESH_MYSQL_DATABASE",
                &format!("talentmesh_{service}"),
            ),
            postgres_url: env.secret(
                "TALENTMESH_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:15432/postgres",
            ),
            postgres_schema: namespace(env, "TALENTMESH_POSTGRES_SCHEMA", service),
            neo4j_uri: env.string("TALENTMESH_NEO4J_URI", "127.0.0.1:17687"),
            neo4j_user: env.string("TALENTMESH_NEO4J_USER", "neo4j"),
            neo4j_password: env.secret("TALENTMESH_NEO4J_PASSWORD", "talentmesh"),
            neo4j_namespace: namespace(env, "TALENTMESH_NEO4J_NAMESPACE", service),
            redis_url: env.secret("TALENTMESH_REDIS_URL", "redis://127.0.0.1:16379"),
            redis_prefix: env.string("TALENTMESH_REDIS_PREFIX", &format!("{service}:")),
            max_connections: env.parse("TALENTMESH_STORE_MAX_CONNECTIONS", 16),
            needs,
        };
        if config.max_connections == 0 {
            env.problem("TALENTMESH_STORE_MAX_CONNECTIONS: must be at least 1");
        }
        config
    }
}

/// Reads a namespace (a MySQL database, a PostgreSQL schema, a Neo4j `ns` value, another
/// service's graph namespace) from `key`, over `default`. Namespaces are spliced into DDL and
/// Cypher, so anything but a plain identifier ([`is_identifier`]) is recorded as a problem of
/// the config and the service refuses to start.
pub fn namespace(env: &mut Env, key: &str, default: &str) -> String {
    let name = env.string(key, default);
    if !is_identifier(&name) {
        env.problem(format!(
            "{key}: `{name}` must be 1-64 characters of a-z, 0-9 and _, not starting with a digit"
        ));
    }
    name
}

/// Database and schema names are spliced into DDL, so only plain identifiers are accepted.
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}
