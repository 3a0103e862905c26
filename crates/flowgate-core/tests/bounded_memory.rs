//! Bounded work before verification (issue #11, item 4): what an unsigned
//! body can make flowgate allocate.
//!
//! Mailgun, Figma and Microsoft Graph carry their proof inside the JSON body,
//! Twilio signs its sorted form parameters and Notion's handshake is an
//! unsigned JSON POST: for each, the body is read *before* any MAC says who
//! sent it. This binary installs a counting global allocator (`peak_alloc`;
//! the crate itself forbids unsafe code, and the allocator lives only in this
//! test binary) and checks that hostile 10 MiB bodies — a huge JSON array,
//! deep nesting, a huge object, a huge notification list, `a&a&…` — cost at
//! most a small multiple of the body, are refused, and that a valid request
//! still verifies right after.
//!
//! The allocator's counters are process-wide, so everything is measured in
//! one `#[test]`, one case after another (no other test thread allocates
//! meanwhile).

use flowgate_core::{
    verify::{body_fields, find_provider, handshake, twilio, verify, Inbound},
    Headers, Secret,
};
use peak_alloc::PeakAlloc;

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc;

const MIB: usize = 1024 * 1024;
const BODY: usize = 10 * MIB;
const NOW: u64 = 1_700_000_000;
const SECRET: &str = "a-route-secret";
const URL: &str = "https://flowgate.example/hooks/test";

/// Bytes allocated at the peak of `f`, above what was live before it.
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = PEAK.current_usage();
    PEAK.reset_peak_usage();
    let out = f();
    (PEAK.peak_usage().saturating_sub(before), out)
}

/// `open` repeated, then `close` repeated as often, to exactly `len` bytes
/// (or a byte or so under).
fn nested(prefix: &str, open: &str, inner: &str, close: &str, suffix: &str, len: usize) -> Vec<u8> {
    let n = (len - prefix.len() - inner.len() - suffix.len()) / (open.len() + close.len());
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(prefix.as_bytes());
    for _ in 0..n {
        b.extend_from_slice(open.as_bytes());
    }
    b.extend_from_slice(inner.as_bytes());
    for _ in 0..n {
        b.extend_from_slice(close.as_bytes());
    }
    b.extend_from_slice(suffix.as_bytes());
    b
}

/// `prefix`, then `item` joined by `sep` until `len`, then `suffix`.
fn repeated(prefix: &str, item: impl Fn(usize) -> String, sep: &str, suffix: &str, len: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(len + 64);
    b.extend_from_slice(prefix.as_bytes());
    let mut i = 0;
    while b.len() + suffix.len() < len {
        if i > 0 {
            b.extend_from_slice(sep.as_bytes());
        }
        b.extend_from_slice(item(i).as_bytes());
        i += 1;
    }
    b.extend_from_slice(suffix.as_bytes());
    b
}

/// The hostile bodies, by name.
fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("JSON array [1,1,…]", repeated("[", |_| "1".into(), ",", "]", BODY)),
        ("deep nesting [[[…]]]", nested("", "[", "", "]", "", BODY)),
        ("deep nesting under a key", nested(r#"{"x":"#, "[", "", "]", "}", BODY)),
        ("object of 1M keys", repeated("{", |i| format!("\"k{i}\":0"), ",", "}", BODY)),
        ("Graph: 1M notifications", repeated(r#"{"value":["#, |_| r#"{"clientState":"x"}"#.into(), ",", "]}", BODY)),
        ("Mailgun: huge event-data", repeated(r#"{"event-data":{"tags":["#, |_| r#""t""#.into(), ",", "]}}", BODY)),
        ("form a&a&…", repeated("", |_| "a".into(), "&", "", BODY)),
        ("form of 1M pairs k=v", repeated("", |i| format!("k{i}=v"), "&", "", BODY)),
    ]
}

/// The valid request of each scheme, to be verified right after the hostile ones.
fn valid(scheme: &str) -> (Headers, Vec<u8>) {
    let secret = Secret::new(SECRET);
    match scheme {
        "mailgun" => {
            let sig = body_fields::mailgun_signature(&secret, NOW, "tok-0123456789abcdef");
            let body = serde_json::json!({"signature": sig, "event-data": {"event": "delivered", "id": "m-1"}});
            (Headers::new(), body.to_string().into_bytes())
        }
        "figma" => (Headers::new(), format!(r#"{{"event_type":"PING","passcode":"{SECRET}"}}"#).into_bytes()),
        "msgraph" => (
            Headers::new(),
            format!(r#"{{"value":[{{"clientState":"{SECRET}","changeType":"created"}}]}}"#).into_bytes(),
        ),
        "twilio" => {
            let body = b"CallSid=CA1&From=%2B14158675309&To=%2B18005551212".to_vec();
            let sig = twilio::sign(&secret, URL, &body);
            (Headers::new().with(twilio::SIGNATURE_HEADER, sig), body)
        }
        other => panic!("no valid request for {other}"),
    }
}

fn run(scheme: &str, headers: &Headers, body: &[u8]) -> bool {
    let p = find_provider(scheme).expect("built in");
    let inbound = Inbound { headers, body, now_secs: NOW, method: "POST", url: URL };
    verify(p, &p.scheme(), None, &[Secret::new(SECRET)], inbound).is_ok()
}

/// The allocator's counters are process-wide: one measurement at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Measures `attempt` on every hostile body; returns the report lines and
/// those over twice the body ("a small multiple of the body").
fn measure(scheme: &str, attempt: impl Fn(&[u8]) -> bool) -> (Vec<String>, Vec<String>) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (mut report, mut over) = (Vec::new(), Vec::new());
    for (name, body) in hostile() {
        let (peak, accepted) = peak_of(|| attempt(&body));
        assert!(!accepted, "{scheme}: {name} was accepted");
        let ratio = peak as f64 / body.len() as f64;
        report.push(format!("{scheme:8} {name:28} peak {peak:>10} B = {ratio:.3}× body"));
        if peak > 2 * body.len() {
            over.push(format!("{scheme}: {name}: {peak} B ({ratio:.2}× body)"));
        }
    }
    (report, over)
}

#[test]
fn hostile_bodies_cost_a_small_multiple_of_the_body_and_are_refused() {
    let mut report = Vec::new();
    let mut over = Vec::new();
    // A Twilio form signed as Twilio signs it would verify whatever its size;
    // these carry a wrong signature, as a forger's would.
    let twilio_headers = Headers::new().with(twilio::SIGNATURE_HEADER, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    for scheme in ["mailgun", "figma", "msgraph", "twilio"] {
        let headers = if scheme == "twilio" { twilio_headers.clone() } else { Headers::new() };
        let (r, o) = measure(scheme, |body| run(scheme, &headers, body));
        report.extend(r);
        over.extend(o);
        let (headers, body) = valid(scheme);
        assert!(run(scheme, &headers, &body), "{scheme}: a valid request right after is refused");
    }
    println!("{}", report.join("\n"));
    assert!(over.is_empty(), "over 2× the body:\n{}\n\nall:\n{}", over.join("\n"), report.join("\n"));
}

/// Notion's unsigned handshake (`handshake.rs`) reads the body too: a
/// `verification_token` is kept only from a body that carries one, and none
/// of these does.
#[test]
fn notions_unsigned_handshake_costs_a_small_multiple_of_the_body() {
    let (report, over) = measure("notion", |body| {
        handshake::before_verification("notion", "POST", URL, &Headers::new(), body, &[], None).is_some()
    });
    println!("{}", report.join("\n"));
    assert!(over.is_empty(), "over 2× the body:\n{}\n\nall:\n{}", over.join("\n"), report.join("\n"));
}

/// Senders whose credential is the same on every request (Okta's
/// `Authorization`, GitLab's token, Basic credentials): whoever captured one
/// request can send any body with it, and it *verifies*. Their labels are
/// read after verification, from the bytes (no `serde_json::Value`), so a
/// hostile body costs no more than it does unsigned.
#[test]
fn static_credential_labels_cost_a_small_multiple_of_the_body() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (mut report, mut over) = (Vec::new(), Vec::new());
    for (scheme, headers) in [
        ("okta", Headers::new().with("authorization", SECRET)),
        ("gitlab", Headers::new().with("x-gitlab-token", SECRET)),
    ] {
        for (name, body) in hostile() {
            let (peak, accepted) = peak_of(|| run(scheme, &headers, &body));
            assert!(accepted, "{scheme}: the captured credential verifies any body ({name})");
            let ratio = peak as f64 / body.len() as f64;
            report.push(format!("{scheme:8} {name:28} peak {peak:>10} B = {ratio:.3}× body"));
            if peak > 2 * body.len() {
                over.push(format!("{scheme}: {name}: {peak} B ({ratio:.2}× body)"));
            }
        }
    }
    println!("{}", report.join("\n"));
    assert!(over.is_empty(), "over 2× the body:\n{}\n\nall:\n{}", over.join("\n"), report.join("\n"));
}
