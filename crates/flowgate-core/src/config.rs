//! The configuration model: what an operator writes under `[vars.FLOWGATE]`
//! in `wrangler.toml`, and its validation.
//!
//! Only non-secret settings live there. Webhook secrets, the client secret and
//! the flow URL are wrangler secrets, referenced here *by name* (`*_binding`
//! fields), and read from the Worker's environment at request time.
//!
//! Parsing is lenient and validation is exhaustive: [`Config::from_json`]
//! returns every problem at once, each with the fix, so `flowgate check`
//! and the Worker's start-up log can print all of them.
//!
//! ```toml
//! [vars.FLOWGATE.entra]
//! tenant = "contoso.onmicrosoft.com"            # GUID or domain; not "common"
//! client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
//! client_secret_binding = "ENTRA_CLIENT_SECRET" # wrangler secret NAME; or:
//! # [vars.FLOWGATE.entra.certificate]
//! # private_key_binding = "ENTRA_CERT_KEY"      # PKCS#8 PEM
//! # certificate_binding = "ENTRA_CERT"          # X.509 PEM
//! # algorithm = "RS256"                         # or "PS256"
//! # cloud = "public"                            # gcc, gcc-high, dod, china
//! # authority = "https://login.microsoftonline.com"          (from the cloud)
//! # scope = "https://service.flow.microsoft.com//.default"   (from the cloud; double slash!)
//! # token_cache_key_binding = "TOKEN_CACHE_KEY" # 32 random bytes, base64
//!
//! [vars.FLOWGATE.routes.github]
//! provider = "github"                           # or "standard-webhooks" / "svix"
//! secret_bindings = ["GITHUB_WEBHOOK_SECRET"]   # several = rotation
//! flow_url_binding = "FLOW_URL_GITHUB"
//! # max_body_bytes = 10485760                 # Mailgun, Figma: 1048576; Microsoft Graph: 4194304
//! # tolerance_secs = 300                        # signed-timestamp schemes
//! # mode = "queue"                              # or "direct" (relay the flow's answer)
//! # max_attempts = 10                           # queue mode: then dead letters
//! # backoff_base_secs = 10                      # doubles per attempt, with jitter
//! # backoff_max_secs = 3600
//! # dedupe = true                               # by the sender's delivery id
//! # dedupe_window_secs = 259200                 # 72 h
//! # replay_guard = true                         # refuse a signature seen on another delivery
//! # payload = "raw"                             # or "envelope" (this route's one flow)
//! # envelope_headers = ["x-github-hook-id"]     # headers copied into envelopes
//!
//! [vars.FLOWGATE.routes.plaid]
//! provider = "plaid"                            # keys fetched from Plaid by kid
//! plaid_client_id_binding = "PLAID_CLIENT_ID"
//! plaid_secret_binding = "PLAID_SECRET"
//! # plaid_environment = "production"            # or "sandbox" (or the emulator's base URL)
//! flow_url_binding = "FLOW_URL_PLAID"
//! ```
//!
//! **Several flows.** A route names either one flow (`flow_url_binding`
//! above: a flow named like the route, with the route's `payload` and
//! `flow_timeout_secs`) or, with `rules` and/or `default_flow`, flows of the
//! `flows` table ([`crate::rules`] has the rule syntax). Events that no rule
//! matches go to `default_flow`, or are acknowledged and dropped. A flow
//! gets its token with `[vars.FLOWGATE.entra]` unless it names another
//! credential; a flow in another tenant needs one, and each credential has
//! its own token cache entry.
//!
//! ```toml
//! [vars.FLOWGATE.flows.deploys]                 # a named flow
//! url_binding = "FLOW_URL_DEPLOYS"              # wrangler secret holding its trigger URL
//! payload = "envelope"                          # or "raw" (the default)
//! # credential = "partner"                      # default: [vars.FLOWGATE.entra]
//! # timeout_secs = 8                            # 1..=120
//!
//! [vars.FLOWGATE.flows.bugs]
//! url_binding = "FLOW_URL_BUGS"
//! credential = "partner"
//!
//! [vars.FLOWGATE.credentials.partner]           # the fields of [vars.FLOWGATE.entra]
//! tenant = "fabrikam.onmicrosoft.com"
//! client_id = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
//! client_secret_binding = "PARTNER_CLIENT_SECRET"
//!
//! [vars.FLOWGATE.routes.gh]
//! provider = "github"
//! secret_bindings = ["GH_SECRET"]
//! # default_flow = "everything"                 # else unmatched events are dropped
//! envelope_headers = ["x-github-hook-id"]
//!
//! [[vars.FLOWGATE.routes.gh.rules]]
//! event = "push"
//! flows = ["deploys"]
//!
//! [[vars.FLOWGATE.routes.gh.rules]]
//! event = "issues"
//! fields = { action = "labeled", "label.name" = "bug" }
//! flows = ["bugs"]
//! ```

use std::{collections::BTreeMap, fmt};

use serde::Deserialize;
use serde_json::Value;

pub use crate::delivery::RetryPolicy;
use crate::{
    delivery::{MAX_ATTEMPTS_LIMIT, MAX_QUEUE_DELAY_SECS},
    pacing::{Limits, Rate},
    rules::parse_rules,
    verify::{body_fields, catalogue, custom, find_provider, providers, Provider, Scheme},
};
pub use crate::{envelope::EnvelopeSpec, rules::RouteRules};

/// The name of the object var that holds flowgate's configuration.
pub const CONFIG_VAR: &str = "FLOWGATE";
/// Default Entra authority host (public cloud).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Default scope: the Power Automate flow service, **with the double slash**
/// so the token's `aud` keeps its trailing slash (entra-power-automate.md §1.3).
pub const DEFAULT_SCOPE: &str = "https://service.flow.microsoft.com//.default";
/// Default cap on an inbound body (Hookdeck's ingest cap), except for the
/// senders whose proof is inside the body
/// ([`body_fields::body_proof_max_body_bytes`]).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// Largest `max_body_bytes` accepted. The flow takes 100 MB
/// (entra-power-automate.md §4), but the Worker holds the body in memory,
/// twice while forwarding, in an isolate of 128 MB shared by every request.
pub const MAX_BODY_BYTES_LIMIT: u64 = 32 * 1024 * 1024;
/// Default time allowed for the flow to answer. A flow without a Response
/// action answers 202 at once; senders give up after 3–10 s (GitHub 10 s).
pub const DEFAULT_FLOW_TIMEOUT_SECS: u64 = 8;
/// Plaid's production API host.
pub const PLAID_PRODUCTION: &str = "https://production.plaid.com";
/// Plaid's sandbox API host.
pub const PLAID_SANDBOX: &str = "https://sandbox.plaid.com";
/// eBay's production API host (key endpoint and OAuth token endpoint).
pub const EBAY_PRODUCTION: &str = "https://api.ebay.com";
/// eBay's sandbox API host.
pub const EBAY_SANDBOX: &str = "https://api.sandbox.ebay.com";
/// Circle's API host (testnet and mainnet: the API key decides which).
pub const CIRCLE_API: &str = "https://api.circle.com";
/// Default time allowed for Entra's token endpoint (it usually answers in
/// well under a second).
pub const DEFAULT_TOKEN_TIMEOUT_SECS: u64 = 5;

/// One configuration problem: where, what, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path inside `[vars.FLOWGATE]`, e.g. `routes.github.provider`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} — {}", self.path, self.message, self.fix)
    }
}

/// The Microsoft cloud a tenant and its flows live in
/// (entra-power-automate.md §1.2 audiences, §3 authority hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Commercial (worldwide).
    Public,
    /// US Government Community Cloud.
    Gcc,
    /// US Government Community Cloud High.
    GccHigh,
    /// US Department of Defense.
    Dod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// Every cloud, for listings.
    pub const ALL: [Cloud; 5] = [Cloud::Public, Cloud::Gcc, Cloud::GccHigh, Cloud::Dod, Cloud::China];

    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
            Cloud::China => "china",
        }
    }

    /// Parses a configuration name.
    pub fn from_name(name: &str) -> Option<Self> {
        Cloud::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The Entra authority host. GCC tenants sign in to the commercial
    /// authority; GCC High and DoD to the US Government one (§3).
    pub fn authority(self) -> &'static str {
        match self {
            Cloud::Public | Cloud::Gcc => "https://login.microsoftonline.com",
            Cloud::GccHigh | Cloud::Dod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.partner.microsoftonline.cn",
        }
    }

    /// The `aud` the cloud's flows demand, trailing slash included (§1.2).
    pub fn flow_audience(self) -> &'static str {
        match self {
            Cloud::Public => "https://service.flow.microsoft.com/",
            Cloud::Gcc => "https://gov.service.flow.microsoft.us/",
            Cloud::GccHigh => "https://high.service.flow.microsoft.us/",
            Cloud::Dod => "https://service.flow.appsplatform.us/",
            Cloud::China => "https://service.powerautomate.cn/",
        }
    }

    /// The scope that yields exactly [`Cloud::flow_audience`]: the audience
    /// followed by `/.default`, hence the double slash (§1.3).
    pub fn default_scope(self) -> String {
        format!("{}/.default", self.flow_audience())
    }
}

/// Signature algorithm of a certificate client assertion (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, certificate named by `x5t` (SHA-1
    /// thumbprint): the long-standing form that works everywhere.
    Rs256,
    /// RSASSA-PSS with SHA-256, named by `x5t#S256`: the currently documented form.
    Ps256,
}

impl AssertionAlgorithm {
    /// The JWT `alg` value.
    pub fn name(self) -> &'static str {
        match self {
            AssertionAlgorithm::Rs256 => "RS256",
            AssertionAlgorithm::Ps256 => "PS256",
        }
    }
}

/// How flowgate proves its identity to Entra.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A client secret, held in the named wrangler secret.
    ClientSecret {
        /// Secret name.
        binding: String,
    },
    /// A certificate: a client assertion signed with its private key.
    Certificate {
        /// Secret holding the PKCS#8 PEM private key.
        private_key_binding: String,
        /// Secret holding the X.509 PEM certificate uploaded to the app registration.
        certificate_binding: String,
        /// Assertion signature algorithm.
        algorithm: AssertionAlgorithm,
    },
}

impl Credential {
    /// Every secret name this credential needs.
    pub fn bindings(&self) -> Vec<&str> {
        match self {
            Credential::ClientSecret { binding } => vec![binding],
            Credential::Certificate { private_key_binding, certificate_binding, .. } => {
                vec![private_key_binding, certificate_binding]
            }
        }
    }
}

/// Validated Entra settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraConfig {
    /// The cloud (sets the defaults of `authority` and `scope`).
    pub cloud: Cloud,
    /// Authority host without a trailing slash, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    /// Tenant GUID or verified domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// The `scope` sent to Entra.
    pub scope: String,
    /// The client credential.
    pub credential: Credential,
    /// Time allowed for the token endpoint, seconds.
    pub timeout_secs: u64,
    /// Secret holding the token cache's encryption key (32 bytes, base64);
    /// without it the key is derived from the credential.
    pub token_cache_key_binding: Option<String>,
}

impl EntraConfig {
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant)
    }

    /// The `aud` a token for `scope` carries: the scope without `/.default`.
    pub fn expected_audience(&self) -> &str {
        self.scope.strip_suffix("/.default").unwrap_or(&self.scope)
    }

    /// Every secret name the Entra settings need.
    pub fn bindings(&self) -> Vec<&str> {
        let mut names = self.credential.bindings();
        names.extend(self.token_cache_key_binding.as_deref());
        names
    }
}

/// One validated inbound route, `POST /hooks/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The `{route}` path segment.
    pub name: String,
    /// The sender.
    pub provider: &'static Provider,
    /// How it signs (the provider's preset, or the route's custom scheme).
    pub scheme: Scheme,
    /// Replaces the scheme's replay window, seconds.
    pub tolerance_override: Option<u64>,
    /// Names of the wrangler secrets holding the signing secrets (rotation).
    pub secret_bindings: Vec<String>,
    /// Name of the wrangler secret holding the flow's trigger URL, for a
    /// single-flow route; empty when the route uses `rules`/`default_flow`
    /// (its flows are then in [`Config::flows`], named by [`Route::rules`]).
    pub flow_url_binding: String,
    /// Largest body accepted, bytes.
    pub max_body_bytes: u64,
    /// Time allowed for the flow to answer, seconds. For a route with rules:
    /// the longest `timeout_secs` of the flows it can deliver to (each
    /// flow's own is in [`Flow::timeout_secs`]).
    pub flow_timeout_secs: u64,
    /// Secret holding the token a sender's handshake must present (Meta's verify token).
    pub verify_token_binding: Option<String>,
    /// Plaid only: where and with which credentials its verification keys are fetched.
    pub plaid: Option<PlaidSettings>,
    /// eBay only: where and with which app credentials its keys are fetched.
    pub ebay: Option<EbaySettings>,
    /// Circle only: where and with which API key its keys are fetched.
    pub circle: Option<CircleSettings>,
    /// AWS SNS only (always set there): where certificates come from, and
    /// whether subscriptions are confirmed.
    pub sns: Option<SnsSettings>,
    /// PayPal only (always set there): the webhook id, and the emulator.
    pub paypal: Option<PayPalSettings>,
    /// Acknowledge at once and deliver through the queue, or forward inline.
    pub mode: DeliveryMode,
    /// Queue mode: attempts and backoff.
    pub retry: RetryPolicy,
    /// How long a sender's delivery id is remembered, seconds; `None` = no
    /// duplicate suppression.
    pub dedupe_window_secs: Option<u64>,
    /// How long verified signatures are remembered to refuse replays
    /// ([`crate::ledger`]), seconds; `None` = `replay_guard = false`.
    pub replay_window_secs: Option<u64>,
    /// The operator accepts that this route verifies with the same key as
    /// another route although neither signature binds the route (see
    /// [`shared_key_problem`]): a request accepted on one can be replayed once
    /// to the other.
    pub allow_shared_secret: bool,
    /// Queue mode: a delivery with no attempt for this long after it was
    /// due is presumed lost from the queue and enqueued again from the
    /// route ledger's copy, seconds.
    pub lost_after_secs: u64,
    /// Which flows get an event, evaluated after verification. A single-flow
    /// route (`flow_url_binding`) has no rules and its implicit flow, named
    /// like the route, as the default flow ([`RouteRules::default_only`]).
    pub rules: RouteRules,
    /// Which request headers this route's envelopes carry (`envelope_headers`).
    pub envelope: EnvelopeSpec,
}

/// Why `route` must not run while it shares key material with `other`
/// (both routes' [`crate::verify::key_material`] overlap), or `None`:
/// - an X (Twitter) route answers CRCs, and a LinkedIn route its
///   validation, with an HMAC under its key of any token: shared, that
///   answer can sign requests for the other route — always refused;
/// - two routes whose signatures do not bind the URL
///   ([`crate::verify::binds_route`]) accept each other's requests: one
///   captured on either can be replayed once to the other (each route's
///   replay guard is its own) — refused unless both set
///   `allow_shared_secret = true` (Slack slash commands of one app share its
///   signing secret; there the timestamp bounds the window to minutes).
pub fn shared_key_problem(route: &Route, other: &Route) -> Option<String> {
    // X's CRC and LinkedIn's validation answer with an HMAC under the key of
    // a value anyone chooses (crate::verify::handshake::answers_with_hmac).
    let hmac_oracle = |r: &Route| crate::verify::handshake::answers_with_hmac(r.provider.name);
    if hmac_oracle(route) || hmac_oracle(other) {
        let which = if hmac_oracle(route) { route } else { other };
        let answer = if which.provider.name == "twitter" { "X's CRC answer" } else { "LinkedIn's validation answer" };
        return Some(format!(
            "routes {} and {} verify with the same key, and {answer} (an HMAC of any value under it) would sign requests for the other; give each route its own secret",
            route.name, other.name
        ));
    }
    let bound = crate::verify::binds_route(&route.scheme) && crate::verify::binds_route(&other.scheme);
    if bound || (route.allow_shared_secret && other.allow_shared_secret) {
        return None;
    }
    Some(format!(
        "routes {} and {} verify with the same key and neither signature covers the URL: a request accepted on one would verify on the other, and a captured one could be replayed there; give each route its own secret (or set allow_shared_secret = true on both, accepting that)",
        route.name, other.name
    ))
}

/// How a route delivers to its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    /// Verify, enqueue, answer the sender 202 at once; the queue consumer
    /// delivers with retries and dead letters.
    Queue,
    /// Forward inline and relay the flow's answer (flows with a Response action).
    Direct,
}

impl DeliveryMode {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Queue => "queue",
            DeliveryMode::Direct => "direct",
        }
    }
}

/// Default window of duplicate suppression: 72 h, longer than Stripe's
/// three days of retries, GitHub's manual redeliveries and Shopify's 48 h.
pub const DEFAULT_DEDUPE_WINDOW_SECS: u64 = 72 * 3600;

/// Default time after which a queued delivery that saw no attempt is
/// enqueued again: 15 minutes, Queues' longest consumer run.
pub const DEFAULT_LOST_AFTER_SECS: u64 = 900;

/// How a Plaid route fetches Plaid's webhook verification keys
/// (`POST {base_url}/webhook_verification_key/get`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaidSettings {
    /// Name of the wrangler secret holding the Plaid `client_id`.
    pub client_id_binding: String,
    /// Name of the wrangler secret holding the Plaid `secret` (of that environment).
    pub secret_binding: String,
    /// `https://production.plaid.com`, `https://sandbox.plaid.com`, or a
    /// loopback base (the emulator); no trailing slash.
    pub base_url: String,
}

impl PlaidSettings {
    /// The key endpoint.
    pub fn key_endpoint(&self) -> String {
        format!("{}/webhook_verification_key/get", self.base_url)
    }
}

/// How an eBay route fetches eBay's notification keys (an OAuth
/// application token from `{base_url}/identity/v1/oauth2/token`, then
/// `{base_url}/commerce/notification/v1/public_key/{kid}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EbaySettings {
    /// Name of the wrangler secret holding the eBay App ID (`client_id`).
    pub client_id_binding: String,
    /// Name of the wrangler secret holding the eBay Cert ID (`client_secret`).
    pub client_secret_binding: String,
    /// `https://api.ebay.com`, `https://api.sandbox.ebay.com`, or a loopback
    /// base (the emulator); no trailing slash.
    pub base_url: String,
}

/// How a Circle route fetches Circle's notification keys
/// (`{base_url}/v2/notifications/publicKey/{id}`, Bearer API key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircleSettings {
    /// Name of the wrangler secret holding the Circle API key.
    pub api_key_binding: String,
    /// `https://api.circle.com`, or a loopback base (the emulator).
    pub base_url: String,
}

/// How an AWS SNS route treats SNS's certificates and handshakes
/// ([`crate::verify::sns`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsSettings {
    /// Tests only: a loopback origin (`http://127.0.0.1:PORT`, the emulator)
    /// that replaces `https://sns.<region>.amazonaws.com` in `SigningCertURL`
    /// and `SubscribeURL`; with it set, real SNS hosts are refused. `None` in
    /// production: certificates come only from SNS hosts over https.
    pub emulator_origin: Option<String>,
    /// Confirm a verified `SubscriptionConfirmation` by GETting its
    /// `SubscribeURL` (`sns_confirm_subscriptions`); only with
    /// [`SnsSettings::topic_arns`].
    pub confirm_subscriptions: bool,
    /// `sns_topic_arns`: when not empty, only messages of these topics are
    /// accepted (every type); required to confirm subscriptions.
    pub topic_arns: Vec<String>,
}

/// How a PayPal route verifies ([`crate::verify::paypal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayPalSettings {
    /// `paypal_webhook_id`: the webhook's id in PayPal's developer
    /// dashboard, part of what PayPal signs (it binds a notification to
    /// this webhook: PayPal signs every merchant's with one certificate).
    pub webhook_id: String,
    /// Tests only: a loopback origin (the emulator) that replaces PayPal's
    /// hosts in `PAYPAL-CERT-URL`; with it set, PayPal's hosts are refused.
    pub emulator_origin: Option<String>,
}

/// A loopback origin for tests (`http://127.0.0.1:PORT`), or a problem at `field`.
fn emulator_origin(text: &str, field: &str, real: &str, p: &mut Problems) -> String {
    let base = text.trim().trim_end_matches('/').to_owned();
    let loopback = split_url(&base).is_ok_and(|u| is_loopback(u.host));
    if !(base.starts_with("http://") && loopback && check_base_url(&base).is_ok()) {
        p.add(
            field,
            "must be a loopback origin (the emulator, http://127.0.0.1:PORT)",
            format!("leave it out in production: certificates are fetched only from {real}"),
        );
    }
    base
}

/// Whether `arn` is an SNS topic ARN: `arn:<partition>:sns:<region>:<12
/// digits>:<name>`, the name 1–256 of `A-Z a-z 0-9 - _` (and `.fifo`).
fn is_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let [arn_, partition, service, region, account, name] = parts[..] else { return false };
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    arn_ == "arn"
        && word(partition)
        && service == "sns"
        && word(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=256).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// An SNS route's settings; `None` (with problems added) when one is wrong.
fn validate_sns(
    name: &str,
    origin: Option<String>,
    confirm: Option<bool>,
    topics: Option<Vec<String>>,
    p: &mut Problems,
) -> Option<SnsSettings> {
    let at = |field: &str| format!("routes.{name}.{field}");
    let before = p.0.len();
    let real = "https://sns.<region>.amazonaws.com (and SubscribeURLs only there)";
    let emulator_origin = origin.map(|text| emulator_origin(&text, &at("sns_emulator_origin"), real, p));
    let topic_arns = topics.unwrap_or_default();
    for (i, arn) in topic_arns.iter().enumerate() {
        if !is_topic_arn(arn) {
            p.add(
                format!("routes.{name}.sns_topic_arns[{i}]"),
                "is not an SNS topic ARN",
                "write the topic's full ARN, e.g. \"arn:aws:sns:us-east-1:123456789012:orders\" (no wildcards)",
            );
        }
    }
    let confirm_subscriptions = confirm == Some(true);
    if confirm_subscriptions && topic_arns.is_empty() {
        p.add(
            at("sns_topic_arns"),
            "missing: with sns_confirm_subscriptions, any AWS account could subscribe this route to its own topic (SNS signs that confirmation too) and then send it notifications",
            "list the topics this route is for: sns_topic_arns = [\"arn:aws:sns:<region>:<account>:<topic>\"]",
        );
    }
    (p.0.len() == before).then_some(SnsSettings { emulator_origin, confirm_subscriptions, topic_arns })
}

/// What a flow receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Payload {
    /// The sender's body, byte for byte, with its content type.
    #[default]
    Raw,
    /// One JSON document with the event's labels, selected headers and the
    /// body ([`crate::envelope`]).
    Envelope,
}

impl Payload {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Payload::Raw => "raw",
            Payload::Envelope => "envelope",
        }
    }

    /// Parses a configuration spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        [Payload::Raw, Payload::Envelope].into_iter().find(|p| p.as_str() == name)
    }
}

/// One target flow: a Power Automate trigger and how to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// The flow's name: its `[vars.FLOWGATE.flows.<name>]` table, or, for a
    /// single-flow route, the route's name.
    pub name: String,
    /// Name of the wrangler secret holding the trigger URL.
    pub url_binding: String,
    /// What the flow receives.
    pub payload: Payload,
    /// A `[vars.FLOWGATE.credentials.<name>]` entry; `None` = [`Config::entra`].
    pub credential: Option<String>,
    /// Time allowed for the flow to answer, seconds.
    pub timeout_secs: u64,
    /// The operator's opt-in to a trigger URL on a host that is not a Power
    /// Automate host of the flow's cloud ([`check_flow_url`]): the Bearer
    /// token goes there.
    pub allow_any_host: bool,
    /// `max_rate` and `max_concurrency` ([`crate::pacing`]), enforced for
    /// queued deliveries.
    pub limits: Limits,
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How tokens are obtained (the default credential).
    pub entra: EntraConfig,
    /// Routes by name.
    pub routes: BTreeMap<String, Route>,
    /// Every flow an event can be delivered to, by name: the
    /// `[vars.FLOWGATE.flows]` tables and the implicit flow of each
    /// single-flow route (named like the route).
    pub flows: BTreeMap<String, Flow>,
    /// Further Entra credentials (another tenant, another app registration), by name.
    pub credentials: BTreeMap<String, EntraConfig>,
    /// Where failure alerts go (`[vars.FLOWGATE.alerts]`); `None`: no alerts.
    pub alerts: Option<crate::alerts::AlertsConfig>,
}

impl Route {
    /// Whether a request header is kept with a queued delivery (and its dead
    /// letter): never credentials, never this route's own secret header.
    pub fn keeps_header(&self, name: &str) -> bool {
        crate::delivery::keep_header(name) && !secret_headers(&self.scheme).iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

impl Config {
    /// The problems of this configuration on a Worker that has (or lacks,
    /// `has_pacer = false`) the flow pacer's Durable Object binding `binding`:
    /// a flow with `max_rate` or `max_concurrency` cannot be paced without
    /// it, and its deliveries would wait for ever, so the configuration is
    /// refused like any other mistake (fail closed: senders get 500 and retry).
    pub fn problems_with_pacer(&self, has_pacer: bool, binding: &str) -> Vec<Problem> {
        if has_pacer {
            return Vec::new();
        }
        self.flows
            .iter()
            .filter(|(_, f)| f.limits != crate::pacing::Limits::default())
            .map(|(name, _)| Problem {
                path: format!("flows.{name}"),
                message: format!("max_rate/max_concurrency are set, but the Worker has no {binding} Durable Object binding to enforce them"),
                fix: format!("add the {binding} [[durable_objects.bindings]] block and its [[migrations]] entry (README.md, Deploying), or remove the limits"),
            })
            .collect()
    }

    /// The Entra settings `flow` gets its token with: its named credential,
    /// else [`Config::entra`]. Each credential has its own token cache entry
    /// ([`crate::entra::cache_key`] covers authority, tenant, client and
    /// credential).
    pub fn credential(&self, flow: &Flow) -> &EntraConfig {
        // Validation refuses a flow naming an unknown credential.
        flow.credential.as_ref().and_then(|name| self.credentials.get(name)).unwrap_or(&self.entra)
    }
}

#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    entra: Option<RawEntra>,
    #[serde(default)]
    routes: BTreeMap<String, RawRoute>,
    #[serde(default)]
    flows: BTreeMap<String, RawFlow>,
    #[serde(default)]
    credentials: BTreeMap<String, RawEntra>,
    alerts: Option<RawAlerts>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawAlerts {
    url_binding: Option<String>,
    format: Option<String>,
    window_secs: Option<u64>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawFlow {
    url_binding: Option<String>,
    payload: Option<String>,
    credential: Option<String>,
    timeout_secs: Option<u64>,
    allow_any_flow_host: Option<bool>,
    max_rate: Option<String>,
    max_concurrency: Option<u64>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawEntra {
    cloud: Option<String>,
    authority: Option<String>,
    tenant: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    client_secret_binding: Option<String>,
    certificate: Option<RawCertificate>,
    timeout_secs: Option<u64>,
    token_cache_key_binding: Option<String>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawCertificate {
    private_key_binding: Option<String>,
    certificate_binding: Option<String>,
    algorithm: Option<String>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawRoute {
    provider: Option<String>,
    secret_bindings: Option<Vec<String>>,
    flow_url_binding: Option<String>,
    max_body_bytes: Option<u64>,
    tolerance_secs: Option<u64>,
    flow_timeout_secs: Option<u64>,
    scheme: Option<serde_json::Map<String, Value>>,
    verify_token_binding: Option<String>,
    plaid_client_id_binding: Option<String>,
    plaid_secret_binding: Option<String>,
    plaid_environment: Option<String>,
    ebay_client_id_binding: Option<String>,
    ebay_client_secret_binding: Option<String>,
    ebay_environment: Option<String>,
    circle_api_key_binding: Option<String>,
    circle_environment: Option<String>,
    sns_emulator_origin: Option<String>,
    sns_confirm_subscriptions: Option<bool>,
    sns_topic_arns: Option<Vec<String>>,
    paypal_webhook_id: Option<String>,
    paypal_emulator_origin: Option<String>,
    mode: Option<String>,
    max_attempts: Option<u64>,
    backoff_base_secs: Option<u64>,
    backoff_max_secs: Option<u64>,
    dedupe: Option<bool>,
    dedupe_window_secs: Option<u64>,
    replay_guard: Option<bool>,
    allow_shared_secret: Option<bool>,
    lost_after_secs: Option<u64>,
    payload: Option<String>,
    allow_any_flow_host: Option<bool>,
    max_rate: Option<String>,
    max_concurrency: Option<u64>,
    // Kept as JSON: `rules::parse_rules` and `EnvelopeSpec::from_config`
    // read them with their own messages.
    rules: Option<Value>,
    default_flow: Option<Value>,
    envelope_headers: Option<Value>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Problem { path: path.into(), message: message.into(), fix: fix.into() });
    }

    fn unknown_keys(&mut self, prefix: &str, unknown: &BTreeMap<String, Value>, known: &[&str]) {
        for key in unknown.keys() {
            self.add(
                format!("{prefix}{key}"),
                "unknown setting",
                format!("remove it or use one of: {}", known.join(", ")),
            );
        }
    }
}

impl Config {
    /// Parses and validates the `FLOWGATE` object (as JSON; the CLI converts
    /// TOML to JSON first).
    ///
    /// # Errors
    /// Every problem found, each with its fix. The messages are for operators.
    pub fn from_json(value: &Value) -> Result<Config, Vec<Problem>> {
        let wrong_types = type_problems(value);
        if !wrong_types.is_empty() {
            return Err(wrong_types);
        }
        // The shapes were checked above; serde's own message is never shown,
        // because it quotes values, and a value may be a pasted secret.
        let raw: RawConfig = serde_json::from_value(value.clone()).map_err(|_| {
            vec![Problem {
                path: CONFIG_VAR.to_owned(),
                message: "not a valid configuration object".to_owned(),
                fix: "see README.md, section Configuration, for the shape of [vars.FLOWGATE]".to_owned(),
            }]
        })?;
        let mut p = Problems(Vec::new());
        p.unknown_keys("", &raw.unknown, &TOP_LEVEL);

        let entra = match raw.entra {
            Some(e) => validate_entra(e, "entra", &mut p),
            None => {
                p.add("entra", "missing", "add [vars.FLOWGATE.entra] with tenant, client_id and client_secret_binding");
                None
            }
        };

        // (1) Named credentials, validated as [vars.FLOWGATE.entra] is.
        let credential_names: Vec<String> = raw.credentials.keys().cloned().collect();
        let mut credentials = BTreeMap::new();
        for (name, c) in raw.credentials {
            if !is_route_name(&name) {
                p.add(
                    format!("credentials.{name}"),
                    format!("credential name {NAME_RULE}"),
                    "rename the table; flows name it in credential = \"<name>\"",
                );
            }
            if let Some(cfg) = validate_entra(c, &format!("credentials.{name}"), &mut p) {
                credentials.insert(name, cfg);
            }
        }

        // (2) The flows table. A single-flow route defines a flow named like
        // itself, so a table of the same name would make a target ambiguous.
        // Rules may name any flow of the table: one with problems of its own
        // is reported once, not again in every rule naming it.
        let flow_names: Vec<String> = raw.flows.keys().cloned().collect();
        let mut flows = BTreeMap::new();
        for (name, f) in raw.flows {
            if raw.routes.get(&name).is_some_and(|r| r.flow_url_binding.is_some()) {
                p.add(
                    format!("flows.{name}"),
                    format!("route {name} has flow_url_binding, which defines a flow named \"{name}\" too"),
                    "rename the flow (and the rules naming it), or give the route rules/default_flow instead of flow_url_binding",
                );
            }
            if let Some(flow) = validate_flow(&name, f, &credential_names, &mut p) {
                flows.insert(name, flow);
            }
        }
        let table_flows = flows.clone();

        // (3) Routes, each with its rules over the flows table.
        if raw.routes.is_empty() {
            p.add(
                "routes",
                "no routes configured",
                "add at least one [vars.FLOWGATE.routes.<name>] table with provider, secret_bindings and flow_url_binding",
            );
        }
        let mut routes = BTreeMap::new();
        for (name, r) in raw.routes {
            if let Some((route, implicit)) = validate_route(&name, r, &flow_names, &table_flows, &mut p) {
                if let Some(flow) = implicit {
                    flows.insert(name.clone(), flow);
                }
                routes.insert(name, route);
            }
        }
        // Pacing holds deliveries back in the queue; direct mode has none.
        for route in routes.values().filter(|r| r.mode == DeliveryMode::Direct) {
            let names: Vec<&str> = if route.rules.is_empty() { vec![route.name.as_str()] } else { route.rules.flows() };
            for flow in names.iter().filter_map(|f| flows.get(*f)) {
                if flow.limits != Limits::default() {
                    p.add(
                        format!("routes.{}.mode", route.name),
                        format!("flow {} has max_rate or max_concurrency, which only queue mode can keep", flow.name),
                        "set mode = \"queue\" on the route (deliveries over the limit wait in the queue), or remove the flow's limits",
                    );
                }
            }
        }
        // Routes naming one secret binding hold one key (the Worker also
        // compares the keys themselves: two bindings can hold one value).
        let named: Vec<&Route> = routes.values().collect();
        for (i, a) in named.iter().enumerate() {
            for b in &named[i + 1..] {
                let same_binding = a.secret_bindings.iter().any(|s| b.secret_bindings.contains(s));
                if !same_binding || !crate::verify::secret_is_key(&a.scheme) || !crate::verify::secret_is_key(&b.scheme)
                {
                    continue;
                }
                if let Some(problem) = shared_key_problem(a, b) {
                    p.add(
                        format!("routes.{}.secret_bindings", b.name),
                        problem,
                        "bind a secret of its own to each route",
                    );
                }
            }
        }

        let alerts = raw.alerts.map(|a| validate_alerts(a, &mut p));
        match entra {
            Some(entra) if p.0.is_empty() => Ok(Config { entra, routes, flows, credentials, alerts }),
            _ => Err(p.0),
        }
    }
}

/// The top-level tables of `[vars.FLOWGATE]`.
const TOP_LEVEL: [&str; 5] = ["entra", "routes", "flows", "credentials", "alerts"];

const ALERTS_FIELDS: [(&str, Kind); 3] =
    [("url_binding", Kind::Text), ("format", Kind::Text), ("window_secs", Kind::Count)];

/// `[vars.FLOWGATE.alerts]`: the destination and the rate limit's window.
fn validate_alerts(a: RawAlerts, p: &mut Problems) -> crate::alerts::AlertsConfig {
    use crate::alerts::{AlertsConfig, Format, DEFAULT_WINDOW_SECS, MAX_WINDOW_SECS, MIN_WINDOW_SECS};
    p.unknown_keys("alerts.", &a.unknown, &ALERTS_FIELDS.map(|(name, _)| name));
    let url_binding = a.url_binding.unwrap_or_default();
    check_binding(p, "alerts.url_binding", &url_binding, "ALERT_WEBHOOK_URL");
    let format = match a.format.as_deref() {
        None => {
            p.add(
                "alerts.format",
                "missing",
                format!("set format to one of: {} (a Teams workflow webhook, a Slack incoming webhook, or the alert as JSON)", Format::NAMES.join(", ")),
            );
            Format::Json
        }
        Some(f) => Format::parse(f).unwrap_or_else(|| {
            p.add(
                "alerts.format",
                format!("unknown format \"{f}\""),
                format!("use one of: {}", Format::NAMES.join(", ")),
            );
            Format::Json
        }),
    };
    let window_secs = a.window_secs.unwrap_or(DEFAULT_WINDOW_SECS);
    if !(MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&window_secs) {
        p.add(
            "alerts.window_secs",
            "out of range",
            format!("use {MIN_WINDOW_SECS} to {MAX_WINDOW_SECS} seconds (default {DEFAULT_WINDOW_SECS}: one alert per kind and route or flow per 10 minutes)"),
        );
    }
    AlertsConfig { url_binding, format, window_secs }
}

/// How route, flow and credential names may be written.
const NAME_RULE: &str = "must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit";

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Flag,
    Count,
    TextList,
    Table,
    TableList,
}

const ENTRA_FIELDS: [(&str, Kind); 9] = [
    ("tenant", Kind::Text),
    ("client_id", Kind::Text),
    ("client_secret_binding", Kind::Text),
    ("certificate", Kind::Table),
    ("cloud", Kind::Text),
    ("authority", Kind::Text),
    ("scope", Kind::Text),
    ("timeout_secs", Kind::Count),
    ("token_cache_key_binding", Kind::Text),
];

const CERTIFICATE_FIELDS: [(&str, Kind); 3] =
    [("private_key_binding", Kind::Text), ("certificate_binding", Kind::Text), ("algorithm", Kind::Text)];

const FLOW_FIELDS: [(&str, Kind); 7] = [
    ("url_binding", Kind::Text),
    ("payload", Kind::Text),
    ("credential", Kind::Text),
    ("timeout_secs", Kind::Count),
    ("allow_any_flow_host", Kind::Flag),
    ("max_rate", Kind::Text),
    ("max_concurrency", Kind::Count),
];

const ROUTE_FIELDS: [(&str, Kind); 37] = [
    ("lost_after_secs", Kind::Count),
    ("mode", Kind::Text),
    ("max_attempts", Kind::Count),
    ("backoff_base_secs", Kind::Count),
    ("backoff_max_secs", Kind::Count),
    ("dedupe", Kind::Flag),
    ("dedupe_window_secs", Kind::Count),
    ("replay_guard", Kind::Flag),
    ("allow_shared_secret", Kind::Flag),
    ("provider", Kind::Text),
    ("scheme", Kind::Table),
    ("verify_token_binding", Kind::Text),
    ("plaid_client_id_binding", Kind::Text),
    ("plaid_secret_binding", Kind::Text),
    ("plaid_environment", Kind::Text),
    ("ebay_client_id_binding", Kind::Text),
    ("ebay_client_secret_binding", Kind::Text),
    ("ebay_environment", Kind::Text),
    ("circle_api_key_binding", Kind::Text),
    ("circle_environment", Kind::Text),
    ("sns_emulator_origin", Kind::Text),
    ("sns_confirm_subscriptions", Kind::Flag),
    ("sns_topic_arns", Kind::TextList),
    ("paypal_webhook_id", Kind::Text),
    ("paypal_emulator_origin", Kind::Text),
    ("secret_bindings", Kind::TextList),
    ("flow_url_binding", Kind::Text),
    ("max_body_bytes", Kind::Count),
    ("tolerance_secs", Kind::Count),
    ("flow_timeout_secs", Kind::Count),
    ("payload", Kind::Text),
    ("allow_any_flow_host", Kind::Flag),
    ("max_rate", Kind::Text),
    ("max_concurrency", Kind::Count),
    ("rules", Kind::TableList),
    ("default_flow", Kind::Text),
    ("envelope_headers", Kind::TextList),
];

/// Every value whose JSON type is wrong, by path, without the value.
fn type_problems(value: &Value) -> Vec<Problem> {
    let mut p = Problems(Vec::new());
    let Some(top) = value.as_object() else {
        p.add(
            CONFIG_VAR,
            "must be a table",
            "write it as [vars.FLOWGATE.entra] and [vars.FLOWGATE.routes.<name>] tables",
        );
        return p.0;
    };
    let check_fields = |p: &mut Problems,
                        prefix: &str,
                        table: &serde_json::Map<String, Value>,
                        fields: &[(&str, Kind)]| {
        for (name, kind) in fields {
            let Some(v) = table.get(*name) else { continue };
            let (ok, expected) = match kind {
                Kind::Text => (v.is_string(), "a string"),
                Kind::Flag => (v.is_boolean(), "true or false"),
                Kind::Count => (v.is_u64(), "a whole number"),
                Kind::Table => (v.is_object(), "a table"),
                Kind::TextList => {
                    (v.as_array().is_some_and(|a| a.iter().all(Value::is_string)), "a list of strings, e.g. [\"NAME\"]")
                }
                Kind::TableList => (v.as_array().is_some_and(|a| a.iter().all(Value::is_object)), "a list of tables"),
            };
            if !ok {
                let fix = match kind {
                    Kind::TableList => format!("write each item as a [[vars.FLOWGATE.{prefix}{name}]] table"),
                    _ => "see README.md, section Configuration".to_owned(),
                };
                p.add(format!("{prefix}{name}"), format!("must be {expected}"), fix);
            }
        }
    };
    let check_entra = |p: &mut Problems, prefix: &str, e: &serde_json::Map<String, Value>| {
        check_fields(p, &format!("{prefix}."), e, &ENTRA_FIELDS);
        if let Some(Value::Object(c)) = e.get("certificate") {
            check_fields(p, &format!("{prefix}.certificate."), c, &CERTIFICATE_FIELDS);
        }
    };
    match top.get("entra") {
        Some(Value::Object(e)) => check_entra(&mut p, "entra", e),
        Some(_) => p.add("entra", "must be a table", "write it as [vars.FLOWGATE.entra]"),
        None => {}
    }
    match top.get("alerts") {
        Some(Value::Object(a)) => check_fields(&mut p, "alerts.", a, &ALERTS_FIELDS),
        Some(_) => p.add("alerts", "must be a table", "write it as [vars.FLOWGATE.alerts]"),
        None => {}
    }
    // `routes`, `flows` and `credentials` are tables of named tables.
    for (section, what) in [("routes", "route"), ("flows", "flow"), ("credentials", "credential")] {
        match top.get(section) {
            Some(Value::Object(items)) => {
                for (name, item) in items {
                    let Some(item) = item.as_object() else {
                        p.add(
                            format!("{section}.{name}"),
                            "must be a table",
                            format!("write it as [vars.FLOWGATE.{section}.{name}]"),
                        );
                        continue;
                    };
                    match section {
                        "routes" => check_fields(&mut p, &format!("routes.{name}."), item, &ROUTE_FIELDS),
                        "flows" => check_fields(&mut p, &format!("flows.{name}."), item, &FLOW_FIELDS),
                        _ => check_entra(&mut p, &format!("credentials.{name}"), item),
                    }
                }
            }
            Some(_) => p.add(
                section,
                format!("must be a table of {what}s"),
                format!("write each {what} as [vars.FLOWGATE.{section}.<name>]"),
            ),
            None => {}
        }
    }
    p.0
}

/// One `[vars.FLOWGATE.flows.<name>]` table; `None` (with problems added)
/// when it is wrong. `credentials` are the configured credential names.
fn validate_flow(name: &str, f: RawFlow, credentials: &[String], p: &mut Problems) -> Option<Flow> {
    let at = |field: &str| format!("flows.{name}.{field}");
    let before = p.0.len();
    p.unknown_keys(&format!("flows.{name}."), &f.unknown, &FLOW_FIELDS.map(|(name, _)| name));
    if !is_route_name(name) {
        p.add(
            format!("flows.{name}"),
            format!("flow name {NAME_RULE}"),
            "rename the table; rules name the flow by it (flows = [\"<name>\"])",
        );
    }
    let url_binding = f.url_binding.unwrap_or_default();
    let example = format!("FLOW_URL_{}", name.to_ascii_uppercase().replace('-', "_"));
    check_binding(p, &at("url_binding"), &url_binding, &example);
    let payload = parse_payload(&at("payload"), f.payload.as_deref(), p);
    if let Some(c) = &f.credential {
        if !credentials.contains(c) {
            let fix = if credentials.is_empty() {
                format!("define it as [vars.FLOWGATE.credentials.{c}] (the fields of [vars.FLOWGATE.entra]), or remove credential to use [vars.FLOWGATE.entra]")
            } else {
                format!(
                    "use one of: {} ([vars.FLOWGATE.credentials]), or remove credential to use [vars.FLOWGATE.entra]",
                    credentials.join(", ")
                )
            };
            p.add(at("credential"), format!("unknown credential \"{c}\""), fix);
        }
    }
    let timeout_secs = f.timeout_secs.unwrap_or(DEFAULT_FLOW_TIMEOUT_SECS);
    if !(1..=120).contains(&timeout_secs) {
        p.add(at("timeout_secs"), "out of range", "use 1 to 120 seconds (the trigger's own limit is 120 s)");
    }
    let limits = parse_limits(&at, f.max_rate.as_deref(), f.max_concurrency, p);
    (p.0.len() == before).then(|| Flow {
        name: name.to_owned(),
        url_binding,
        payload,
        credential: f.credential,
        timeout_secs,
        allow_any_host: f.allow_any_flow_host.unwrap_or(false),
        limits,
    })
}

/// Power Automate takes about 1,000 concurrent inbound calls
/// (entra-power-automate.md §4).
const MAX_CONCURRENCY: u64 = 1_000;

/// `max_rate` and `max_concurrency` of a flow ([`crate::pacing`]).
fn parse_limits(at: &dyn Fn(&str) -> String, rate: Option<&str>, concurrency: Option<u64>, p: &mut Problems) -> Limits {
    let rate = rate.and_then(|text| match Rate::parse(text) {
        Ok(r) => Some(r),
        Err(e) => {
            p.add(
                at("max_rate"),
                e,
                "e.g. max_rate = \"4500/5m\" (Power Automate's Low performance profile) or \"45000/5m\" (the others)",
            );
            None
        }
    });
    let max_concurrency = concurrency.and_then(|c| {
        if (1..=MAX_CONCURRENCY).contains(&c) {
            u32::try_from(c).ok()
        } else {
            p.add(
                at("max_concurrency"),
                "out of range",
                "use 1 to 1000 (Power Automate takes about 1,000 concurrent calls)",
            );
            None
        }
    });
    Limits { rate, max_concurrency }
}

/// `payload = "raw" | "envelope"`, default raw.
fn parse_payload(path: &str, value: Option<&str>, p: &mut Problems) -> Payload {
    match value {
        None => Payload::Raw,
        Some(name) => Payload::from_name(name).unwrap_or_else(|| {
            p.add(
                path,
                format!("unknown payload \"{name}\""),
                "use \"raw\" (the sender's body untouched; the default) or \"envelope\" (one JSON document with the event type, delivery id, selected headers and the body; `flowgate schema <route>` prints its JSON Schema)",
            );
            Payload::Raw
        }),
    }
}

/// Headers that carry the route's own secret, as its scheme receives it:
/// never copied into an envelope (on top of [`crate::envelope::NEVER_COPIED`]),
/// a queue message or a dead letter.
pub fn secret_headers(scheme: &Scheme) -> Vec<&str> {
    match scheme {
        Scheme::Token(h) | Scheme::BasicAuth(h) => vec![h.header.as_ref()],
        _ => Vec::new(),
    }
}

fn validate_entra(e: RawEntra, base: &str, p: &mut Problems) -> Option<EntraConfig> {
    let at = |field: &str| format!("{base}.{field}");
    p.unknown_keys(&format!("{base}."), &e.unknown, &ENTRA_FIELDS.map(|(name, _)| name));
    let cloud = match e.cloud.as_deref() {
        None => Cloud::Public,
        Some(name) => Cloud::from_name(name).unwrap_or_else(|| {
            let names: Vec<&str> = Cloud::ALL.iter().map(|c| c.name()).collect();
            p.add(at("cloud"), format!("unknown cloud \"{name}\""), format!("use one of: {}", names.join(", ")));
            Cloud::Public
        }),
    };
    let authority = e.authority.unwrap_or_else(|| cloud.authority().to_owned()).trim_end_matches('/').to_owned();
    if let Err(why) = check_base_url(&authority) {
        p.add(
            at("authority"),
            why,
            "use the authority host only, e.g. https://login.microsoftonline.com (or http://127.0.0.1:PORT for the emulator)",
        );
    }

    let tenant = e.tenant.unwrap_or_default();
    if tenant.is_empty() {
        p.add(
            at("tenant"),
            "missing",
            "set it to your tenant's GUID or domain (Entra admin center → Overview → Tenant ID)",
        );
    } else if ["common", "organizations", "consumers"].contains(&tenant.to_ascii_lowercase().as_str()) {
        p.add(
            at("tenant"),
            format!("\"{tenant}\" is not a tenant"),
            "the client-credentials grant needs a tenant-specific endpoint (AADSTS9001023/90124): use the tenant GUID or domain",
        );
    } else if !is_guid(&tenant) && !is_domain(&tenant) {
        p.add(
            at("tenant"),
            "neither a GUID nor a domain name",
            "use the Tenant ID GUID or a verified domain such as contoso.onmicrosoft.com",
        );
    }

    let client_id = e.client_id.unwrap_or_default();
    if !is_guid(&client_id) {
        p.add(
            at("client_id"),
            if client_id.is_empty() { "missing" } else { "not a GUID" },
            "use the app registration's Application (client) ID, a GUID",
        );
    }

    let scope = e.scope.unwrap_or_else(|| cloud.default_scope());
    if let Err((why, fix)) = check_scope(&scope) {
        p.add(at("scope"), why, fix);
    }

    let credential = match (e.client_secret_binding, e.certificate) {
        (Some(binding), None) => {
            check_binding(p, &at("client_secret_binding"), &binding, "ENTRA_CLIENT_SECRET");
            Credential::ClientSecret { binding }
        }
        (None, Some(c)) => {
            p.unknown_keys(&at("certificate."), &c.unknown, &CERTIFICATE_FIELDS.map(|(name, _)| name));
            let private_key_binding = c.private_key_binding.unwrap_or_default();
            check_binding(p, &at("certificate.private_key_binding"), &private_key_binding, "ENTRA_CERT_KEY");
            let certificate_binding = c.certificate_binding.unwrap_or_default();
            check_binding(p, &at("certificate.certificate_binding"), &certificate_binding, "ENTRA_CERT");
            let algorithm = match c.algorithm.as_deref() {
                None | Some("RS256") => AssertionAlgorithm::Rs256,
                Some("PS256") => AssertionAlgorithm::Ps256,
                Some(other) => {
                    p.add(
                        at("certificate.algorithm"),
                        format!("unknown algorithm \"{other}\""),
                        "use RS256 (x5t, works everywhere; the default) or PS256 (x5t#S256)",
                    );
                    AssertionAlgorithm::Rs256
                }
            };
            Credential::Certificate { private_key_binding, certificate_binding, algorithm }
        }
        (Some(_), Some(_)) => {
            p.add(
                base,
                "both client_secret_binding and certificate are set",
                "keep one credential: remove client_secret_binding to use the certificate",
            );
            Credential::ClientSecret { binding: String::new() }
        }
        (None, None) => {
            p.add(
                at("client_secret_binding"),
                "missing: no credential",
                format!("set client_secret_binding = \"ENTRA_CLIENT_SECRET\" (then `wrangler secret put ENTRA_CLIENT_SECRET`), or add an [vars.FLOWGATE.{base}.certificate] table"),
            );
            Credential::ClientSecret { binding: String::new() }
        }
    };

    let token_cache_key_binding = e.token_cache_key_binding;
    if let Some(b) = &token_cache_key_binding {
        check_binding(p, &at("token_cache_key_binding"), b, "TOKEN_CACHE_KEY");
    }

    let timeout_secs = e.timeout_secs.unwrap_or(DEFAULT_TOKEN_TIMEOUT_SECS);
    if !(1..=30).contains(&timeout_secs) {
        p.add(at("timeout_secs"), "out of range", "use 1 to 30 seconds");
    }

    Some(EntraConfig { cloud, authority, tenant, client_id, scope, credential, timeout_secs, token_cache_key_binding })
}

/// One route, and the implicit flow of a single-flow route; `None` (with
/// problems added) when it is wrong. `flow_names` are the names of the flows
/// table, `flows` its valid entries.
fn validate_route(
    name: &str,
    r: RawRoute,
    flow_names: &[String],
    flows: &BTreeMap<String, Flow>,
    p: &mut Problems,
) -> Option<(Route, Option<Flow>)> {
    let at = |field: &str| format!("routes.{name}.{field}");
    p.unknown_keys(&format!("routes.{name}."), &r.unknown, &ROUTE_FIELDS.map(|(name, _)| name));
    if !is_route_name(name) {
        p.add(
            format!("routes.{name}"),
            "route name must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit",
            "rename the table; the name is the path segment in /hooks/<name>",
        );
    }
    let provider = match r.provider.as_deref() {
        None => {
            p.add(at("provider"), "missing", provider_list_fix());
            None
        }
        Some("custom") => Some(catalogue::custom()),
        Some(s) => {
            let found = find_provider(s);
            if found.is_none() {
                p.add(at("provider"), format!("unknown provider \"{s}\""), provider_list_fix());
            }
            found
        }
    };
    let scheme = match (provider, r.scheme) {
        (Some(pr), Some(table)) if pr.name == "custom" => match custom::from_table(&table) {
            Ok(scheme) => Some(scheme),
            Err(problems) => {
                for (field, what, fix) in problems {
                    let path = if field.is_empty() { at("scheme") } else { format!("routes.{name}.scheme.{field}") };
                    p.add(path, what, fix);
                }
                None
            }
        },
        (Some(pr), None) if pr.name == "custom" => {
            p.add(
                at("scheme"),
                "missing",
                "a custom provider needs a [vars.FLOWGATE.routes.<name>.scheme] table (see README.md, Custom senders)",
            );
            None
        }
        (Some(_), Some(_)) => {
            p.add(
                at("scheme"),
                "only allowed with provider = \"custom\"",
                "remove the scheme table, or set provider = \"custom\"",
            );
            None
        }
        (Some(pr), None) => Some(pr.scheme()),
        (None, _) => None,
    };

    let secret_bindings = r.secret_bindings.unwrap_or_default();
    // Asana, Notion and Clio hand their secret over in a handshake, which
    // the Worker keeps: for them a configured secret is optional.
    let secret_from_handshake =
        provider.is_some_and(|p| crate::verify::handshake::stored_secret_name(p.name).is_some());
    // Plaid's keys are fetched from Plaid by the token's kid.
    // Plaid's, eBay's and Circle's keys are fetched from their APIs by id.
    let is_plaid = provider.is_some_and(|p| p.name == "plaid");
    let is_ebay = provider.is_some_and(|p| p.name == "ebay");
    let is_circle = provider.is_some_and(|p| p.name == "circle");
    // SNS's certificates are fetched from SigningCertURL (an SNS host).
    let is_sns = provider.is_some_and(|p| p.name == "aws-sns");
    // So are PayPal's, from PAYPAL-CERT-URL.
    let is_paypal = provider.is_some_and(|p| p.name == "paypal");
    if secret_bindings.is_empty()
        && !secret_from_handshake
        && !is_plaid
        && !is_ebay
        && !is_circle
        && !is_sns
        && !is_paypal
    {
        p.add(
            at("secret_bindings"),
            "no signing secret",
            "list the NAME of at least one wrangler secret holding the sender's signing secret, e.g. [\"GITHUB_WEBHOOK_SECRET\"]",
        );
    }
    for (i, b) in secret_bindings.iter().enumerate() {
        check_binding(p, &format!("routes.{name}.secret_bindings[{i}]"), b, "WEBHOOK_SECRET");
    }
    let uses_rules = r.rules.is_some() || r.default_flow.is_some();
    if r.flow_url_binding.is_some() && uses_rules {
        p.add(
            format!("routes.{name}"),
            "both flow_url_binding and rules/default_flow are set",
            "keep one: flow_url_binding sends every event to one flow; for rules, move the trigger URL into a [vars.FLOWGATE.flows.<name>] table (url_binding = \"...\") and name that flow in rules or default_flow",
        );
    } else if r.flow_url_binding.is_none() && !uses_rules {
        p.add(
            at("flow_url_binding"),
            "missing: the route names no flow",
            "set flow_url_binding = \"FLOW_URL\" (the NAME of the wrangler secret holding the trigger URL; one flow gets every event), or name flows of [vars.FLOWGATE.flows] in rules and/or default_flow",
        );
    }
    if let Some(b) = &r.flow_url_binding {
        check_binding(p, &at("flow_url_binding"), b, "FLOW_URL");
    }
    let single_flow = r.flow_url_binding.is_some();
    let flow_url_binding = r.flow_url_binding.unwrap_or_default();
    // `payload` and `flow_timeout_secs` describe the single flow; a route
    // with rules has them per flow.
    for (field, set, per_flow) in [
        ("payload", r.payload.is_some(), "payload"),
        ("flow_timeout_secs", r.flow_timeout_secs.is_some(), "timeout_secs"),
        ("allow_any_flow_host", r.allow_any_flow_host.is_some(), "allow_any_flow_host"),
        ("max_rate", r.max_rate.is_some(), "max_rate"),
        ("max_concurrency", r.max_concurrency.is_some(), "max_concurrency"),
    ] {
        if set && uses_rules && !single_flow {
            p.add(
                at(field),
                "only allowed with flow_url_binding",
                format!(
                    "a route with rules sends to flows of [vars.FLOWGATE.flows]: set {per_flow} on each of those flows"
                ),
            );
        }
    }
    let payload = parse_payload(&at("payload"), r.payload.as_deref(), p);

    // Senders whose proof is inside the body have their body read before
    // verification: a smaller default for them (issue #11).
    let max_body_bytes = r
        .max_body_bytes
        .or_else(|| scheme.as_ref().and_then(body_fields::body_proof_max_body_bytes))
        .unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes == 0 || max_body_bytes > MAX_BODY_BYTES_LIMIT {
        p.add(
            at("max_body_bytes"),
            "out of range",
            "use 1 to 33554432 (32 MiB: the Worker holds the body in memory, in a 128 MB isolate)",
        );
    }
    let tolerance_override = r.tolerance_secs;
    if tolerance_override.is_some_and(|t| !(1..=3600).contains(&t)) {
        p.add(at("tolerance_secs"), "out of range", "use 1 to 3600 seconds (senders' libraries use 300)");
    }
    let flow_timeout_secs = r.flow_timeout_secs.unwrap_or(DEFAULT_FLOW_TIMEOUT_SECS);
    if !(1..=120).contains(&flow_timeout_secs) {
        p.add(at("flow_timeout_secs"), "out of range", "use 1 to 120 seconds (the trigger's own limit is 120 s)");
    }

    let verify_token_binding = r.verify_token_binding;
    match (&verify_token_binding, provider.map(|p| p.name)) {
        (Some(b), _) => check_binding(p, &at("verify_token_binding"), b, "META_VERIFY_TOKEN"),
        (None, Some("meta")) => p.add(
            at("verify_token_binding"),
            "missing: Meta's subscription check (GET hub.verify_token) cannot be answered",
            "choose a verify token, store it with `wrangler secret put META_VERIFY_TOKEN`, write verify_token_binding = \"META_VERIFY_TOKEN\", and enter the same token in the Meta app dashboard",
        ),
        (None, Some(name)) if crate::verify::handshake::needs_verify_token(name) => p.add(
            at("verify_token_binding"),
            "missing: the sender's subscription check (a GET with your verify token) cannot be answered",
            "choose a verify token, store it with `wrangler secret put VERIFY_TOKEN`, write verify_token_binding = \"VERIFY_TOKEN\", and give the same token when creating the subscription (Strava: verify_token; Oura: verification_token; eBay: the verification token of the notification endpoint, 32-80 characters)",
        ),
        _ => {}
    }

    let retry = validate_retry(name, [r.max_attempts, r.backoff_base_secs, r.backoff_max_secs], p);
    let lost_after_secs = r.lost_after_secs.unwrap_or(DEFAULT_LOST_AFTER_SECS);
    if !(2..=86_400).contains(&lost_after_secs) {
        p.add(at("lost_after_secs"), "out of range", "use 2 to 86400 seconds; the default is 900 (15 minutes)");
    }
    let plaid_fields = [
        ("plaid_client_id_binding", r.plaid_client_id_binding.is_some()),
        ("plaid_secret_binding", r.plaid_secret_binding.is_some()),
        ("plaid_environment", r.plaid_environment.is_some()),
    ];
    let plaid = if is_plaid {
        validate_plaid(name, r.plaid_client_id_binding, r.plaid_secret_binding, r.plaid_environment, p)
    } else {
        for (field, _) in plaid_fields.iter().filter(|(_, set)| *set) {
            p.add(at(field), "only allowed with provider = \"plaid\"", "remove it, or set provider = \"plaid\"");
        }
        None
    };
    let ebay_fields = [
        ("ebay_client_id_binding", r.ebay_client_id_binding.is_some()),
        ("ebay_client_secret_binding", r.ebay_client_secret_binding.is_some()),
        ("ebay_environment", r.ebay_environment.is_some()),
    ];
    let ebay = if is_ebay {
        let env = KeyHostEnv {
            field: "ebay_environment",
            production: EBAY_PRODUCTION,
            sandbox: Some(EBAY_SANDBOX),
            fix: "write ebay_environment = \"production\" (the default) or \"sandbox\"; only the emulator is given as http://127.0.0.1:PORT",
        };
        let why = "eBay's notification keys are fetched with an OAuth application token of the app's keys";
        let bindings = [
            ("ebay_client_id_binding", r.ebay_client_id_binding, "EBAY_CLIENT_ID"),
            ("ebay_client_secret_binding", r.ebay_client_secret_binding, "EBAY_CLIENT_SECRET"),
        ];
        validate_key_host(name, bindings, r.ebay_environment, &env, why, p).map(|(b, base_url)| {
            let [client_id_binding, client_secret_binding] = b;
            EbaySettings { client_id_binding, client_secret_binding, base_url }
        })
    } else {
        only_with(name, "ebay", &ebay_fields, p);
        None
    };
    let circle_fields = [
        ("circle_api_key_binding", r.circle_api_key_binding.is_some()),
        ("circle_environment", r.circle_environment.is_some()),
    ];
    let circle = if is_circle {
        let env = KeyHostEnv {
            field: "circle_environment",
            production: CIRCLE_API,
            sandbox: None,
            fix: "leave circle_environment out (api.circle.com serves testnet and mainnet keys alike); only the emulator is given as http://127.0.0.1:PORT",
        };
        let why = "Circle's notification keys are fetched with the API key";
        let bindings = [("circle_api_key_binding", r.circle_api_key_binding, "CIRCLE_API_KEY")];
        validate_key_host(name, bindings, r.circle_environment, &env, why, p).map(|(b, base_url)| {
            let [api_key_binding] = b;
            CircleSettings { api_key_binding, base_url }
        })
    } else {
        only_with(name, "circle", &circle_fields, p);
        None
    };

    let sns = if is_sns {
        validate_sns(name, r.sns_emulator_origin, r.sns_confirm_subscriptions, r.sns_topic_arns, p)
    } else {
        let sns_fields = [
            ("sns_emulator_origin", r.sns_emulator_origin.is_some()),
            ("sns_confirm_subscriptions", r.sns_confirm_subscriptions.is_some()),
            ("sns_topic_arns", r.sns_topic_arns.is_some()),
        ];
        for (field, _) in sns_fields.iter().filter(|(_, set)| *set) {
            p.add(at(field), "only allowed with provider = \"aws-sns\"", "remove it, or set provider = \"aws-sns\"");
        }
        None
    };

    let paypal = if is_paypal {
        let before = p.0.len();
        let webhook_id = r.paypal_webhook_id.unwrap_or_default();
        if !crate::verify::paypal::is_webhook_id(&webhook_id) {
            p.add(
                at("paypal_webhook_id"),
                "missing or not a PayPal webhook id (1-50 of A-Z a-z 0-9): PayPal signs it, and it binds a notification to this webhook",
                "copy the Webhook ID from the app's webhook in PayPal's developer dashboard, e.g. paypal_webhook_id = \"9XL90610J3647323C\"",
            );
        }
        let real = "https://api[-m][.sandbox].paypal.com/v1/notifications/certs/…";
        let origin = r.paypal_emulator_origin.map(|t| emulator_origin(&t, &at("paypal_emulator_origin"), real, p));
        (p.0.len() == before).then_some(PayPalSettings { webhook_id, emulator_origin: origin })
    } else {
        let fields = [
            ("paypal_webhook_id", r.paypal_webhook_id.is_some()),
            ("paypal_emulator_origin", r.paypal_emulator_origin.is_some()),
        ];
        for (field, _) in fields.iter().filter(|(_, set)| *set) {
            p.add(at(field), "only allowed with provider = \"paypal\"", "remove it, or set provider = \"paypal\"");
        }
        None
    };

    let mode = match r.mode.as_deref() {
        None | Some("queue") => DeliveryMode::Queue,
        Some("direct") => DeliveryMode::Direct,
        Some(other) => {
            p.add(
                at("mode"),
                format!("unknown mode \"{other}\""),
                "use \"queue\" (answer the sender at once, deliver with retries) or \"direct\" (forward inline, relay the flow's answer)",
            );
            DeliveryMode::Queue
        }
    };
    let dedupe_window_secs = match (r.dedupe, r.dedupe_window_secs) {
        (Some(false), Some(_)) => {
            p.add(at("dedupe_window_secs"), "set while dedupe = false", "remove one of the two");
            None
        }
        (Some(false), None) => None,
        (_, window) => {
            let w = window.unwrap_or(DEFAULT_DEDUPE_WINDOW_SECS);
            if !(60..=30 * 86_400).contains(&w) {
                p.add(at("dedupe_window_secs"), "out of range", "use 60 s to 30 days (2592000); the default is 72 h");
            }
            Some(w)
        }
    };
    // The replay guard remembers signatures as long as ids are remembered
    // (72 h by default, also with dedupe = false).
    let replay_window_secs =
        (r.replay_guard != Some(false)).then(|| dedupe_window_secs.unwrap_or(DEFAULT_DEDUPE_WINDOW_SECS));

    // Where events go: the single flow, or rules over the flows table.
    let rules = if single_flow {
        Some(RouteRules::default_only(name))
    } else if uses_rules {
        let known: Vec<&str> = flow_names.iter().map(String::as_str).collect();
        parse_rules(name, r.rules.as_ref(), r.default_flow.as_ref(), &known)
            .map_err(|problems| p.0.extend(problems))
            .ok()
    } else {
        None
    };
    let envelope = match EnvelopeSpec::from_config(&at("envelope_headers"), r.envelope_headers.as_ref()) {
        Ok(spec) => spec,
        Err(problems) => {
            p.0.extend(problems);
            EnvelopeSpec::default()
        }
    };
    if let Some(scheme) = &scheme {
        let secret = secret_headers(scheme);
        for (i, h) in envelope.headers().iter().enumerate() {
            if secret.iter().any(|s| s.eq_ignore_ascii_case(h)) {
                p.add(
                    format!("{}[{i}]", at("envelope_headers")),
                    format!("{h} carries this route's secret itself (the {} scheme checks it)", scheme.kind()),
                    "remove it from the list: a flow must never see the route's secret",
                );
            }
        }
    }
    let rules = rules?;
    if mode == DeliveryMode::Direct {
        // Direct mode relays the flow's answer to the sender: with several
        // flows there is no one answer, and a sender's retry after one flow
        // failed would run the others again.
        for (i, rule) in rules.rules().iter().enumerate() {
            if rule.flows().len() > 1 {
                p.add(
                    format!("routes.{name}.rules[{i}].flows"),
                    format!("{} names {} flows, but the route has mode = \"direct\"", rule, rule.flows().len()),
                    "fan-out needs mode = \"queue\" (each flow gets its own delivery); or name one flow",
                );
            }
        }
    }
    let limits = parse_limits(&at, r.max_rate.as_deref(), r.max_concurrency, p);
    let implicit = single_flow.then(|| Flow {
        name: name.to_owned(),
        url_binding: flow_url_binding.clone(),
        payload,
        credential: None,
        timeout_secs: flow_timeout_secs,
        allow_any_host: r.allow_any_flow_host.unwrap_or(false),
        limits,
    });
    // A route with rules waits as long as its slowest flow may take.
    let flow_timeout_secs = if single_flow {
        flow_timeout_secs
    } else {
        rules
            .flows()
            .iter()
            .filter_map(|f| flows.get(*f))
            .map(|f| f.timeout_secs)
            .max()
            .unwrap_or(DEFAULT_FLOW_TIMEOUT_SECS)
    };

    let route = Route {
        name: name.to_owned(),
        provider: provider?,
        scheme: scheme?,
        tolerance_override,
        secret_bindings,
        flow_url_binding,
        max_body_bytes,
        flow_timeout_secs,
        verify_token_binding,
        plaid,
        ebay,
        circle,
        sns,
        paypal,
        mode,
        retry,
        dedupe_window_secs,
        replay_window_secs,
        allow_shared_secret: r.allow_shared_secret == Some(true),
        lost_after_secs,
        rules,
        envelope,
    };
    Some((route, implicit))
}

/// A route's retry policy (queue mode); problems for values out of range.
fn validate_retry(name: &str, [attempts, base, max]: [Option<u64>; 3], p: &mut Problems) -> RetryPolicy {
    let at = |field: &str| format!("routes.{name}.{field}");
    let d = RetryPolicy::default();
    let mut get = |field: &str, v: Option<u64>, default: u32, range: std::ops::RangeInclusive<u64>, fix: &str| {
        let v = v.unwrap_or(u64::from(default));
        if range.contains(&v) {
            u32::try_from(v).unwrap_or(default)
        } else {
            p.add(at(field), "out of range", fix);
            default
        }
    };
    let max_attempts = get(
        "max_attempts",
        attempts,
        d.max_attempts,
        1..=u64::from(MAX_ATTEMPTS_LIMIT),
        "use 1 to 100 (Queues retries a message at most 100 times; keep the consumer's max_retries at 100)",
    );
    let backoff_base_secs = get(
        "backoff_base_secs",
        base,
        d.backoff_base_secs,
        1..=u64::from(MAX_QUEUE_DELAY_SECS),
        "use 1 to 43200 seconds (Queues delays a retry by at most 12 h)",
    );
    let backoff_max_secs = get(
        "backoff_max_secs",
        max,
        d.backoff_max_secs,
        1..=u64::from(MAX_QUEUE_DELAY_SECS),
        "use 1 to 43200 seconds (Queues delays a retry by at most 12 h)",
    );
    if backoff_max_secs < backoff_base_secs {
        p.add(at("backoff_max_secs"), "smaller than backoff_base_secs", "make it at least backoff_base_secs");
    }
    RetryPolicy { max_attempts, backoff_base_secs, backoff_max_secs }
}

/// A Plaid route's key-fetching settings; `None` (with problems added) when
/// one is missing or wrong.
fn validate_plaid(
    name: &str,
    client_id_binding: Option<String>,
    secret_binding: Option<String>,
    environment: Option<String>,
    p: &mut Problems,
) -> Option<PlaidSettings> {
    let at = |field: &str| format!("routes.{name}.{field}");
    let before = p.0.len();
    let client_id_binding = client_id_binding.unwrap_or_default();
    let secret_binding = secret_binding.unwrap_or_default();
    let why = "Plaid's verification keys are fetched with the API client_id and secret";
    for (field, value, example) in [
        ("plaid_client_id_binding", &client_id_binding, "PLAID_CLIENT_ID"),
        ("plaid_secret_binding", &secret_binding, "PLAID_SECRET"),
    ] {
        if value.is_empty() {
            p.add(
                at(field),
                format!("missing: {why}"),
                format!("store it with `wrangler secret put {example}` and write {field} = \"{example}\""),
            );
        } else {
            check_binding(p, &at(field), value, example);
        }
    }
    let base_url = match environment.as_deref().map(str::trim) {
        None | Some("production") => PLAID_PRODUCTION.to_owned(),
        Some("sandbox") => PLAID_SANDBOX.to_owned(),
        Some(text) => {
            let base = text.trim_end_matches('/');
            let loopback = split_url(base).is_ok_and(|u| is_loopback(u.host));
            if base.contains("://") && loopback && check_base_url(base).is_ok() {
                base.to_owned()
            } else {
                p.add(
                    at("plaid_environment"),
                    "must be \"production\", \"sandbox\", or a loopback base URL (the emulator)",
                    "write plaid_environment = \"production\" (the default) or \"sandbox\"; only the emulator is given as http://127.0.0.1:PORT",
                );
                String::new()
            }
        }
    };
    (p.0.len() == before).then_some(PlaidSettings { client_id_binding, secret_binding, base_url })
}

/// Where a sender's key host is: `production` (the default), `sandbox`
/// when the sender has one, or a loopback base URL (the emulator only).
struct KeyHostEnv {
    field: &'static str,
    production: &'static str,
    sandbox: Option<&'static str>,
    fix: &'static str,
}

/// The credential bindings and base URL of a key-fetching route (eBay,
/// Circle); `None` (with problems added) when one is missing or wrong. The
/// environment is checked as `plaid_environment` is.
fn validate_key_host<const N: usize>(
    name: &str,
    bindings: [(&'static str, Option<String>, &'static str); N],
    environment: Option<String>,
    env: &KeyHostEnv,
    why: &str,
    p: &mut Problems,
) -> Option<([String; N], String)> {
    let at = |field: &str| format!("routes.{name}.{field}");
    let before = p.0.len();
    let values = bindings.map(|(field, value, example)| {
        let value = value.unwrap_or_default();
        if value.is_empty() {
            p.add(
                at(field),
                format!("missing: {why}"),
                format!("store it with `wrangler secret put {example}` and write {field} = \"{example}\""),
            );
        } else {
            check_binding(p, &at(field), &value, example);
        }
        value
    });
    let base_url = match environment.as_deref().map(str::trim) {
        None | Some("production") => env.production.to_owned(),
        Some("sandbox") if env.sandbox.is_some() => env.sandbox.unwrap_or_default().to_owned(),
        Some(text) => {
            let base = text.trim_end_matches('/');
            let loopback = split_url(base).is_ok_and(|u| is_loopback(u.host));
            if base.contains("://") && loopback && check_base_url(base).is_ok() {
                base.to_owned()
            } else {
                let what = if env.sandbox.is_some() {
                    "must be \"production\", \"sandbox\", or a loopback base URL (the emulator)"
                } else {
                    "must be \"production\" or a loopback base URL (the emulator)"
                };
                p.add(at(env.field), what, env.fix);
                String::new()
            }
        }
    };
    (p.0.len() == before).then_some((values, base_url))
}

/// Problems for a sender's key-fetching fields set on another provider's route.
fn only_with(name: &str, provider: &str, fields: &[(&str, bool)], p: &mut Problems) {
    for (field, _) in fields.iter().filter(|(_, set)| *set) {
        p.add(
            format!("routes.{name}.{field}"),
            format!("only allowed with provider = \"{provider}\""),
            format!("remove it, or set provider = \"{provider}\""),
        );
    }
}

fn provider_list_fix() -> String {
    format!(
        "set provider to a built-in sender (`flowgate providers` lists all {}, e.g. github, stripe, slack) or to \"custom\" with a scheme table",
        providers().len()
    )
}

/// Checks the `scope` for the mistakes Entra and the flow punish.
///
/// # Errors
/// (what is wrong, what to do), for operators.
pub fn check_scope(scope: &str) -> Result<(), (String, String)> {
    let Some(resource) = scope.strip_suffix("/.default") else {
        return Err((
            "client-credentials scopes must end in /.default (AADSTS70011)".to_owned(),
            format!("use {DEFAULT_SCOPE}"),
        ));
    };
    if scope.contains(' ') {
        return Err(("only one scope is allowed (AADSTS700022)".to_owned(), format!("use {DEFAULT_SCOPE}")));
    }
    if let Some(aud) = Cloud::ALL.iter().map(|c| c.flow_audience()).find(|a| a.trim_end_matches('/') == resource) {
        return Err((
            format!("\"{scope}\" yields a token whose aud lacks the trailing slash; the flow rejects it with MisMatchingOAuthClaims"),
            format!("use {aud}/.default — the double slash is required (entra-power-automate.md §1.3)"),
        ));
    }
    Ok(())
}

/// The parts of an absolute URL that the checks below need.
///
/// Parsed by hand on purpose: the `url` crate's IDNA tables would add about
/// 250 KB to the Worker for two checks on configuration values. The parse is
/// strict: anything unusual (userinfo, no host, odd characters) is refused.
struct UrlParts<'a> {
    scheme: &'a str,
    host: &'a str,
    /// Path, query and fragment, as written (may be empty).
    rest: &'a str,
}

fn split_url(text: &str) -> Result<UrlParts<'_>, &'static str> {
    let (scheme, after) = text.split_once("://").ok_or("is not a URL")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        // `http://localhost@evil.example` is a request to evil.example.
        return Err("must not contain a user name or password");
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']').ok_or("has a malformed host")?;
        let port = &v6[close + 1..];
        if !(port.is_empty()
            || port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        {
            return Err("has a malformed port");
        }
        &authority[..close + 2]
    } else {
        let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
        if authority.contains(':') && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit())) {
            return Err("has a malformed port");
        }
        host
    };
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'));
    if !host_ok {
        return Err("has no valid host");
    }
    if rest.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return Err("contains spaces or control characters");
    }
    Ok(UrlParts { scheme, host, rest })
}

fn is_loopback(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "localhost" || h == "[::1]" || {
        let octets: Vec<&str> = h.split('.').collect();
        octets.len() == 4 && octets[0] == "127" && octets.iter().all(|o| o.parse::<u8>().is_ok())
    }
}

/// `https`, or plain `http` to a loopback host (the emulator).
fn scheme_and_host_ok(u: &UrlParts<'_>) -> Result<(), &'static str> {
    match u.scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback(u.host) => Ok(()),
        "http" => Err("plain http is only allowed to a loopback host (the emulator)"),
        _ => Err("must start with https://"),
    }
}

/// A base URL: `https://host[:port]`, or plain http to a loopback host (the emulator).
fn check_base_url(text: &str) -> Result<(), &'static str> {
    let u = split_url(text)?;
    scheme_and_host_ok(&u)?;
    if !(u.rest.is_empty() || u.rest == "/") {
        return Err("must be a scheme and host only, with no path or query");
    }
    Ok(())
}

/// The hosts a cloud's flow triggers live on, by the suffix after the
/// environment's own labels: Power Platform's (the trigger URLs since the
/// move off Logic Apps, `https://<env>.<xx>.environment.api.powerplatform.com/powerautomate/…`)
/// and Logic Apps' (the older `https://prod-NN.<region>.logic.azure.com/workflows/…`).
/// From Microsoft's "IP address configuration" for the *When an HTTP request
/// is received* trigger (power-automate-docs `ip-address-configuration.md`,
/// 12/10/2025), one row per cloud.
pub fn flow_host_suffixes(cloud: Cloud) -> [&'static str; 2] {
    match cloud {
        Cloud::Public => [".api.powerplatform.com", ".logic.azure.com"],
        Cloud::Gcc => [".api.gov.powerplatform.microsoft.us", ".logic.azure.us"],
        Cloud::GccHigh => [".api.high.powerplatform.microsoft.us", ".logic.azure.us"],
        Cloud::Dod => [".api.appsplatform.us", ".logic.azure.us"],
        Cloud::China => [".api.powerplatform.partner.microsoftonline.cn", ".logic.azure.cn"],
    }
}

/// The date the public cloud's `logic.azure.com` trigger URLs stopped
/// working (entra-power-automate.md §1.4: flows in Logic Apps-architecture
/// environments; sovereign clouds were not affected).
pub const LOGIC_APPS_HOST_RETIRED: &str = "30 November 2025";

fn host_is_under(host: &str, suffix: &str) -> bool {
    host.len() > suffix.len() && host.ends_with(suffix)
}

/// Checks a flow trigger URL read from its secret, for a flow whose tokens
/// are for `cloud`: an https URL (or http to loopback: the emulator), with a
/// path, without a SAS signature, on a Power Automate host of that cloud
/// unless the operator allowed any host (`allow_any_flow_host = true`: the
/// Bearer token goes to the URL's host, so it must not be anyone else's).
/// Loopback hosts (the emulator) are always allowed. Both trigger URL
/// shapes are accepted: `…environment.api.powerplatform.com/powerautomate/automations/direct/workflows/<id>/triggers/manual/paths/invoke?api-version=1`
/// and the older `…logic.azure.com/workflows/<id>/triggers/manual/paths/invoke?api-version=2016-06-01`.
///
/// Returns warnings about a URL that is usable but should change (the
/// retired `logic.azure.com` host in the public cloud, a path that is
/// neither shape), each with its fix; the Worker ignores them, `flowgate
/// check` prints them.
///
/// # Errors
/// What is wrong and what to do, for operators (never echoes the URL: a SAS
/// URL is itself a credential; the host is named, it is no secret).
pub fn check_flow_url(text: &str, cloud: Cloud, allow_any_host: bool) -> Result<Vec<String>, String> {
    let paste = "; paste the trigger's 'HTTP URL' from the flow designer";
    let u = split_url(text.trim()).map_err(|why| format!("{why}{paste}"))?;
    scheme_and_host_ok(&u).map_err(|why| format!("{why}{paste}"))?;
    let path = u.rest.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() || path == "/" {
        return Err("has no path; paste the full trigger URL from the flow designer".to_owned());
    }
    let query = u.rest.split_once('?').map_or("", |(_, q)| q.split('#').next().unwrap_or(""));
    if query.split('&').any(|kv| kv == "sig" || kv.starts_with("sig=")) {
        return Err("carries a SAS signature (sig=): it is an 'Anyone' trigger URL, and a Bearer token on it is rejected (DirectApiRequestHasMoreThanOneAuthorization). Set 'Who can trigger the flow' to 'Any user in my tenant' or 'Specific users in my tenant', save, and copy the new URL".to_owned());
    }
    let host = u.host.to_ascii_lowercase();
    let mut warnings = Vec::new();
    if is_loopback(&host) {
        return Ok(warnings);
    }
    let [power_platform, logic_apps] = flow_host_suffixes(cloud);
    let on_power_platform = host_is_under(&host, power_platform);
    let on_logic_apps = host_is_under(&host, logic_apps);
    if !on_power_platform && !on_logic_apps && !allow_any_host {
        let other = Cloud::ALL.into_iter().find(|c| flow_host_suffixes(*c).iter().any(|s| host_is_under(&host, s)));
        let why = match other {
            Some(c) => format!(
                "is on host {host}, a Power Automate host of the {} cloud, but the flow's credential is for the {} cloud (its token would not be accepted there)",
                c.name(),
                cloud.name()
            ),
            None => format!(
                "is on host {host}, which is not a Power Automate host of the {} cloud (*{power_platform} or *{logic_apps}): the flow's Bearer token would go there",
                cloud.name()
            ),
        };
        return Err(format!(
            "{why}. Copy the trigger URL again from the flow designer; set cloud on the flow's credential if the flow is in another cloud; or, if this host is yours and forwards to the flow (an API gateway), set allow_any_flow_host = true on the flow"
        ));
    }
    if cloud == Cloud::Public && on_logic_apps {
        warnings.push(format!(
            "is on {host}: Power Automate moved trigger URLs off logic.azure.com on {LOGIC_APPS_HOST_RETIRED}, and the old URLs of flows in Logic Apps-architecture environments stopped working. Open the flow, copy the trigger's new 'HTTP URL' (https://<environment>.<nn>.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/…) and update the secret; `Get-AdminFlowWithMigratingTriggerUrl -EnvironmentName <env>` (Microsoft.PowerApps.Administration.PowerShell) lists the affected flows"
        ));
    }
    // …/workflows/<id>/triggers/<name>/paths/invoke, after the new shape's
    // `/powerautomate/automations/direct` or nothing (Logic Apps).
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let trigger_path = |prefix: &[&str]| {
        let n = prefix.len();
        segments.len() == n + 6
            && segments[..n] == *prefix
            && segments[n] == "workflows"
            && segments[n + 2] == "triggers"
            && segments[n + 4..] == ["paths", "invoke"]
    };
    let known_shape = trigger_path(&["powerautomate", "automations", "direct"]) || trigger_path(&[]);
    if !known_shape && (on_power_platform || on_logic_apps) {
        warnings.push("has a path that is not a trigger's (…/workflows/<id>/triggers/manual/paths/invoke): copy the whole 'HTTP URL' from the trigger".to_owned());
    }
    Ok(warnings)
}

/// Checks a wrangler secret *name*; says so when the value looks like the
/// secret itself was pasted.
fn check_binding(p: &mut Problems, path: &str, name: &str, example: &str) {
    if name.is_empty() {
        p.add(
            path,
            "missing",
            format!(
                "set it to the NAME of a wrangler secret, e.g. \"{example}\", then run: wrangler secret put {example}"
            ),
        );
    } else if !is_binding_name(name) {
        p.add(
            path,
            "not a secret name (it looks like a value: a URL, a secret or contains spaces)",
            format!("never put secrets in wrangler.toml: store it with `wrangler secret put {example}` and write \"{example}\" here"),
        );
    }
}

fn is_binding_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.len() <= 128
}

fn is_route_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    (1..=64).contains(&s.len())
        && matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_domain(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 253
        && s.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[cfg(test)]
mod direct_mode_tests {
    use serde_json::json;

    use super::*;

    fn base() -> Value {
        json!({
            "entra": {"tenant": "contoso.onmicrosoft.com", "client_id": "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81",
                      "client_secret_binding": "ENTRA_CLIENT_SECRET"},
            "flows": {"a": {"url_binding": "FLOW_A"}, "b": {"url_binding": "FLOW_B"}},
            "routes": {"gh": {"provider": "github", "secret_bindings": ["GH_SECRET"],
                              "rules": [{"event": "push", "flows": ["a", "b"]}]}}
        })
    }

    #[test]
    fn direct_mode_refuses_fan_out_and_queue_mode_allows_it() {
        assert!(Config::from_json(&base()).is_ok());
        let mut v = base();
        v["routes"]["gh"]["mode"] = json!("direct");
        let problems = Config::from_json(&v).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "routes.gh.rules[0].flows");
        assert!(problems[0].fix.contains("mode = \"queue\""), "{}", problems[0]);
        v["routes"]["gh"]["rules"][0]["flows"] = json!(["a"]);
        assert!(Config::from_json(&v).is_ok());
    }

    #[test]
    fn flows_take_a_rate_and_a_concurrency_and_bad_ones_say_how_to_write_them() {
        use crate::pacing::{Limits, Rate};
        let mut v = base();
        v["flows"]["a"]["max_rate"] = json!("4500/5m");
        v["flows"]["a"]["max_concurrency"] = json!(50);
        v["routes"]["one"] = json!({"provider": "github", "secret_bindings": ["ONE"], "flow_url_binding": "FLOW_ONE",
                                    "allow_shared_secret": true, "max_rate": "10/s"});
        let c = Config::from_json(&v).unwrap();
        assert_eq!(
            c.flows["a"].limits,
            Limits { rate: Some(Rate { count: 4500, per_secs: 300 }), max_concurrency: Some(50) }
        );
        assert_eq!(c.flows["b"].limits, Limits::default());
        assert_eq!(c.flows["one"].limits.rate, Some(Rate { count: 10, per_secs: 1 }));

        let mut bad = base();
        bad["flows"]["a"]["max_rate"] = json!("4500 per 5 minutes");
        bad["flows"]["b"]["max_concurrency"] = json!(5000);
        let problems = Config::from_json(&bad).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["flows.a.max_rate", "flows.b.max_concurrency"], "{problems:?}");
        assert!(problems[0].fix.contains("4500/5m"), "{}", problems[0]);
        bad = base();
        bad["flows"]["a"]["max_rate"] = json!(4500);
        assert_eq!(Config::from_json(&bad).unwrap_err()[0].path, "flows.a.max_rate");
    }

    #[test]
    fn a_paced_flow_needs_queue_mode_and_a_route_with_rules_sets_limits_per_flow() {
        let mut v = base();
        v["flows"]["a"]["max_rate"] = json!("50/10s");
        v["routes"]["gh"]["mode"] = json!("direct");
        v["routes"]["gh"]["rules"][0]["flows"] = json!(["a"]);
        let problems = Config::from_json(&v).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "routes.gh.mode");
        assert!(problems[0].fix.contains("mode = \"queue\""), "{}", problems[0]);
        // The same flow from a route whose rules do not reach it is fine.
        v["routes"]["gh"]["rules"][0]["flows"] = json!(["b"]);
        assert!(Config::from_json(&v).is_ok());
        let mut v = base();
        v["routes"]["gh"]["max_rate"] = json!("50/10s");
        assert_eq!(Config::from_json(&v).unwrap_err()[0].path, "routes.gh.max_rate");
    }

    #[test]
    fn a_token_schemes_secret_header_is_not_kept_with_a_delivery() {
        let mut v = base();
        v["routes"]["gl"] =
            json!({"provider": "gitlab", "secret_bindings": ["GL_TOKEN"], "flow_url_binding": "FLOW_GL"});
        let c = Config::from_json(&v).unwrap();
        let gl = &c.routes["gl"];
        assert!(!gl.keeps_header("X-Gitlab-Token"));
        assert!(!gl.keeps_header("authorization"));
        assert!(gl.keeps_header("x-gitlab-event"));
        assert!(c.routes["gh"].keeps_header("x-hub-signature-256"));
    }
}

#[cfg(test)]
mod pacer_binding_tests {
    use super::*;

    #[test]
    fn limits_without_the_pacer_binding_are_a_problem_naming_the_flow_and_the_binding() {
        let json = serde_json::json!({
            "entra": {"tenant": "contoso.onmicrosoft.com", "client_id": "00000000-0000-0000-0000-000000000001", "client_secret_binding": "S"},
            "routes": {
                "paced": {"provider": "github", "secret_bindings": ["A"], "flow_url_binding": "F1", "max_rate": "10/s"},
                "free": {"provider": "github", "secret_bindings": ["B"], "flow_url_binding": "F2"}
            }
        });
        let config = Config::from_json(&json).expect("valid");
        assert!(config.problems_with_pacer(true, "FLOW_PACER").is_empty());
        let problems = config.problems_with_pacer(false, "FLOW_PACER");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "flows.paced");
        assert!(
            problems[0].message.contains("FLOW_PACER") && problems[0].fix.contains("[[migrations]]"),
            "{problems:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn good() -> Value {
        json!({
            "entra": {
                "tenant": "contoso.onmicrosoft.com",
                "client_id": "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81",
                "client_secret_binding": "ENTRA_CLIENT_SECRET"
            },
            "routes": {
                "github": {
                    "provider": "github",
                    "secret_bindings": ["GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_NEXT"],
                    "flow_url_binding": "FLOW_URL_GITHUB"
                },
                "clerk": {
                    "provider": "svix",
                    "secret_bindings": ["CLERK_SECRET"],
                    "flow_url_binding": "FLOW_URL_CLERK",
                    "tolerance_secs": 120
                }
            }
        })
    }

    fn with(f: impl FnOnce(&mut Value)) -> Vec<Problem> {
        let mut v = good();
        f(&mut v);
        Config::from_json(&v).expect_err("should be rejected")
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn good_config_validates_with_defaults() {
        let c = Config::from_json(&good()).unwrap();
        assert_eq!(c.entra.authority, DEFAULT_AUTHORITY);
        assert_eq!(c.entra.scope, "https://service.flow.microsoft.com//.default");
        assert_eq!(
            c.entra.token_endpoint(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let gh = &c.routes["github"];
        assert_eq!(gh.provider.name, "github");
        assert_eq!(gh.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(gh.secret_bindings.len(), 2);
        assert_eq!(c.routes["clerk"].scheme, Scheme::StandardWebhooks);
        assert_eq!(c.routes["clerk"].tolerance_override, Some(120));
    }

    #[test]
    fn routes_naming_one_signing_secret_are_refused_unless_both_allow_it() {
        // GitHub and Svix on one binding: neither signature covers the URL.
        let problems = with(|v| v["routes"]["clerk"]["secret_bindings"] = json!(["GITHUB_WEBHOOK_SECRET"]));
        assert_eq!(paths(&problems), ["routes.github.secret_bindings"], "{problems:?}");
        assert!(problems[0].message.contains("routes clerk and github verify with the same key"), "{}", problems[0]);
        assert!(problems[0].message.contains("allow_shared_secret"), "{}", problems[0]);
        // One side opting in is not enough; both is.
        let one = with(|v| {
            v["routes"]["clerk"]["secret_bindings"] = json!(["GITHUB_WEBHOOK_SECRET"]);
            v["routes"]["clerk"]["allow_shared_secret"] = json!(true);
        });
        assert_eq!(one.len(), 1, "{one:?}");
        let mut v = good();
        v["routes"]["clerk"]["secret_bindings"] = json!(["GITHUB_WEBHOOK_SECRET"]);
        for r in ["clerk", "github"] {
            v["routes"][r]["allow_shared_secret"] = json!(true);
        }
        let c = Config::from_json(&v).unwrap();
        assert!(c.routes["clerk"].allow_shared_secret && c.routes["github"].allow_shared_secret);
    }

    #[test]
    fn an_x_route_sharing_its_secret_is_refused_even_when_allowed() {
        let problems = with(|v| {
            v["routes"]["x"] = json!({"provider": "twitter", "secret_bindings": ["GITHUB_WEBHOOK_SECRET"],
                                      "flow_url_binding": "F", "allow_shared_secret": true});
            v["routes"]["github"]["allow_shared_secret"] = json!(true);
        });
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("X's CRC answer"), "{}", problems[0]);
    }

    #[test]
    fn a_linkedin_route_sharing_its_secret_is_refused_even_when_allowed() {
        let problems = with(|v| {
            v["routes"]["li"] = json!({"provider": "linkedin", "secret_bindings": ["GITHUB_WEBHOOK_SECRET"],
                                       "flow_url_binding": "F", "allow_shared_secret": true});
            v["routes"]["github"]["allow_shared_secret"] = json!(true);
        });
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("LinkedIn's validation answer"), "{}", problems[0]);
    }

    #[test]
    fn url_bound_routes_and_credential_schemes_may_share_a_binding() {
        let mut v = good();
        // Twilio signs the URL: a request for one route does not verify on the other.
        for r in ["tw-a", "tw-b"] {
            v["routes"][r] =
                json!({"provider": "twilio", "secret_bindings": ["TWILIO_AUTH_TOKEN"], "flow_url_binding": "F"});
        }
        // A token is sent as is: a captured request carries it anyway.
        for r in ["gl-a", "gl-b"] {
            v["routes"][r] = json!({"provider": "gitlab", "secret_bindings": ["GL_TOKEN"], "flow_url_binding": "F"});
        }
        Config::from_json(&v).unwrap();
    }

    #[test]
    fn body_proof_senders_default_to_a_smaller_body_cap() {
        let mut v = good();
        for (name, provider) in [("mg", "mailgun"), ("fig", "figma"), ("graph", "msgraph"), ("tw", "twilio")] {
            v["routes"][name] =
                json!({"provider": provider, "secret_bindings": [format!("S_{name}")], "flow_url_binding": "F"});
        }
        v["routes"]["mg-big"] = json!({"provider": "mailgun", "secret_bindings": ["S_BIG"], "flow_url_binding": "F",
                                       "max_body_bytes": 8_388_608});
        let c = Config::from_json(&v).unwrap();
        let cap = |r: &str| c.routes[r].max_body_bytes;
        assert_eq!((cap("mg"), cap("fig"), cap("graph")), (1_048_576, 1_048_576, 4_194_304));
        // Senders whose proof is in a header keep the global default; a set value always wins.
        assert_eq!((cap("tw"), cap("github")), (DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES));
        assert_eq!(cap("mg-big"), 8_388_608);
    }

    #[test]
    fn each_cloud_sets_authority_and_double_slash_scope() {
        let expected = [
            ("public", "https://login.microsoftonline.com", "https://service.flow.microsoft.com//.default"),
            ("gcc", "https://login.microsoftonline.com", "https://gov.service.flow.microsoft.us//.default"),
            ("gcc-high", "https://login.microsoftonline.us", "https://high.service.flow.microsoft.us//.default"),
            ("dod", "https://login.microsoftonline.us", "https://service.flow.appsplatform.us//.default"),
            ("china", "https://login.partner.microsoftonline.cn", "https://service.powerautomate.cn//.default"),
        ];
        for (cloud, authority, scope) in expected {
            let mut v = good();
            v["entra"]["cloud"] = json!(cloud);
            let c = Config::from_json(&v).unwrap();
            assert_eq!(c.entra.authority, authority, "{cloud}");
            assert_eq!(c.entra.scope, scope, "{cloud}");
            assert_eq!(c.entra.expected_audience(), c.entra.cloud.flow_audience());
        }
        // Explicit overrides win.
        let mut v = good();
        v["entra"]["cloud"] = json!("gcc-high");
        v["entra"]["authority"] = json!("http://127.0.0.1:8790");
        let c = Config::from_json(&v).unwrap();
        assert_eq!(c.entra.authority, "http://127.0.0.1:8790");
        assert_eq!(c.entra.scope, "https://high.service.flow.microsoft.us//.default");
        let p = with(|v| v["entra"]["cloud"] = json!("azure-germany"));
        assert_eq!(paths(&p), ["entra.cloud"]);
    }

    #[test]
    fn certificate_credential_validates() {
        let mut v = good();
        v["entra"].as_object_mut().unwrap().remove("client_secret_binding");
        v["entra"]["certificate"] =
            json!({"private_key_binding": "ENTRA_CERT_KEY", "certificate_binding": "ENTRA_CERT", "algorithm": "PS256"});
        let c = Config::from_json(&v).unwrap();
        assert_eq!(
            c.entra.credential,
            Credential::Certificate {
                private_key_binding: "ENTRA_CERT_KEY".into(),
                certificate_binding: "ENTRA_CERT".into(),
                algorithm: AssertionAlgorithm::Ps256
            }
        );
        assert_eq!(c.entra.bindings(), ["ENTRA_CERT_KEY", "ENTRA_CERT"]);
        v["entra"]["certificate"]["algorithm"] = json!("ES256");
        v["entra"]["certificate"]["thumbprint"] = json!("x");
        let p = Config::from_json(&v).unwrap_err();
        assert_eq!(paths(&p), ["entra.certificate.thumbprint", "entra.certificate.algorithm"]);
    }

    #[test]
    fn exactly_one_credential() {
        let p = with(|v| v["entra"]["certificate"] = json!({"private_key_binding": "K", "certificate_binding": "C"}));
        assert_eq!(paths(&p), ["entra"]);
        let p = with(|v| {
            v["entra"].as_object_mut().unwrap().remove("client_secret_binding");
        });
        assert_eq!(paths(&p), ["entra.client_secret_binding"]);
        let p = with(|v| v["entra"]["certificate"] = json!("ENTRA_CERT"));
        assert_eq!(paths(&p), ["entra.certificate"]);
    }

    #[test]
    fn authority_trailing_slash_is_trimmed() {
        let mut v = good();
        v["entra"]["authority"] = json!("http://127.0.0.1:8790/");
        let c = Config::from_json(&v).unwrap();
        assert_eq!(c.entra.token_endpoint(), "http://127.0.0.1:8790/contoso.onmicrosoft.com/oauth2/v2.0/token");
    }

    #[test]
    fn rejects_single_slash_flow_scope() {
        let p = with(|v| v["entra"]["scope"] = json!("https://service.flow.microsoft.com/.default"));
        assert_eq!(paths(&p), ["entra.scope"]);
        assert!(p[0].fix.contains("https://service.flow.microsoft.com//.default"), "{}", p[0].fix);
        let p = with(|v| v["entra"]["scope"] = json!("https://gov.service.flow.microsoft.us/.default"));
        assert!(p[0].fix.contains("https://gov.service.flow.microsoft.us//.default"));
    }

    #[test]
    fn rejects_scope_without_default() {
        let p = with(|v| v["entra"]["scope"] = json!("https://service.flow.microsoft.com/"));
        assert!(p[0].message.contains("AADSTS70011"));
    }

    #[test]
    fn rejects_common_tenant_and_bad_client_id() {
        let p = with(|v| {
            v["entra"]["tenant"] = json!("common");
            v["entra"]["client_id"] = json!("my-app");
        });
        assert_eq!(paths(&p), ["entra.tenant", "entra.client_id"]);
    }

    #[test]
    fn rejects_plain_http_authority_off_loopback() {
        let p = with(|v| v["entra"]["authority"] = json!("http://login.microsoftonline.com"));
        assert_eq!(paths(&p), ["entra.authority"]);
        let p = with(|v| v["entra"]["authority"] = json!("https://login.microsoftonline.com/tenant"));
        assert_eq!(paths(&p), ["entra.authority"]);
        let p = with(|v| v["entra"]["authority"] = json!("http://localhost:80@evil.example"));
        assert_eq!(paths(&p), ["entra.authority"]);
    }

    #[test]
    fn rejects_secret_values_in_binding_fields() {
        let p = with(|v| {
            v["routes"]["github"]["flow_url_binding"] =
                json!("https://prod-1.westus.logic.azure.com/workflows/x/triggers/manual/paths/invoke");
            v["entra"]["client_secret_binding"] = json!("Abc8Q~xyz.secret-value");
        });
        assert_eq!(paths(&p), ["entra.client_secret_binding", "routes.github.flow_url_binding"]);
        assert!(p.iter().all(|p| p.fix.contains("wrangler secret put")));
    }

    #[test]
    fn rejects_unknown_provider_and_reports_every_problem() {
        let p = with(|v| {
            v["routes"]["github"]["provider"] = json!("none");
            v["routes"]["github"]["secret_bindings"] = json!([]);
            v["routes"]["clerk"]["tolerance_secs"] = json!(0);
            v["routes"]["clerk"]["max_body_bytes"] = json!(40_000_000u64);
        });
        assert_eq!(
            paths(&p),
            [
                "routes.clerk.max_body_bytes",
                "routes.clerk.tolerance_secs",
                "routes.github.provider",
                "routes.github.secret_bindings",
            ]
        );
        assert!(p[2].fix.contains("flowgate providers"));
    }

    #[test]
    fn alerts_validate_with_the_default_window() {
        let mut v = good();
        v["alerts"] = json!({"url_binding": "ALERT_WEBHOOK_URL", "format": "teams"});
        let a = Config::from_json(&v).unwrap().alerts.unwrap();
        assert_eq!(a.url_binding, "ALERT_WEBHOOK_URL");
        assert_eq!(a.format, crate::alerts::Format::Teams);
        assert_eq!(a.window_secs, crate::alerts::DEFAULT_WINDOW_SECS);
        assert_eq!(Config::from_json(&good()).unwrap().alerts, None);
    }

    #[test]
    fn alerts_reject_a_missing_or_pasted_url_binding_a_bad_format_window_and_unknown_keys() {
        let p = with(|v| v["alerts"] = json!({"format": "json"}));
        assert_eq!(paths(&p), ["alerts.url_binding"]);
        let p =
            with(|v| v["alerts"] = json!({"url_binding": "https://example.webhook.office.com/x", "format": "json"}));
        assert_eq!(paths(&p), ["alerts.url_binding"]);
        assert!(!p[0].to_string().contains("example.webhook"), "the value is never echoed: {}", p[0]);
        let p = with(|v| v["alerts"] = json!({"url_binding": "A", "format": "discord"}));
        assert_eq!(paths(&p), ["alerts.format"]);
        assert!(p[0].fix.contains("teams, slack, json"), "{}", p[0]);
        let p = with(|v| v["alerts"] = json!({"url_binding": "A"}));
        assert_eq!(paths(&p), ["alerts.format"]);
        let p = with(|v| v["alerts"] = json!({"url_binding": "A", "format": "json", "window_secs": 1}));
        assert_eq!(paths(&p), ["alerts.window_secs"]);
        let p = with(|v| v["alerts"] = json!({"url_binding": "A", "format": "json", "flow": "x"}));
        assert_eq!(paths(&p), ["alerts.flow"]);
        let p = with(|v| v["alerts"] = json!({"url_binding": "A", "format": "json", "window_secs": "10m"}));
        assert_eq!(paths(&p), ["alerts.window_secs"]);
        let p = with(|v| v["alerts"] = json!("A"));
        assert_eq!(paths(&p), ["alerts"]);
    }

    #[test]
    fn rejects_unknown_keys_typos() {
        let p = with(|v| {
            v["routes"]["github"]["secret_binding"] = json!(["X"]);
            v["entra"]["tenant_id"] = json!("x");
        });
        assert_eq!(paths(&p), ["entra.tenant_id", "routes.github.secret_binding"]);
    }

    #[test]
    fn rejects_missing_sections_and_bad_route_names() {
        let p = Config::from_json(&json!({})).unwrap_err();
        assert_eq!(paths(&p), ["entra", "routes"]);
        let p = with(|v| {
            v["routes"]["Bad Name"] = v["routes"]["github"].clone();
            v["routes"]["Bad Name"]["secret_bindings"] = json!(["ANOTHER_SECRET"]);
        });
        assert_eq!(paths(&p), ["routes.Bad Name"]);
    }

    #[test]
    fn rejects_wrong_types_by_path_without_echoing_values() {
        let p = Config::from_json(&json!({"routes": "x"})).unwrap_err();
        assert_eq!(paths(&p), ["routes"]);
        let p = Config::from_json(&json!("x")).unwrap_err();
        assert_eq!(paths(&p), ["FLOWGATE"]);
        let p = with(|v| {
            v["routes"]["github"]["secret_bindings"] = json!("SuperSecretWebhookValue123");
            v["routes"]["github"]["max_body_bytes"] = json!(-1);
            v["entra"]["tenant"] = json!(42);
            v["routes"]["clerk"] = json!(["x"]);
        });
        assert_eq!(
            paths(&p),
            ["entra.tenant", "routes.clerk", "routes.github.secret_bindings", "routes.github.max_body_bytes"]
        );
        for problem in &p {
            assert!(!problem.to_string().contains("SuperSecret"), "{problem}");
        }
        assert!(p[2].message.contains("list of strings"));
    }

    #[test]
    fn flow_url_checks() {
        let ok = |u: &str| check_flow_url(u, Cloud::Public, false);
        let new_shape = "https://0a1b2c3d4e5f47a8b9c0d1e2f3a4b5c6.0a.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/1/triggers/manual/paths/invoke?api-version=1";
        assert_eq!(ok(new_shape), Ok(vec![]));
        assert!(ok("http://127.0.0.1:8790/powerautomate/x?api-version=1").is_ok());
        let sas = "https://prod-1.westus.logic.azure.com:443/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc";
        let err = ok(sas).unwrap_err();
        assert!(err.contains("DirectApiRequestHasMoreThanOneAuthorization"));
        assert!(!err.contains("sig=abc"));
        assert!(ok("http://example.com/x").is_err());
        assert!(ok("FLOW_URL").is_err());
        assert!(ok("https://host.example").is_err(), "no path");
        // Userinfo hides the real host: refused, and loopback is judged on the real host.
        assert!(ok("http://localhost:80@evil.example/x?api-version=1").is_err());
        assert!(ok("https://user:pw@x.example/x?api-version=1").is_err());
        assert!(ok("http://[::1]:8790/x").is_ok());
        assert!(ok("http://127.0.0.2:8790/x").is_ok());
        assert!(ok("https://127.0.0.1:8790/x").is_ok(), "the emulator over TLS");
        assert!(ok("http://127.0.0.1.evil.example/x").is_err());
        assert!(ok("http://localhost.evil.example/x").is_err());
        assert!(ok("https://x.example:notaport/x").is_err());
        assert!(ok("https://x.example/a b").is_err());
        assert!(ok("https:///x").is_err());
    }

    #[test]
    fn flow_url_hosts_must_be_power_automate_hosts_of_the_cloud_unless_allowed() {
        let path = "/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01";
        let pa = "/powerautomate/automations/direct/workflows/1/triggers/manual/paths/invoke?api-version=1";
        // Each cloud's own hosts (both shapes); no warning outside the public cloud.
        for (cloud, new_host, old_host) in [
            (Cloud::Gcc, "e.01.environment.api.gov.powerplatform.microsoft.us", "prod-1.usgovtexas.logic.azure.us"),
            (
                Cloud::GccHigh,
                "e.01.environment.api.high.powerplatform.microsoft.us",
                "prod-1.usgovvirginia.logic.azure.us",
            ),
            (Cloud::Dod, "e.01.environment.api.appsplatform.us", "prod-1.usdodeast.logic.azure.us"),
            (
                Cloud::China,
                "e.01.environment.api.powerplatform.partner.microsoftonline.cn",
                "prod-1.chinaeast2.logic.azure.cn",
            ),
        ] {
            assert_eq!(check_flow_url(&format!("https://{new_host}{pa}"), cloud, false), Ok(vec![]), "{cloud:?}");
            assert_eq!(check_flow_url(&format!("https://{old_host}:443{path}"), cloud, false), Ok(vec![]), "{cloud:?}");
        }
        // The public cloud's retired Logic Apps host: accepted, with the fix.
        let old = format!("https://prod-27.westeurope.logic.azure.com:443{path}");
        let w = check_flow_url(&old, Cloud::Public, false).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("30 November 2025") && w[0].contains("environment.api.powerplatform.com"), "{}", w[0]);
        assert!(w[0].contains("Get-AdminFlowWithMigratingTriggerUrl"), "{}", w[0]);
        // Another cloud's host: refused, saying which cloud it is.
        let gov = format!("https://prod-1.usgovtexas.logic.azure.us{path}");
        let e = check_flow_url(&gov, Cloud::Public, false).unwrap_err();
        assert!(e.contains("gcc") && e.contains("public"), "{e}");
        // Anyone else's host: refused with the opt-in named, never echoing the URL's path or query.
        for host in ["evil.example", "api.powerplatform.com.evil.example", "xapi.powerplatform.com", "logic.azure.com"]
        {
            let e = check_flow_url(&format!("https://{host}{pa}"), Cloud::Public, false).unwrap_err();
            assert!(e.contains("allow_any_flow_host = true") && e.contains("Bearer token"), "{host}: {e}");
            assert!(!e.contains("workflows/1"), "{e}");
            assert_eq!(check_flow_url(&format!("https://{host}{pa}"), Cloud::Public, true), Ok(vec![]), "{host}");
        }
        // A Power Automate host with a path that is no trigger's: a warning.
        let w = check_flow_url("https://e.01.environment.api.powerplatform.com/flows/1", Cloud::Public, false).unwrap();
        assert!(w[0].contains("triggers/manual/paths/invoke"), "{w:?}");
    }

    #[test]
    fn allow_any_flow_host_is_a_flow_setting() {
        let mut v = multi();
        v["flows"]["deploys"]["allow_any_flow_host"] = json!(true);
        let c = Config::from_json(&v).unwrap();
        assert!(c.flows["deploys"].allow_any_host);
        assert!(!c.flows["bugs"].allow_any_host);
        v["flows"]["deploys"]["allow_any_flow_host"] = json!("yes");
        let p = Config::from_json(&v).unwrap_err();
        assert_eq!(paths(&p), ["flows.deploys.allow_any_flow_host"]);
    }

    fn with_plaid(f: impl FnOnce(&mut Value)) -> Result<Config, Vec<Problem>> {
        let mut v = good();
        v["routes"]["plaid"] = json!({
            "provider": "plaid",
            "plaid_client_id_binding": "PLAID_CLIENT_ID",
            "plaid_secret_binding": "PLAID_SECRET",
            "flow_url_binding": "FLOW_URL_PLAID"
        });
        f(&mut v["routes"]["plaid"]);
        Config::from_json(&v)
    }

    #[test]
    fn plaid_route_validates_without_secret_bindings() {
        let c = with_plaid(|_| {}).unwrap();
        let r = &c.routes["plaid"];
        assert!(r.secret_bindings.is_empty());
        let plaid = r.plaid.as_ref().unwrap();
        assert_eq!(plaid.base_url, PLAID_PRODUCTION);
        assert_eq!(plaid.key_endpoint(), "https://production.plaid.com/webhook_verification_key/get");
        assert_eq!(
            (plaid.client_id_binding.as_str(), plaid.secret_binding.as_str()),
            ("PLAID_CLIENT_ID", "PLAID_SECRET")
        );
        assert_eq!(c.routes["github"].plaid, None);
        for (env, base) in [
            ("production", PLAID_PRODUCTION),
            ("sandbox", PLAID_SANDBOX),
            ("http://127.0.0.1:8790", "http://127.0.0.1:8790"),
            ("http://localhost:8790/", "http://localhost:8790"),
        ] {
            let c = with_plaid(|r| r["plaid_environment"] = json!(env)).unwrap();
            assert_eq!(c.routes["plaid"].plaid.as_ref().unwrap().base_url, base, "{env}");
        }
        // Pinned JWKs in secret_bindings are allowed too.
        assert!(with_plaid(|r| r["secret_bindings"] = json!(["PLAID_JWK"])).is_ok());
    }

    #[test]
    fn rejects_plaid_route_without_client_id_binding() {
        let p = with_plaid(|r| {
            r.as_object_mut().unwrap().remove("plaid_client_id_binding");
        })
        .unwrap_err();
        assert_eq!(paths(&p), ["routes.plaid.plaid_client_id_binding"]);
        assert!(p[0].message.contains("client_id and secret"), "{}", p[0].message);
    }

    #[test]
    fn rejects_plaid_route_without_secret_binding() {
        let p = with_plaid(|r| {
            r.as_object_mut().unwrap().remove("plaid_secret_binding");
        })
        .unwrap_err();
        assert_eq!(paths(&p), ["routes.plaid.plaid_secret_binding"]);
        assert!(p[0].fix.contains("wrangler secret put PLAID_SECRET"));
    }

    #[test]
    fn rejects_plaid_secret_values_in_binding_fields() {
        let p = with_plaid(|r| {
            r["plaid_client_id_binding"] = json!("5e7a1b2c3d4e5f6a7b8c9d0e");
            r["plaid_secret_binding"] = json!("a1b2c3d4 e5f6");
        })
        .unwrap_err();
        assert_eq!(paths(&p), ["routes.plaid.plaid_client_id_binding", "routes.plaid.plaid_secret_binding"]);
        assert!(p.iter().all(|p| !p.to_string().contains("a1b2c3d4")));
    }

    #[test]
    fn rejects_unknown_plaid_environment() {
        for bad in ["development", "Production", "", "production.plaid.com"] {
            let p = with_plaid(|r| r["plaid_environment"] = json!(bad)).unwrap_err();
            assert_eq!(paths(&p), ["routes.plaid.plaid_environment"], "{bad}");
        }
    }

    #[test]
    fn rejects_plaid_environment_off_loopback_or_with_a_path() {
        for bad in [
            "https://plaid.example.com",
            "http://sandbox.plaid.com",
            "http://127.0.0.1:8790/webhook_verification_key/get",
            "http://localhost:80@evil.example",
        ] {
            let p = with_plaid(|r| r["plaid_environment"] = json!(bad)).unwrap_err();
            assert_eq!(paths(&p), ["routes.plaid.plaid_environment"], "{bad}");
        }
    }

    #[test]
    fn rejects_plaid_settings_on_other_providers() {
        let p = with(|v| {
            v["routes"]["github"]["plaid_secret_binding"] = json!("PLAID_SECRET");
            v["routes"]["github"]["plaid_environment"] = json!("sandbox");
        });
        assert_eq!(paths(&p), ["routes.github.plaid_secret_binding", "routes.github.plaid_environment"]);
        assert!(p[0].message.contains("provider = \"plaid\""));
    }

    fn with_sns(f: impl FnOnce(&mut Value)) -> Result<Config, Vec<Problem>> {
        let mut v = good();
        v["routes"]["sns"] = json!({ "provider": "aws-sns", "flow_url_binding": "FLOW_URL_SNS" });
        f(&mut v["routes"]["sns"]);
        Config::from_json(&v)
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders";

    #[test]
    fn sns_route_validates_without_secret_bindings_and_fetches_from_sns_hosts() {
        let c = with_sns(|_| {}).unwrap();
        let sns = c.routes["sns"].sns.as_ref().unwrap();
        assert_eq!(sns, &SnsSettings { emulator_origin: None, confirm_subscriptions: false, topic_arns: vec![] });
        assert_eq!(c.routes["github"].sns, None);
        let c = with_sns(|r| {
            r["sns_emulator_origin"] = json!("http://127.0.0.1:8790/");
            r["sns_confirm_subscriptions"] = json!(true);
            r["sns_topic_arns"] = json!([TOPIC, "arn:aws-cn:sns:cn-north-1:123456789012:x.fifo"]);
        })
        .unwrap();
        let sns = c.routes["sns"].sns.as_ref().unwrap();
        assert_eq!(sns.emulator_origin.as_deref(), Some("http://127.0.0.1:8790"));
        assert!(sns.confirm_subscriptions);
        assert_eq!(sns.topic_arns.len(), 2);
        // A pinned certificate is allowed too.
        assert!(with_sns(|r| r["secret_bindings"] = json!(["SNS_CERT"])).is_ok());
    }

    #[test]
    fn rejects_sns_emulator_origin_off_loopback() {
        for bad in [
            "https://sns.us-east-1.amazonaws.com",
            "https://evil.example",
            "http://sns.us-east-1.amazonaws.com",
            "http://127.0.0.1:8790/sns",
            "http://localhost:80@evil.example",
            "production",
        ] {
            let p = with_sns(|r| r["sns_emulator_origin"] = json!(bad)).unwrap_err();
            assert_eq!(paths(&p), ["routes.sns.sns_emulator_origin"], "{bad}");
            assert!(p[0].message.contains("loopback"), "{}", p[0].message);
        }
    }

    #[test]
    fn rejects_sns_subscription_confirmation_without_a_topic_allow_list() {
        let p = with_sns(|r| r["sns_confirm_subscriptions"] = json!(true)).unwrap_err();
        assert_eq!(paths(&p), ["routes.sns.sns_topic_arns"]);
        assert!(p[0].message.contains("any AWS account"), "{}", p[0].message);
    }

    #[test]
    fn rejects_malformed_sns_topic_arns() {
        for bad in [
            "",
            "orders",
            "arn:aws:sqs:us-east-1:123456789012:orders",
            "arn:aws:sns:us-east-1:1234:orders",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:aws:sns:us-east-1:123456789012:a b",
            "arn:aws:sns:*:123456789012:orders",
        ] {
            let p = with_sns(|r| r["sns_topic_arns"] = json!([bad])).unwrap_err();
            assert_eq!(paths(&p), ["routes.sns.sns_topic_arns[0]"], "{bad}");
        }
    }

    #[test]
    fn rejects_sns_settings_on_other_providers() {
        let p = with(|v| {
            v["routes"]["github"]["sns_confirm_subscriptions"] = json!(true);
            v["routes"]["github"]["sns_emulator_origin"] = json!("http://127.0.0.1:8790");
        });
        assert_eq!(paths(&p), ["routes.github.sns_emulator_origin", "routes.github.sns_confirm_subscriptions"]);
        assert!(p[0].message.contains("provider = \"aws-sns\""));
    }

    fn with_paypal(f: impl FnOnce(&mut Value)) -> Result<Config, Vec<Problem>> {
        let mut v = good();
        v["routes"]["paypal"] = json!({ "provider": "paypal", "paypal_webhook_id": "9XL90610J3647323C", "flow_url_binding": "FLOW_URL_PP" });
        f(&mut v["routes"]["paypal"]);
        Config::from_json(&v)
    }

    #[test]
    fn paypal_route_validates_with_a_webhook_id_and_no_secret_bindings() {
        let c = with_paypal(|_| {}).unwrap();
        let pp = c.routes["paypal"].paypal.as_ref().unwrap();
        assert_eq!(pp, &PayPalSettings { webhook_id: "9XL90610J3647323C".to_owned(), emulator_origin: None });
        assert_eq!(c.routes["github"].paypal, None);
        let c = with_paypal(|r| r["paypal_emulator_origin"] = json!("http://127.0.0.1:8790")).unwrap();
        assert_eq!(
            c.routes["paypal"].paypal.as_ref().unwrap().emulator_origin.as_deref(),
            Some("http://127.0.0.1:8790")
        );
    }

    #[test]
    fn rejects_paypal_route_without_a_valid_webhook_id() {
        let p = with_paypal(|r| {
            r.as_object_mut().unwrap().remove("paypal_webhook_id");
        })
        .unwrap_err();
        assert_eq!(paths(&p), ["routes.paypal.paypal_webhook_id"]);
        for bad in ["", "WH-123", "a b"] {
            let p = with_paypal(|r| r["paypal_webhook_id"] = json!(bad)).unwrap_err();
            assert_eq!(paths(&p), ["routes.paypal.paypal_webhook_id"], "{bad}");
        }
    }

    #[test]
    fn rejects_paypal_emulator_origin_off_loopback_and_settings_on_other_providers() {
        for bad in ["https://api.paypal.com", "http://api.sandbox.paypal.com", "http://127.0.0.1:8790/v1"] {
            let p = with_paypal(|r| r["paypal_emulator_origin"] = json!(bad)).unwrap_err();
            assert_eq!(paths(&p), ["routes.paypal.paypal_emulator_origin"], "{bad}");
        }
        let p = with(|v| v["routes"]["github"]["paypal_webhook_id"] = json!("9XL90610J3647323C"));
        assert_eq!(paths(&p), ["routes.github.paypal_webhook_id"]);
        assert!(p[0].message.contains("provider = \"paypal\""));
    }

    #[test]
    fn rejects_plaid_fields_of_the_wrong_type() {
        let p = with_plaid(|r| {
            r["plaid_client_id_binding"] = json!(["PLAID_CLIENT_ID"]);
            r["plaid_environment"] = json!(1);
        })
        .unwrap_err();
        assert_eq!(paths(&p), ["routes.plaid.plaid_client_id_binding", "routes.plaid.plaid_environment"]);
        // And a typo is an unknown key, with the valid ones listed.
        let p = with_plaid(|r| r["plaid_secret"] = json!("PLAID_SECRET")).unwrap_err();
        assert_eq!(paths(&p), ["routes.plaid.plaid_secret"]);
        assert!(p[0].fix.contains("plaid_secret_binding"));
    }

    fn with_route(name: &str, route: Value, f: impl FnOnce(&mut Value)) -> Result<Config, Vec<Problem>> {
        let mut v = good();
        v["routes"][name] = route;
        f(&mut v["routes"][name]);
        Config::from_json(&v)
    }

    fn ebay_route() -> Value {
        json!({
            "provider": "ebay",
            "ebay_client_id_binding": "EBAY_CLIENT_ID",
            "ebay_client_secret_binding": "EBAY_CLIENT_SECRET",
            "verify_token_binding": "EBAY_VERIFICATION_TOKEN",
            "flow_url_binding": "FLOW_URL_EBAY"
        })
    }

    fn circle_route() -> Value {
        json!({"provider": "circle", "circle_api_key_binding": "CIRCLE_API_KEY", "flow_url_binding": "FLOW_URL_CIRCLE"})
    }

    #[test]
    fn ebay_and_circle_routes_validate_without_secret_bindings() {
        let c = with_route("ebay", ebay_route(), |_| {}).unwrap();
        let e = c.routes["ebay"].ebay.as_ref().unwrap();
        assert_eq!(
            (e.client_id_binding.as_str(), e.client_secret_binding.as_str(), e.base_url.as_str()),
            ("EBAY_CLIENT_ID", "EBAY_CLIENT_SECRET", EBAY_PRODUCTION)
        );
        for (env, base) in [
            ("production", EBAY_PRODUCTION),
            ("sandbox", EBAY_SANDBOX),
            ("http://127.0.0.1:8787/", "http://127.0.0.1:8787"),
        ] {
            let c = with_route("ebay", ebay_route(), |r| r["ebay_environment"] = json!(env)).unwrap();
            assert_eq!(c.routes["ebay"].ebay.as_ref().unwrap().base_url, base, "{env}");
        }
        let c = with_route("circle", circle_route(), |_| {}).unwrap();
        let cs = c.routes["circle"].circle.as_ref().unwrap();
        assert_eq!((cs.api_key_binding.as_str(), cs.base_url.as_str()), ("CIRCLE_API_KEY", CIRCLE_API));
        let c =
            with_route("circle", circle_route(), |r| r["circle_environment"] = json!("http://localhost:9000")).unwrap();
        assert_eq!(c.routes["circle"].circle.as_ref().unwrap().base_url, "http://localhost:9000");
        assert_eq!((c.routes["github"].ebay.as_ref(), c.routes["github"].circle.as_ref()), (None, None));
        // Pinned keys may be listed too.
        assert!(with_route("circle", circle_route(), |r| r["secret_bindings"] = json!(["CIRCLE_KEY"])).is_ok());
    }

    #[test]
    fn rejects_ebay_and_circle_routes_without_credentials() {
        let p = with_route("ebay", ebay_route(), |r| {
            r.as_object_mut().unwrap().remove("ebay_client_secret_binding");
        })
        .unwrap_err();
        assert_eq!(paths(&p), ["routes.ebay.ebay_client_secret_binding"]);
        assert!(p[0].fix.contains("wrangler secret put EBAY_CLIENT_SECRET"));
        // The challenge needs the verification token.
        let p = with_route("ebay", ebay_route(), |r| {
            r.as_object_mut().unwrap().remove("verify_token_binding");
        })
        .unwrap_err();
        assert_eq!(paths(&p), ["routes.ebay.verify_token_binding"]);
        let p = with_route("circle", circle_route(), |r| {
            r.as_object_mut().unwrap().remove("circle_api_key_binding");
        })
        .unwrap_err();
        assert_eq!(paths(&p), ["routes.circle.circle_api_key_binding"]);
        let p = with_route("circle", circle_route(), |r| r["circle_api_key_binding"] = json!("TEST_API_KEY:0a1b:2c3d"))
            .unwrap_err();
        assert_eq!(paths(&p), ["routes.circle.circle_api_key_binding"]);
    }

    #[test]
    fn rejects_ebay_and_circle_hosts_off_loopback_and_fields_on_other_providers() {
        for bad in ["https://api.ebay.example", "http://api.ebay.com", "development", "", "http://10.0.0.1:80"] {
            let p = with_route("ebay", ebay_route(), |r| r["ebay_environment"] = json!(bad)).unwrap_err();
            assert_eq!(paths(&p), ["routes.ebay.ebay_environment"], "{bad}");
        }
        for bad in ["sandbox", "https://api-sandbox.circle.com", "http://127.0.0.1:1/x"] {
            let p = with_route("circle", circle_route(), |r| r["circle_environment"] = json!(bad)).unwrap_err();
            assert_eq!(paths(&p), ["routes.circle.circle_environment"], "{bad}");
        }
        let p = with(|v| {
            v["routes"]["github"]["ebay_client_id_binding"] = json!("EBAY_CLIENT_ID");
            v["routes"]["github"]["circle_environment"] = json!("production");
        });
        assert_eq!(paths(&p), ["routes.github.ebay_client_id_binding", "routes.github.circle_environment"]);
        assert!(p[0].message.contains("provider = \"ebay\""));
        let p = with_route("ebay", ebay_route(), |r| r["ebay_environment"] = json!(1)).unwrap_err();
        assert_eq!(paths(&p), ["routes.ebay.ebay_environment"]);
    }

    /// The issue's example, with a second tenant: GitHub pushes to one flow,
    /// issues labelled bug to a flow in another tenant, everything else to
    /// a default flow; and a single-flow route beside it.
    fn multi() -> Value {
        let mut v = good();
        v["credentials"] = json!({
            "partner": {
                "tenant": "fabrikam.onmicrosoft.com",
                "client_id": "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5",
                "client_secret_binding": "PARTNER_CLIENT_SECRET"
            }
        });
        v["flows"] = json!({
            "deploys": {"url_binding": "FLOW_URL_DEPLOYS", "payload": "envelope", "timeout_secs": 20},
            "bugs": {"url_binding": "FLOW_URL_BUGS", "credential": "partner"},
            "everything": {"url_binding": "FLOW_URL_EVERYTHING"},
            "unused": {"url_binding": "FLOW_URL_UNUSED"}
        });
        v["routes"]["gh"] = json!({
            "provider": "github",
            "secret_bindings": ["GH_SECRET"],
            "default_flow": "everything",
            "envelope_headers": ["X-GitHub-Hook-ID"],
            "rules": [
                {"event": "push", "flows": ["deploys"]},
                {"name": "bugs", "event": "issues", "fields": {"action": "labeled", "label.name": "bug"}, "flows": ["bugs", "everything"]}
            ]
        });
        v
    }

    fn with_multi(f: impl FnOnce(&mut Value)) -> Vec<Problem> {
        let mut v = multi();
        f(&mut v);
        Config::from_json(&v).expect_err("should be rejected")
    }

    #[test]
    fn several_flows_and_tenants_validate() {
        let c = Config::from_json(&multi()).unwrap();
        // The table's flows and one implicit flow per single-flow route.
        assert_eq!(
            c.flows.keys().map(String::as_str).collect::<Vec<_>>(),
            ["bugs", "clerk", "deploys", "everything", "github", "unused"]
        );
        let deploys = &c.flows["deploys"];
        assert_eq!(
            deploys,
            &Flow {
                name: "deploys".into(),
                url_binding: "FLOW_URL_DEPLOYS".into(),
                payload: Payload::Envelope,
                credential: None,
                timeout_secs: 20,
                allow_any_host: false,
                limits: Limits::default(),
            }
        );
        assert_eq!(c.flows["everything"].payload, Payload::Raw);
        assert_eq!(c.flows["everything"].timeout_secs, DEFAULT_FLOW_TIMEOUT_SECS);
        assert_eq!(c.credential(deploys), &c.entra);
        let partner = c.credential(&c.flows["bugs"]);
        assert_eq!(partner.tenant, "fabrikam.onmicrosoft.com");
        assert_eq!(
            partner.token_endpoint(),
            "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(partner.scope, DEFAULT_SCOPE);

        let gh = &c.routes["gh"];
        assert_eq!(gh.flow_url_binding, "");
        assert_eq!(gh.rules.rules().len(), 2);
        assert_eq!(gh.rules.default_flow(), Some("everything"));
        assert_eq!(gh.rules.flows(), ["deploys", "bugs", "everything"]);
        assert_eq!(gh.envelope.headers(), ["x-github-hook-id"]);
        assert_eq!(gh.flow_timeout_secs, 20, "the longest of its flows");

        // A single-flow route: its flow is named like it and takes everything.
        let github = &c.routes["github"];
        assert_eq!(github.rules, RouteRules::default_only("github"));
        assert_eq!(github.flow_url_binding, "FLOW_URL_GITHUB");
        assert_eq!(
            c.flows["github"],
            Flow {
                name: "github".into(),
                url_binding: "FLOW_URL_GITHUB".into(),
                payload: Payload::Raw,
                credential: None,
                timeout_secs: DEFAULT_FLOW_TIMEOUT_SECS,
                allow_any_host: false,
                limits: Limits::default(),
            }
        );
        let mut v = multi();
        v["routes"]["clerk"]["payload"] = json!("envelope");
        v["routes"]["clerk"]["flow_timeout_secs"] = json!(30);
        let c = Config::from_json(&v).unwrap();
        assert_eq!((c.flows["clerk"].payload, c.flows["clerk"].timeout_secs), (Payload::Envelope, 30));
    }

    #[test]
    fn a_flow_in_another_tenant_has_its_own_token_cache_entry() {
        use crate::{entra::ClientCredential, secret::Secret};
        let c = Config::from_json(&multi()).unwrap();
        let default = c.credential(&c.flows["deploys"]);
        let partner = c.credential(&c.flows["bugs"]);
        let key = |cfg: &EntraConfig, secret: &str| {
            crate::entra::cache_key(cfg, &ClientCredential::Secret(Secret::new(secret)))
        };
        assert_ne!(key(default, "s"), key(partner, "s"), "another tenant");
        assert_ne!(key(partner, "s"), key(partner, "t"), "another secret");
        // The same tenant through another app registration is another entry too.
        let mut v = multi();
        v["credentials"]["partner"]["tenant"] = json!("contoso.onmicrosoft.com");
        let c = Config::from_json(&v).unwrap();
        assert_ne!(key(&c.entra, "s"), key(c.credential(&c.flows["bugs"]), "s"));
    }

    #[test]
    fn rejects_a_route_with_both_or_neither_flow_forms() {
        let p = with_multi(|v| v["routes"]["gh"]["flow_url_binding"] = json!("FLOW_URL_GH"));
        assert_eq!(paths(&p), ["routes.gh"]);
        assert!(p[0].fix.contains("[vars.FLOWGATE.flows.<name>]"), "{}", p[0].fix);
        let p = with_multi(|v| {
            let gh = v["routes"]["gh"].as_object_mut().unwrap();
            gh.remove("rules");
            gh.remove("default_flow");
        });
        assert_eq!(paths(&p), ["routes.gh.flow_url_binding"]);
        assert!(p[0].fix.contains("rules and/or default_flow"), "{}", p[0].fix);
        // A default flow alone is a route: everything goes there.
        let mut v = multi();
        v["routes"]["gh"].as_object_mut().unwrap().remove("rules");
        let c = Config::from_json(&v).unwrap();
        assert_eq!(c.routes["gh"].rules.flows(), ["everything"]);
    }

    #[test]
    fn rejects_single_flow_settings_on_a_route_with_rules() {
        let p = with_multi(|v| {
            v["routes"]["gh"]["payload"] = json!("envelope");
            v["routes"]["gh"]["flow_timeout_secs"] = json!(10);
        });
        assert_eq!(paths(&p), ["routes.gh.payload", "routes.gh.flow_timeout_secs"]);
        assert!(p[0].fix.contains("set payload on each"), "{}", p[0].fix);
        assert!(p[1].fix.contains("set timeout_secs on each"), "{}", p[1].fix);
    }

    #[test]
    fn rejects_unknown_payloads() {
        let p = with_multi(|v| {
            v["flows"]["deploys"]["payload"] = json!("json");
            v["routes"]["github"]["payload"] = json!("Envelope");
        });
        assert_eq!(paths(&p), ["flows.deploys.payload", "routes.github.payload"]);
        assert!(p[0].fix.contains("\"envelope\""));
    }

    #[test]
    fn rejects_a_flow_named_like_a_single_flow_route() {
        let p = with_multi(|v| v["flows"]["github"] = json!({"url_binding": "FLOW_URL_OTHER"}));
        assert_eq!(paths(&p), ["flows.github"]);
        assert!(p[0].message.contains("flow_url_binding"), "{}", p[0].message);
        // A route with rules defines no flow: its name is free.
        assert!(Config::from_json(&{
            let mut v = multi();
            v["flows"]["gh"] = json!({"url_binding": "FLOW_URL_GH"});
            v
        })
        .is_ok());
    }

    #[test]
    fn rejects_bad_flow_tables() {
        let p = with_multi(|v| {
            v["flows"]["Bad Name"] = json!({"url_binding": "X"});
            v["flows"]["deploys"]["url"] = json!("FLOW_URL_DEPLOYS");
            v["flows"]["bugs"]["timeout_secs"] = json!(121);
            v["flows"]["everything"]["url_binding"] = json!("https://prod-1.westus.logic.azure.com/workflows/x");
            v["flows"]["unused"].as_object_mut().unwrap().remove("url_binding");
        });
        assert_eq!(
            paths(&p),
            [
                "flows.Bad Name",
                "flows.bugs.timeout_secs",
                "flows.deploys.url",
                "flows.everything.url_binding",
                "flows.unused.url_binding",
            ]
        );
        assert_eq!(
            p[2].fix,
            "remove it or use one of: url_binding, payload, credential, timeout_secs, allow_any_flow_host, max_rate, max_concurrency"
        );
        assert!(p[3].fix.contains("wrangler secret put FLOW_URL_EVERYTHING"), "{}", p[3].fix);
        assert!(!p[3].to_string().contains("logic.azure.com"), "the value is not echoed");
        assert!(p[4].fix.contains("FLOW_URL_UNUSED"));
    }

    #[test]
    fn rejects_unknown_credentials() {
        let p = with_multi(|v| v["flows"]["deploys"]["credential"] = json!("partnr"));
        assert_eq!(paths(&p), ["flows.deploys.credential"]);
        assert_eq!(p[0].message, "unknown credential \"partnr\"");
        assert!(p[0].fix.contains("use one of: partner"), "{}", p[0].fix);
        let p = with_multi(|v| {
            v.as_object_mut().unwrap().remove("credentials");
        });
        assert_eq!(paths(&p), ["flows.bugs.credential"]);
        assert!(p[0].fix.contains("[vars.FLOWGATE.credentials.partner]"), "{}", p[0].fix);
    }

    #[test]
    fn credentials_are_validated_like_entra() {
        let p = with_multi(|v| {
            v["credentials"]["partner"]["tenant"] = json!("common");
            v["credentials"]["partner"]["scope"] = json!("https://service.flow.microsoft.com/.default");
            v["credentials"]["partner"]["client_secret"] = json!("x");
            v["credentials"]["Partner 2"] = v["credentials"]["partner"].clone();
        });
        let mut got = paths(&p);
        got.sort_unstable();
        assert_eq!(
            got,
            [
                "credentials.Partner 2",
                "credentials.Partner 2.client_secret",
                "credentials.Partner 2.scope",
                "credentials.Partner 2.tenant",
                "credentials.partner.client_secret",
                "credentials.partner.scope",
                "credentials.partner.tenant",
            ]
        );
        // A credential with no secret names its own table in the fix.
        let p = with_multi(|v| {
            v["credentials"]["partner"].as_object_mut().unwrap().remove("client_secret_binding");
        });
        assert_eq!(paths(&p), ["credentials.partner.client_secret_binding"]);
        assert!(p[0].fix.contains("[vars.FLOWGATE.credentials.partner.certificate]"), "{}", p[0].fix);
    }

    #[test]
    fn rule_problems_are_reported_with_the_rest() {
        let p = with_multi(|v| {
            v["routes"]["gh"]["rules"][0]["flows"] = json!(["deploy"]);
            v["routes"]["gh"]["rules"][1]["fields"] = json!({"label..name": "bug"});
            v["routes"]["gh"]["default_flow"] = json!("github");
            v["entra"]["tenant"] = json!("common");
        });
        assert_eq!(
            paths(&p),
            [
                "entra.tenant",
                "routes.gh.default_flow",
                "routes.gh.rules[0].flows[0]",
                "routes.gh.rules[1].fields.\"label..name\"",
            ]
        );
        // Rules name flows of the flows table (not single-flow routes).
        assert!(p[1].fix.contains("deploys") && !p[1].fix.contains("github"), "{}", p[1].fix);
        let p = with_multi(|v| {
            v["routes"]["gh"]["rules"] = json!([{"flows": ["deploys"]}, {"event": "push", "flows": ["bugs"]}]);
        });
        assert_eq!(paths(&p), ["routes.gh.rules[1]", "routes.gh.default_flow"]);
        assert!(p[0].message.contains("can never match"), "{}", p[0].message);
    }

    #[test]
    fn rejects_envelope_headers_that_carry_secrets_or_are_malformed() {
        let p = with_multi(|v| v["routes"]["gh"]["envelope_headers"] = json!(["Authorization", "x a", "x-b", "X-B"]));
        assert_eq!(
            paths(&p),
            ["routes.gh.envelope_headers[0]", "routes.gh.envelope_headers[1]", "routes.gh.envelope_headers[3]"]
        );
        // GitLab sends its secret token in a header of its own.
        let p = with(|v| {
            v["routes"]["gitlab"] = json!({
                "provider": "gitlab", "secret_bindings": ["GITLAB_TOKEN"], "flow_url_binding": "FLOW_URL_GITLAB",
                "envelope_headers": ["x-gitlab-event", "X-Gitlab-Token"]
            });
        });
        assert_eq!(paths(&p), ["routes.gitlab.envelope_headers[1]"]);
        assert!(p[0].message.contains("x-gitlab-token carries this route's secret"), "{}", p[0].message);
        // So does a custom token scheme, whatever its header is called.
        let p = with(|v| {
            v["routes"]["acme"] = json!({
                "provider": "custom", "secret_bindings": ["ACME_TOKEN"], "flow_url_binding": "FLOW_URL_ACME",
                "scheme": {"type": "token", "header": "X-Acme-Token"},
                "envelope_headers": ["x-acme-token"]
            });
        });
        assert_eq!(paths(&p), ["routes.acme.envelope_headers[0]"]);
        // The same header name is harmless on a route that signs.
        assert!(Config::from_json(&{
            let mut v = good();
            v["routes"]["github"]["envelope_headers"] = json!(["x-gitlab-token", "x-hub-signature-256"]);
            v
        })
        .is_ok());
    }

    #[test]
    fn rejects_new_settings_of_the_wrong_type() {
        let p = with_multi(|v| {
            v["routes"]["gh"]["rules"] = json!({"event": "push"});
            v["routes"]["gh"]["envelope_headers"] = json!("x-github-hook-id");
            v["routes"]["gh"]["default_flow"] = json!(["everything"]);
            v["routes"]["github"]["payload"] = json!(true);
            v["flows"]["deploys"]["timeout_secs"] = json!("8");
            v["flows"]["bugs"] = json!("FLOW_URL_BUGS");
            v["credentials"]["partner"]["tenant"] = json!(7);
        });
        assert_eq!(
            paths(&p),
            [
                "routes.gh.rules",
                "routes.gh.default_flow",
                "routes.gh.envelope_headers",
                "routes.github.payload",
                "flows.bugs",
                "flows.deploys.timeout_secs",
                "credentials.partner.tenant",
            ]
        );
        assert_eq!(p[0].message, "must be a list of tables");
        assert_eq!(p[0].fix, "write each item as a [[vars.FLOWGATE.routes.gh.rules]] table");
        let p = with_multi(|v| v["routes"]["gh"]["rules"] = json!([{"event": "push", "flows": ["deploys"]}, "bugs"]));
        assert_eq!(paths(&p), ["routes.gh.rules"]);
        let p = with_multi(|v| {
            v["flows"] = json!(["deploys"]);
            v["credentials"] = json!("partner");
        });
        assert_eq!(paths(&p), ["flows", "credentials"]);
    }

    #[test]
    fn unknown_top_level_keys_list_every_section() {
        let p = with(|v| v["flow"] = json!({}));
        assert_eq!(paths(&p), ["flow"]);
        assert_eq!(p[0].fix, "remove it or use one of: entra, routes, flows, credentials, alerts");
        let p = with(|v| v["routes"]["github"]["rule"] = json!([]));
        assert!(p[0].fix.contains("rules, default_flow, envelope_headers"), "{}", p[0].fix);
    }

    #[test]
    fn guid_and_domain_shapes() {
        assert!(is_guid("5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"));
        assert!(!is_guid("5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a8"));
        assert!(is_domain("contoso.onmicrosoft.com"));
        assert!(!is_domain("contoso"));
    }
}
