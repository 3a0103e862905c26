//! The workloads of `make bench`'s criterion bench (`benches/verify.rs`):
//! signed requests for each scheme family, the bare primitive over the same
//! bytes, and the Rust work the Worker does per webhook and per token refresh.

// Each consumer uses a subset.
#![allow(dead_code)]

use std::hint::black_box;

use flowgate_core::{
    config::{check_flow_url, AssertionAlgorithm, Config},
    entra::{
        assertion::{assemble, CertificateCredential},
        cache_key, client_assertion_form, client_secret_form, parse_token_response,
        seal::KvSeal,
        ClientCredential,
    },
    forward::{FlowRequest, Webhook as Accepted},
    verify::{
        discord, find_provider, sendgrid, standard_webhooks, twilio, verify, verify_request, Inbound, Received, Scheme,
    },
    Headers, Secret,
};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha1::Sha1;
use sha2::Sha256;

/// Body sizes: label (the criterion parameter) and bytes.
pub(crate) const SIZES: [(&str, usize); 3] = [("1KB", 1024), ("64KB", 64 * 1024), ("1MB", 1024 * 1024)];
/// A fixed "now", so signed timestamps are always inside the window.
pub(crate) const NOW: u64 = 1_767_225_600;
const URL: &str = "https://flowgate.example/hooks/test";
const SECRET: &str = "a-sender-signing-secret";
const STRIPE_SECRET: &str = "whsec_stripe_signing_secret";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Test keys (RFC 8032's first Ed25519 seed, RFC 6979's P-256 private key).
const ED25519_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const P256_SCALAR: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

/// A JSON body of exactly `len` bytes (an event with a padded field).
pub(crate) fn json_body(len: usize) -> Vec<u8> {
    let head = br#"{"action":"opened","id":"evt_0001","type":"invoice.paid","pad":""#;
    let tail = br#""}"#;
    let mut body = head.to_vec();
    let fill = len.saturating_sub(head.len() + tail.len());
    body.extend((0..fill).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]));
    body.extend_from_slice(tail);
    body
}

/// A Twilio-style form body of exactly `len` bytes: the usual SMS parameters
/// and a long `Body` (the padding), `+` for spaces as Twilio sends them.
pub(crate) fn form_body(len: usize) -> Vec<u8> {
    let head = b"ToCountry=US&ToState=CA&SmsMessageSid=SM0123456789abcdef0123456789abcdef&NumMedia=0\
&ToCity=&FromZip=94105&SmsSid=SM0123456789abcdef0123456789abcdef&FromState=CA&SmsStatus=received\
&FromCity=SAN+FRANCISCO&FromCountry=US&To=%2B15551234567&ToZip=&NumSegments=1\
&MessageSid=SM0123456789abcdef0123456789abcdef&AccountSid=AC0123456789abcdef0123456789abcdef\
&From=%2B15558675310&ApiVersion=2010-04-01&Body=";
    let mut body = head.to_vec();
    let fill = len.saturating_sub(head.len());
    body.extend((0..fill).map(|i| b"Hello+from+the+bench%21+"[i % 24]));
    body
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha1>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// One signed request of a family, ready to verify.
pub(crate) struct Case {
    provider: &'static str,
    secrets: Vec<Secret>,
    headers: Headers,
    body: Vec<u8>,
}

impl Case {
    /// Signs `body` with the provider's own preset (HMAC families).
    fn hmac(provider: &'static str, secret: &str, body: Vec<u8>, extra: &[(&str, &str)]) -> Self {
        let p = find_provider(provider).expect("built-in provider");
        let Scheme::Hmac(scheme) = p.scheme() else { panic!("{provider} is not an HMAC preset") };
        let secret = Secret::new(secret);
        let signed = scheme.sign(&secret, &body, NOW, "msg_0001", URL, "POST").expect("signs");
        let headers = signed
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .chain(extra.iter().map(|(k, v)| (*k, (*v).to_owned())))
            .collect();
        Case { provider, secrets: vec![secret], headers, body }
    }

    fn standard_webhooks(body: Vec<u8>) -> Self {
        let secret = Secret::new(WHSEC);
        let sig = standard_webhooks::sign(&secret, "msg_0001", NOW, &body).expect("signs");
        let headers = Headers::new()
            .with("webhook-id", "msg_0001")
            .with("webhook-timestamp", NOW.to_string())
            .with("webhook-signature", sig)
            .with("content-type", "application/json");
        Case { provider: "standard-webhooks", secrets: vec![secret], headers, body }
    }

    /// Twilio, form mode: the signature covers the URL and the sorted parameters.
    fn twilio(body: Vec<u8>) -> Self {
        let secret = Secret::new(SECRET);
        let headers = Headers::new()
            .with("x-twilio-signature", twilio::sign(&secret, URL, &body))
            .with("content-type", "application/x-www-form-urlencoded")
            .with("i-twilio-idempotency-token", "idem-0001");
        Case { provider: "twilio", secrets: vec![secret], headers, body }
    }

    /// Discord: Ed25519 over timestamp ‖ body; the route secret is the public key.
    fn discord(body: Vec<u8>) -> Self {
        let private = Secret::new(ED25519_SEED);
        let ts = NOW.to_string();
        let headers = Headers::new()
            .with("x-signature-ed25519", discord::sign(&private, &ts, &body).expect("signs"))
            .with("x-signature-timestamp", ts)
            .with("content-type", "application/json");
        let public = Secret::new(discord::public_key_hex(&private).expect("key"));
        Case { provider: "discord", secrets: vec![public], headers, body }
    }

    /// SendGrid: ECDSA P-256 / SHA-256 over timestamp ‖ body; the route secret is the SPKI key.
    fn sendgrid(body: Vec<u8>) -> Self {
        let private = Secret::new(P256_SCALAR);
        let ts = NOW.to_string();
        let headers = Headers::new()
            .with("x-twilio-email-event-webhook-signature", sendgrid::sign(&private, &ts, &body).expect("signs"))
            .with("x-twilio-email-event-webhook-timestamp", ts)
            .with("content-type", "application/json");
        let public = Secret::new(sendgrid::public_key_base64(&private).expect("key"));
        Case { provider: "sendgrid", secrets: vec![public], headers, body }
    }

    /// The signed message of the asymmetric schemes: timestamp ‖ body.
    fn ts_body(&self, header: &str) -> Vec<u8> {
        [self.headers.get(header).expect("timestamp header").as_bytes(), &self.body].concat()
    }

    /// flowgate's verification, as the Worker calls it; returns the body length.
    pub(crate) fn run(&self) -> usize {
        let p = find_provider(self.provider).expect("built-in provider");
        let scheme = p.scheme();
        let inbound = Inbound { headers: &self.headers, body: &self.body, now_secs: NOW, method: "POST", url: URL };
        let v = verify(p, &scheme, None, &self.secrets, inbound).expect("verifies");
        v.body().len()
    }
}

/// The bare primitive over a case's bytes.
pub(crate) type Primitive = Box<dyn Fn() -> usize>;

/// A scheme family: its signed request for a body size, and the bare
/// primitive over the same bytes.
pub(crate) struct Family {
    /// The family's name (criterion group `verify-<name>`).
    pub(crate) name: &'static str,
    /// What it stands for, for the table.
    pub(crate) title: &'static str,
    /// The primitive, for the table.
    pub(crate) primitive_title: &'static str,
    /// The signed request for a body of this many bytes.
    pub(crate) case: fn(usize) -> Case,
    /// The primitive over the case's bytes.
    pub(crate) primitive: fn(&Case) -> Primitive,
}

/// Every family measured.
pub(crate) fn families() -> Vec<Family> {
    vec![
        Family {
            name: "github",
            title: "hex HMAC over the body (GitHub)",
            primitive_title: "HMAC-SHA256(body)",
            case: |n| {
                Case::hmac("github", SECRET, json_body(n), &[("x-github-event", "push"), ("x-github-delivery", "d-1")])
            },
            primitive: |c| {
                let (key, body) = (SECRET.as_bytes().to_vec(), c.body.clone());
                Box::new(move || hmac_sha256(&key, black_box(&body)).len())
            },
        },
        Family {
            name: "stripe",
            title: "timestamped HMAC (Stripe `t=…,v1=…`)",
            primitive_title: "HMAC-SHA256(body)",
            case: |n| Case::hmac("stripe", STRIPE_SECRET, json_body(n), &[]),
            primitive: |c| {
                let (key, body) = (STRIPE_SECRET.as_bytes().to_vec(), c.body.clone());
                Box::new(move || hmac_sha256(&key, black_box(&body)).len())
            },
        },
        Family {
            name: "standard-webhooks",
            title: "Standard Webhooks (`whsec_`, id.ts.body)",
            primitive_title: "HMAC-SHA256(body)",
            case: |n| Case::standard_webhooks(json_body(n)),
            primitive: |c| {
                let key = standard_webhooks::decode_secret(&Secret::new(WHSEC)).expect("valid secret");
                let body = c.body.clone();
                Box::new(move || hmac_sha256(&key, black_box(&body)).len())
            },
        },
        Family {
            name: "twilio",
            title: "Twilio URL + sorted form params",
            primitive_title: "HMAC-SHA1(url‖body)",
            case: |n| Case::twilio(form_body(n)),
            primitive: |c| {
                let (key, body) = (SECRET.as_bytes().to_vec(), c.body.clone());
                Box::new(move || hmac_sha1(&key, &[URL.as_bytes(), black_box(&body)]).len())
            },
        },
        Family {
            name: "discord",
            title: "Ed25519 (Discord)",
            primitive_title: "ed25519-dalek verify_strict(ts‖body)",
            case: |n| Case::discord(json_body(n)),
            primitive: |c| {
                let key = discord::decode_public_key(&c.secrets[0]).expect("key");
                let key =
                    ed25519_dalek::VerifyingKey::from_bytes(key.bytes().try_into().expect("32 bytes")).expect("key");
                let sig = hex::decode(c.headers.get("x-signature-ed25519").expect("signature")).expect("hex");
                let sig = ed25519_dalek::Signature::from_slice(&sig).expect("64 bytes");
                let message = c.ts_body("x-signature-timestamp");
                Box::new(move || usize::from(key.verify_strict(black_box(&message), &sig).is_ok()))
            },
        },
        Family {
            name: "sendgrid",
            title: "ECDSA P-256 (SendGrid)",
            primitive_title: "p256 ECDSA verify(ts‖body)",
            case: |n| Case::sendgrid(json_body(n)),
            primitive: |c| {
                use base64::Engine;
                use p256::ecdsa::signature::Verifier;
                let key = sendgrid::decode_public_key(&c.secrets[0]).expect("key");
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.bytes()).expect("key");
                let der = base64::engine::general_purpose::STANDARD
                    .decode(c.headers.get("x-twilio-email-event-webhook-signature").expect("signature"))
                    .expect("base64");
                let sig = p256::ecdsa::Signature::from_der(&der).expect("DER");
                let message = c.ts_body("x-twilio-email-event-webhook-timestamp");
                Box::new(move || usize::from(key.verify(black_box(&message), &sig).is_ok()))
            },
        },
    ]
}

const CLIENT_SECRET: &str = "demo-client-secret-value";
const FLOW_URL: &str = "http://127.0.0.1:8790/powerautomate/automations/direct/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke?api-version=1";
const KEY_PEM: &str = include_str!("../../../../tests/fixtures/entra-test-key.pem");
const CERT_PEM: &str = include_str!("../../../../tests/fixtures/entra-test-cert.pem");

/// The load bench's configuration: route `gh`, GitHub, two rotation secrets
/// (the second matches, and both MACs are computed: no early exit).
fn load_bench_config() -> Config {
    Config::from_json(&json!({
        "entra": {
            "authority": "http://127.0.0.1:8790",
            "tenant": "contoso.onmicrosoft.com",
            "client_id": "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81",
            "client_secret_binding": "ENTRA_CLIENT_SECRET"
        },
        "routes": {"gh": {
            "provider": "github",
            "secret_bindings": ["GH_SECRET_OLD", "GH_SECRET"],
            "flow_url_binding": "FLOW_ANY"
        }}
    }))
    .expect("valid configuration")
}

/// What the Worker does in Rust for one GitHub webhook of the load bench:
/// the route's settings (flow URL check, KV seal key derivation), the
/// request headers as the core sees them, verification against two secrets,
/// the token-cache key and the forward's headers. Not included: the JS side
/// (reading the body into wasm, `fetch`, the log line, the response).
pub(crate) struct Webhook {
    config: Config,
    secrets: [Secret; 2],
    credential: ClientCredential,
    token: Secret,
    body: Vec<u8>,
    raw_headers: Vec<(String, String)>,
}

/// A token as long as Entra's (about 1.5 KB).
fn token() -> Secret {
    Secret::new("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.".to_owned() + &"x".repeat(1400))
}

impl Webhook {
    /// A signed GitHub delivery of `n` bytes.
    pub(crate) fn new(n: usize) -> Self {
        let secrets = [Secret::new("previous-github-secret"), Secret::new("It's a Secret to Everybody")];
        let body = json_body(n);
        let sig = format!("sha256={}", hex::encode(hmac_sha256(secrets[1].expose().as_bytes(), &body)));
        let raw_headers = [
            ("host", "127.0.0.1:8787"),
            ("user-agent", "GitHub-Hookshot/abc1234"),
            ("content-type", "application/json"),
            ("content-length", &n.to_string()),
            ("x-github-event", "push"),
            ("x-github-delivery", "0b0f6e4e-6a3b-11ef-8f1e-2b5a0f3c9a11"),
            ("x-github-hook-id", "123456789"),
            ("x-hub-signature-256", &sig),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Webhook {
            config: load_bench_config(),
            secrets,
            credential: ClientCredential::Secret(Secret::new(CLIENT_SECRET)),
            token: token(),
            body,
            raw_headers,
        }
    }

    /// One webhook's Rust work; returns the number of forward headers.
    pub(crate) fn run(&self) -> usize {
        let route = self.config.routes.get("gh").expect("route gh");
        check_flow_url(FLOW_URL, self.config.entra.cloud, false).expect("valid flow URL");
        let seal = KvSeal::derived_from(self.credential.secret_material());
        let headers: Headers = self.raw_headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let received = Received { headers: &headers, body: self.body.clone(), now_secs: NOW, method: "POST", url: URL };
        let v = verify_request(route.provider, &route.scheme, route.tolerance_override, &self.secrets, received)
            .expect("verifies");
        let key = cache_key(&self.config.entra, &self.credential);
        let webhook = Accepted::accept(v, route, "0123456789abcdef", NOW, &headers);
        let flow = self.config.flows.get("gh").expect("flow gh");
        let out = FlowRequest::new(&webhook, flow.payload, &route.envelope, None, &self.token);
        black_box((seal, key));
        out.headers().len()
    }
}

/// The Rust side of a token refresh, and the per-request extra of a
/// certificate credential.
pub(crate) struct Refresh {
    config: Config,
    answer: String,
    seal: KvSeal,
    kv_key: String,
    cert: CertificateCredential,
}

impl Default for Refresh {
    fn default() -> Self {
        let config = load_bench_config();
        let credential = ClientCredential::Secret(Secret::new(CLIENT_SECRET));
        let answer = json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": token().expose()
        })
        .to_string();
        Refresh {
            seal: KvSeal::derived_from(credential.secret_material()),
            kv_key: cache_key(&config.entra, &credential),
            cert: CertificateCredential::from_pem(&Secret::new(KEY_PEM), CERT_PEM, AssertionAlgorithm::Rs256)
                .expect("PEM"),
            config,
            answer,
        }
    }
}

impl Refresh {
    fn finish(&self, form: &str) -> usize {
        let t = parse_token_response(200, None, self.answer.as_bytes(), NOW).expect("token");
        form.len() + self.seal.seal(&self.kv_key, &t, [7; 12]).len()
    }

    /// Client secret: the request form, the answer parsed, the token sealed for KV.
    pub(crate) fn client_secret(&self) -> usize {
        self.finish(&client_secret_form(&self.config.entra, &Secret::new(CLIENT_SECRET)))
    }

    /// Certificate: as above, plus the assertion's signing input and assembly
    /// (the RSA signature itself is Web Crypto's, outside the wasm).
    pub(crate) fn certificate(&self) -> usize {
        let input = self.cert.signing_input(&self.config.entra, NOW, "2f1c7a0e-3d4b-4e5f-8a9b-0c1d2e3f4a5b");
        self.finish(&client_assertion_form(&self.config.entra, &assemble(&input, &[0x5a; 256])))
    }

    /// Per request with a certificate credential: the PEM secrets parsed (the
    /// route's settings are read on every request) and the seal key derived
    /// from the private key's DER.
    pub(crate) fn certificate_per_request(&self) -> usize {
        let cred =
            CertificateCredential::from_pem(&Secret::new(KEY_PEM), CERT_PEM, AssertionAlgorithm::Rs256).expect("PEM");
        black_box(KvSeal::derived_from(cred.private_key_der.expose()));
        cred.certificate_der.len()
    }
}
