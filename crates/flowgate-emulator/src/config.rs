//! The emulator's configuration: which tenants, app registrations (with their
//! secrets and certificates) and flows (in which cloud) exist, how long tokens
//! live, and which status a policy mismatch returns.
//!
//! The TOML form is documented on [`EmulatorConfig`]; [`EmulatorConfig::demo`]
//! is the built-in configuration used when no file is given.

use std::{collections::HashSet, fmt, path::Path};

use anyhow::{bail, Context};
pub use flowgate_core::config::Cloud;
use serde::{Deserialize, Serialize};

use crate::assertion::RegisteredCertificate;

/// `aud` that a public-cloud flow trigger requires, trailing slash included
/// (entra-power-automate.md §1.2: "Audience values must be an exact match,
/// including trailing slashes").
pub const PUBLIC_CLOUD_FLOW_AUDIENCE: &str = "https://service.flow.microsoft.com/";

/// Demo tenant GUID.
pub const DEMO_TENANT_ID: &str = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50";
/// Demo tenant's domain name (usable in place of the GUID in token URLs).
pub const DEMO_TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Demo app registration's Application (client) ID.
pub const DEMO_CLIENT_ID: &str = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81";
/// Demo app's client secret. It is a published test value, not a secret.
pub const DEMO_CLIENT_SECRET: &str = "flowgate-demo-client-secret";
/// Object ID of the demo app's service principal (Enterprise application);
/// this, not the client ID, is what appears in `oid` (§1.5).
pub const DEMO_SP_OBJECT_ID: &str = "0c9e2d4a-6b8f-4a1c-8e3d-2f5a7b9c1d3e";
/// Demo flow that any caller from the demo tenant may trigger.
pub const DEMO_FLOW_ANY_USER: &str = "6d1e0f8b3a2c4b5d9e7f1a2b3c4d5e6f";
/// Demo flow restricted to the demo app's service principal.
pub const DEMO_FLOW_SPECIFIC_DEMO_APP: &str = "a3b4c5d6e7f80912a3b4c5d6e7f80912";
/// Demo flow restricted to an object ID that is *not* the demo app.
pub const DEMO_FLOW_SPECIFIC_OTHER: &str = "ffee0000111122223333444455556666";
/// The object ID allowed on [`DEMO_FLOW_SPECIFIC_OTHER`].
pub const DEMO_OTHER_OBJECT_ID: &str = "11111111-2222-3333-4444-555555555555";
/// Demo flow in the GCC cloud (any user in the demo tenant).
pub const DEMO_FLOW_GCC: &str = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d01";
/// Demo flow in the GCC High cloud (any user in the demo tenant).
pub const DEMO_FLOW_GCC_HIGH: &str = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d02";
/// Demo flow in the DoD cloud (any user in the demo tenant).
pub const DEMO_FLOW_DOD: &str = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d03";
/// Demo flow in the China (21Vianet) cloud (any user in the demo tenant).
pub const DEMO_FLOW_CHINA: &str = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d04";
/// The certificate registered on the demo app (`tests/fixtures/entra-test-cert.pem`;
/// its PKCS#8 key is `tests/fixtures/entra-test-key.pem`). A published test
/// certificate that protects nothing.
pub const DEMO_CERT_PEM: &str = include_str!("../../../tests/fixtures/entra-test-cert.pem");
/// The Plaid API `client_id` the emulated `/webhook_verification_key/get` accepts.
pub const DEMO_PLAID_CLIENT_ID: &str = "plaid-demo-client-id";
/// The Plaid API `secret` it accepts. A published test value, not a secret.
pub const DEMO_PLAID_SECRET: &str = "plaid-demo-secret";
/// The eBay App ID (client_id) the emulated OAuth token endpoint accepts.
pub const DEMO_EBAY_CLIENT_ID: &str = "flowgate-demo-PRD-0123456789-abcdef01";
/// The eBay Cert ID (client_secret) it accepts. A published test value.
pub const DEMO_EBAY_CLIENT_SECRET: &str = "PRD-demo0123456-cert-flowgate";
/// The P-256 private scalar of the emulated eBay notification key (`flowgate
/// send ebay --secret` this): RFC 6979 §A.2.5's `k` for "sample", public.
pub const DEMO_EBAY_PRIVATE_KEY: &str = "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60";
/// The Circle API key the emulated key endpoint accepts (Circle's shape,
/// `TEST_API_KEY:<id>:<secret>`). A published test value.
pub const DEMO_CIRCLE_API_KEY: &str = "TEST_API_KEY:flowgate0demo:0123456789abcdef0123456789abcdef";
/// The P-256 private scalar of the emulated Circle notification key (`flowgate
/// send circle --secret` this): a fixed test scalar, public.
pub const DEMO_CIRCLE_PRIVATE_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe";
/// The P-256 private key of the emulated Plaid verification key: RFC 6979
/// §A.2.5's published test key (`flowgate send plaid --secret` this).
pub const DEMO_PLAID_PRIVATE_KEY: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

/// The cloud a flow lives in is flowgate-core's [`Cloud`] (one table of
/// names, audiences and authority hosts for the Worker and the emulator),
/// spelled in TOML as [`Cloud::name`] gives it (`public`, `gcc`, `gcc-high`,
/// `dod`, `china`).
mod cloud_name {
    use flowgate_core::config::Cloud;
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cloud, D::Error> {
        let name = String::deserialize(d)?;
        Cloud::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = Cloud::ALL.iter().map(|c| c.name()).collect();
            serde::de::Error::custom(format!("unknown cloud {name:?}; one of {}", names.join(", ")))
        })
    }

    pub(super) fn public() -> Cloud {
        Cloud::Public
    }
}

/// Whether a flow is on ("Turn on" / "Turn off" in Power Automate), and
/// what its trigger answers when it is not (entra-power-automate.md §4 and
/// field reports; see `flow.rs`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FlowState {
    /// On: the trigger runs the flow.
    #[default]
    Enabled,
    /// Turned off by its owner: 400 `WorkflowTriggerIsNotEnabled`.
    Disabled,
    /// Turned off by the service (a DLP policy, or 14 days of constant
    /// throttling, §4): 400 `WorkflowTriggerIsNotEnabled`, state 'Suspended'.
    Suspended,
    /// Deleted: 404 `WorkflowNotFound`, as for an id never known.
    Deleted,
}

impl FlowState {
    /// The TOML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }
}

/// The flow's performance profile, which sets its invoke limit (§4
/// "Throughput for the runtime endpoint": 4,500 invoke calls per 5 minutes
/// with the Low profile, 45,000 with every other).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PerformanceProfile {
    /// Low (e.g. a flow of a user with a seeded license): 4,500 per 5 min.
    Low,
    /// Medium: 45,000 per 5 min.
    #[default]
    Medium,
    /// High: 45,000 per 5 min.
    High,
}

impl PerformanceProfile {
    /// Invoke calls allowed per 5 minutes (§4).
    pub fn invoke_limit_per_5_min(self) -> u64 {
        match self {
            Self::Low => 4_500,
            Self::Medium | Self::High => 45_000,
        }
    }
}

/// The window of the invoke limit (§4: "per 5 min").
pub const INVOKE_WINDOW_SECS: u64 = 300;

/// Compiles a Request Body JSON Schema given as JSON text.
///
/// # Errors
/// Not JSON, or not a schema the validator understands.
pub(crate) fn compile_schema(text: &str) -> Result<crate::state::FlowSchema, String> {
    let schema: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("request_schema is not JSON ({e})"))?;
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| format!("request_schema is not a JSON Schema ({e})"))?;
    Ok(crate::state::FlowSchema { schema, validator })
}

/// Everything the emulator knows about its fake directory and flows.
///
/// TOML form (every top-level key except the lists has a default; this is
/// the demo configuration, [`EmulatorConfig::demo`]):
///
/// ```toml
/// # Seconds a token lives; `expires_in`/`ext_expires_in` and `exp - iat`.
/// token_lifetime_secs = 3599
/// # Status for MisMatchingOAuthClaims (real reports show 401 or 403).
/// mismatch_status = 401
/// # The audience `public` flows demand, exactly; the other clouds' audiences
/// # are fixed (§1.2, see `Cloud`).
/// flow_audience = "https://service.flow.microsoft.com/"
/// # Refuse a client assertion whose jti was used before (Entra does not).
/// # reject_reused_assertions = false
///
/// [[tenants]]
/// id = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// domains = ["contoso.onmicrosoft.com"]
///
/// [[apps]]
/// tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
/// client_secrets = ["flowgate-demo-client-secret"]   # several = rotation
/// # PEM X.509 certificates for client assertions (§3); the demo registers
/// # tests/fixtures/entra-test-cert.pem.
/// certificates = ["""<tests/fixtures/entra-test-cert.pem>"""]
/// service_principal_object_id = "0c9e2d4a-6b8f-4a1c-8e3d-2f5a7b9c1d3e"
/// display_name = "flowgate-demo"
///
/// [[flows]]
/// id = "6d1e0f8b3a2c4b5d9e7f1a2b3c4d5e6f"
/// tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// who_can_trigger = "any-user-in-tenant"
///
/// [[flows]]
/// id = "a3b4c5d6e7f80912a3b4c5d6e7f80912"
/// tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// who_can_trigger = "specific-users"
/// allowed_object_ids = ["0c9e2d4a-6b8f-4a1c-8e3d-2f5a7b9c1d3e"]
///
/// [[flows]]
/// id = "ffee0000111122223333444455556666"
/// tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// who_can_trigger = "specific-users"
/// allowed_object_ids = ["11111111-2222-3333-4444-555555555555"]
///
/// # Further per-flow settings (defaults shown; the demo's flows use them):
/// # state = "enabled"                # "disabled" / "suspended": 400 WorkflowTriggerIsNotEnabled; "deleted": 404
/// # request_schema = '{"type":"object"}'   # or request_schema_file = "schema.json" (e.g. `flowgate schema <route>`)
/// # performance_profile = "medium"   # "low": 4,500 invoke calls per 5 min; "medium"/"high": 45,000
/// # invoke_limit = 45000             # per invoke_window_secs, instead of the profile's
/// # invoke_window_secs = 300
///
/// # One any-user flow per sovereign cloud; `cloud` defaults to "public".
/// [[flows]]
/// id = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d01"
/// tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// cloud = "gcc"
///
/// [[flows]]
/// id = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d02"
/// tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// cloud = "gcc-high"
///
/// [[flows]]
/// id = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d03"
/// tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// cloud = "dod"
///
/// [[flows]]
/// id = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d04"
/// tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
/// cloud = "china"
///
/// # Plaid's POST /webhook_verification_key/get: the API credentials it
/// # accepts and the one P-256 key it serves (public test material).
/// [plaid]
/// client_id = "plaid-demo-client-id"
/// secret = "plaid-demo-secret"
/// kid = "flowgate-test-plaid-kid"
/// private_key = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
/// # expired_at = 1700000000   # serve the key as retired at this Unix time
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Token lifetime in seconds (Entra's usual answer is 3599).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    /// HTTP status of a `MisMatchingOAuthClaims` answer (default 401).
    #[serde(default = "default_mismatch_status")]
    pub mismatch_status: u16,
    /// The public cloud's flow-service resource: the exact `aud` every
    /// `cloud = "public"` flow demands. The token endpoint knows this resource
    /// and the four sovereign ones of [`Cloud::flow_audience`].
    #[serde(default = "default_flow_audience")]
    pub flow_audience: String,
    /// Directories (tenants).
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// App registrations that may use client credentials.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
    /// HTTP-triggered flows.
    #[serde(default)]
    pub flows: Vec<FlowConfig>,
    /// Plaid's webhook verification key endpoint.
    #[serde(default)]
    pub plaid: PlaidConfig,
    /// Refuse a client assertion whose `jti` was used before (AADSTS50012).
    /// Off by default: Entra is not known to refuse it, and MSAL reuses one
    /// assertion for up to 9 minutes (`assertion.rs`).
    #[serde(default)]
    pub reject_reused_assertions: bool,
}

/// What the emulated Plaid `/webhook_verification_key/get` accepts and serves.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PlaidConfig {
    /// The API `client_id` it accepts.
    pub client_id: String,
    /// The API `secret` it accepts.
    pub secret: String,
    /// The one key id it knows.
    #[serde(default = "default_plaid_kid")]
    pub kid: String,
    /// The key's P-256 private scalar (64 hex digits) or base64 PKCS#8 DER:
    /// tests sign webhooks with it; the endpoint serves its public JWK.
    pub private_key: String,
    /// Serve the key with this `expired_at` (Unix seconds); `null` when absent.
    #[serde(default)]
    pub expired_at: Option<u64>,
}

impl Default for PlaidConfig {
    fn default() -> Self {
        Self {
            client_id: DEMO_PLAID_CLIENT_ID.to_owned(),
            secret: DEMO_PLAID_SECRET.to_owned(),
            kid: default_plaid_kid(),
            private_key: DEMO_PLAID_PRIVATE_KEY.to_owned(),
            expired_at: None,
        }
    }
}

// Hand-written so that the secret and the private key never reach a log.
impl fmt::Debug for PlaidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaidConfig")
            .field("client_id", &self.client_id)
            .field("secret", &"<redacted>")
            .field("kid", &self.kid)
            .field("private_key", &"<redacted>")
            .field("expired_at", &self.expired_at)
            .finish()
    }
}

fn default_plaid_kid() -> String {
    flowgate_core::verify::plaid::TEST_KID.to_owned()
}

/// One Entra tenant (directory).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant GUID (`tid`).
    pub id: String,
    /// Domain names that may stand for the GUID in `/{tenant}/...` URLs.
    #[serde(default)]
    pub domains: Vec<String>,
}

/// One app registration together with its service principal.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Tenant GUID the app lives in.
    pub tenant: String,
    /// Application (client) ID; appears in the token as `appid`.
    pub client_id: String,
    /// Valid client secrets; more than one models rotation. May be empty when
    /// the app has certificates.
    #[serde(default)]
    pub client_secrets: Vec<String>,
    /// PEM X.509 certificates (RSA keys) whose private keys may sign client
    /// assertions (§3). Public material, shown in `Debug`.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Object ID of the Enterprise application (service principal); appears
    /// in the token as `oid` and `sub`.
    pub service_principal_object_id: String,
    /// Human-readable name, for the banner only.
    #[serde(default)]
    pub display_name: String,
}

// Hand-written so that secrets never reach a log or panic message.
impl fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppConfig")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("client_secrets", &format_args!("[{} redacted]", self.client_secrets.len()))
            .field("certificates", &format_args!("[{} PEM]", self.certificates.len()))
            .field("service_principal_object_id", &self.service_principal_object_id)
            .field("display_name", &self.display_name)
            .finish()
    }
}

/// "Who can trigger the flow" (entra-power-automate.md §1.5). The legacy
/// "Anyone" (SAS) mode is not emulated.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WhoCanTrigger {
    /// Any caller whose token comes from the flow's tenant (the default).
    #[default]
    AnyUserInTenant,
    /// Only callers whose `oid` is in `allowed_object_ids` (a blank list
    /// behaves like `AnyUserInTenant`).
    SpecificUsers,
}

impl WhoCanTrigger {
    /// The TOML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnyUserInTenant => "any-user-in-tenant",
            Self::SpecificUsers => "specific-users",
        }
    }
}

/// One HTTP-triggered flow.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Workflow ID as it appears in the trigger URL.
    pub id: String,
    /// Tenant GUID of the flow's maker; the token's `tid` must equal it.
    pub tenant: String,
    /// Trigger policy.
    #[serde(default)]
    pub who_can_trigger: WhoCanTrigger,
    /// Object IDs allowed in `specific-users` mode.
    #[serde(default)]
    pub allowed_object_ids: Vec<String>,
    /// The cloud the flow lives in; its trigger demands exactly that cloud's
    /// audience (§1.2).
    #[serde(default = "cloud_name::public", with = "cloud_name")]
    pub cloud: Cloud,
    /// On, off, suspended or deleted (what the trigger answers then: `flow.rs`).
    #[serde(default)]
    pub state: FlowState,
    /// The trigger's *Request Body JSON Schema* as JSON text (e.g. what
    /// `flowgate schema <route>` prints), checked as Power Automate does with
    /// the trigger's *Schema Validation* setting on: a body that does not
    /// match gets 400 `TriggerInputSchemaMismatch`. In a TOML file,
    /// `request_schema_file = "PATH"` (relative to the file) reads it from a file.
    #[serde(default)]
    pub request_schema: Option<String>,
    /// A file holding `request_schema` (TOML files only, read by
    /// [`EmulatorConfig::from_toml_file`]).
    #[serde(default)]
    pub request_schema_file: Option<String>,
    /// The performance profile, which sets the invoke limit.
    #[serde(default)]
    pub performance_profile: PerformanceProfile,
    /// Invoke calls allowed per window, instead of the profile's (tests use
    /// a small one).
    #[serde(default)]
    pub invoke_limit: Option<u64>,
    /// The window of the invoke limit, seconds (default 300, §4's 5 minutes).
    #[serde(default)]
    pub invoke_window_secs: Option<u64>,
}

impl FlowConfig {
    /// A flow with the defaults: on, no schema, the Medium profile.
    pub fn new(id: impl Into<String>, tenant: impl Into<String>, cloud: Cloud, who: WhoCanTrigger) -> Self {
        Self {
            id: id.into(),
            tenant: tenant.into(),
            who_can_trigger: who,
            allowed_object_ids: Vec::new(),
            cloud,
            state: FlowState::Enabled,
            request_schema: None,
            request_schema_file: None,
            performance_profile: PerformanceProfile::default(),
            invoke_limit: None,
            invoke_window_secs: None,
        }
    }

    /// Invoke calls allowed per [`Self::invoke_window_secs`].
    pub fn invoke_limit(&self) -> u64 {
        self.invoke_limit.unwrap_or_else(|| self.performance_profile.invoke_limit_per_5_min())
    }

    /// The invoke limit's window, seconds.
    pub fn invoke_window_secs(&self) -> u64 {
        self.invoke_window_secs.unwrap_or(INVOKE_WINDOW_SECS)
    }
}

fn default_token_lifetime() -> u64 {
    3599
}

fn default_mismatch_status() -> u16 {
    401
}

fn default_flow_audience() -> String {
    PUBLIC_CLOUD_FLOW_AUDIENCE.to_owned()
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self::demo()
    }
}

impl EmulatorConfig {
    /// The built-in demo directory: one tenant; one app with a secret and a
    /// certificate ([`DEMO_CERT_PEM`]); three public-cloud flows and one
    /// any-user flow per sovereign cloud.
    pub fn demo() -> Self {
        let flow = |id: &str, who: WhoCanTrigger, allowed: &[&str], cloud: Cloud| FlowConfig {
            allowed_object_ids: allowed.iter().map(|s| (*s).to_owned()).collect(),
            ..FlowConfig::new(id, DEMO_TENANT_ID, cloud, who)
        };
        Self {
            token_lifetime_secs: default_token_lifetime(),
            mismatch_status: default_mismatch_status(),
            flow_audience: default_flow_audience(),
            tenants: vec![TenantConfig { id: DEMO_TENANT_ID.to_owned(), domains: vec![DEMO_TENANT_DOMAIN.to_owned()] }],
            apps: vec![AppConfig {
                tenant: DEMO_TENANT_ID.to_owned(),
                client_id: DEMO_CLIENT_ID.to_owned(),
                client_secrets: vec![DEMO_CLIENT_SECRET.to_owned()],
                certificates: vec![DEMO_CERT_PEM.to_owned()],
                service_principal_object_id: DEMO_SP_OBJECT_ID.to_owned(),
                display_name: "flowgate-demo".to_owned(),
            }],
            flows: vec![
                flow(DEMO_FLOW_ANY_USER, WhoCanTrigger::AnyUserInTenant, &[], Cloud::Public),
                flow(DEMO_FLOW_SPECIFIC_DEMO_APP, WhoCanTrigger::SpecificUsers, &[DEMO_SP_OBJECT_ID], Cloud::Public),
                flow(DEMO_FLOW_SPECIFIC_OTHER, WhoCanTrigger::SpecificUsers, &[DEMO_OTHER_OBJECT_ID], Cloud::Public),
                flow(DEMO_FLOW_GCC, WhoCanTrigger::AnyUserInTenant, &[], Cloud::Gcc),
                flow(DEMO_FLOW_GCC_HIGH, WhoCanTrigger::AnyUserInTenant, &[], Cloud::GccHigh),
                flow(DEMO_FLOW_DOD, WhoCanTrigger::AnyUserInTenant, &[], Cloud::Dod),
                flow(DEMO_FLOW_CHINA, WhoCanTrigger::AnyUserInTenant, &[], Cloud::China),
            ],
            plaid: PlaidConfig::default(),
            reject_reused_assertions: false,
        }
    }

    /// Parses the TOML form (see the type's docs), normalises IDs to lower
    /// case and validates.
    ///
    /// # Errors
    /// TOML syntax errors, unknown keys, and every rule of [`Self::validate`].
    pub fn from_toml(s: &str) -> anyhow::Result<Self> {
        Self::from_toml_in(s, None)
    }

    /// Reads a TOML file (see [`Self::from_toml`]); a flow's
    /// `request_schema_file` is read relative to the file's folder.
    ///
    /// # Errors
    /// An unreadable file, and everything [`Self::from_toml`] refuses.
    pub fn from_toml_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_toml_in(&text, Some(path.parent().unwrap_or(Path::new("."))))
            .with_context(|| format!("invalid emulator config {}", path.display()))
    }

    fn from_toml_in(s: &str, dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut config: Self = toml::from_str(s).context("emulator config is not valid TOML")?;
        for f in &mut config.flows {
            let Some(file) = f.request_schema_file.take() else { continue };
            if f.request_schema.is_some() {
                bail!("flow {:?} has both request_schema and request_schema_file", f.id);
            }
            let path = dir.map_or_else(|| Path::new(&file).to_path_buf(), |d| d.join(&file));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("flow {:?}: cannot read request_schema_file {}", f.id, path.display()))?;
            f.request_schema = Some(text);
        }
        let config = config.normalized();
        config.validate()?;
        Ok(config)
    }

    /// The exact `aud` flows of `cloud` demand (and the resource the token
    /// endpoint knows for it): [`Self::flow_audience`] for `public`, the fixed
    /// §1.2 value otherwise.
    pub fn audience_of(&self, cloud: Cloud) -> &str {
        match cloud {
            Cloud::Public => &self.flow_audience,
            other => other.flow_audience(),
        }
    }

    /// GUIDs, object IDs and domain names are case-insensitive in Entra;
    /// store them lower-case so later comparisons can be exact.
    pub(crate) fn normalized(mut self) -> Self {
        for t in &mut self.tenants {
            t.id.make_ascii_lowercase();
            for d in &mut t.domains {
                d.make_ascii_lowercase();
            }
        }
        for a in &mut self.apps {
            a.tenant.make_ascii_lowercase();
            a.client_id.make_ascii_lowercase();
            a.service_principal_object_id.make_ascii_lowercase();
        }
        for f in &mut self.flows {
            f.tenant.make_ascii_lowercase();
            for o in &mut f.allowed_object_ids {
                o.make_ascii_lowercase();
            }
        }
        self
    }

    /// Checks internal consistency.
    ///
    /// # Errors
    /// Zero token lifetime; a mismatch status outside 400..=599; an empty or
    /// non-URL audience, or one that is a sovereign cloud's; a duplicate
    /// tenant, domain, client ID or flow ID; an app or flow that names an
    /// unknown tenant; an app with neither secrets nor certificates, with an
    /// empty secret, or with a certificate that is not a PEM X.509 certificate
    /// of an RSA key; a flow ID that is not URL-safe.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.token_lifetime_secs == 0 {
            bail!("token_lifetime_secs must be at least 1");
        }
        if !(400..=599).contains(&self.mismatch_status) {
            bail!("mismatch_status must be an HTTP error status (400..=599)");
        }
        if !self.flow_audience.starts_with("https://") && !self.flow_audience.starts_with("http://") {
            bail!("flow_audience must be an http(s) URI");
        }
        let bare = |a: &str| a.trim_end_matches('/').to_ascii_lowercase();
        if let Some(c) = Cloud::ALL[1..].iter().find(|c| bare(c.flow_audience()) == bare(&self.flow_audience)) {
            bail!(
                "flow_audience is the {} cloud's audience; set `cloud = \"{}\"` on the flows instead",
                c.name(),
                c.name()
            );
        }
        let mut names = HashSet::new();
        for t in &self.tenants {
            if t.id.is_empty() || !names.insert(t.id.to_ascii_lowercase()) {
                bail!("tenant id {:?} is empty or duplicated", t.id);
            }
            for d in &t.domains {
                if d.is_empty() || !names.insert(d.to_ascii_lowercase()) {
                    bail!("tenant domain {d:?} is empty or duplicated");
                }
            }
        }
        let tenant_known = |id: &str| self.tenants.iter().any(|t| t.id.eq_ignore_ascii_case(id));
        let mut clients = HashSet::new();
        for a in &self.apps {
            if !tenant_known(&a.tenant) {
                bail!("app {:?} names unknown tenant {:?}", a.client_id, a.tenant);
            }
            if a.client_id.is_empty()
                || !clients.insert((a.tenant.to_ascii_lowercase(), a.client_id.to_ascii_lowercase()))
            {
                bail!("client_id {:?} is empty or duplicated in its tenant", a.client_id);
            }
            if a.client_secrets.is_empty() && a.certificates.is_empty() {
                bail!("app {:?} needs at least one client secret or certificate", a.client_id);
            }
            if a.client_secrets.iter().any(String::is_empty) {
                bail!("app {:?} has an empty client secret", a.client_id);
            }
            for (i, pem) in a.certificates.iter().enumerate() {
                if let Err(e) = RegisteredCertificate::from_pem(pem) {
                    bail!("app {:?}: certificates[{i}] is unusable: {e}", a.client_id);
                }
            }
            if a.service_principal_object_id.is_empty() {
                bail!("app {:?} needs a service_principal_object_id", a.client_id);
            }
        }
        let mut flows = HashSet::new();
        for f in &self.flows {
            if f.id.is_empty() || !f.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                bail!("flow id {:?} must be non-empty and URL-safe", f.id);
            }
            if !flows.insert(f.id.as_str()) {
                bail!("flow id {:?} is duplicated", f.id);
            }
            if !tenant_known(&f.tenant) {
                bail!("flow {:?} names unknown tenant {:?}", f.id, f.tenant);
            }
            if let Some(text) = &f.request_schema {
                if let Err(e) = compile_schema(text) {
                    bail!("flow {:?}: {e}", f.id);
                }
            }
            if f.invoke_limit == Some(0) || f.invoke_window_secs == Some(0) {
                bail!("flow {:?}: invoke_limit and invoke_window_secs are at least 1", f.id);
            }
        }
        let plaid = &self.plaid;
        if plaid.client_id.is_empty() || plaid.secret.is_empty() {
            bail!("plaid.client_id and plaid.secret must not be empty");
        }
        if !flowgate_core::verify::plaid::is_valid_kid(&plaid.kid) {
            bail!("plaid.kid must be 1-128 of A-Z a-z 0-9 - _ .");
        }
        let private = flowgate_core::Secret::new(plaid.private_key.clone());
        if let Err(why) = flowgate_core::verify::sendgrid::signing_key(&private) {
            bail!("plaid.private_key {why}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TOML in the type's doc comment, kept in sync by this test.
    const DOC_TOML: &str = r#"
token_lifetime_secs = 3599
mismatch_status = 401
# The audience `public` flows demand, exactly; the other clouds' audiences
# are fixed (§1.2, see `Cloud`).
flow_audience = "https://service.flow.microsoft.com/"
# Refuse a client assertion whose jti was used before (Entra does not).
# reject_reused_assertions = false

[[tenants]]
id = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
domains = ["contoso.onmicrosoft.com"]

[[apps]]
tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
client_secrets = ["flowgate-demo-client-secret"]   # several = rotation
# PEM X.509 certificates for client assertions (§3); the demo registers
# tests/fixtures/entra-test-cert.pem.
certificates = ["""<tests/fixtures/entra-test-cert.pem>"""]
service_principal_object_id = "0c9e2d4a-6b8f-4a1c-8e3d-2f5a7b9c1d3e"
display_name = "flowgate-demo"

[[flows]]
id = "6d1e0f8b3a2c4b5d9e7f1a2b3c4d5e6f"
tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
who_can_trigger = "any-user-in-tenant"

[[flows]]
id = "a3b4c5d6e7f80912a3b4c5d6e7f80912"
tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
who_can_trigger = "specific-users"
allowed_object_ids = ["0c9e2d4a-6b8f-4a1c-8e3d-2f5a7b9c1d3e"]

[[flows]]
id = "ffee0000111122223333444455556666"
tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
who_can_trigger = "specific-users"
allowed_object_ids = ["11111111-2222-3333-4444-555555555555"]

# Further per-flow settings (defaults shown; the demo's flows use them):
# state = "enabled"                # "disabled" / "suspended": 400 WorkflowTriggerIsNotEnabled; "deleted": 404
# request_schema = '{"type":"object"}'   # or request_schema_file = "schema.json" (e.g. `flowgate schema <route>`)
# performance_profile = "medium"   # "low": 4,500 invoke calls per 5 min; "medium"/"high": 45,000
# invoke_limit = 45000             # per invoke_window_secs, instead of the profile's
# invoke_window_secs = 300

# One any-user flow per sovereign cloud; `cloud` defaults to "public".
[[flows]]
id = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d01"
tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
cloud = "gcc"

[[flows]]
id = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d02"
tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
cloud = "gcc-high"

[[flows]]
id = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d03"
tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
cloud = "dod"

[[flows]]
id = "5ccd1e0f8b3a2c4b5d9e7f1a2b3c4d04"
tenant = "8f0d5e1c-2b7a-4c55-9a3e-6f1d2c3b4a50"
cloud = "china"

# Plaid's POST /webhook_verification_key/get: the API credentials it
# accepts and the one P-256 key it serves (public test material).
[plaid]
client_id = "plaid-demo-client-id"
secret = "plaid-demo-secret"
kid = "flowgate-test-plaid-kid"
private_key = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
# expired_at = 1700000000   # serve the key as retired at this Unix time
"#;

    /// [`DOC_TOML`] with the placeholder replaced by the certificate itself.
    fn doc_toml() -> String {
        DOC_TOML.replace("<tests/fixtures/entra-test-cert.pem>", DEMO_CERT_PEM)
    }

    fn good() -> EmulatorConfig {
        EmulatorConfig::demo()
    }

    fn rejects(mutate: impl FnOnce(&mut EmulatorConfig)) -> String {
        let mut c = good();
        mutate(&mut c);
        c.validate().expect_err("config should be rejected").to_string()
    }

    #[test]
    fn documented_toml_is_the_demo_config() {
        assert_eq!(EmulatorConfig::from_toml(&doc_toml()).unwrap(), EmulatorConfig::demo());
        assert_eq!(EmulatorConfig::default(), EmulatorConfig::demo());
        good().validate().unwrap();
    }

    #[test]
    fn defaults_apply_and_ids_are_lowercased() {
        let c = EmulatorConfig::from_toml(
            r#"
[[tenants]]
id = "AAAAAAAA-0000-0000-0000-000000000000"
domains = ["Fabrikam.onmicrosoft.com"]
[[flows]]
id = "f1"
tenant = "aaaaaaaa-0000-0000-0000-000000000000"
"#,
        )
        .unwrap();
        assert_eq!(c.token_lifetime_secs, 3599);
        assert_eq!(c.mismatch_status, 401);
        assert_eq!(c.flow_audience, PUBLIC_CLOUD_FLOW_AUDIENCE);
        assert_eq!(c.tenants[0].id, "aaaaaaaa-0000-0000-0000-000000000000");
        assert_eq!(c.tenants[0].domains[0], "fabrikam.onmicrosoft.com");
        assert_eq!(c.flows[0].who_can_trigger, WhoCanTrigger::AnyUserInTenant);
        assert_eq!(c.flows[0].cloud, Cloud::Public);
    }

    fn one_flow_toml(cloud: &str) -> String {
        format!("[[tenants]]\nid = \"t\"\n[[flows]]\nid = \"f\"\ntenant = \"t\"\ncloud = \"{cloud}\"\n")
    }

    #[test]
    fn clouds_have_the_documented_audiences_and_names() {
        let c = good();
        let auds: Vec<&str> = Cloud::ALL.iter().map(|&cl| c.audience_of(cl)).collect();
        assert_eq!(
            auds,
            [
                "https://service.flow.microsoft.com/",
                "https://gov.service.flow.microsoft.us/",
                "https://high.service.flow.microsoft.us/",
                "https://service.flow.appsplatform.us/",
                "https://service.powerautomate.cn/",
            ]
        );
        for cloud in Cloud::ALL {
            assert_eq!(EmulatorConfig::from_toml(&one_flow_toml(cloud.name())).unwrap().flows[0].cloud, cloud);
        }
        assert!(EmulatorConfig::from_toml(&one_flow_toml("gcchigh")).is_err());
        // A custom public audience is used for public flows only.
        let mut custom = good();
        custom.flow_audience = "https://flow.example/".into();
        assert_eq!(custom.audience_of(Cloud::Public), "https://flow.example/");
        assert_eq!(custom.audience_of(Cloud::Gcc), "https://gov.service.flow.microsoft.us/");
    }

    #[test]
    fn rejects_a_sovereign_audience_as_flow_audience() {
        assert!(rejects(|c| c.flow_audience = "https://gov.service.flow.microsoft.us".into()).contains("gcc"));
    }

    #[test]
    fn rejects_unknown_keys_and_bad_toml() {
        assert!(EmulatorConfig::from_toml("token_lifetime = 5").is_err());
        assert!(EmulatorConfig::from_toml("[[flows]]\nid = ").is_err());
        assert!(EmulatorConfig::from_toml(
            "[[tenants]]\nid=\"t\"\n[[flows]]\nid=\"f\"\ntenant=\"t\"\nwho_can_trigger=\"anyone\""
        )
        .is_err());
    }

    #[test]
    fn rejects_zero_lifetime() {
        assert!(rejects(|c| c.token_lifetime_secs = 0).contains("token_lifetime_secs"));
    }

    #[test]
    fn rejects_non_error_mismatch_status() {
        assert!(rejects(|c| c.mismatch_status = 200).contains("mismatch_status"));
    }

    #[test]
    fn rejects_non_uri_audience() {
        assert!(rejects(|c| c.flow_audience = "service.flow".into()).contains("flow_audience"));
    }

    #[test]
    fn rejects_duplicate_tenant_or_domain() {
        assert!(rejects(|c| {
            let t = c.tenants[0].clone();
            c.tenants.push(t);
        })
        .contains("tenant id"));
        assert!(rejects(|c| c.tenants[0].domains.push(DEMO_TENANT_DOMAIN.into())).contains("domain"));
    }

    #[test]
    fn rejects_app_in_unknown_tenant() {
        assert!(rejects(|c| c.apps[0].tenant = "nope".into()).contains("unknown tenant"));
    }

    #[test]
    fn rejects_duplicate_client() {
        assert!(rejects(|c| {
            let a = c.apps[0].clone();
            c.apps.push(a);
        })
        .contains("duplicated"));
    }

    #[test]
    fn rejects_app_without_any_credential_or_with_an_empty_secret() {
        assert!(rejects(|c| {
            c.apps[0].client_secrets.clear();
            c.apps[0].certificates.clear();
        })
        .contains("secret or certificate"));
        assert!(rejects(|c| c.apps[0].client_secrets.push(String::new())).contains("empty client secret"));
        // Either kind alone is enough.
        let mut c = good();
        c.apps[0].client_secrets.clear();
        c.validate().unwrap();
        let mut c = good();
        c.apps[0].certificates.clear();
        c.validate().unwrap();
    }

    #[test]
    fn rejects_unusable_certificates() {
        for bad in [
            "not a pem".to_owned(),
            DEMO_CERT_PEM.replace("CERTIFICATE", "PUBLIC KEY"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
        ] {
            let e = rejects(|c| c.apps[0].certificates.push(bad.clone()));
            assert!(e.contains("certificates[1]"), "{e}");
        }
        // Certificate-only apps parse from TOML (client_secrets may be omitted).
        let toml = format!(
            "[[tenants]]\nid = \"t\"\n[[apps]]\ntenant = \"t\"\nclient_id = \"c\"\n\
             service_principal_object_id = \"o\"\ncertificates = [\"\"\"{DEMO_CERT_PEM}\"\"\"]\n"
        );
        let c = EmulatorConfig::from_toml(&toml).unwrap();
        assert!(c.apps[0].client_secrets.is_empty());
        assert_eq!(c.apps[0].certificates, [DEMO_CERT_PEM]);
    }

    #[test]
    fn rejects_bad_or_duplicate_flow_id() {
        assert!(rejects(|c| c.flows[0].id = "a/b".into()).contains("URL-safe"));
        assert!(rejects(|c| c.flows[1].id = c.flows[0].id.clone()).contains("duplicated"));
    }

    #[test]
    fn rejects_flow_in_unknown_tenant() {
        assert!(rejects(|c| c.flows[0].tenant = "nope".into()).contains("unknown tenant"));
    }

    #[test]
    fn rejects_an_unusable_plaid_key_or_kid() {
        assert!(rejects(|c| c.plaid.private_key = "not a key".into()).contains("plaid.private_key"));
        assert!(rejects(|c| c.plaid.kid = "a/b".into()).contains("plaid.kid"));
        assert!(rejects(|c| c.plaid.secret.clear()).contains("plaid.secret"));
        // Omitted, the table is the demo's.
        let c = EmulatorConfig::from_toml("[[tenants]]\nid = \"t\"\n").unwrap();
        assert_eq!(c.plaid, PlaidConfig::default());
        let s = format!("{:?}", good());
        assert!(!s.contains(DEMO_PLAID_SECRET) && !s.contains(DEMO_PLAID_PRIVATE_KEY), "{s}");
    }

    #[test]
    fn app_debug_redacts_secrets() {
        let s = format!("{:?}", good());
        assert!(!s.contains(DEMO_CLIENT_SECRET), "{s}");
        assert!(s.contains("redacted"));
        assert!(s.contains("certificates: [1 PEM]"), "{s}");
    }
}
