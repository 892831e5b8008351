//! The route table: a thin wrapper over axum's `Router` that also keeps every path it
//! registers, so the OpenAPI description (`schemas/openapi.json`) can be checked against the
//! router itself (see `openapi::tests`). Register every route through [`Routes::route`] and
//! [`Routes::nest`] (same signatures as axum's) and the check sees it.

use crate::AppState;
use axum::routing::MethodRouter;
use axum::Router;

/// A router together with the list of the paths it serves.
#[derive(Clone)]
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("paths", &self.paths)
            .finish()
    }
}

impl Routes {
    /// No routes.
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    /// Adds a route, as `Router::route`.
    pub fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        self.paths.push(path.to_string());
        self.router = self.router.route(path, method_router);
        self
    }

    /// Serves `other` under `prefix`, as `Router::nest`.
    pub fn nest(mut self, prefix: &str, other: Routes) -> Self {
        self.paths
            .extend(other.paths.iter().map(|p| format!("{prefix}{p}")));
        self.router = self.router.nest(prefix, other.router);
        self
    }

    /// Every path served, in axum's syntax (`/aets/{aet}/rs/studies/{study}`).
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The axum router.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
