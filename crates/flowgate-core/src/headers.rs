//! A minimal, case-insensitive view of request headers, so the core does not
//! depend on any HTTP crate.

/// Request headers with lower-cased names, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header (the name is lower-cased).
    pub fn insert(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_ascii_lowercase(), value.into()));
    }

    /// Builder form of [`Headers::insert`].
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All headers, names lower-cased.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<N: AsRef<str>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (n, v) in iter {
            h.insert(n.as_ref(), v);
        }
        h
    }
}

/// Whether a subrequest's answer (a flow's, Entra's, a key host's) can be
/// read with one `arrayBuffer()` and still be bounded by `limit` bytes: its
/// `Content-Length` is declared and within `limit`, it is not chunked, and
/// it is not content-encoded (the runtime decodes gzip and brotli answers,
/// so their decoded length is not the declared one). Otherwise the answer
/// is read as a stream and cut at `limit`. One read is one JS↔wasm crossing
/// instead of a promise per chunk (README, Performance).
pub fn answer_fits_in_one_read(
    content_length: Option<&str>,
    transfer_encoding: Option<&str>,
    content_encoding: Option<&str>,
    limit: usize,
) -> bool {
    let declared = content_length.and_then(|v| v.trim().parse::<usize>().ok());
    let encoded = content_encoding.is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
    declared.is_some_and(|n| n <= limit) && transfer_encoding.is_none() && !encoded
}

#[cfg(test)]
mod tests {
    use super::answer_fits_in_one_read as fits;

    #[test]
    fn only_a_plain_answer_of_declared_length_within_the_limit_is_read_at_once() {
        assert!(fits(Some("120"), None, None, 65_536));
        assert!(fits(Some(" 65536 "), None, Some("identity"), 65_536));
        assert!(!fits(Some("65537"), None, None, 65_536), "over the limit");
        assert!(!fits(None, None, None, 65_536), "no length");
        assert!(!fits(Some("12"), Some("chunked"), None, 65_536), "chunked");
        assert!(!fits(Some("12"), None, Some("gzip"), 65_536), "decoded by the runtime: its length is unknown");
        assert!(!fits(Some("-1"), None, None, 65_536));
        assert!(!fits(Some("12, 12"), None, None, 65_536));
    }
}
