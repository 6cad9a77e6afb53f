//! The route table: the one declaration of every route the server has.
//!
//! A route is a handler annotated with `#[utoipa::path(...)]`, added with
//! [`routes!`](crate::table::routes): the annotation gives its method, its
//! path and its OpenAPI operation at once. From the table come
//!
//! - the router ([`RouteTable::into_router`]), each route behind its body
//!   limit and the access gate;
//! - the OpenAPI document ([`RouteTable::openapi`], completed by
//!   [`openapi`](crate::openapi));
//! - the list of routes ([`RouteTable::declared`]) that a test puts to the
//!   `server` access pack: a route that no role may call and that is not
//!   public fails CI instead of answering 403 to everyone.
//!
//! A table holds handlers only; the server wraps every route in the gate
//! when it builds the router, so no route can be added without the access
//! check. A module engine declares its routes as a table of its own in
//! `routes/<module>.rs` and adds it to [`TABLES`](crate::TABLES).

use crate::access;
use crate::config::Limits;
use crate::state::AppState;
use axum::middleware::from_fn_with_state;
use axum::routing::MethodRouter;
use std::fmt;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt};

/// Collects a handler and its `#[utoipa::path]` annotation for
/// [`RouteTable::route`].
pub use utoipa_axum::routes;

/// A handler with its method, path and OpenAPI operation: what
/// [`routes!`] gives.
pub type Handler = UtoipaMethodRouter<Arc<AppState>>;

/// How large a route's request body may be, read from the limits of the
/// config (`|l| l.diff_body_bytes`).
pub type BodyLimit = fn(&Limits) -> usize;

/// The default body limit: `limits.body_bytes`.
fn default_body_limit(limits: &Limits) -> usize {
    limits.body_bytes
}

/// Routes, each with its body limit.
#[derive(Default)]
pub struct RouteTable {
    routes: Vec<(Handler, BodyLimit)>,
}

impl RouteTable {
    pub fn new() -> RouteTable {
        RouteTable::default()
    }

    /// Adds a route whose body may be up to `limits.body_bytes`.
    pub fn route(self, handler: Handler) -> RouteTable {
        self.route_with_body_limit(handler, default_body_limit)
    }

    /// Adds a route with a body limit of its own.
    pub fn route_with_body_limit(mut self, handler: Handler, limit: BodyLimit) -> RouteTable {
        self.routes.push((handler, limit));
        self
    }

    /// Adds the routes of `other` (a module's table).
    pub fn merge(mut self, other: RouteTable) -> RouteTable {
        self.routes.extend(other.routes);
        self
    }

    /// The router and the paths of the document. Per method, outermost
    /// first: the access gate, then the body limit, then the handler. The
    /// gate is a route layer of the method, so a method the route does not
    /// take is answered 405 (with `Allow`) before any access decision.
    ///
    /// Panics, as axum does, when two routes have the same method and path.
    pub fn into_router(self, state: &Arc<AppState>) -> OpenApiRouter<Arc<AppState>> {
        let limits = state.config.limits.clone();
        build(self.routes, |handler, limit| {
            handler.map(|m| -> MethodRouter<Arc<AppState>> {
                m.layer(RequestBodyLimitLayer::new(limit(&limits)))
                    .route_layer(from_fn_with_state(Arc::clone(state), access::gate))
            })
        })
    }

    /// The paths and schemas of the routes, without a server: the same
    /// operations [`RouteTable::into_router`] registers.
    pub fn openapi(&self) -> OpenApi {
        build(self.routes.iter().cloned(), |handler, _| handler).into_openapi()
    }

    /// Every route (method and path) of the table, from its operations.
    pub fn declared(&self) -> Vec<Route> {
        routes_of(&self.openapi())
    }
}

/// The routes in one router, each wrapped by `wrap`.
fn build(
    routes: impl IntoIterator<Item = (Handler, BodyLimit)>,
    wrap: impl Fn(Handler, BodyLimit) -> Handler,
) -> OpenApiRouter<Arc<AppState>> {
    routes
        .into_iter()
        .fold(OpenApiRouter::default(), |router, (handler, limit)| {
            router.routes(wrap(handler, limit))
        })
}

/// A route as the access pack names it: `POST /v1/evaluate`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// Upper case, as `request.method`.
    pub method: String,
    /// The path pattern, as `request.route` (axum and OpenAPI write
    /// parameters alike: `/v1/things/{id}`).
    pub path: String,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// The operations of a path item, with their methods in upper case.
pub fn operations(item: &PathItem) -> impl Iterator<Item = (&'static str, &Operation)> {
    [
        ("GET", item.get.as_ref()),
        ("PUT", item.put.as_ref()),
        ("POST", item.post.as_ref()),
        ("DELETE", item.delete.as_ref()),
        ("OPTIONS", item.options.as_ref()),
        ("HEAD", item.head.as_ref()),
        ("PATCH", item.patch.as_ref()),
        ("TRACE", item.trace.as_ref()),
    ]
    .into_iter()
    .filter_map(|(method, op)| Some((method, op?)))
}

/// [`operations`], to change them.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Every operation of a document as a [`Route`], sorted.
pub fn routes_of(doc: &OpenApi) -> Vec<Route> {
    let mut out: Vec<Route> = doc
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            operations(item).map(|(method, _)| Route {
                method: method.to_string(),
                path: path.clone(),
            })
        })
        .collect();
    out.sort();
    out
}
