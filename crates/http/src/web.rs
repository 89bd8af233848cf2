//! The web interfaces, embedded in the binary: the web messenger for people (at `/`
//! and `/m/{page-username}`), the login dialog apps send people to (at
//! `/dialog/oauth`), and the console for developers, Page admins and the operator
//! (at `/console`). Plain HTML, CSS and JavaScript modules with no build
//! step and nothing fetched from elsewhere; they speak only the person and console
//! APIs (and the Graph API with the app's own token, as a developer would).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use switchboard_app::Platform;

/// An embedded file: its URL path, media type and contents.
struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($path:literal, $mime:literal, $file:literal) => {
        Asset { path: $path, mime: $mime, body: include_str!(concat!("../web/", $file)) }
    };
}

const ASSETS: &[Asset] = &[
    asset!("/web/messenger/app.js", "text/javascript; charset=utf-8", "messenger/app.js"),
    asset!("/web/messenger/api.js", "text/javascript; charset=utf-8", "messenger/api.js"),
    asset!("/web/messenger/render.js", "text/javascript; charset=utf-8", "messenger/render.js"),
    asset!("/web/messenger/entry.js", "text/javascript; charset=utf-8", "messenger/entry.js"),
    asset!("/web/messenger/privacy.js", "text/javascript; charset=utf-8", "messenger/privacy.js"),
    asset!("/web/messenger/record.js", "text/javascript; charset=utf-8", "messenger/record.js"),
    asset!("/web/messenger/style.css", "text/css; charset=utf-8", "messenger/style.css"),
    asset!("/web/console/app.js", "text/javascript; charset=utf-8", "console/app.js"),
    asset!("/web/console/api.js", "text/javascript; charset=utf-8", "console/api.js"),
    asset!("/web/console/chart.js", "text/javascript; charset=utf-8", "console/chart.js"),
    asset!("/web/console/dom.js", "text/javascript; charset=utf-8", "console/dom.js"),
    asset!("/web/console/apps.js", "text/javascript; charset=utf-8", "console/apps.js"),
    asset!("/web/console/webhooks.js", "text/javascript; charset=utf-8", "console/webhooks.js"),
    asset!("/web/console/pages.js", "text/javascript; charset=utf-8", "console/pages.js"),
    asset!("/web/console/inbox.js", "text/javascript; charset=utf-8", "console/inbox.js"),
    asset!("/web/console/privacy.js", "text/javascript; charset=utf-8", "console/privacy.js"),
    asset!("/web/console/style.css", "text/css; charset=utf-8", "console/style.css"),
    asset!("/web/dialog/dialog.js", "text/javascript; charset=utf-8", "dialog/dialog.js"),
    asset!("/web/dialog/style.css", "text/css; charset=utf-8", "dialog/style.css"),
    asset!("/web/plugins/plugin.js", "text/javascript; charset=utf-8", "plugins/plugin.js"),
    asset!("/web/plugins/send_to_messenger.js", "text/javascript; charset=utf-8", "plugins/send_to_messenger.js"),
    asset!("/web/plugins/checkbox.js", "text/javascript; charset=utf-8", "plugins/checkbox.js"),
    asset!("/web/plugins/plugin.css", "text/css; charset=utf-8", "plugins/plugin.css"),
];

pub(crate) const MESSENGER: &str = include_str!("../web/messenger/index.html");
const CONSOLE: &str = include_str!("../web/console/index.html");
const DIALOG: &str = include_str!("../web/dialog/index.html");

/// Scripts only from here; images and media from anywhere (templates name them).
const POLICY: &str = "default-src 'self'; img-src * data:; media-src *; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn page(html: &'static str) -> Response {
    framable_page(html, &[])
}

/// An embedded page that exactly these origins may frame (a plugin on a business's
/// whitelisted site); no one, when there are none.
pub(crate) fn framable_page(html: &'static str, ancestors: &[String]) -> Response {
    let policy = match ancestors {
        [] => POLICY.to_string(),
        origins => POLICY.replace("frame-ancestors 'none'", &format!("frame-ancestors {}", origins.join(" "))),
    };
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Origins are checked to hold only host characters; a value that still fails
    // to be a header leaves the page unframable.
    let policy = HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static(POLICY));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub fn routes() -> Router<Platform> {
    let mut router = Router::new()
        // `POST /` is the Graph batch endpoint.
        .route("/", get(|| async { page(MESSENGER) }).fallback(crate::graph::dispatch))
        .route("/m/{page}", get(|| async { page(MESSENGER) }))
        .route("/console", get(|| async { page(CONSOLE) }))
        .route("/console/", get(|| async { page(CONSOLE) }))
        // The login dialog, versioned or not, as SDKs build its URL.
        .route("/dialog/oauth", get(|| async { page(DIALOG) }))
        .route("/{version}/dialog/oauth", get(|| async { page(DIALOG) }));
    for asset in ASSETS {
        router = router.route(
            asset.path,
            get(move || async move {
                let mut response = asset.body.into_response();
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
                headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                response
            }),
        );
    }
    router
}
