//! Open311 GeoReport v2 at `/open311/v2/`: discovery, services and service requests, in JSON and XML.

use axum::Router;

use crate::app::AppState;

/// The Open311 routes, merged into the application router.
pub fn routes() -> Router<AppState> {
    Router::new()
}
