//! Workers Analytics Engine data points: one per handled webhook and one per
//! delivery attempt (queue mode), written when a dataset is bound as
//! [`METRICS_BINDING`]. The layout — which blob and double holds what — is
//! defined here once; README's SQL queries use these positions.
//!
//! A data point carries names, outcomes, statuses, durations and sizes only:
//! never a body, a header, a secret, a token or a delivery id (a data point
//! has at most 20 blobs, 20 doubles and one index; gateway-features.md).

/// The Analytics Engine dataset binding. Optional: without it nothing is written.
pub const METRICS_BINDING: &str = "FLOWGATE_METRICS";

/// The index (the sampling key) is at most 96 bytes (Analytics Engine's limit).
pub const MAX_INDEX_BYTES: usize = 96;

/// What a data point is about (`blob1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    /// A request to a route, whatever its outcome (verified and forwarded or
    /// queued, refused, a handshake, a duplicate).
    Webhook,
    /// One delivery attempt by the queue consumer, or a wait it was put in.
    Attempt,
}

impl PointKind {
    /// The name written to `blob1`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Attempt => "attempt",
        }
    }
}

/// The blobs, in order: `blob1` is `BLOBS[0]`, and so on.
pub const BLOBS: [&str; 6] = ["kind", "route", "provider", "outcome", "flow", "error_code"];
/// The doubles, in order: `double1` is `DOUBLES[0]`, and so on. A status or
/// attempt that does not apply is 0.
pub const DOUBLES: [&str; 5] = ["status", "upstream_status", "duration_ms", "body_bytes", "attempt"];

/// One data point, before the Worker hands it to `writeDataPoint`.
#[derive(Debug, Clone, PartialEq)]
pub struct Point<'a> {
    pub kind: PointKind,
    pub route: &'a str,
    pub provider: &'a str,
    /// The log line's `outcome` (`forwarded`, `queued`, `rejected`, `delivered`, `retrying`, …).
    pub outcome: &'a str,
    /// The flow (or the flows, comma-separated, of a fan-out in direct mode); empty when none.
    pub flow: &'a str,
    /// Power Automate's or Entra's error code, when the attempt failed with one.
    pub error_code: &'a str,
    /// The status flowgate answered the sender (webhooks) or 0 (attempts).
    pub status: u16,
    /// The flow's status, 0 when no flow was called.
    pub upstream_status: u16,
    pub duration_ms: u64,
    pub body_bytes: usize,
    /// The attempt's number, 1-based; 0 for a webhook.
    pub attempt: u32,
}

impl Point<'_> {
    /// The index: the route, cut to [`MAX_INDEX_BYTES`] at a character boundary.
    pub fn index(&self) -> &str {
        let mut end = self.route.len().min(MAX_INDEX_BYTES);
        while !self.route.is_char_boundary(end) {
            end -= 1;
        }
        &self.route[..end]
    }

    /// The blobs in [`BLOBS`] order.
    pub fn blobs(&self) -> [&str; BLOBS.len()] {
        [self.kind.name(), self.route, self.provider, self.outcome, self.flow, self.error_code]
    }

    /// The doubles in [`DOUBLES`] order.
    #[allow(clippy::cast_precision_loss)] // durations and sizes far below 2^53
    pub fn doubles(&self) -> [f64; DOUBLES.len()] {
        [
            f64::from(self.status),
            f64::from(self.upstream_status),
            self.duration_ms as f64,
            self.body_bytes as f64,
            f64::from(self.attempt),
        ]
    }
}

/// README's table of the layout, as `flowgate` documents it (kept true by a test).
pub fn layout_markdown() -> String {
    let mut out = String::from("| column | holds |\n|---|---|\n| `index1` | route |\n");
    for (i, name) in BLOBS.iter().enumerate() {
        out.push_str(&format!("| `blob{}` | {name} |\n", i + 1));
    }
    for (i, name) in DOUBLES.iter().enumerate() {
        out.push_str(&format!("| `double{}` | {name} |\n", i + 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(route: &str) -> Point<'_> {
        Point {
            kind: PointKind::Attempt,
            route,
            provider: "github",
            outcome: "retrying",
            flow: "orders",
            error_code: "MisMatchingOAuthClaims",
            status: 0,
            upstream_status: 401,
            duration_ms: 120,
            body_bytes: 8_192,
            attempt: 2,
        }
    }

    #[test]
    fn each_value_lands_in_the_column_the_layout_names() {
        let p = point("gh");
        let blobs = p.blobs();
        let named: Vec<(&str, &str)> = BLOBS.iter().copied().zip(blobs.iter().copied()).collect();
        assert_eq!(
            named,
            [
                ("kind", "attempt"),
                ("route", "gh"),
                ("provider", "github"),
                ("outcome", "retrying"),
                ("flow", "orders"),
                ("error_code", "MisMatchingOAuthClaims")
            ]
        );
        let doubles: Vec<(&str, f64)> = DOUBLES.iter().copied().zip(p.doubles()).collect();
        assert_eq!(
            doubles,
            [
                ("status", 0.0),
                ("upstream_status", 401.0),
                ("duration_ms", 120.0),
                ("body_bytes", 8192.0),
                ("attempt", 2.0)
            ]
        );
        assert_eq!(PointKind::Webhook.name(), "webhook");
    }

    #[test]
    fn the_index_is_the_route_cut_to_96_bytes_on_a_character_boundary() {
        assert_eq!(point("gh").index(), "gh");
        let long = "é".repeat(60); // 120 bytes
        let p = point(&long);
        assert!(p.index().len() <= MAX_INDEX_BYTES);
        assert_eq!(p.index(), "é".repeat(48));
        let ascii = "r".repeat(200);
        assert_eq!(point(&ascii).index().len(), MAX_INDEX_BYTES);
    }

    #[test]
    fn the_layout_stays_within_analytics_engines_limits() {
        // 20 blobs, 20 doubles per data point (gateway-features.md).
        assert!(BLOBS.len() <= 20 && DOUBLES.len() <= 20);
        let table = layout_markdown();
        assert!(table.contains("| `blob4` | outcome |"));
        assert!(table.contains("| `double3` | duration_ms |"));
    }

    #[test]
    fn readme_shows_the_layout() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        assert!(
            readme.contains(&layout_markdown()),
            "README.md's Analytics Engine table is stale: paste metrics::layout_markdown() into its Metrics section"
        );
    }
}
