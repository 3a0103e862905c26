//! End-to-end harness: the emulator (in-process, on a free loopback port) and
//! the real Worker under `wrangler dev` (a child process in its own process
//! group, on free ports, stopped by its pid when the handle drops).
//!
//! Each [`WorkerProcess`] gets its own directory under `target/e2e/` holding a
//! generated `wrangler.toml` (pointing at the prebuilt `build/index.js`, so
//! nothing is rebuilt per test), its `.dev.vars`, its persisted state and its
//! log, which is printed when a start fails.

use std::{
    collections::BTreeMap,
    fs,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
pub use flowgate_emulator::{Emulator, EmulatorConfig, FlowRun, Stats};

/// Demo tenant, app and flows of `EmulatorConfig::demo()`, under short names.
pub mod demo {
    pub use flowgate_emulator::{
        DEMO_CLIENT_ID as CLIENT_ID, DEMO_CLIENT_SECRET as CLIENT_SECRET, DEMO_FLOW_ANY_USER as FLOW_ANY,
        DEMO_FLOW_SPECIFIC_DEMO_APP as FLOW_SPECIFIC_ALLOWED, DEMO_FLOW_SPECIFIC_OTHER as FLOW_SPECIFIC_OTHER,
        DEMO_SP_OBJECT_ID as SP_OBJECT_ID, DEMO_TENANT_DOMAIN as TENANT_DOMAIN, DEMO_TENANT_ID as TENANT_ID,
    };
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A free loopback port (bind to 0, read it back, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// Starts an emulator on a free port.
///
/// # Errors
/// When it cannot start.
pub async fn start_emulator(config: EmulatorConfig) -> anyhow::Result<Emulator> {
    Emulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// How the Worker under test is configured.
#[derive(Clone, Debug)]
pub struct WorkerSetup {
    /// `[vars.FLOWGATE]` as TOML (without the table header lines for routes: full tables).
    pub flowgate_toml: String,
    /// `.dev.vars` entries.
    pub secrets: BTreeMap<String, String>,
    /// Keep KV (and other) state here across restarts.
    pub persist_to: Option<PathBuf>,
    /// The Worker script; `None` is the built flowgate Worker, `build/index.js`
    /// (the load bench also runs a bare pass-through Worker for comparison).
    pub main: Option<PathBuf>,
    /// Durable Object bindings (by name) left out of the generated
    /// wrangler.toml, to test a deployment that forgot one.
    pub omit_bindings: Vec<String>,
}

/// The standard test configuration: routes for every case the tests need,
/// all pointing at `emulator`, with the demo app's client secret.
pub fn standard_setup(emulator: &Emulator) -> WorkerSetup {
    let entra = "client_secret_binding = \"ENTRA_CLIENT_SECRET\"\n";
    let mut setup = setup_with_entra(emulator, entra);
    setup.secrets.insert("ENTRA_CLIENT_SECRET".into(), demo::CLIENT_SECRET.to_owned());
    setup
}

/// The standard routes with `entra_lines` (credential, cloud, ...) added to
/// `[vars.FLOWGATE.entra]`; the credential's secrets are the caller's to add.
/// Routes signed with `GH_SECRET`, `SW_SECRET` or `SENDER_SECRET` share them
/// by choice, so each says `allow_shared_secret = true` (a real deployment
/// gives each route its own secret: README, Security model).
pub fn setup_with_entra(emulator: &Emulator, entra_lines: &str) -> WorkerSetup {
    let flowgate_toml = format!(
        r#"
[vars.FLOWGATE.entra]
authority = "{authority}"
tenant = "{tenant}"
client_id = "{client}"
{entra_lines}
[vars.FLOWGATE.routes.gh]
provider = "github"
secret_bindings = ["GH_SECRET_OLD", "GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.sw]
provider = "standard-webhooks"
secret_bindings = ["SW_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.gh-allowed]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_SPECIFIC_ALLOWED"

[vars.FLOWGATE.routes.gh-denied]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_SPECIFIC_OTHER"

# Nothing to judge: no duplicate suppression and no replay guard, so a
# webhook costs no route-ledger call (the load bench's `gh-nodedupe`).
[vars.FLOWGATE.routes.gh-nodedupe]
provider = "github"
secret_bindings = ["GH_SECRET_OLD", "GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
dedupe = false
replay_guard = false

[vars.FLOWGATE.routes.gh-small]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
max_body_bytes = 1024

[vars.FLOWGATE.routes.gh-unset]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_URL_NOT_SET"
{senders}"#,
        senders = SENDER_ROUTES.replace("@EMULATOR_BASE_URL@", &emulator.base_url()),
        authority = emulator.base_url(),
        tenant = demo::TENANT_DOMAIN,
        client = demo::CLIENT_ID,
    );
    let secrets = [
        ("GH_SECRET_OLD", "previous-github-secret".to_owned()),
        ("GH_SECRET", GITHUB_VECTOR_SECRET.to_owned()),
        ("SW_SECRET", STANDARD_WEBHOOKS_VECTOR_SECRET.to_owned()),
        ("FLOW_ANY", emulator.flow_url(demo::FLOW_ANY)),
        ("FLOW_SPECIFIC_ALLOWED", emulator.flow_url(demo::FLOW_SPECIFIC_ALLOWED)),
        ("FLOW_SPECIFIC_OTHER", emulator.flow_url(demo::FLOW_SPECIFIC_OTHER)),
        ("FLOW_GONE", emulator.flow_url("no-such-flow")),
        ("FLOWGATE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("SENDER_SECRET", SENDER_SECRET.to_owned()),
        ("TWITTER_SECRET", TWITTER_SECRET.to_owned()),
        ("META_VERIFY_TOKEN", META_VERIFY_TOKEN.to_owned()),
        ("DISCORD_PUBLIC_KEY", discord_public_key()),
        ("TELNYX_PUBLIC_KEY", telnyx_public_key()),
        ("PLAID_CLIENT_ID", flowgate_emulator::DEMO_PLAID_CLIENT_ID.to_owned()),
        ("PLAID_SECRET", flowgate_emulator::DEMO_PLAID_SECRET.to_owned()),
        ("PLAID_SECRET_WRONG", "not-the-plaid-secret".to_owned()),
        ("EBAY_CLIENT_ID", flowgate_emulator::DEMO_EBAY_CLIENT_ID.to_owned()),
        ("EBAY_CLIENT_SECRET", flowgate_emulator::DEMO_EBAY_CLIENT_SECRET.to_owned()),
        ("EBAY_VERIFICATION_TOKEN", EBAY_VERIFICATION_TOKEN.to_owned()),
        ("CIRCLE_API_KEY", flowgate_emulator::DEMO_CIRCLE_API_KEY.to_owned()),
        ("TWILIO_SHARED_KEY", TWILIO_SHARED_KEY.to_owned()),
        ("VERIFY_TOKEN", VERIFY_TOKEN.to_owned()),
        ("LINKEDIN_SECRET", LINKEDIN_SECRET.to_owned()),
        ("LINKEDIN_SHARED_SECRET", LINKEDIN_SHARED_SECRET.to_owned()),
        // The same value under a second name: one binding named twice would
        // fail the whole configuration; only the Worker sees two names, one key.
        ("LINKEDIN_SHARED_GH_SECRET", LINKEDIN_SHARED_SECRET.to_owned()),
        ("ADOBE_CLIENT_ID", ADOBE_CLIENT_ID.to_owned()),
        ("ADYEN_HMAC_KEY", ADYEN_HMAC_KEY.to_owned()),
        ("WIX_PUBLIC_KEY", wix_public_key()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    WorkerSetup {
        flowgate_toml: direct_mode(&flowgate_toml) + QUEUE_ROUTES,
        secrets,
        persist_to: None,
        main: None,
        omit_bindings: Vec::new(),
    }
}

/// Queue-mode routes (the default mode): quick retries for the tests.
const QUEUE_ROUTES: &str = r#"
[vars.FLOWGATE.routes.q]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
max_attempts = 4
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.q-many]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
max_attempts = 12
backoff_base_secs = 1
backoff_max_secs = 2
lost_after_secs = 5

[vars.FLOWGATE.routes.q-sw]
provider = "standard-webhooks"
secret_bindings = ["SW_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
max_attempts = 3
backoff_base_secs = 1
backoff_max_secs = 1
max_body_bytes = 8388608

[vars.FLOWGATE.routes.q-gone]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_GONE"
"#;

/// The admin API's bearer token in the test Worker.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// The SharedKey secret the `twilio` route also verifies with (HMAC-SHA256).
pub const TWILIO_SHARED_KEY: &str = "whsk_e2e_shared_key_secret";

/// The signing secret of every route in [`SENDER_ROUTES`] but `twitter`.
pub const SENDER_SECRET: &str = "a-sender-signing-secret";
/// The `twitter` route's own secret: X's CRC answers an HMAC under it of any
/// token, so flowgate refuses CRCs on a route sharing its secret with another.
pub const TWITTER_SECRET: &str = "an-x-consumer-secret";
/// The Discord application's private key the tests sign with (RFC 8032 test 1).
pub const DISCORD_PRIVATE_KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// The public key the `discord` route verifies with.
pub fn discord_public_key() -> String {
    let discord = flowgate_core::verify::find_provider("discord").expect("discord is built in");
    flowgate_emulator::senders::verifying_key(discord, &flowgate_core::Secret::new(DISCORD_PRIVATE_KEY))
        .expect("a valid private key")
        .expect("discord verifies with a public key")
}

/// The Telnyx account's private key the tests sign with (RFC 8032 test 2's
/// seed, in base64 as Telnyx writes its keys; not Discord's: two routes may
/// not hold one key).
pub const TELNYX_PRIVATE_KEY: &str = "TM0Imyj/ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U+4pvs=";

/// The public key the `telnyx` route verifies with.
pub fn telnyx_public_key() -> String {
    let telnyx = flowgate_core::verify::find_provider("telnyx").expect("telnyx is built in");
    flowgate_emulator::senders::verifying_key(telnyx, &flowgate_core::Secret::new(TELNYX_PRIVATE_KEY))
        .expect("a valid private key")
        .expect("telnyx verifies with a public key")
}

/// The P-256 key the emulator's Plaid verification key is made of (signs `plaid` webhooks).
pub const PLAID_PRIVATE_KEY: &str = flowgate_emulator::DEMO_PLAID_PRIVATE_KEY;

/// The P-256 key the emulator's eBay notification key is made of.
pub const EBAY_PRIVATE_KEY: &str = flowgate_emulator::DEMO_EBAY_PRIVATE_KEY;
/// The P-256 key the emulator's Circle notification key is made of.
pub const CIRCLE_PRIVATE_KEY: &str = flowgate_emulator::DEMO_CIRCLE_PRIVATE_KEY;
/// The `ebay` route's endpoint verification token (eBay: 32-80 characters).
pub const EBAY_VERIFICATION_TOKEN: &str = "flowgate-e2e-ebay-verification-token-0123456789";

/// Meta's verify token on the `meta` route.
pub const META_VERIFY_TOKEN: &str = "meta verify token";
/// The verify token of the `strava` and `oura` routes.
pub const VERIFY_TOKEN: &str = "a-verify-token-for-strava-and-oura";
/// The `linkedin` route's own client secret (its validation answer is an
/// HMAC under it of a code anyone chooses: no other route shares it).
pub const LINKEDIN_SECRET: &str = "a-linkedin-client-secret";
/// The key the `linkedin-shared` route shares with the GitHub route `linkedin-shared-gh`.
pub const LINKEDIN_SHARED_SECRET: &str = "a-linkedin-key-held-by-two-routes";
/// The `adyen` route's HMAC key: the key of Adyen's published example.
pub const ADYEN_HMAC_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";

/// The RSA private key the tests sign Wix webhooks with (the `wix` route
/// holds its public key, as a Wix app's Webhooks page shows it).
pub const WIX_PRIVATE_KEY: &str = include_str!("../fixtures/entra-other-key.pem");

/// The public key the `wix` route verifies with (base64 DER SubjectPublicKeyInfo).
pub fn wix_public_key() -> String {
    let wix = flowgate_core::verify::find_provider("wix").expect("wix is built in");
    flowgate_emulator::senders::verifying_key(wix, &flowgate_core::Secret::new(WIX_PRIVATE_KEY))
        .expect("a valid private key")
        .expect("wix verifies with a public key")
}

/// Adobe Acrobat Sign's client id on the `adobesign` route.
pub const ADOBE_CLIENT_ID: &str = "CBJCHBCAABAAflowgateE2eClientId";

/// One route per built-in sender the end-to-end tests exercise (route name =
/// provider name), and a custom scheme written like Stripe's. Plaid's key
/// endpoint is the emulator's (`@EMULATOR_BASE_URL@` is replaced by its base URL);
/// `plaid-wrong` has a Plaid secret the emulator refuses.
const SENDER_ROUTES: &str = r#"
[vars.FLOWGATE.routes.stripe]
provider = "stripe"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.slack]
provider = "slack"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.zoom]
provider = "zoom"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.twitch]
provider = "twitch"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.meta]
provider = "meta"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
verify_token_binding = "META_VERIFY_TOKEN"

[vars.FLOWGATE.routes.dropbox]
provider = "dropbox"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.twitter]
provider = "twitter"
secret_bindings = ["TWITTER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.xero]
provider = "xero"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.square]
provider = "square"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.okta]
provider = "okta"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.msgraph]
provider = "msgraph"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.monday]
provider = "monday"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.discord]
provider = "discord"
secret_bindings = ["DISCORD_PUBLIC_KEY"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.telnyx]
provider = "telnyx"
secret_bindings = ["TELNYX_PUBLIC_KEY"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.asana]
provider = "asana"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.notion]
provider = "notion"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.asana-configured]
provider = "asana"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.plaid]
provider = "plaid"
plaid_client_id_binding = "PLAID_CLIENT_ID"
plaid_secret_binding = "PLAID_SECRET"
plaid_environment = "@EMULATOR_BASE_URL@"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.ebay]
provider = "ebay"
ebay_client_id_binding = "EBAY_CLIENT_ID"
ebay_client_secret_binding = "EBAY_CLIENT_SECRET"
ebay_environment = "@EMULATOR_BASE_URL@"
verify_token_binding = "EBAY_VERIFICATION_TOKEN"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.circle]
provider = "circle"
circle_api_key_binding = "CIRCLE_API_KEY"
circle_environment = "@EMULATOR_BASE_URL@"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.plaid-wrong]
provider = "plaid"
plaid_client_id_binding = "PLAID_CLIENT_ID"
plaid_secret_binding = "PLAID_SECRET_WRONG"
plaid_environment = "@EMULATOR_BASE_URL@"
flow_url_binding = "FLOW_ANY"

# AWS SNS: certificates and SubscribeURLs at the emulator (its origin stands
# in for https://sns.<region>.amazonaws.com), confirmations not confirmed.
[vars.FLOWGATE.routes.sns]
provider = "aws-sns"
sns_emulator_origin = "@EMULATOR_BASE_URL@"
flow_url_binding = "FLOW_ANY"

# AWS SNS, confirming subscriptions of its one topic.
[vars.FLOWGATE.routes.sns-confirm]
provider = "aws-sns"
sns_emulator_origin = "@EMULATOR_BASE_URL@"
sns_confirm_subscriptions = true
sns_topic_arns = ["arn:aws:sns:us-east-1:123456789012:flowgate-demo"]
flow_url_binding = "FLOW_ANY"

# AWS SNS as deployed: only https://sns.<region>.amazonaws.com certificates.
[vars.FLOWGATE.routes.sns-production]
provider = "aws-sns"
flow_url_binding = "FLOW_ANY"

# PayPal: certificates at the emulator, the webhook id `flowgate send paypal` signs for.
[vars.FLOWGATE.routes.paypal]
provider = "paypal"
paypal_webhook_id = "FLOWGATEDEMOWEBHOOK1"
paypal_emulator_origin = "@EMULATOR_BASE_URL@"
flow_url_binding = "FLOW_ANY"

# PayPal, another webhook (its id is not the one signed).
[vars.FLOWGATE.routes.paypal-other]
provider = "paypal"
paypal_webhook_id = "ANOTHERWEBHOOK2"
paypal_emulator_origin = "@EMULATOR_BASE_URL@"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.mailgun]
provider = "mailgun"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

# Mailgun with the 10 MiB global cap instead of its 1 MiB default, so that a
# hostile body reaches the reading of its proof (tests/e2e/attacks_bounded.rs).
[vars.FLOWGATE.routes.mailgun-big]
provider = "mailgun"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
max_body_bytes = 10485760

# The Auth Token and a SharedKey secret (HMAC-SHA256 signatures).
[vars.FLOWGATE.routes.twilio]
provider = "twilio"
secret_bindings = ["SENDER_SECRET", "TWILIO_SHARED_KEY"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

# Issue 15: handshake senders (tests/e2e/handshake_senders.rs).
[vars.FLOWGATE.routes.nylas]
provider = "nylas"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.strava]
provider = "strava"
secret_bindings = ["SENDER_SECRET"]
verify_token_binding = "VERIFY_TOKEN"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.oura]
provider = "oura"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
verify_token_binding = "VERIFY_TOKEN"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.ringcentral]
provider = "ringcentral"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.linkedin]
provider = "linkedin"
secret_bindings = ["LINKEDIN_SECRET"]
flow_url_binding = "FLOW_ANY"

# LinkedIn holding the key of a GitHub route: both are refused (the
# validation answer would sign for the other).
[vars.FLOWGATE.routes.linkedin-shared]
provider = "linkedin"
secret_bindings = ["LINKEDIN_SHARED_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.linkedin-shared-gh]
provider = "github"
secret_bindings = ["LINKEDIN_SHARED_GH_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.mailchimp]
provider = "mailchimp"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.adobesign]
provider = "adobesign"
secret_bindings = ["ADOBE_CLIENT_ID"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.smartsheet]
provider = "smartsheet"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.sharepoint]
provider = "sharepoint"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.clio]
provider = "clio"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.dropboxsign]
provider = "dropboxsign"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.adyen]
provider = "adyen"
secret_bindings = ["ADYEN_HMAC_KEY"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.wix]
provider = "wix"
secret_bindings = ["WIX_PUBLIC_KEY"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.trello]
provider = "trello"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.woocommerce]
provider = "woocommerce"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.pagerduty]
provider = "pagerduty"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.intercom]
provider = "intercom"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.figma]
provider = "figma"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.acme]
provider = "custom"
secret_bindings = ["SENDER_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.acme.scheme]
algorithm = "sha256"
encoding = "hex"
header = "Acme-Signature"
format = "structured"
separator = ","
timestamp_key = "t"
signature_key = "v1"
template = "{timestamp}.{body}"
timestamp = "structured"
tolerance_secs = 300
event = "json:type"
delivery = "json:id"
"#;

/// A test fixture file's text (`tests/fixtures/NAME`).
pub fn fixture(name: &str) -> String {
    fs::read_to_string(repo_root().join("tests/fixtures").join(name)).expect("fixture exists")
}

/// GitHub's published test secret (webhook-providers.md §c).
pub const GITHUB_VECTOR_SECRET: &str = "It's a Secret to Everybody";
/// Standard Webhooks' published test secret (webhook-providers.md §c).
pub const STANDARD_WEBHOOKS_VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The queue, bucket and Durable Object bindings of queue mode, as in the
/// README's deployment guide, with the consumer's batching made quick for
/// tests (Miniflare's own defaults differ, workers-platform.md §1 Queues).
/// Added for the flowgate Worker (`main: None`); the load bench adds them
/// itself to the release builds it runs.
pub const PLATFORM_BINDINGS: &str = r#"
[[queues.producers]]
queue = "flowgate-deliveries"
binding = "DELIVERIES"

[[queues.consumers]]
queue = "flowgate-deliveries"
max_batch_size = 10
max_batch_timeout = 1
max_retries = 100
dead_letter_queue = "flowgate-deliveries-dlq"

[[queues.consumers]]
queue = "flowgate-deliveries-dlq"
max_batch_size = 10
max_batch_timeout = 1

[[r2_buckets]]
binding = "DELIVERY_STORE"
bucket_name = "flowgate-e2e-deliveries"

[[durable_objects.bindings]]
name = "LEDGER"
class_name = "RouteLedger"

[[durable_objects.bindings]]
name = "FLOW_PACER"
class_name = "FlowPacer"

[[durable_objects.bindings]]
name = "ALERT_GATE"
class_name = "AlertGate"

# Every e2e run writes its data points (locally a no-op, but the binding is
# real: a write that threw would fail the webhook tests).
[[analytics_engine_datasets]]
binding = "FLOWGATE_METRICS"
dataset = "flowgate_e2e"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["RouteLedger"]

[[migrations]]
tag = "v2"
new_sqlite_classes = ["FlowPacer"]

[[migrations]]
tag = "v3"
new_sqlite_classes = ["AlertGate"]
"#;

/// [`PLATFORM_BINDINGS`] without the Durable Object bindings named in `omit`.
fn platform_bindings(omit: &[String]) -> String {
    PLATFORM_BINDINGS
        .split("\n\n")
        .filter(|block| !omit.iter().any(|name| block.contains(&format!("name = \"{name}\""))))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Adds `mode = "direct"` to every route table of `toml` that does not set
/// a mode (the tests of verification and tokens read the flow's answer in
/// the sender's response).
pub fn direct_mode(toml: &str) -> String {
    let mut out = String::with_capacity(toml.len() + 1024);
    for line in toml.lines() {
        out.push_str(line);
        out.push('\n');
        let t = line.trim();
        let is_route_table = t.starts_with("[vars.FLOWGATE.routes.") && t.ends_with(']') && t.matches('.').count() == 3;
        if is_route_table {
            out.push_str("mode = \"direct\"\n");
        }
    }
    out
}

/// `wrangler dev` running the built Worker.
pub struct WorkerProcess {
    child: Option<Child>,
    // Held open: when the test process ends for any reason, the pipe closes
    // and the wrapper script stops wrangler (see `WATCHDOG`).
    _stdin: Option<std::process::ChildStdin>,
    port: u16,
    inspector_port: u16,
    dir: PathBuf,
    client: reqwest::Client,
}

/// The start failed because a port was taken between choosing it and binding it.
const PORT_TAKEN: &str = "a chosen port was taken before workerd could bind it";

/// Runs wrangler (`"$@"`) in the background and waits for stdin to close —
/// which happens when the test process exits, even on a panic or when the
/// handle lives in a static — then stops the whole process group.
const WATCHDOG: &str = r#""$@" & read -r _; kill -TERM $! 2>/dev/null; sleep 3; kill -KILL 0"#;

fn wrangler_bin() -> PathBuf {
    repo_root().join("node_modules/.bin/wrangler")
}

impl WorkerProcess {
    /// Writes the configuration and starts `wrangler dev`; returns once
    /// `/healthz` answers.
    ///
    /// # Errors
    /// When the Worker is not built, or does not come up within 90 s (the
    /// error carries the tail of wrangler's log).
    pub async fn start(setup: &WorkerSetup) -> anyhow::Result<Self> {
        Self::start_ready_when(setup, false).await
    }

    /// As [`WorkerProcess::start`], but returns once `/healthz` answers at
    /// all — also 500 `misconfigured`, for a Worker whose configuration is
    /// expected to be refused.
    ///
    /// # Errors
    /// As [`WorkerProcess::start`].
    pub async fn start_even_misconfigured(setup: &WorkerSetup) -> anyhow::Result<Self> {
        Self::start_ready_when(setup, true).await
    }

    async fn start_ready_when(setup: &WorkerSetup, any_health: bool) -> anyhow::Result<Self> {
        // A free port is found by binding port 0 and releasing it; another
        // process can take it before workerd binds it. Then start again on
        // new ports (at most three times).
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(setup, any_health).await {
                Err(e) if attempt < 3 && e.to_string().contains(PORT_TAKEN) => continue,
                result => return result,
            }
        }
    }

    async fn start_once(setup: &WorkerSetup, any_health: bool) -> anyhow::Result<Self> {
        let root = repo_root();
        let bundle = setup.main.clone().unwrap_or_else(|| root.join("build/index.js"));
        if !bundle.exists() {
            bail!("{} is missing: run `make build` (or `make test`) first", bundle.display());
        }
        let dir = root.join("target/e2e").join(uuid::Uuid::new_v4().simple().to_string());
        fs::create_dir_all(&dir)?;
        let wrangler_toml = format!(
            r#"name = "flowgate-e2e"
main = "{main}"
compatibility_date = "2026-04-20"
send_metrics = false

[[kv_namespaces]]
binding = "TOKEN_CACHE"
id = "flowgate-e2e-token-cache"
{platform}
{assets}
{flowgate}"#,
            // Another Worker script (the benchmark's floor) has no queue
            // handler or Durable Object class to bind.
            platform = if setup.main.is_none() { platform_bindings(&setup.omit_bindings) } else { String::new() },
            // The web console's static files, as wrangler.toml serves them.
            assets = if setup.main.is_none() {
                format!(
                    "[assets]\ndirectory = \"{}\"\nbinding = \"ASSETS\"\nrun_worker_first = true\nhtml_handling = \"none\"\n",
                    root.join("console").display()
                )
            } else {
                String::new()
            },
            main = bundle.display(),
            flowgate = setup.flowgate_toml,
        );
        fs::write(dir.join("wrangler.toml"), wrangler_toml)?;
        // Multi-line values (PEM) are written double-quoted with \n, as dotenv reads them.
        let dev_vars: String =
            setup
                .secrets
                .iter()
                .map(|(k, v)| {
                    if v.contains('\n') {
                        format!("{k}=\"{}\"\n", v.replace('\n', "\\n"))
                    } else {
                        format!("{k}={v}\n")
                    }
                })
                .collect();
        fs::write(dir.join(".dev.vars"), dev_vars)?;

        let port = free_port();
        let inspector = free_port();
        let persist = setup.persist_to.clone().unwrap_or_else(|| dir.join("state"));
        let log = fs::File::create(dir.join("wrangler.log"))?;
        let mut cmd = Command::new("sh");
        cmd.current_dir(&dir)
            .args(["-c", WATCHDOG, "sh"])
            .arg(wrangler_bin())
            .args(["dev", "--config", "wrangler.toml", "--ip", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--inspector-port", &inspector.to_string()])
            .arg("--persist-to")
            .arg(&persist)
            .args(["--log-level", "log"])
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_SEND_ERROR_REPORTS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WRANGLER_HIDE_BANNER", "true")
            .env("CI", "true")
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Own process group, so stopping it also stops workerd.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().with_context(|| format!("starting {}", wrangler_bin().display()))?;
        let stdin = child.stdin.take();
        // No idle connections: wrangler's server closes idle keep-alive
        // connections after a few seconds, and a request that races that
        // close fails with "error sending request".
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
        let mut w = WorkerProcess { child: Some(child), _stdin: stdin, port, inspector_port: inspector, dir, client };
        w.wait_ready(any_health).await?;
        Ok(w)
    }

    async fn wait_ready(&mut self, any_health: bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("wrangler dev exited ({status}):\n{}", self.log_tail());
                }
            }
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await {
                if r.status().is_success() || (any_health && r.status().as_u16() == 500) {
                    return Ok(());
                }
            }
            if self.log().contains("Address already in use") {
                bail!("{PORT_TAKEN}:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("wrangler dev did not become ready in 90 s:\n{}", self.log_tail())
    }

    /// The last lines of wrangler's output.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.join("wrangler.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Everything wrangler printed (the Worker's JSON log lines among it).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("wrangler.log")).unwrap_or_default()
    }

    /// Waits up to 5 s for `needle` to appear in wrangler's output (console
    /// lines reach the log shortly after the response).
    pub async fn wait_for_log(&self, needle: &str) -> bool {
        for _ in 0..50 {
            if self.log().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The DevTools inspector port `wrangler dev` was given (`make bench`
    /// takes a CPU profile through it).
    pub fn inspector_port(&self) -> u16 {
        self.inspector_port
    }

    /// The pid of the process wrangler and workerd descend from (`make
    /// bench` sums the CPU time of the workerd processes below it); `None`
    /// once stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// An HTTP client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// POSTs a prepared request to `/hooks/{route}`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn post_hook(&self, route: &str, headers: &[(String, String)], body: Vec<u8>) -> anyhow::Result<Answer> {
        let mut req = self.client.post(self.url(&format!("/hooks/{route}"))).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let request_id = header("x-flowgate-request-id");
        let retry_after = header("retry-after");
        let text = resp.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, request_id, retry_after, json, text })
    }

    /// POSTs `chunks` with `Transfer-Encoding: chunked` (no Content-Length),
    /// over a raw connection; returns the status and the body.
    ///
    /// # Errors
    /// Transport errors or an unparseable answer.
    pub async fn post_chunked(
        &self,
        route: &str,
        headers: &[(String, String)],
        chunks: &[Vec<u8>],
    ) -> anyhow::Result<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut head = format!(
            "POST /hooks/{route} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
            self.port
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        conn.write_all(head.as_bytes()).await?;
        for chunk in chunks {
            conn.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            conn.write_all(chunk).await?;
            conn.write_all(b"\r\n").await?;
        }
        conn.write_all(b"0\r\n\r\n").await?;
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no status line in {text:?}"))?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// Writes `head` (the request line and headers, each line ending in
    /// CRLF, without the blank line; `Host`, `Content-Length` and
    /// `Connection: close` are added) and `body` over a raw connection, so a
    /// header can carry bytes no HTTP client sends (invalid UTF-8). Returns
    /// the status and the body.
    ///
    /// # Errors
    /// Transport errors or an unparseable answer.
    pub async fn send_raw(&self, head: &[u8], body: &[u8]) -> anyhow::Result<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut request = head.to_vec();
        request.extend_from_slice(
            format!("Host: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", self.port, body.len())
                .as_bytes(),
        );
        request.extend_from_slice(body);
        conn.write_all(&request).await?;
        // Read the answer by its framing (Content-Length or chunked): the
        // server may keep the connection open a while after it.
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        let complete = |a: &[u8]| -> Option<usize> {
            let end = a.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
            let head = String::from_utf8_lossy(&a[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()));
            match length {
                Some(n) => (a.len() >= end + n).then_some(end + n),
                None if head.contains("transfer-encoding: chunked") => {
                    a[end..].windows(5).position(|w| w == b"0\r\n\r\n").map(|p| end + p + 5)
                }
                None => None,
            }
        };
        let len = loop {
            if let Some(len) = complete(&answer) {
                break len;
            }
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break answer.len();
            }
            answer.extend_from_slice(&buf[..n]);
        };
        let text = String::from_utf8_lossy(&answer[..len]).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no status line in {text:?}"))?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// Stops wrangler and workerd (SIGTERM to the process group, then SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", "--", &format!("-{pgid}")]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
            let _ = child.wait();
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Worker's answer.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The `x-flowgate-request-id` answer header.
    pub request_id: Option<String>,
    /// The `retry-after` answer header.
    pub retry_after: Option<String>,
    /// Body as JSON (`Null` if not JSON).
    pub json: serde_json::Value,
    /// Body as text.
    pub text: String,
}

/// Polls `check` every 250 ms until it returns `Some`, for at most `secs`.
///
/// # Errors
/// When time runs out (with `what` in the message).
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("not within {secs} s: {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl WorkerProcess {
    /// An admin API request (`Authorization: Bearer ADMIN_TOKEN`); returns
    /// the status and the JSON body (`Null` if none).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)))
    }

    /// Every dead letter's summary (all pages).
    ///
    /// # Errors
    /// Transport errors or a non-200 answer.
    pub async fn dead_letters(&self, route: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/admin/dead-letters?limit=100".to_owned();
            if let Some(r) = route {
                path.push_str(&format!("&route={r}"));
            }
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = self.admin(reqwest::Method::GET, &path, None).await?;
            if status != 200 {
                bail!("listing dead letters: {status} {page}");
            }
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(items),
            }
        }
    }
}

/// Current Unix time in seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

/// The runs the emulator recorded with `x-flowgate-delivery` = `delivery`.
pub fn runs_for(emulator: &Emulator, delivery: &str) -> Vec<FlowRun> {
    emulator
        .runs()
        .into_iter()
        .filter(|r| r.headers.get("x-flowgate-delivery").map(String::as_str) == Some(delivery))
        .collect()
}

/// The attack suite's Worker (issue #11 item 9, `tests/e2e/attacks.rs`):
/// one route per built-in sender, each with its own secret in the form its
/// scheme needs, and the routes the attacks on handshakes, replays and the
/// admin API need.
pub mod attack {
    use std::collections::BTreeMap;

    use base64::{engine::general_purpose::STANDARD, Engine as _};
    use flowgate_core::{
        verify::{providers, scheme::SecretEncoding, Provider, Scheme},
        Secret,
    };
    use sha2::{Digest as _, Sha256};

    use super::{demo, direct_mode, Emulator, WorkerSetup, ADMIN_TOKEN};

    /// How a sender's secret is written (what `flowgate send` signs with).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SecretForm {
        /// Used as typed (most HMAC senders, tokens).
        Raw,
        /// `whsec_` + base64 (Standard Webhooks, Svix).
        Whsec,
        /// Base64 of the key (Airtable).
        Base64,
        /// Hex of the key.
        Hex,
        /// `user:password` (Basic senders).
        Basic,
        /// 64 characters (Contentful).
        Contentful,
        /// An Ed25519 seed, 64 hex digits; the route holds the public key (Discord).
        Ed25519,
        /// An Ed25519 seed, base64; the route holds the public key (Telnyx).
        Ed25519Base64,
        /// A P-256 scalar, 64 hex digits; the route holds the public key (SendGrid).
        P256,
    }

    /// The form of `p`'s secret.
    pub fn secret_form(p: &Provider) -> SecretForm {
        match p.scheme() {
            Scheme::StandardWebhooks => SecretForm::Whsec,
            Scheme::Hmac(h) => match h.secret {
                SecretEncoding::Raw => SecretForm::Raw,
                SecretEncoding::Base64 => SecretForm::Base64,
                SecretEncoding::Hex => SecretForm::Hex,
                SecretEncoding::Whsec => SecretForm::Whsec,
            },
            Scheme::BasicAuth(_) => SecretForm::Basic,
            Scheme::Contentful => SecretForm::Contentful,
            Scheme::Discord => SecretForm::Ed25519,
            Scheme::Telnyx => SecretForm::Ed25519Base64,
            Scheme::SendGrid | Scheme::Plaid | Scheme::Ebay | Scheme::Circle => SecretForm::P256,
            Scheme::Adyen => SecretForm::Hex,
            _ => SecretForm::Raw,
        }
    }

    /// A signing secret in `form` made of `material` (the same material
    /// always gives the same secret).
    pub fn secret_in_form(form: SecretForm, material: &str) -> String {
        match form {
            SecretForm::Raw => material.to_owned(),
            SecretForm::Whsec => format!("whsec_{}", STANDARD.encode(material)),
            SecretForm::Base64 => STANDARD.encode(material),
            SecretForm::Hex => hex::encode(material),
            SecretForm::Basic => format!("{material}:pw-{}", material.len()),
            SecretForm::Contentful => {
                let mut s: String = material.chars().take(64).collect();
                while s.len() < 64 {
                    s.push('0');
                }
                s
            }
            SecretForm::Ed25519 | SecretForm::P256 => hex::encode(Sha256::digest(material.as_bytes())),
            SecretForm::Ed25519Base64 => STANDARD.encode(Sha256::digest(material.as_bytes())),
        }
    }

    /// The material of route `p-<name>`'s secret.
    fn material(name: &str) -> String {
        format!("atk-{name}-secret")
    }

    /// Every built-in sender in the suite's matrix: all but Plaid (its keys
    /// come from the emulator's key endpoint, not from a route secret).
    pub fn matrix_providers() -> Vec<&'static Provider> {
        // Plaid's keys and SNS's certificates are fetched, and Fireblocks'
        // and Wix's keys are RSA: none of them is a secret made from `material`;
        // eBay's and Circle's keys are fetched by id too (`fetched_keys.rs`), PayPal's certificate by URL.
        providers()
            .iter()
            .filter(|p| !["plaid", "aws-sns", "fireblocks", "wix", "ebay", "circle", "paypal"].contains(&p.name))
            .collect()
    }

    /// The route of sender `p`: `/hooks/p-<name>`.
    pub fn route_of(p: &Provider) -> String {
        format!("p-{}", p.name)
    }

    fn binding_of(name: &str) -> String {
        format!("ATK_{}", name.to_ascii_uppercase().replace('-', "_"))
    }

    /// What a sender of `p` signs with on its route.
    pub fn signing_secret(p: &Provider) -> Secret {
        Secret::new(secret_in_form(secret_form(p), &material(p.name)))
    }

    /// What `p`'s route verifies with (the public key for Discord and SendGrid).
    pub fn route_secret(p: &Provider) -> Secret {
        let signing = signing_secret(p);
        match flowgate_emulator::senders::verifying_key(p, &signing).expect("a key in the sender's form") {
            Some(public) => Secret::new(public),
            None => signing,
        }
    }

    /// Another route's secret, written in `p`'s form: the next sender in the
    /// matrix's secret (exactly that route's secret when both forms agree).
    pub fn other_routes_secret(p: &Provider) -> Secret {
        let all = matrix_providers();
        let at = all.iter().position(|q| q.name == p.name).expect("in the matrix");
        let same_form = (1..all.len()).map(|k| all[(at + k) % all.len()]).find(|q| secret_form(q) == secret_form(p));
        let q = same_form.unwrap_or(all[(at + 1) % all.len()]);
        Secret::new(secret_in_form(secret_form(p), &material(q.name)))
    }

    /// The shared secret of `x-shared-a` (Twitter) and `x-shared-b` (GitHub).
    pub const X_SHARED_SECRET: &str = "atk-x-shared-consumer-secret";
    /// The secret of the `ho-asana-bound` route (Asana with `secret_bindings`).
    pub const ASANA_BOUND_SECRET: &str = "atk-asana-bound-configured-secret";
    /// The secret of the `ho-notion-bound` route (Notion with `secret_bindings`).
    pub const NOTION_BOUND_SECRET: &str = "atk-notion-bound-configured-secret";
    /// The X route `x-enc-a`'s consumer secret; `x-enc-b` (Airtable) holds
    /// the same key written in base64, as Airtable's secrets are.
    pub const X_ENCODED_KEY: &str = "atk-x-encoded-consumer-key";
    /// The secret the two GitHub routes `gh-twin-a` and `gh-twin-b` share.
    pub const TWIN_SECRET: &str = "atk-gh-twin-shared-secret";
    /// The secret of the `atk-routed` route (GitHub, routed by event).
    pub const ROUTED_SECRET: &str = "atk-routed-github-secret";
    /// The secret of the `atk-q-gone` route (queue mode, its flow is gone).
    pub const Q_GONE_SECRET: &str = "atk-q-gone-github-secret";
    /// Meta's verify token on `p-meta`.
    pub const META_VERIFY: &str = "atk-meta-verify-token";
    /// Routes of senders that hand over their secret, without `secret_bindings`.
    pub const HANDED_OVER_ROUTES: [(&str, &str); 7] = [
        ("ho-asana-plant", "asana"),
        ("ho-asana-admin", "asana"),
        ("ho-asana-replace", "asana"),
        ("ho-asana-race", "asana"),
        ("ho-notion-plant", "notion"),
        ("ho-notion-blank", "notion"),
        ("ho-notion-race", "notion"),
    ];

    /// Every secret the suite's Worker is configured with (signing and
    /// verifying forms), to check that none reaches its log.
    pub fn configured_secrets() -> Vec<String> {
        let mut all: Vec<String> = matrix_providers()
            .into_iter()
            .flat_map(|p| [signing_secret(p).expose().to_owned(), route_secret(p).expose().to_owned()])
            .collect();
        all.extend(
            [
                X_SHARED_SECRET,
                X_ENCODED_KEY,
                TWIN_SECRET,
                ASANA_BOUND_SECRET,
                NOTION_BOUND_SECRET,
                ROUTED_SECRET,
                Q_GONE_SECRET,
                META_VERIFY,
                ADMIN_TOKEN,
            ]
            .map(str::to_owned),
        );
        all.push(STANDARD.encode(X_ENCODED_KEY));
        all
    }

    /// The suite's configuration: a route per sender (`p-<name>`, direct
    /// mode, dedupe on: the defaults), two routes sharing a secret (an X
    /// route and a GitHub route), an X route and an Airtable route holding
    /// one key in two encodings, two GitHub routes sharing a secret with
    /// different flows, routes for the handshake attacks, a GitHub
    /// route whose rules send pushes and issues to different flows, and a
    /// queue-mode route whose flow is gone (it makes dead letters).
    pub fn setup(emulator: &Emulator) -> WorkerSetup {
        let mut toml = format!(
            r#"
[vars.FLOWGATE.entra]
authority = "{authority}"
tenant = "{tenant}"
client_id = "{client}"
client_secret_binding = "ENTRA_CLIENT_SECRET"

[vars.FLOWGATE.flows.atk-a]
url_binding = "FLOW_ANY"

[vars.FLOWGATE.flows.atk-b]
url_binding = "FLOW_SPECIFIC_ALLOWED"
"#,
            authority = emulator.base_url(),
            tenant = demo::TENANT_DOMAIN,
            client = demo::CLIENT_ID,
        );
        let mut secrets: BTreeMap<String, String> = [
            ("ENTRA_CLIENT_SECRET", demo::CLIENT_SECRET.to_owned()),
            ("FLOW_ANY", emulator.flow_url(demo::FLOW_ANY)),
            ("FLOW_SPECIFIC_ALLOWED", emulator.flow_url(demo::FLOW_SPECIFIC_ALLOWED)),
            ("FLOW_GONE", emulator.flow_url("no-such-flow")),
            ("FLOWGATE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ("ATK_META_VERIFY", META_VERIFY.to_owned()),
            ("ATK_X_SHARED", X_SHARED_SECRET.to_owned()),
            // The same value under a second name: `flowgate check` sees one
            // binding named twice; only the Worker sees two names holding one key.
            ("ATK_X_SHARED_TWIN", X_SHARED_SECRET.to_owned()),
            ("ATK_X_ENCODED_RAW", X_ENCODED_KEY.to_owned()),
            ("ATK_X_ENCODED_B64", STANDARD.encode(X_ENCODED_KEY)),
            ("ATK_GH_TWIN", TWIN_SECRET.to_owned()),
            ("ATK_GH_TWIN_B", TWIN_SECRET.to_owned()),
            ("ATK_ASANA_BOUND", ASANA_BOUND_SECRET.to_owned()),
            ("ATK_NOTION_BOUND", NOTION_BOUND_SECRET.to_owned()),
            ("ATK_ROUTED", ROUTED_SECRET.to_owned()),
            ("ATK_Q_GONE", Q_GONE_SECRET.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for p in matrix_providers() {
            let binding = binding_of(p.name);
            toml.push_str(&format!(
                "\n[vars.FLOWGATE.routes.{route}]\nprovider = \"{name}\"\nsecret_bindings = [\"{binding}\"]\nflow_url_binding = \"FLOW_ANY\"\n",
                route = route_of(p),
                name = p.name,
            ));
            if flowgate_core::verify::handshake::needs_verify_token(p.name) {
                toml.push_str("verify_token_binding = \"ATK_META_VERIFY\"\n");
            }
            secrets.insert(binding, route_secret(p).expose().to_owned());
        }
        for (route, provider) in HANDED_OVER_ROUTES {
            toml.push_str(&format!(
                "\n[vars.FLOWGATE.routes.{route}]\nprovider = \"{provider}\"\nflow_url_binding = \"FLOW_ANY\"\n"
            ));
        }
        toml.push_str(
            r#"
[vars.FLOWGATE.routes.ho-asana-bound]
provider = "asana"
secret_bindings = ["ATK_ASANA_BOUND"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.ho-notion-bound]
provider = "notion"
secret_bindings = ["ATK_NOTION_BOUND"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.x-shared-a]
provider = "twitter"
secret_bindings = ["ATK_X_SHARED"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.x-shared-b]
provider = "github"
secret_bindings = ["ATK_X_SHARED_TWIN"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.x-enc-a]
provider = "twitter"
secret_bindings = ["ATK_X_ENCODED_RAW"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.x-enc-b]
provider = "airtable"
secret_bindings = ["ATK_X_ENCODED_B64"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.gh-twin-a]
provider = "github"
secret_bindings = ["ATK_GH_TWIN"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.gh-twin-b]
provider = "github"
secret_bindings = ["ATK_GH_TWIN_B"]
flow_url_binding = "FLOW_SPECIFIC_ALLOWED"

[vars.FLOWGATE.routes.atk-routed]
provider = "github"
secret_bindings = ["ATK_ROUTED"]

[[vars.FLOWGATE.routes.atk-routed.rules]]
name = "pushes"
event = "push"
flows = ["atk-a"]

[[vars.FLOWGATE.routes.atk-routed.rules]]
name = "bugs"
event = "issues"
fields = { action = "labeled", "label.name" = "bug" }
flows = ["atk-b"]
"#,
        );
        let toml = direct_mode(&toml)
            + r#"
[vars.FLOWGATE.routes.atk-q-gone]
provider = "github"
secret_bindings = ["ATK_Q_GONE"]
flow_url_binding = "FLOW_GONE"
max_attempts = 1
"#;
        WorkerSetup { flowgate_toml: toml, secrets, persist_to: None, main: None, omit_bindings: Vec::new() }
    }

    /// The secret of the length-extension Worker's one route.
    pub const PREFIX_HASH_SECRET: &str = "atk-prefix-hash-secret-42";

    /// A Worker with one custom route, `lx`, signed with the prefix hash
    /// SHA-256(secret ‖ body), which length extension forges.
    pub fn prefix_hash_setup(emulator: &Emulator) -> WorkerSetup {
        let toml = format!(
            r#"
[vars.FLOWGATE.entra]
authority = "{authority}"
tenant = "{tenant}"
client_id = "{client}"
client_secret_binding = "ENTRA_CLIENT_SECRET"

[vars.FLOWGATE.routes.lx]
provider = "custom"
secret_bindings = ["LX_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.lx.scheme]
algorithm = "sha256-secret-prefix"
encoding = "hex"
header = "X-Lx-Signature"
"#,
            authority = emulator.base_url(),
            tenant = demo::TENANT_DOMAIN,
            client = demo::CLIENT_ID,
        );
        let secrets = [
            ("ENTRA_CLIENT_SECRET", demo::CLIENT_SECRET.to_owned()),
            ("FLOW_ANY", emulator.flow_url(demo::FLOW_ANY)),
            ("LX_SECRET", PREFIX_HASH_SECRET.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        WorkerSetup {
            flowgate_toml: direct_mode(&toml),
            secrets,
            persist_to: None,
            main: None,
            omit_bindings: Vec::new(),
        }
    }
}
