//! Looking a request up in a [`RouteTable`]: the segment trie walked for each reading of the
//! path (a custom method's `:verb` or plain segments), the method checked, and the methods a
//! path does have for a 405; and whether a path may belong to a service whose routes are
//! loading (its route prefixes).

use http::Method;

use super::{RouteMatch, RouteTable};
use crate::router::{split_path, PathSegment};

impl RouteTable {
    /// Finds the route for `method` and `path`. `HEAD` finds the `GET` route (RFC 9110 §9.3.2:
    /// the same answer without its body), and `Allow` lists `HEAD` wherever it lists `GET`.
    pub fn find<'p>(&self, method: &Method, path: &'p str) -> RouteMatch<'_, 'p> {
        let Some(segments) = split_path(path) else {
            return RouteMatch::NotFound;
        };
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let mut candidates = self.interpretations(segments);
        for i in 0..candidates.len() {
            let (segments, verb) = &candidates[i];
            let mut found = None;
            self.root.walk(segments, &mut |r| {
                let route = &self.routes[r];
                let hit = route.method == *method && route.template.verb.as_deref() == *verb;
                if hit {
                    found = Some(r);
                }
                hit
            });
            if let Some(r) = found {
                let (segments, _) = candidates.swap_remove(i);
                return RouteMatch::Found {
                    route: &self.routes[r],
                    segments,
                };
            }
        }
        let mut allowed: Vec<Method> = Vec::new();
        for (segments, verb) in &candidates {
            self.root.walk(segments, &mut |r| {
                let route = &self.routes[r];
                if route.template.verb.as_deref() == *verb && !allowed.contains(&route.method) {
                    allowed.push(route.method.clone());
                }
                false
            });
        }
        if allowed.contains(&Method::GET) {
            allowed.push(Method::HEAD);
        }
        if allowed.is_empty() {
            RouteMatch::NotFound
        } else {
            allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            RouteMatch::MethodNotAllowed(allowed)
        }
    }

    /// The ways to read a path. A last segment with a `:verb` (a letter, then letters and
    /// digits, as AIP-136 custom methods are named) is a custom method call and is read only
    /// that way: an unknown verb is a 404, never a plain resource path whose id happens to end
    /// in `:something`. Any other last segment is read as plain segments (a literal colon in an
    /// id can be sent as `%3A`).
    fn interpretations<'p>(
        &self,
        segments: Vec<PathSegment<'p>>,
    ) -> Vec<(Vec<PathSegment<'p>>, Option<&'p str>)> {
        if let Some(last) = segments.last() {
            if let Some((head, verb)) = last.raw.rsplit_once(':') {
                if is_verb(verb) {
                    let mut with_verb = segments.clone();
                    let n = with_verb.len() - 1;
                    with_verb[n] = PathSegment::new(head);
                    return vec![(with_verb, Some(verb))];
                }
            }
        }
        vec![(segments, None)]
    }

    /// Whether `path` may be one of `upstream`'s paths: it is at or under the literal prefix of
    /// one of its routes (`/v1/users`, `/v1/users/42/x` and `/v1/users:verb` are under
    /// `/v1/users`). True for every path when the table has no route of `upstream`: nothing
    /// tells its paths apart then. Used while `upstream`'s routes are loading, to answer 503
    /// rather than 404 only where a route may yet appear (see [`crate::loading`]).
    pub fn may_route_to(&self, upstream: &str, path: &str) -> bool {
        let mut known = false;
        for (owner, prefix) in &self.prefixes {
            if owner.as_ref() != upstream {
                continue;
            }
            known = true;
            let under = path.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('/') || rest.starts_with(':')
            });
            if under {
                return true;
            }
        }
        !known
    }
}

/// Whether `text` has the shape of a custom method's verb: `[A-Za-z][A-Za-z0-9]*`.
fn is_verb(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric())
}
