//! The landing page at `GET /`, as Prometheus exporters serve one: what the
//! service is, its version, and links to its endpoints, so a person who
//! opens the port in a browser finds their way.

use std::fmt::Write as _;

use edgewatch_catalog::html::escape;

/// One endpoint on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `GET` endpoints are links; others are listed with their method.
    pub method: &'static str,
    /// The path (and query, for an example).
    pub path: String,
    /// What it is for.
    pub what: String,
}

impl Endpoint {
    /// A `GET` endpoint, linked.
    pub fn get(path: impl Into<String>, what: impl Into<String>) -> Self {
        Self { method: "GET", path: path.into(), what: what.into() }
    }

    /// A `POST` endpoint, listed.
    pub fn post(path: impl Into<String>, what: impl Into<String>) -> Self {
        Self { method: "POST", path: path.into(), what: what.into() }
    }
}

/// A service's landing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    /// `edgewatch exporter`, `edgewatch receiver`.
    pub name: &'static str,
    /// One sentence.
    pub description: &'static str,
    /// The version, `CARGO_PKG_VERSION` of the command.
    pub version: &'static str,
    /// Its endpoints, in the order to show them.
    pub endpoints: Vec<Endpoint>,
}

impl Landing {
    /// The page as HTML, every text in it escaped.
    pub fn html(&self) -> String {
        let (name, description, version) = (escape(self.name), escape(self.description), escape(self.version));
        let mut rows = String::new();
        for e in &self.endpoints {
            let (path, what) = (escape(&e.path), escape(&e.what));
            let shown = if e.method == "GET" { format!("<a href=\"{path}\">{path}</a>") } else { path };
            let _ = writeln!(rows, "<tr><td>{}</td><td>{shown}</td><td>{what}</td></tr>", e.method);
        }
        format!(
            "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>{name}</title></head>\n<body>\n<h1>{name}</h1>\n<p>{description}</p>\n<p>Version {version}</p>\n<table>\n{rows}</table>\n</body>\n</html>\n"
        )
    }

    /// The `GET /` route serving the page.
    pub fn route<S: Clone + Send + Sync + 'static>(&self) -> axum::routing::MethodRouter<S> {
        let page = self.html();
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_get_endpoints_and_escapes_what_configuration_gave() {
        let page = Landing {
            name: "edgewatch exporter",
            description: "Per-customer metrics.",
            version: "0.1.0",
            endpoints: vec![Endpoint::get("/metrics", "Metrics"), Endpoint::post("/ingest/<x>", "Pushes")],
        }
        .html();
        assert!(page.contains("<a href=\"/metrics\">/metrics</a>"), "{page}");
        assert!(page.contains("<td>POST</td><td>/ingest/&lt;x&gt;</td>"), "{page}");
        assert!(page.contains("Version 0.1.0"), "{page}");
    }
}
