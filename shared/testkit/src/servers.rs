//! Where the local servers are and who tests are on them. `dev/servers.sh` makes every store
//! require credentials: an admin (MariaDB `root`, PostgreSQL `postgres`, Redis `admin`, Neo4j
//! `neo4j`) and one user per mesh service, each password in
//! `$TALENTMESH_DATA/<server>/passwords/<user>` (mode 0600). Tests create and drop their
//! per-test databases, schemas, keys and nodes as the admin ([`mysql_url`], [`postgres_url`],
//! [`redis_url`], [`neo4j_graph`]); the service under test runs as its own user when the servers
//! have one ([`service_store_vars`]), so a crate's tests show that user can do the service's work.
//!
//! Read from the environment (the same names as `dev/servers.sh`):
//! - `TALENTMESH_DATA` (default `/var/lib/talentmesh`): where the password files are;
//! - `TALENTMESH_MARIADB_PORT`, `TALENTMESH_POSTGRES_PORT`, `TALENTMESH_REDIS_PORT`,
//!   `TALENTMESH_NEO4J_PORT` (defaults 13306, 15432, 16379, 17687);
//! - `TALENTMESH_TEST_MYSQL_URL`, `TALENTMESH_TEST_POSTGRES_URL`, `TALENTMESH_TEST_REDIS_URL`,
//!   `TALENTMESH_TEST_NEO4J_PASSWORD`: the admin credentials given outright (e.g. by CI), over
//!   the files;
//! - `TALENTMESH_TEST_STORE_USERS=admin`: run services under test as the admin too.
//!
//! A server without password files (one from before credentials) is reached without a
//! password, as before.

use std::path::PathBuf;
use std::sync::LazyLock;

/// The stores' addresses and credentials, read once per test process.
struct Servers {
    data: PathBuf,
    mysql_port: u16,
    postgres_port: u16,
    redis_port: u16,
    neo4j_port: u16,
    mysql_admin: String,
    postgres_admin: String,
    redis_admin: String,
    neo4j_password: String,
    service_users: bool,
}

static SERVERS: LazyLock<Servers> = LazyLock::new(Servers::from_env);

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn port(key: &str, default: u16) -> u16 {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{key}: not a port: {v}"))
        })
        .unwrap_or(default)
}

impl Servers {
    fn from_env() -> Servers {
        let data = PathBuf::from(env_or("TALENTMESH_DATA", "/var/lib/talentmesh"));
        let mut servers = Servers {
            data,
            mysql_port: port("TALENTMESH_MARIADB_PORT", 13306),
            postgres_port: port("TALENTMESH_POSTGRES_PORT", 15432),
            redis_port: port("TALENTMESH_REDIS_PORT", 16379),
            neo4j_port: port("TALENTMESH_NEO4J_PORT", 17687),
            mysql_admin: String::new(),
            postgres_admin: String::new(),
            redis_admin: String::new(),
            neo4j_password: String::new(),
            service_users: env_or("TALENTMESH_TEST_STORE_USERS", "service") != "admin",
        };
        servers.mysql_admin = env_or(
            "TALENTMESH_TEST_MYSQL_URL",
            &servers.mysql_url_for("root", servers.password("mariadb", "root")),
        );
        servers.postgres_admin = env_or(
            "TALENTMESH_TEST_POSTGRES_URL",
            &servers.postgres_url_for("postgres", servers.password("postgres", "postgres")),
        );
        let redis_admin = servers.password("redis", "admin");
        servers.redis_admin = env_or(
            "TALENTMESH_TEST_REDIS_URL",
            &servers.redis_url_for(redis_admin.as_ref().map(|pw| ("admin", pw.as_str()))),
        );
        // Without authentication (a server from before passwords) any password is accepted.
        servers.neo4j_password = env_or(
            "TALENTMESH_TEST_NEO4J_PASSWORD",
            &servers
                .password("neo4j", "neo4j")
                .unwrap_or_else(|| "talentmesh".to_string()),
        );
        servers
    }

    /// The password `dev/servers.sh` made for `user` on `server`, if it made one.
    fn password(&self, server: &str, user: &str) -> Option<String> {
        let path = self.data.join(server).join("passwords").join(user);
        let text = std::fs::read_to_string(path).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    fn mysql_url_for(&self, user: &str, password: Option<String>) -> String {
        match password {
            Some(pw) => format!("mysql://{user}:{pw}@127.0.0.1:{}", self.mysql_port),
            None => format!("mysql://{user}@127.0.0.1:{}", self.mysql_port),
        }
    }

    fn postgres_url_for(&self, user: &str, password: Option<String>) -> String {
        match password {
            Some(pw) => format!(
                "postgres://{user}:{pw}@127.0.0.1:{}/postgres",
                self.postgres_port
            ),
            None => format!(
                "postgres://{user}@127.0.0.1:{}/postgres",
                self.postgres_port
            ),
        }
    }

    fn redis_url_for(&self, user: Option<(&str, &str)>) -> String {
        match user {
            Some((user, pw)) => format!("redis://{user}:{pw}@127.0.0.1:{}", self.redis_port),
            None => format!("redis://127.0.0.1:{}", self.redis_port),
        }
    }
}

/// The MariaDB server as its admin, without a database, e.g. `mysql://root:…@127.0.0.1:13306`.
pub fn mysql_url() -> String {
    SERVERS.mysql_admin.clone()
}

/// The PostgreSQL database `postgres` as the superuser.
pub fn postgres_url() -> String {
    SERVERS.postgres_admin.clone()
}

/// Redis as the admin user (every key and command).
pub fn redis_url() -> String {
    SERVERS.redis_admin.clone()
}

/// Bolt address of Neo4j, `host:port`.
pub fn neo4j_uri() -> String {
    format!("127.0.0.1:{}", SERVERS.neo4j_port)
}

/// A Neo4j connection as the admin user `neo4j`.
pub async fn neo4j_graph() -> neo4rs::Graph {
    neo4rs::Graph::new(neo4j_uri(), "neo4j", SERVERS.neo4j_password.as_str())
        .await
        .expect("connect to neo4j as its admin")
}

/// [`neo4j_graph`] for cleanup, which must not panic.
pub(crate) async fn try_neo4j_graph() -> Option<neo4rs::Graph> {
    neo4rs::Graph::new(neo4j_uri(), "neo4j", SERVERS.neo4j_password.as_str())
        .await
        .ok()
}

/// Redis as `service`'s own user, when `dev/servers.sh` made one (None on a server without ACL
/// users).
pub fn service_redis_url(service: &str) -> Option<String> {
    let pw = SERVERS.password("redis", service)?;
    Some(SERVERS.redis_url_for(Some((service, &pw))))
}

/// The `TALENTMESH_*` store variables of a service under test: its own user on each store that
/// has one (see the module docs), the admin otherwise.
pub fn service_store_vars(service: &str) -> Vec<(&'static str, String)> {
    let s = &*SERVERS;
    let own = |server: &str| {
        s.service_users
            .then(|| s.password(server, service))
            .flatten()
    };
    let mysql = match own("mariadb") {
        Some(pw) => s.mysql_url_for(service, Some(pw)),
        None => s.mysql_admin.clone(),
    };
    let postgres = match own("postgres") {
        Some(pw) => s.postgres_url_for(service, Some(pw)),
        None => s.postgres_admin.clone(),
    };
    let redis = match own("redis") {
        Some(pw) => s.redis_url_for(Some((service, &pw))),
        None => s.redis_admin.clone(),
    };
    let (neo4j_user, neo4j_password) = match own("neo4j") {
        Some(pw) => (service.to_string(), pw),
        None => ("neo4j".to_string(), s.neo4j_password.clone()),
    };
    vec![
        ("TALENTMESH_MYSQL_URL", mysql),
        ("TALENTMESH_POSTGRES_URL", postgres),
        ("TALENTMESH_REDIS_URL", redis),
        ("TALENTMESH_NEO4J_URI", neo4j_uri()),
        ("TALENTMESH_NEO4J_USER", neo4j_user),
        ("TALENTMESH_NEO4J_PASSWORD", neo4j_password),
    ]
}
