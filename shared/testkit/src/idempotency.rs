//! AIP-155 request ids (<https://google.aip.dev/155>) as tests check them: one conformance
//! suite that every idempotent create method runs, so the company, job and resume services
//! prove the same promises the same way (`talentmesh_storage::idempotency` is the one
//! mechanism behind them).
//!
//! A test file implements [`IdempotentCreate`] for each create method it covers (how to call
//! it, what a caller needs first, what a create writes) and lists the checks that apply with
//! [`idempotent_create_tests!`](crate::idempotent_create_tests), which makes one `#[tokio::test]`
//! per check, each on a service of its own:
//!
//! - [`replays_the_first_answer`]: a retry with the same id, even with another body or the id in
//!   upper case, answers the first resource and writes nothing more (rows, events, audit).
//! - [`ids_are_per_caller`]: another caller with the same id creates its own.
//! - [`without_an_id_every_call_creates`]: no id, no idempotency.
//! - [`a_malformed_id_is_refused`]: INVALID_ARGUMENT with one `BadRequest` field violation on
//!   `request_id`, nothing written.
//! - [`a_duplicate_in_flight_is_aborted`]: while the first request holds its claim, a duplicate
//!   is ABORTED and writes nothing; once the claim is gone the id creates.

#![allow(async_fn_in_trait)] // The suite awaits in place; no caller needs the futures `Send`.

use talentmesh_mesh::error::field_violations_of;
use tonic::{Code, Status};

use crate::{scalar_i64, TestEnv};

/// One create method under test, on a service the implementor started.
pub trait IdempotentCreate {
    /// A caller ready to create: its user and whatever the create needs of its own (a company
    /// it manages, a resume to apply with).
    type Caller;

    /// The method name the service keys request ids under (`CreateOffice`).
    const METHOD: &'static str;

    /// A new caller, set up through the services (its setup may write: the suite counts
    /// [`Self::written`] only after it).
    async fn caller(&self) -> Self::Caller;

    /// The caller's user id, the `<caller>` of the service's key.
    fn user_id(who: &Self::Caller) -> &str;

    /// Calls the create as `who` with `request_id` ("" for none) and body `body`: 0 and 1 are
    /// two bodies that, created both, make two resources. Returns the created resource's name.
    async fn create(
        &self,
        who: &Self::Caller,
        request_id: &str,
        body: u8,
    ) -> Result<String, Status>;

    /// `SELECT COUNT(*)` queries, in the owning service's MySQL database, of what a create
    /// writes (rows, outbox events, audit entries): a create changes their counts, a replay or
    /// a refusal leaves them as they were.
    const WRITES: &'static [&'static str];

    /// The environment of the service that owns the create (its database, its Redis key
    /// prefix).
    fn env(&self) -> &TestEnv;

    /// The counts of [`Self::WRITES`], in order.
    async fn written(&self) -> Vec<i64> {
        let db = self.env().mysql().await;
        let mut counts = Vec::with_capacity(Self::WRITES.len());
        for query in Self::WRITES {
            counts.push(scalar_i64(&db, query).await);
        }
        counts
    }

    /// Stops the services.
    async fn stop(self);
}

/// A new request id (a random UUID, lower case).
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Asserts `status` is INVALID_ARGUMENT with field violations on `request_id` only.
pub fn assert_refused_on_request_id(status: &Status) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let fields: Vec<String> = field_violations_of(status)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["request_id"], "{status:?}");
}

/// The claim a running first request holds in the service's Redis, made by hand: every
/// request with the same caller, method and id finds it and is ABORTED until it is released.
pub struct HeldClaim {
    key: String,
    redis: redis::aio::MultiplexedConnection,
}

impl HeldClaim {
    /// Holds `<prefix>request:<user>:<method>:<id>` in `env`'s Redis as a first request would
    /// (`pending:`, expiring in a minute).
    pub async fn hold(env: &TestEnv, user: &str, method: &str, id: &str) -> HeldClaim {
        let key = format!("{}request:{user}:{method}:{id}", env.redis_prefix);
        let mut redis = env.redis().await;
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("pending:held-by-the-test")
            .arg("EX")
            .arg(60)
            .query_async(&mut redis)
            .await
            .expect("hold the claim");
        HeldClaim { key, redis }
    }

    /// Lets the claim go, as a first request that failed (or whose claim expired).
    pub async fn release(mut self) {
        let _: () = redis::cmd("DEL")
            .arg(&self.key)
            .query_async(&mut self.redis)
            .await
            .expect("release the claim");
    }
}

fn created(method: &str, result: Result<String, Status>) -> String {
    result.unwrap_or_else(|s| panic!("{method} failed: {s:?}"))
}

/// A retry with the same id returns the first resource and writes nothing: with another body,
/// and with the id in upper case (one id).
pub async fn replays_the_first_answer<C: IdempotentCreate>(c: &C) {
    let who = c.caller().await;
    let id = request_id();
    let before = c.written().await;
    let first = created(C::METHOD, c.create(&who, &id, 0).await);
    let after = c.written().await;
    assert_ne!(
        after,
        before,
        "{} wrote nothing that the test counts",
        C::METHOD
    );

    let again = created(C::METHOD, c.create(&who, &id, 1).await);
    assert_eq!(again, first, "a retry with another body");
    let upper = created(C::METHOD, c.create(&who, &id.to_uppercase(), 0).await);
    assert_eq!(upper, first, "the id in upper case");
    assert_eq!(c.written().await, after, "a replay wrote or emitted");
}

/// Another caller with the same id creates a resource of its own.
pub async fn ids_are_per_caller<C: IdempotentCreate>(c: &C) {
    let (a, b) = (c.caller().await, c.caller().await);
    let id = request_id();
    let first = created(C::METHOD, c.create(&a, &id, 0).await);
    let second = created(C::METHOD, c.create(&b, &id, 0).await);
    assert_ne!(first, second);
}

/// Without an id, two calls make two resources.
pub async fn without_an_id_every_call_creates<C: IdempotentCreate>(c: &C) {
    let who = c.caller().await;
    let first = created(C::METHOD, c.create(&who, "", 0).await);
    let second = created(C::METHOD, c.create(&who, "", 1).await);
    assert_ne!(first, second);
}

/// An id that is not a UUID is refused on `request_id`, and nothing is written.
pub async fn a_malformed_id_is_refused<C: IdempotentCreate>(c: &C) {
    let who = c.caller().await;
    let before = c.written().await;
    for bad in ["retry-1", "123", "00000000-0000-0000-0000", " "] {
        match c.create(&who, bad, 0).await {
            Ok(name) => panic!("{} with request_id {bad:?} created {name}", C::METHOD),
            Err(status) => assert_refused_on_request_id(&status),
        }
    }
    assert_eq!(c.written().await, before);
}

/// While a first request with the id runs (its claim held), a duplicate is ABORTED and writes
/// nothing; once the claim is released, the id creates.
pub async fn a_duplicate_in_flight_is_aborted<C: IdempotentCreate>(c: &C) {
    let who = c.caller().await;
    let id = request_id();
    let claim = HeldClaim::hold(c.env(), C::user_id(&who), C::METHOD, &id).await;
    let before = c.written().await;
    match c.create(&who, &id, 0).await {
        Ok(name) => panic!("{} ran beside the first request: {name}", C::METHOD),
        Err(status) => {
            assert_eq!(status.code(), Code::Aborted, "{status:?}");
            assert!(status.message().contains("in progress"), "{status:?}");
        }
    }
    assert_eq!(c.written().await, before);

    claim.release().await;
    created(C::METHOD, c.create(&who, &id, 0).await);
    assert_ne!(c.written().await, before);
}

/// One `#[tokio::test]` per check of this module, in a module `$module`, each on the service(s)
/// `$start` (an expression evaluating to a future of an [`IdempotentCreate`], e.g.
/// `Offices::start()`; names of the including file are in scope). Without a list, all five.
///
/// ```ignore
/// talentmesh_testkit::idempotent_create_tests!(create_office, Offices::start());
/// talentmesh_testkit::idempotent_create_tests!(create_application, Applications::start(),
///     [replays_the_first_answer, ids_are_per_caller, a_malformed_id_is_refused]);
/// ```
#[macro_export]
macro_rules! idempotent_create_tests {
    ($module:ident, $start:expr) => {
        $crate::idempotent_create_tests!(
            $module,
            $start,
            [
                replays_the_first_answer,
                ids_are_per_caller,
                without_an_id_every_call_creates,
                a_malformed_id_is_refused,
                a_duplicate_in_flight_is_aborted,
            ]
        );
    };
    ($module:ident, $start:expr, [$($check:ident),+ $(,)?]) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[tokio::test]
                async fn $check() {
                    let create = $start.await;
                    $crate::idempotency::$check(&create).await;
                    $crate::idempotency::IdempotentCreate::stop(create).await;
                }
            )+
        }
    };
}
