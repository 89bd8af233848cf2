//! The route tables of the HTTP face, read from its source: the Graph dispatch table
//! (`graph/mod.rs`) and every axum route (`.route("/path", get(..).post(..))`) of
//! the person, console, consent, entry points, operations, media and web routers. The reliability suite
//! generates its authorization matrix and its fuzzed requests from them, so that a
//! route added to the code is covered (or, without a declared access, fails the
//! suite) without anyone remembering to list it.

use std::path::PathBuf;

/// One route: a method and a path template with `{placeholders}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    /// The full path, e.g. `/console/v1/pages/{page}/apps/{app}`; Graph routes are
    /// under `/v21.0`.
    pub path: String,
}

fn http_source(file: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "http", "src", file].iter().collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every route of the HTTP face but the web interfaces' assets.
pub fn all() -> Vec<Route> {
    let mut routes = graph();
    for (file, prefix) in [
        ("person.rs", "/person/v1"),
        ("console.rs", "/console/v1"),
        ("listings.rs", "/console/v1"),
        ("webhooks.rs", "/console/v1"),
        ("inbox.rs", "/console/v1"),
        ("ops.rs", ""),
        ("media.rs", ""),
        ("web.rs", ""),
    ] {
        routes.extend(axum_routes(&http_source(file), prefix));
    }
    // Files with several routers, each mounted at its own prefix.
    for (file, router, prefix) in [
        ("consent.rs", "person_routes", "/person/v1"),
        ("consent.rs", "console_routes", "/console/v1"),
        ("entry_points.rs", "person_routes", "/person/v1"),
        ("entry_points.rs", "public_routes", ""),
        ("privacy.rs", "person_routes", "/person/v1"),
        ("privacy.rs", "console_routes", "/console/v1"),
    ] {
        routes.extend(axum_routes(router_source(&http_source(file), router), prefix));
    }
    routes.sort();
    routes.dedup();
    routes
}

/// The Graph API's table: `(&Method::GET, ["oauth", "access_token"])` becomes
/// `GET /v21.0/oauth/access_token`, an identifier a `{placeholder}`. The batch
/// endpoint (`POST /`) is routed before the table.
pub fn graph() -> Vec<Route> {
    let source = http_source("graph/mod.rs");
    let mut routes = vec![Route { method: "POST".into(), path: "/v21.0/".into() }];
    let mut rest = source.as_str();
    while let Some(at) = rest.find("(&Method::") {
        rest = &rest[at + "(&Method::".len()..];
        let method: String = rest.chars().take_while(|c| c.is_ascii_uppercase()).collect();
        let Some(open) = rest.find('[') else { break };
        let Some(close) = rest.find(']') else { break };
        if open > 16 || close < open {
            continue;
        }
        let segments: Vec<String> = rest[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(literal) => literal.to_string(),
                None => format!("{{{s}}}"),
            })
            .collect();
        if !segments.is_empty() {
            routes.push(Route { method, path: format!("/v21.0/{}", segments.join("/")) });
        }
    }
    routes
}

/// The source of the function `name` of a file: up to the next item.
fn router_source<'s>(source: &'s str, name: &str) -> &'s str {
    let start = source.find(&format!("fn {name}(")).unwrap_or_else(|| panic!("no fn {name}"));
    let body = &source[start..];
    let end = body[1..].find("\nfn ").into_iter().chain(body[1..].find("\npub fn ")).chain(body[1..].find("\nasync fn ")).min().map_or(body.len(), |i| i + 1);
    &body[..end]
}

/// The `.route("/literal", get(a).post(b))` calls of an axum router's source.
fn axum_routes(source: &str, prefix: &str) -> Vec<Route> {
    let mut routes = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(\"") {
        rest = &rest[at + ".route(\"".len()..];
        let Some(end) = rest.find('"') else { break };
        let path = &rest[..end];
        // The route's handlers: up to the parenthesis closing `.route(`.
        let mut depth = 1usize;
        let mut close = end;
        for (i, ch) in rest[end..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = end + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let handlers = &rest[end..close];
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                let before = handlers[..i].chars().last();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if called {
                routes.push(Route { method: method.to_ascii_uppercase(), path: format!("{prefix}{path}") });
            }
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tables_are_read() {
        let routes = super::all();
        let has = |method: &str, path: &str| routes.iter().any(|r| r.method == method && r.path == path);
        assert!(has("POST", "/v21.0/{node}/messages"), "{routes:#?}");
        assert!(has("GET", "/v21.0/oauth/access_token"));
        assert!(has("DELETE", "/console/v1/pages/{page}/apps/{app}"));
        assert!(has("PUT", "/person/v1/threads/{page}/messages/{mid}/reaction"));
        assert!(has("DELETE", "/person/v1/threads/{page}/messages/{mid}/reaction"));
        assert!(has("GET", "/healthz"));
        assert!(has("POST", "/person/v1/threads/{page}/account_linking"), "a second router of a file");
        assert!(has("GET", "/plugins/v1/check"));
        assert!(!has("GET", "/person/v1/plugins/v1/check"), "each router at its own prefix");
        assert!(routes.len() > 60, "{}", routes.len());
    }
}
