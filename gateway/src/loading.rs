//! Whether the route table is complete, so that a path no route matches is answered 404 only
//! when no route for it can still be on its way.
//!
//! A gateway that follows Consul (see [`crate::consul::spawn_refresh`]) loads the routes of each
//! service it exposes from the service's own reflection, when the service appears and whenever
//! its instances change (a redeploy may bring new RPCs). Until that load ends, a path of the new
//! routes matches nothing; a 404 then would tell a client that retries on 503 to give up on a
//! path that works a moment later. So, while routes are loading, the proxy answers such a path
//! with 503 UNAVAILABLE and `Retry-After`:
//!
//! - during the *first load* ([`RouteLoading::begin`] until Consul's catalog has been read once
//!   and every exposed service it lists has had its first instances answered and, when it has
//!   instances, its first refresh ended): every path no route matches;
//! - afterwards: a path under a route prefix ([`crate::RouteTable::may_route_to`]) of a
//!   *pending* service — one Consul lists whose routes are not loaded from its current passing
//!   instances (a refresh is running, or it has no passing instance yet).
//!
//! A gateway with fixed upstreams never calls [`RouteLoading::begin`]: its table is complete
//! from the start, and an unmatched path is 404 at once.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::routes::RouteTable;

/// Which routes are still loading. Read (lock-free) on the way to a 404 or 405, written on
/// Consul events.
#[derive(Debug, Default)]
pub struct RouteLoading {
    state: ArcSwap<LoadState>,
    /// Serializes read-modify-swap updates so two events cannot lose each other's change.
    update: Mutex<()>,
}

/// A snapshot of what is loading; every service is named by its route (upstream) name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadState {
    /// The first load has begun and not ended: every unmatched path may still get a route.
    pub starting: bool,
    /// Consul's catalog has been read since the first load began.
    listed_once: bool,
    /// The exposed services in Consul's catalog at its last reading.
    listed: BTreeSet<String>,
    /// Services whose routes were refreshed from their current passing instances.
    loaded: BTreeSet<String>,
    /// Services Consul has answered for whose first refresh, if they had instances, has ended:
    /// the first load waits for every listed service to be here.
    settled: BTreeSet<String>,
}

impl LoadState {
    /// Services Consul lists whose routes are not loaded, in name order.
    pub fn pending(&self) -> Vec<&str> {
        self.listed
            .iter()
            .filter(|s| !self.loaded.contains(*s))
            .map(String::as_str)
            .collect()
    }

    /// Whether an unmatched `path` may yet get a route from `table`'s services: always during
    /// the first load, else when it is under a route prefix of a pending service.
    pub fn may_load(&self, table: &RouteTable, path: &str) -> bool {
        self.starting
            || self
                .pending()
                .into_iter()
                .any(|service| table.may_route_to(service, path))
    }

    fn end_first_load_when_done(&mut self) {
        if self.starting && self.listed_once && self.listed.is_subset(&self.settled) {
            self.starting = false;
        }
    }
}

impl RouteLoading {
    /// The current snapshot.
    pub fn state(&self) -> Arc<LoadState> {
        self.state.load_full()
    }

    /// See [`LoadState::may_load`].
    pub fn may_load(&self, table: &RouteTable, path: &str) -> bool {
        self.state.load().may_load(table, path)
    }

    fn change(&self, edit: impl FnOnce(&mut LoadState)) {
        let _guard = self.update.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = LoadState::clone(&self.state.load());
        edit(&mut next);
        next.end_first_load_when_done();
        self.state.store(Arc::new(next));
    }

    /// The first load begins: until it ends, every unmatched path is 503. Called once, before
    /// the gateway serves, by whatever follows Consul.
    pub fn begin(&self) {
        self.change(|s| {
            s.starting = true;
            s.listed_once = false;
        });
    }

    /// Consul's catalog was read: `services` are the exposed services it lists now.
    pub fn listed(&self, services: BTreeSet<String>) {
        self.change(|s| {
            s.listed = services;
            s.listed_once = true;
        });
    }

    /// The passing instances of `service` changed (or Consul first answered for it): its routes
    /// are not loaded from them until [`Self::refreshed`]. With no instance there is nothing to
    /// load from, and its part in the first load is over.
    pub fn instances_changed(&self, service: &str, none: bool) {
        self.change(|s| {
            s.loaded.remove(service);
            if none {
                s.settled.insert(service.to_string());
            }
        });
    }

    /// The refresh of `service` ended, its routes loaded or the tries given up (its routes are
    /// then those the table had): either way nothing more is coming for its current instances.
    pub fn refreshed(&self, service: &str) {
        self.change(|s| {
            s.loaded.insert(service.to_string());
            s.settled.insert(service.to_string());
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::compile(
            crate::descriptors::compiled_in().unwrap(),
            &crate::config::mesh_services(),
        )
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_gateway_that_loads_nothing_is_complete_from_the_start() {
        let loading = RouteLoading::default();
        assert!(!loading.may_load(&table(), "/v1/nothing"));
        assert!(!loading.may_load(&table(), "/v1/users/42/nothing"));
    }

    #[test]
    fn every_path_may_load_until_every_listed_service_settles() {
        let (loading, table) = (RouteLoading::default(), table());
        loading.begin();
        assert!(
            loading.may_load(&table, "/v1/nothing"),
            "before the catalog"
        );
        loading.listed(names(&["identity", "company"]));
        assert!(loading.may_load(&table, "/v1/nothing"), "nothing settled");
        loading.instances_changed("identity", false);
        loading.refreshed("identity");
        assert!(
            loading.may_load(&table, "/v1/nothing"),
            "company not settled"
        );
        // Company has no passing instance: nothing to load, the first load is over ...
        loading.instances_changed("company", true);
        assert!(!loading.state().starting);
        assert!(!loading.may_load(&table, "/v1/nothing"));
        // ... but company stays pending: a path under its prefixes may still get a route.
        assert_eq!(loading.state().pending(), ["company"]);
        assert!(loading.may_load(&table, "/v1/companies/c1:newVerb"));
        assert!(loading.may_load(&table, "/v1/companies"));
        assert!(!loading.may_load(&table, "/v1/users/42/nothing"));
        assert!(!loading.may_load(&table, "/v1/companiesx"));
    }

    #[test]
    fn a_catalog_without_exposed_services_ends_the_first_load_at_once() {
        let loading = RouteLoading::default();
        loading.begin();
        loading.listed(BTreeSet::new());
        assert!(!loading.may_load(&table(), "/v1/nothing"));
    }

    #[test]
    fn a_service_whose_instances_change_is_pending_until_refreshed() {
        let (loading, table) = (RouteLoading::default(), table());
        loading.begin();
        loading.listed(names(&["identity"]));
        loading.instances_changed("identity", false);
        loading.refreshed("identity");
        assert!(!loading.may_load(&table, "/v1/users/42:newVerb"));
        // A redeploy: new instances, routes not yet fetched from them.
        loading.instances_changed("identity", false);
        assert!(loading.may_load(&table, "/v1/users/42:newVerb"));
        assert!(loading.may_load(&table, "/v1/sessions/s1:newVerb"));
        // Only prefixes a route has: jwks.json is all literal, so a sibling is not identity's.
        assert!(!loading.may_load(&table, "/.well-known/other.json"));
        assert!(!loading.may_load(&table, "/v1/jobs/x"));
        loading.refreshed("identity");
        assert!(!loading.may_load(&table, "/v1/users/42:newVerb"));
        // A service that leaves the catalog is not waited for.
        loading.instances_changed("identity", true);
        assert!(loading.may_load(&table, "/v1/users/x/y"));
        loading.listed(BTreeSet::new());
        assert!(!loading.may_load(&table, "/v1/users/x/y"));
    }

    #[test]
    fn a_pending_service_without_routes_may_own_any_path() {
        let (loading, table) = (RouteLoading::default(), table());
        loading.begin();
        loading.listed(names(&["newcomer"]));
        loading.instances_changed("newcomer", false);
        loading.refreshed("newcomer");
        assert!(!loading.may_load(&table, "/v2/anything"));
        loading.instances_changed("newcomer", false);
        assert!(loading.may_load(&table, "/v2/anything"));
    }
}
