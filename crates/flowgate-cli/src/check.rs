//! `flowgate check [wrangler.toml]`: validates flowgate's configuration
//! offline and prints every problem with what to do about it.
//!
//! It runs the same validation the Worker runs at start-up
//! (`flowgate_core::config::Config::from_json`), plus what only a file on
//! disk can show: the KV binding, and — for local runs — whether `.dev.vars`
//! holds every secret the configuration names, in the right form. When the
//! configuration is valid it says where each route sends its events.
//!
//! [`read_config`] and [`find_route`] load the configuration the same way
//! for `flowgate schema` and `flowgate route`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context as _;
use flowgate_core::{
    config::{check_flow_url, Config, Credential, EntraConfig, Payload, Problem, Route, CONFIG_VAR},
    entra::{CertificateCredential, KvSeal},
    verify::{contentful, discord, plaid, sendgrid, shared_secret, standard_webhooks, telnyx, Scheme},
    Secret,
};

/// Arguments of `flowgate check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The wrangler configuration to check.
    #[arg(default_value = "wrangler.toml")]
    pub config: PathBuf,
    /// Check `[env.NAME]` instead of the top level.
    #[arg(long)]
    pub env: Option<String>,
    /// Local secrets file to check the secret names against (default: .dev.vars beside the config, top level only).
    #[arg(long)]
    pub dev_vars: Option<PathBuf>,
}

/// Everything `check` found.
#[derive(Debug, Default)]
pub struct Report {
    /// Problems that stop flowgate from working (the Worker answers 500).
    pub errors: Vec<Problem>,
    /// Things worth fixing that do not stop it.
    pub warnings: Vec<Problem>,
    /// Where each route sends its events, one line per route (valid
    /// configurations only).
    pub routes: Vec<String>,
}

fn problem(path: &str, message: impl Into<String>, fix: impl Into<String>) -> Problem {
    Problem { path: path.to_owned(), message: message.into(), fix: fix.into() }
}

/// Checks a wrangler.toml text. `dev_vars` is the content of the local
/// secrets file, when one is checked.
pub fn check_text(toml_text: &str, env: Option<&str>, dev_vars: Option<&str>) -> Report {
    check(toml_text, env, dev_vars, true)
}

/// `check_text`, with or without the platform bindings (commands that only
/// read the configuration, such as `route` and `schema`, do not need them).
fn check(toml_text: &str, env: Option<&str>, dev_vars: Option<&str>, platform: bool) -> Report {
    let mut report = Report::default();
    let doc: toml::Value = match toml::from_str(toml_text) {
        Ok(d) => d,
        Err(e) => {
            report.errors.push(problem("wrangler.toml", format!("not valid TOML: {e}"), "fix the syntax error"));
            return report;
        }
    };
    let scope = match env {
        Some(name) => match doc.get("env").and_then(|e| e.get(name)) {
            Some(s) => s,
            None => {
                report.errors.push(problem(
                    &format!("env.{name}"),
                    "no such environment",
                    format!("add an [env.{name}] section, or drop --env"),
                ));
                return report;
            }
        },
        None => &doc,
    };
    let prefix = env.map(|e| format!("env.{e}.")).unwrap_or_default();

    let kv_ok = scope
        .get("kv_namespaces")
        .and_then(toml::Value::as_array)
        .is_some_and(|a| a.iter().any(|ns| ns.get("binding").and_then(toml::Value::as_str) == Some("TOKEN_CACHE")));
    if !kv_ok {
        report.warnings.push(problem(
            &format!("{prefix}kv_namespaces"),
            "no KV namespace bound as TOKEN_CACHE",
            "tokens are then cached per isolate only, so Entra is asked more often: run `npx wrangler kv namespace create TOKEN_CACHE` and add the binding",
        ));
    }

    let Some(raw) = scope.get("vars").and_then(|v| v.get(CONFIG_VAR)) else {
        report.errors.push(problem(
            &format!("{prefix}vars.{CONFIG_VAR}"),
            "missing",
            "add [vars.FLOWGATE.entra] and [vars.FLOWGATE.routes.<name>] (see README.md, Configuration)",
        ));
        return report;
    };
    let json = match serde_json::to_value(raw) {
        Ok(j) => j,
        Err(e) => {
            report.errors.push(problem(CONFIG_VAR, format!("cannot be read: {e}"), "see README.md, Configuration"));
            return report;
        }
    };
    let config = match Config::from_json(&json) {
        Ok(c) => c,
        Err(problems) => {
            report.errors.extend(problems.into_iter().map(|mut p| {
                p.path = format!("{prefix}vars.{CONFIG_VAR}.{}", p.path);
                p
            }));
            return report;
        }
    };
    if platform {
        check_platform_bindings(&doc, scope, &prefix, &config, &mut report);
        check_alert_gate(&doc, scope, &prefix, &config, &mut report);
    }
    check_pacing(&config, &prefix, &mut report);
    if let Some(text) = dev_vars {
        check_dev_vars(&config, &parse_dev_vars(text), &mut report);
    }
    report.routes = config.routes.values().map(|r| route_summary(&config, r)).collect();
    report
}

/// With `[vars.FLOWGATE.alerts]`, the alert gate Durable Object (the
/// rate limit across isolates) must be bound and migrated: without it every
/// failure would be sent.
fn check_alert_gate(doc: &toml::Value, scope: &toml::Value, prefix: &str, config: &Config, report: &mut Report) {
    if config.alerts.is_none() {
        return;
    }
    let bound = binds_durable_object(scope, "ALERT_GATE", "AlertGate");
    let migrated = migrates_sqlite_class(doc, "AlertGate");
    if !bound || !migrated {
        report.errors.push(problem(
            &format!("{prefix}durable_objects.bindings"),
            "[vars.FLOWGATE.alerts] is set, and no alert gate (Durable Object ALERT_GATE, class AlertGate) rate-limits the alerts: every failure would be sent",
            format!("add [[{prefix}durable_objects.bindings]] name = \"ALERT_GATE\", class_name = \"AlertGate\" and [[migrations]] tag = \"v3\", new_sqlite_classes = [\"AlertGate\"] (README.md, Deploying)"),
        ));
    }
}

/// Whether `scope` binds a Durable Object named `name` of class `class`.
fn binds_durable_object(scope: &toml::Value, name: &str, class: &str) -> bool {
    let dos = scope.get("durable_objects").and_then(|d| d.get("bindings")).and_then(toml::Value::as_array);
    dos.is_some_and(|b| {
        b.iter().any(|d| {
            d.get("name").and_then(toml::Value::as_str) == Some(name)
                && d.get("class_name").and_then(toml::Value::as_str) == Some(class)
        })
    })
}

/// Whether a top-level `[[migrations]]` entry creates `class` with SQLite storage.
fn migrates_sqlite_class(doc: &toml::Value, class: &str) -> bool {
    doc.get("migrations").and_then(toml::Value::as_array).is_some_and(|m| {
        m.iter().any(|t| {
            t.get("new_sqlite_classes")
                .and_then(toml::Value::as_array)
                .is_some_and(|c| c.iter().any(|v| v.as_str() == Some(class)))
        })
    })
}

/// Power Automate's invoke limits per 5 minutes (entra-power-automate.md §4).
const LOW_PROFILE_PER_5_MIN: u64 = 4_500;
const OTHER_PROFILES_PER_5_MIN: u64 = 45_000;

/// Rates that can exceed what the flow takes: a `max_rate` above every
/// Power Automate profile, and flowgate flows that post to one trigger (one
/// `url_binding`), whose calls Power Automate counts together — a route's
/// rules fanning one event out to them makes one call per flow.
fn check_pacing(config: &Config, prefix: &str, report: &mut Report) {
    let per_5_min = |r: flowgate_core::pacing::Rate| u64::from(r.count) * 300 / u64::from(r.per_secs).max(1);
    let at = |flow: &str, field: &str| {
        if config.routes.contains_key(flow) {
            format!("{prefix}vars.{CONFIG_VAR}.routes.{flow}.{field}")
        } else {
            format!("{prefix}vars.{CONFIG_VAR}.flows.{flow}.{field}")
        }
    };
    for flow in config.flows.values() {
        if let Some(rate) = flow.limits.rate.filter(|r| per_5_min(*r) > OTHER_PROFILES_PER_5_MIN) {
            report.warnings.push(problem(
                &at(&flow.name, "max_rate"),
                format!("max_rate = {} is {} calls per 5 minutes, above every Power Automate profile ({OTHER_PROFILES_PER_5_MIN})", rate, per_5_min(rate)),
                format!("use at most \"{OTHER_PROFILES_PER_5_MIN}/5m\" (\"{LOW_PROFILE_PER_5_MIN}/5m\" on the Low profile): above it the flow is slowed, and a flow throttled for 14 days is turned off"),
            ));
        }
    }
    let mut by_trigger: BTreeMap<&str, Vec<&flowgate_core::config::Flow>> = BTreeMap::new();
    for flow in config.flows.values() {
        by_trigger.entry(flow.url_binding.as_str()).or_default().push(flow);
    }
    for (binding, flows) in by_trigger.into_iter().filter(|(_, f)| f.len() > 1) {
        if flows.iter().all(|f| f.limits.rate.is_none()) {
            continue;
        }
        let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
        let unpaced: Vec<&str> = flows.iter().filter(|f| f.limits.rate.is_none()).map(|f| f.name.as_str()).collect();
        let total: u64 = flows.iter().filter_map(|f| f.limits.rate).map(per_5_min).sum();
        let message = if unpaced.is_empty() {
            format!("flows {} post to one trigger ({binding}): their max_rates add up to {total} calls per 5 minutes, which Power Automate counts together", names.join(", "))
        } else {
            format!("flows {} post to one trigger ({binding}), and {} has no max_rate: a route fanning events out to them can exceed the others' rate", names.join(", "), unpaced.join(", "))
        };
        report.warnings.push(problem(
            &at(flows[0].name.as_str(), "max_rate"),
            message,
            format!("give each of them a max_rate, together at most your flow's profile ({LOW_PROFILE_PER_5_MIN}/5m Low, {OTHER_PROFILES_PER_5_MIN}/5m otherwise)"),
        ));
    }
}

/// The Worker's bindings beyond KV: the route ledger (every route), and for
/// queue-mode routes the delivery queue, its consumer and the R2 bucket.
/// Without them the Worker answers 500 naming the binding; this says so
/// before a deploy. Queues, R2 and Durable Object bindings are not
/// inherited by `[env.*]` sections; `migrations` are (top level).
fn check_platform_bindings(doc: &toml::Value, scope: &toml::Value, prefix: &str, config: &Config, report: &mut Report) {
    let tables = |key: &str| scope.get(key).and_then(toml::Value::as_array).cloned().unwrap_or_default();
    let text = |t: &toml::Value, key: &str| t.get(key).and_then(toml::Value::as_str).map(str::to_owned);
    let ledger = binds_durable_object(scope, "LEDGER", "RouteLedger");
    if !ledger {
        report.errors.push(problem(
            &format!("{prefix}durable_objects.bindings"),
            "no Durable Object bound as LEDGER (class RouteLedger): every route records delivery ids and counters in it",
            format!("add [[{prefix}durable_objects.bindings]] name = \"LEDGER\", class_name = \"RouteLedger\" (README.md, Deploying)"),
        ));
    }
    let migrated = migrates_sqlite_class(doc, "RouteLedger");
    if !migrated {
        report.errors.push(problem(
            "migrations",
            "no migration creates the RouteLedger class with SQLite storage",
            "add [[migrations]] tag = \"v1\", new_sqlite_classes = [\"RouteLedger\"] at the top level",
        ));
    }
    let queued: Vec<&Route> =
        config.routes.values().filter(|r| r.mode == flowgate_core::config::DeliveryMode::Queue).collect();
    let Some(first) = queued.first() else { return };
    let pacer = binds_durable_object(scope, "FLOW_PACER", "FlowPacer");
    let pacer_migrated = migrates_sqlite_class(doc, "FlowPacer");
    if !pacer || !pacer_migrated {
        let paced = config.flows.values().find(|f| f.limits != flowgate_core::pacing::Limits::default());
        let fix = format!("add [[{prefix}durable_objects.bindings]] name = \"FLOW_PACER\", class_name = \"FlowPacer\" and [[migrations]] tag = \"v2\", new_sqlite_classes = [\"FlowPacer\"] (README.md, Deploying)");
        match paced {
            Some(f) => report.errors.push(problem(
                &format!("{prefix}durable_objects.bindings"),
                format!("flow {} has max_rate or max_concurrency, and no flow pacer (Durable Object FLOW_PACER, class FlowPacer) keeps it: its deliveries would wait forever", f.name),
                fix,
            )),
            None => report.warnings.push(problem(
                &format!("{prefix}durable_objects.bindings"),
                "no flow pacer (Durable Object FLOW_PACER, class FlowPacer): a flow answering 429 or 503 is not paused for all of its deliveries",
                fix,
            )),
        }
    }
    let queues = scope.get("queues");
    let list = |key: &str| queues.and_then(|q| q.get(key)).and_then(toml::Value::as_array).cloned().unwrap_or_default();
    let producer = list("producers").into_iter().find(|p| text(p, "binding").as_deref() == Some("DELIVERIES"));
    let Some(producer) = producer else {
        report.errors.push(problem(
            &format!("{prefix}queues.producers"),
            format!("route {} (and every queue-mode route) needs a queue bound as DELIVERIES", first.name),
            format!("add [[{prefix}queues.producers]] queue = \"flowgate-deliveries\", binding = \"DELIVERIES\", and its consumer (README.md, Deploying); or set mode = \"direct\""),
        ));
        return;
    };
    let queue = text(&producer, "queue").unwrap_or_default();
    match list("consumers").into_iter().find(|c| text(c, "queue").as_deref() == Some(queue.as_str())) {
        None => report.errors.push(problem(
            &format!("{prefix}queues.consumers"),
            format!("nothing consumes queue {queue}: accepted webhooks would wait there until Queues drops them"),
            format!("add [[{prefix}queues.consumers]] queue = \"{queue}\", max_retries = 100, dead_letter_queue = \"{queue}-dlq\""),
        )),
        Some(consumer) => {
            let retries = consumer.get("max_retries").and_then(toml::Value::as_integer).unwrap_or(3);
            let most = queued.iter().map(|r| r.retry.max_attempts).max().unwrap_or(1);
            if retries + 1 < i64::from(most) {
                report.warnings.push(problem(
                    &format!("{prefix}queues.consumers"),
                    format!("max_retries = {retries} lets Queues give up before flowgate's max_attempts = {most}"),
                    "set max_retries = 100 on the consumer: flowgate counts attempts itself",
                ));
            }
            match text(&consumer, "dead_letter_queue") {
                None => report.warnings.push(problem(
                    &format!("{prefix}queues.consumers"),
                    format!("queue {queue} has no dead_letter_queue: a message Queues gives up on is dropped by Queues"),
                    format!("add dead_letter_queue = \"{queue}-dlq\" and a consumer for it (flowgate keeps those in R2 too)"),
                )),
                Some(dlq) if !list("consumers").iter().any(|c| text(c, "queue").as_deref() == Some(dlq.as_str())) => {
                    report.warnings.push(problem(
                        &format!("{prefix}queues.consumers"),
                        format!("nothing consumes the dead-letter queue {dlq}"),
                        format!("add [[{prefix}queues.consumers]] queue = \"{dlq}\": flowgate moves those messages to R2 dead letters"),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if !tables("r2_buckets").iter().any(|b| text(b, "binding").as_deref() == Some("DELIVERY_STORE")) {
        report.errors.push(problem(
            &format!("{prefix}r2_buckets"),
            "no R2 bucket bound as DELIVERY_STORE: large bodies and dead letters are kept there",
            format!("run `npx wrangler r2 bucket create flowgate-deliveries` and add [[{prefix}r2_buckets]] binding = \"DELIVERY_STORE\", bucket_name = \"flowgate-deliveries\""),
        ));
    }
}

/// One line on where `route` sends its events, e.g.
/// `gh: 2 rules → deploys, bugs; unmatched events dropped`.
pub fn route_summary(config: &Config, route: &Route) -> String {
    let flow = |name: &str| match config.flows.get(name) {
        Some(f) if f.payload == Payload::Envelope => format!("{name} (envelope)"),
        _ => name.to_owned(),
    };
    let rules = route.rules.rules();
    let default = route.rules.default_flow();
    if route.rules.is_empty() {
        return match default {
            Some(d) if route.flow_url_binding.is_empty() => {
                format!("{}: no rules; every event → {}", route.name, flow(d))
            }
            Some(d) => format!("{}: every event → {}", route.name, flow(d)),
            None => format!("{}: no flow", route.name),
        };
    }
    let mut targets: Vec<&str> = Vec::new();
    for f in rules.iter().flat_map(|r| r.flows()) {
        if !targets.contains(&f.as_str()) {
            targets.push(f);
        }
    }
    let targets: Vec<String> = targets.into_iter().map(flow).collect();
    let unmatched = match default {
        Some(d) => format!("unmatched events → {}", flow(d)),
        None => "unmatched events dropped".to_owned(),
    };
    let n = rules.len();
    format!("{}: {n} rule{} → {}; {unmatched}", route.name, if n == 1 { "" } else { "s" }, targets.join(", "))
}

/// Reads the configuration of `env` (or the top level) from a wrangler.toml text.
///
/// # Errors
/// Every problem, as `check` prints them.
pub fn load_config(toml_text: &str, env: Option<&str>) -> Result<Config, Vec<Problem>> {
    let report = check(toml_text, env, None, false);
    if !report.errors.is_empty() {
        return Err(report.errors);
    }
    let doc: toml::Value = toml::from_str(toml_text).map_err(|_| Vec::new())?;
    let scope = match env {
        Some(name) => &doc["env"][name],
        None => &doc,
    };
    let json = serde_json::to_value(&scope["vars"][CONFIG_VAR]).map_err(|_| Vec::new())?;
    Config::from_json(&json)
}

/// Reads and validates the configuration of `env` (or the top level) in
/// the wrangler configuration at `path`.
///
/// # Errors
/// An unreadable file, or every problem, as `flowgate check` words them.
pub fn read_config(path: &Path, env: Option<&str>) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    load_config(&text, env).map_err(|problems| {
        let mut message = format!(
            "{} has {} configuration problem(s); `flowgate check` explains them:",
            path.display(),
            problems.len()
        );
        for p in &problems {
            message.push_str(&format!("\n  {}: {}\n      fix: {}", p.path, p.message, p.fix));
        }
        anyhow::anyhow!(message)
    })
}

/// The route called `name`.
///
/// # Errors
/// When there is none (the message lists the routes there are).
pub fn find_route<'c>(config: &'c Config, name: &str) -> anyhow::Result<&'c Route> {
    config.routes.get(name).ok_or_else(|| {
        let names: Vec<&str> = config.routes.keys().map(String::as_str).collect();
        anyhow::anyhow!("no route {name:?} in the configuration; its routes are: {}", names.join(", "))
    })
}

/// Parses dotenv-style `NAME=value` lines (what wrangler reads from .dev.vars);
/// `\n` inside double quotes stands for a newline, as dotenv has it.
pub fn parse_dev_vars(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\\n", "\n"),
                None => v.to_owned(),
            };
            (k.trim().to_owned(), v)
        })
        .collect()
}

/// A secret `.dev.vars` lacks.
fn missing(name: &str) -> Problem {
    problem(
        &format!(".dev.vars.{name}"),
        "not set",
        format!("add {name}=... to .dev.vars for local runs; for a deployment run `npx wrangler secret put {name}`"),
    )
}

fn check_dev_vars(config: &Config, vars: &BTreeMap<String, String>, report: &mut Report) {
    let entra = std::iter::once(("entra".to_owned(), &config.entra));
    let credentials = config.credentials.iter().map(|(name, c)| (format!("credentials.{name}"), c));
    for (path, entra) in entra.chain(credentials) {
        check_entra_secrets(&path, entra, vars, report);
    }
    for route in config.routes.values() {
        for name in &route.secret_bindings {
            match vars.get(name) {
                None => report.errors.push(missing(name)),
                Some(v) => {
                    let secret = Secret::new(v.clone());
                    let whole = "paste the whole secret from the sender's dashboard";
                    let (checked, fix) = match &route.scheme {
                        Scheme::StandardWebhooks => (standard_webhooks::decode_secret(&secret).map(|_| ()), whole),
                        Scheme::Hmac(h) => (h.secret.key(&secret).map(|_| ()), whole),
                        // The route holds the sender's public key, not a shared secret.
                        Scheme::Discord => (
                            discord::decode_public_key(&secret).map(|_| ()),
                            "paste the application's Public Key (64 hex digits) from the Discord Developer Portal",
                        ),
                        Scheme::Telnyx => (
                            telnyx::decode_public_key(&secret).map(|_| ()),
                            "paste the Public Key (base64) from Telnyx's Mission Control Portal, Keys & Credentials",
                        ),
                        Scheme::SendGrid => (
                            sendgrid::decode_public_key(&secret).map(|_| ()),
                            "paste the Verification Key (base64) from SendGrid's Mail Settings > Event Webhook",
                        ),
                        Scheme::Fireblocks => (
                            flowgate_core::verify::fireblocks::decode_public_key(&secret).map(|_| ()),
                            "write production or sandbox (Fireblocks' published keys), or paste the PEM public key Fireblocks publishes",
                        ),
                        Scheme::Wix => (
                            flowgate_core::verify::wix::decode_public_key(&secret).map(|_| ()),
                            "paste the app's public key (PEM) from its dashboard's Webhooks page (Get Public Key)",
                        ),
                        Scheme::Adyen => (
                            flowgate_core::verify::adyen::decode_key(&secret).map(|_| ()),
                            "paste the HMAC key (64 hex digits) of the webhook in Adyen's Customer Area",
                        ),
                        // A pinned certificate (without secret_bindings it is fetched by URL).
                        Scheme::Sns => (
                            flowgate_core::verify::sns::certificate_key(secret.expose()).map(|_| ()),
                            "paste the PEM certificate at the messages' SigningCertURL (https://sns.<region>.amazonaws.com/….pem), or leave secret_bindings out: it is fetched",
                        ),
                        Scheme::PayPal => (
                            flowgate_core::verify::x509::certificate_key(secret.expose()).map(|_| ()),
                            "paste the PEM certificate at the notifications' PAYPAL-CERT-URL, or leave secret_bindings out: it is fetched",
                        ),
                        Scheme::BasicAuth(_) => (
                            shared_secret::check_basic_secret(&secret),
                            "write the credentials the sender is given as user:password",
                        ),
                        Scheme::Contentful => (
                            contentful::check_secret(&secret),
                            "paste the 64-character signing secret of the space's webhook settings",
                        ),
                        // Optional pinned keys: the JWK JSON from /webhook_verification_key/get.
                        Scheme::Plaid => (
                            plaid::parse_jwk(secret.expose()).map(|_| ()),
                            "store the key JSON that Plaid's /webhook_verification_key/get returns, or list no secret and let flowgate fetch keys",
                        ),
                        // Optional pinned keys; flowgate fetches the key the request names.
                        Scheme::Ebay => (
                            flowgate_core::verify::ebay::decode_public_key(&secret).map(|_| ()),
                            "store the key (PEM) eBay's getPublicKey returns, or list no secret and let flowgate fetch keys",
                        ),
                        Scheme::Circle => (
                            sendgrid::decode_public_key(&secret).map(|_| ()),
                            "store the publicKey (base64) Circle's /v2/notifications/publicKey returns, or list no secret and let flowgate fetch keys",
                        ),
                        Scheme::Twilio
                        | Scheme::Mailgun
                        | Scheme::Figma
                        | Scheme::MsGraph
                        | Scheme::Token(_)
                        | Scheme::QueryToken(_)
                        | Scheme::DropboxSign
                        | Scheme::Netlify
                        | Scheme::Monday => (Ok(()), whole),
                    };
                    if let Err(why) = checked {
                        report.errors.push(problem(
                            &format!(".dev.vars.{name}"),
                            format!("not a {} signing secret: it {why}", route.provider.title),
                            fix,
                        ));
                    }
                }
            }
        }
        // The credentials of senders whose keys are fetched (Plaid, eBay, Circle).
        if let Some(source) = flowgate_core::verify::fetched_key::source(route) {
            for (name, _) in source.credential_bindings() {
                if !vars.contains_key(name) {
                    report.errors.push(missing(name));
                }
            }
        }
    }
    if let Some(alerts) = &config.alerts {
        if !vars.contains_key(&alerts.url_binding) {
            report.errors.push(missing(&alerts.url_binding));
        }
    }
    // Every flow's trigger URL: the flows table and single-flow routes.
    for flow in config.flows.values() {
        match vars.get(&flow.url_binding) {
            None => report.errors.push(missing(&flow.url_binding)),
            Some(url) => match check_flow_url(url, config.credential(flow).cloud, flow.allow_any_host) {
                Err(why) => report.errors.push(problem(
                    &format!(".dev.vars.{}", flow.url_binding),
                    why,
                    "store the trigger URL of a flow whose 'Who can trigger' is a tenant option, on its cloud's Power Automate host",
                )),
                Ok(warnings) => report.warnings.extend(warnings.into_iter().map(|w| {
                    problem(&format!(".dev.vars.{}", flow.url_binding), w, "update the secret with the flow's new trigger URL")
                })),
            },
        }
    }
}

/// The secrets of one Entra credential (`[vars.FLOWGATE.entra]` or a named
/// one, at `path`).
fn check_entra_secrets(path: &str, entra: &EntraConfig, vars: &BTreeMap<String, String>, report: &mut Report) {
    for name in entra.bindings() {
        if !vars.contains_key(name) {
            report.errors.push(missing(name));
        }
    }
    if let Credential::Certificate { private_key_binding, certificate_binding, algorithm } = &entra.credential {
        if let (Some(key), Some(cert)) = (vars.get(private_key_binding), vars.get(certificate_binding)) {
            if let Err(why) = CertificateCredential::from_pem(&Secret::new(key.clone()), cert, *algorithm) {
                report.errors.push(problem(
                    &format!("{path}.certificate"),
                    why,
                    "store the PEM files with `wrangler secret put NAME < file.pem`",
                ));
            }
        }
    }
    if let Some(name) = &entra.token_cache_key_binding {
        if let Some(v) = vars.get(name) {
            if let Err(why) = KvSeal::from_base64(&Secret::new(v.clone())) {
                report.errors.push(problem(
                    &format!(".dev.vars.{name}"),
                    why,
                    "make one with `openssl rand -base64 32`",
                ));
            }
        }
    }
}

fn print(report: &Report, file: &Path) {
    if report.errors.is_empty() && report.warnings.is_empty() {
        println!("{}: OK", file.display());
    } else {
        println!("{}: {} problem(s), {} warning(s)", file.display(), report.errors.len(), report.warnings.len());
        for (mark, p) in
            report.errors.iter().map(|p| ("error", p)).chain(report.warnings.iter().map(|p| ("warning", p)))
        {
            println!("  {mark}: {}: {}", p.path, p.message);
            println!("      fix: {}", p.fix);
        }
    }
    if report.errors.is_empty() && !report.routes.is_empty() {
        println!("routes:");
        for line in &report.routes {
            println!("  {line}");
        }
    }
}

/// Runs `flowgate check`: exit 0 when flowgate can run, 1 when it cannot.
///
/// # Errors
/// When the file cannot be read.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.config).with_context(|| format!("reading {}", args.config.display()))?;
    let dev_vars_path = args.dev_vars.clone().or_else(|| {
        args.env
            .is_none()
            .then(|| args.config.parent().unwrap_or(Path::new(".")).join(".dev.vars"))
            .filter(|p| p.exists())
    });
    let dev_vars = match &dev_vars_path {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let report = check_text(&text, args.env.as_deref(), dev_vars.as_deref());
    print(&report, &args.config);
    Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue, bucket and Durable Object bindings queue mode needs.
    pub(crate) const PLATFORM: &str = r#"
[[queues.producers]]
queue = "q"
binding = "DELIVERIES"
[[queues.consumers]]
queue = "q"
max_retries = 100
dead_letter_queue = "q-dlq"
[[queues.consumers]]
queue = "q-dlq"
[[r2_buckets]]
binding = "DELIVERY_STORE"
bucket_name = "b"
[[durable_objects.bindings]]
name = "LEDGER"
class_name = "RouteLedger"
[[durable_objects.bindings]]
name = "FLOW_PACER"
class_name = "FlowPacer"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["RouteLedger"]
[[migrations]]
tag = "v2"
new_sqlite_classes = ["FlowPacer"]
"#;

    /// A valid configuration with every binding (the platform ones last).
    static GOOD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("{GOOD_VARS}{PLATFORM}"));

    const GOOD_VARS: &str = r#"
name = "flowgate"
[[kv_namespaces]]
binding = "TOKEN_CACHE"
id = "x"
[vars.FLOWGATE.entra]
tenant = "contoso.onmicrosoft.com"
client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
client_secret_binding = "ENTRA_CLIENT_SECRET"
[vars.FLOWGATE.routes.github]
provider = "github"
secret_bindings = ["GH"]
flow_url_binding = "FLOW"
[vars.FLOWGATE.routes.clerk]
provider = "svix"
secret_bindings = ["CLERK"]
flow_url_binding = "FLOW"
[env.production.vars.FLOWGATE.entra]
tenant = "common"
"#;

    const VARS: &str =
        "ENTRA_CLIENT_SECRET=x\nGH=s\nCLERK=whsec_ZGVtbw==\nFLOW=https://e.01.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/a/triggers/manual/paths/invoke?api-version=1\n";

    fn paths(ps: &[Problem]) -> Vec<&str> {
        ps.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn flow_url_hosts_the_retired_logic_apps_host_and_the_opt_in() {
        let vars = |flow: &str| format!("ENTRA_CLIENT_SECRET=x\nGH=s\nCLERK=whsec_ZGVtbw==\nFLOW={flow}\n");
        // Both shapes pass; the public cloud's logic.azure.com host is warned about, with the fix.
        let old = "https://prod-27.westeurope.logic.azure.com:443/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01";
        let r = check_text(&GOOD, None, Some(&vars(old)));
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(paths(&r.warnings), [".dev.vars.FLOW", ".dev.vars.FLOW"], "one per flow using it");
        assert!(r.warnings[0].message.contains("30 November 2025"), "{:?}", r.warnings);
        // Any other host is refused, unless the flow opts in.
        let foreign = "https://flows.example/powerautomate/automations/direct/workflows/1/triggers/manual/paths/invoke";
        let r = check_text(&GOOD, None, Some(&vars(foreign)));
        assert_eq!(paths(&r.errors), [".dev.vars.FLOW", ".dev.vars.FLOW"]);
        assert!(r.errors[0].message.contains("allow_any_flow_host = true"), "{:?}", r.errors);
        let opted =
            GOOD.replace("flow_url_binding = \"FLOW\"", "flow_url_binding = \"FLOW\"\nallow_any_flow_host = true");
        let r = check_text(&opted, None, Some(&vars(foreign)));
        assert!(r.errors.is_empty() && r.warnings.is_empty(), "{:?} {:?}", r.errors, r.warnings);
    }

    #[test]
    fn good_config_passes() {
        let r = check_text(&GOOD, None, Some(VARS));
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn rates_that_can_exceed_the_trigger_are_warned_and_a_paced_flow_needs_its_pacer() {
        let one_paced = GOOD.replacen(
            "flow_url_binding = \"FLOW\"\n[vars.FLOWGATE.routes.clerk]",
            "flow_url_binding = \"FLOW\"\nmax_rate = \"100/1m\"\n[vars.FLOWGATE.routes.clerk]",
            1,
        );
        assert_ne!(one_paced, *GOOD);
        let r = check_text(&one_paced, None, Some(VARS));
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let w: Vec<&Problem> = r.warnings.iter().filter(|w| w.path.ends_with("max_rate")).collect();
        assert_eq!(w.len(), 1, "{:?}", r.warnings);
        assert!(
            w[0].message.contains("post to one trigger (FLOW)") && w[0].message.contains("clerk has no max_rate"),
            "{}",
            w[0]
        );

        let too_fast = one_paced.replace("max_rate = \"100/1m\"", "max_rate = \"1000/s\"");
        let r = check_text(&too_fast, None, Some(VARS));
        assert!(
            r.warnings
                .iter()
                .any(|w| w.message.contains("300000 calls per 5 minutes, above every Power Automate profile")),
            "{:?}",
            r.warnings
        );

        let no_pacer =
            one_paced.replace("[[durable_objects.bindings]]\nname = \"FLOW_PACER\"\nclass_name = \"FlowPacer\"\n", "");
        assert_ne!(no_pacer, one_paced);
        let r = check_text(&no_pacer, None, Some(VARS));
        assert!(
            r.errors
                .iter()
                .any(|e| e.path == "durable_objects.bindings" && e.message.contains("flow github has max_rate")),
            "{:?}",
            r.errors
        );
        // Without limits, only the breaker is missing: a warning.
        let r = check_text(
            &GOOD.replace("[[durable_objects.bindings]]\nname = \"FLOW_PACER\"\nclass_name = \"FlowPacer\"\n", ""),
            None,
            Some(VARS),
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(
            r.warnings.iter().any(|w| w.message.contains("not paused for all of its deliveries")),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn broken_config_names_each_problem() {
        let broken = GOOD
            .replace("provider = \"github\"", "provider = \"gitlab-ci\"")
            .replace("\"5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81\"", "\"my-app\"")
            .replace("binding = \"TOKEN_CACHE\"", "binding = \"CACHE\"");
        let r = check_text(&broken, None, None);
        assert_eq!(paths(&r.errors), ["vars.FLOWGATE.entra.client_id", "vars.FLOWGATE.routes.github.provider"]);
        assert_eq!(paths(&r.warnings), ["kv_namespaces"]);
    }

    #[test]
    fn environment_is_checked_on_its_own() {
        let r = check_text(&GOOD, Some("production"), None);
        assert!(paths(&r.errors).contains(&"env.production.vars.FLOWGATE.entra.tenant"), "{:?}", r.errors);
        assert!(paths(&r.errors).contains(&"env.production.vars.FLOWGATE.routes"));
        let r = check_text(&GOOD, Some("staging"), None);
        assert_eq!(paths(&r.errors), ["env.staging"]);
    }

    #[test]
    fn dev_vars_are_checked() {
        let vars =
            "GH=s\nCLERK=notbase64!\nFLOW=https://e.01.environment.api.powerplatform.com/a?api-version=1&sig=abc\n";
        let r = check_text(&GOOD, None, Some(vars));
        assert_eq!(
            paths(&r.errors),
            [".dev.vars.ENTRA_CLIENT_SECRET", ".dev.vars.CLERK", ".dev.vars.FLOW", ".dev.vars.FLOW"]
        );
        assert!(r.errors[2].message.contains("SAS"));
    }

    #[test]
    fn public_keys_and_credentials_are_checked_in_their_own_form() {
        let config = GOOD
            .replace("provider = \"github\"", "provider = \"discord\"")
            .replace("provider = \"svix\"", "provider = \"sendgrid\"");
        let good_keys = "ENTRA_CLIENT_SECRET=x\nGH=d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n\
            CLERK=MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==\n\
            FLOW=https://e.01.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/a/triggers/manual/paths/invoke?api-version=1\n";
        let r = check_text(&config, None, Some(good_keys));
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        // A shared secret where a public key belongs: both reported, with what to paste.
        let r = check_text(&config, None, Some(VARS));
        assert_eq!(paths(&r.errors), [".dev.vars.CLERK", ".dev.vars.GH"]);
        assert!(r.errors[0].fix.contains("Verification Key"), "{}", r.errors[0].fix);
        assert!(r.errors[1].fix.contains("Public Key"), "{}", r.errors[1].fix);
        let basic = GOOD.replace("provider = \"github\"", "provider = \"postmark\"");
        let r = check_text(&basic, None, Some(VARS));
        assert_eq!(paths(&r.errors), [".dev.vars.GH"]);
        assert!(check_text(&basic, None, Some(&VARS.replace("GH=s", "GH=user:pass"))).errors.is_empty());
    }

    #[test]
    fn the_platform_bindings_queue_mode_needs_are_checked() {
        assert!(check_text(&GOOD, None, None).errors.is_empty());
        let without = |what: &str, instead: &str| GOOD.replace(what, instead);
        let r = check_text(&without("name = \"LEDGER\"", "name = \"OTHER\""), None, None);
        assert_eq!(paths(&r.errors), ["durable_objects.bindings"]);
        let r =
            check_text(&without("new_sqlite_classes = [\"RouteLedger\"]", "new_sqlite_classes = [\"X\"]"), None, None);
        assert_eq!(paths(&r.errors), ["migrations"]);
        let r = check_text(&without("binding = \"DELIVERIES\"", "binding = \"OTHER\""), None, None);
        assert_eq!(paths(&r.errors), ["queues.producers"]);
        assert!(r.errors[0].message.contains("route clerk"), "{}", r.errors[0]);
        let r = check_text(&without("binding = \"DELIVERY_STORE\"", "binding = \"OTHER\""), None, None);
        assert_eq!(paths(&r.errors), ["r2_buckets"]);
        // A consumer for another queue does not consume ours.
        let r = check_text(
            &GOOD.replace("[[queues.consumers]]\nqueue = \"q\"\n", "[[queues.consumers]]\nqueue = \"other\"\n"),
            None,
            None,
        );
        assert_eq!(paths(&r.errors), ["queues.consumers"]);
        let r = check_text(&GOOD.replace("max_retries = 100", "max_retries = 3"), None, None);
        assert!(r.errors.is_empty());
        assert!(r.warnings.iter().any(|w| w.message.contains("max_retries = 3")), "{:?}", r.warnings);
        let r = check_text(&GOOD.replace("[[queues.consumers]]\nqueue = \"q-dlq\"", ""), None, None);
        assert!(r.warnings.iter().any(|w| w.message.contains("q-dlq")), "{:?}", r.warnings);
        // Direct-mode routes only: no queue or bucket needed, the ledger still is.
        let direct = GOOD_VARS.replace("flow_url_binding = \"FLOW\"", "flow_url_binding = \"FLOW\"\nmode = \"direct\"");
        let r = check_text(&direct, None, None);
        assert_eq!(paths(&r.errors), ["durable_objects.bindings", "migrations"]);
    }

    #[test]
    fn alerts_need_their_gate_and_their_url_secret() {
        let alerts = "[vars.FLOWGATE.alerts]\nurl_binding = \"ALERT_URL\"\nformat = \"teams\"\n";
        let gate = "[[durable_objects.bindings]]\nname = \"ALERT_GATE\"\nclass_name = \"AlertGate\"\n[[migrations]]\ntag = \"v3\"\nnew_sqlite_classes = [\"AlertGate\"]\n";
        let vars = format!("{VARS}ALERT_URL=https://example.invalid/hook\n");
        let with = GOOD_VARS.replace("[env.production", &format!("{alerts}[env.production"));
        let r = check_text(&format!("{with}{PLATFORM}{gate}"), None, Some(&vars));
        assert!(r.errors.is_empty() && r.warnings.is_empty(), "{:?} {:?}", r.errors, r.warnings);
        let r = check_text(&format!("{with}{PLATFORM}"), None, Some(&vars));
        assert_eq!(paths(&r.errors), ["durable_objects.bindings"]);
        assert!(r.errors[0].message.contains("ALERT_GATE"), "{}", r.errors[0]);
        let r = check_text(&format!("{with}{PLATFORM}{gate}"), None, Some(VARS));
        assert_eq!(paths(&r.errors), [".dev.vars.ALERT_URL"]);
        let bad = with.replace("format = \"teams\"", "format = \"email\"");
        let r = check_text(&format!("{bad}{PLATFORM}{gate}"), None, Some(&vars));
        assert_eq!(paths(&r.errors), ["vars.FLOWGATE.alerts.format"]);
    }

    #[test]
    fn plaid_credentials_must_be_set() {
        let good = &*GOOD;
        let config = format!(
            "{good}[vars.FLOWGATE.routes.plaid]\nprovider = \"plaid\"\nplaid_client_id_binding = \"PLAID_CLIENT_ID\"\n\
             plaid_secret_binding = \"PLAID_SECRET\"\nflow_url_binding = \"FLOW\"\n"
        )
        .replace("[env.production.vars.FLOWGATE.entra]\ntenant = \"common\"\n", "");
        let r = check_text(&config, None, Some(&format!("{VARS}PLAID_CLIENT_ID=c\nPLAID_SECRET=s\n")));
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let r = check_text(&config, None, Some(&format!("{VARS}PLAID_CLIENT_ID=c\n")));
        assert_eq!(paths(&r.errors), [".dev.vars.PLAID_SECRET"]);
    }

    #[test]
    fn ebay_and_circle_credentials_must_be_set() {
        let good = &*GOOD;
        let config = format!(
            "{good}[vars.FLOWGATE.routes.ebay]\nprovider = \"ebay\"\nebay_client_id_binding = \"EBAY_CLIENT_ID\"\n\
             ebay_client_secret_binding = \"EBAY_CLIENT_SECRET\"\nverify_token_binding = \"EBAY_VERIFICATION_TOKEN\"\n\
             flow_url_binding = \"FLOW\"\n\
             [vars.FLOWGATE.routes.circle]\nprovider = \"circle\"\ncircle_api_key_binding = \"CIRCLE_API_KEY\"\n\
             flow_url_binding = \"FLOW\"\n"
        )
        .replace("[env.production.vars.FLOWGATE.entra]\ntenant = \"common\"\n", "");
        let all = "EBAY_CLIENT_ID=c\nEBAY_CLIENT_SECRET=s\nEBAY_VERIFICATION_TOKEN=t\nCIRCLE_API_KEY=k\n";
        let r = check_text(&config, None, Some(&format!("{VARS}{all}")));
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let r = check_text(&config, None, Some(&format!("{VARS}EBAY_CLIENT_ID=c\nEBAY_VERIFICATION_TOKEN=t\n")));
        assert_eq!(paths(&r.errors), [".dev.vars.CIRCLE_API_KEY", ".dev.vars.EBAY_CLIENT_SECRET"]);
    }

    fn rules() -> String {
        format!("{RULES}{PLATFORM}")
    }

    const RULES: &str = r#"
[[kv_namespaces]]
binding = "TOKEN_CACHE"
id = "x"
[vars.FLOWGATE.entra]
tenant = "contoso.onmicrosoft.com"
client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
client_secret_binding = "ENTRA_CLIENT_SECRET"
[vars.FLOWGATE.credentials.partner]
tenant = "fabrikam.onmicrosoft.com"
client_id = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
client_secret_binding = "PARTNER_SECRET"
[vars.FLOWGATE.flows.deploys]
url_binding = "FLOW_URL_DEPLOYS"
[vars.FLOWGATE.flows.bugs]
url_binding = "FLOW_URL_BUGS"
payload = "envelope"
credential = "partner"
[vars.FLOWGATE.routes.gh]
provider = "github"
secret_bindings = ["GH"]
[[vars.FLOWGATE.routes.gh.rules]]
event = "push"
flows = ["deploys"]
[[vars.FLOWGATE.routes.gh.rules]]
event = "issues"
fields = { action = "labeled", "label.name" = "bug" }
flows = ["bugs"]
[vars.FLOWGATE.routes.all]
provider = "github"
secret_bindings = ["GH_ALL"]
default_flow = "deploys"
[vars.FLOWGATE.routes.single]
provider = "github"
secret_bindings = ["GH_SINGLE"]
flow_url_binding = "FLOW_URL_SINGLE"
payload = "envelope"
"#;

    #[test]
    fn valid_configurations_summarise_each_route() {
        let r = check_text(&GOOD, None, None);
        assert_eq!(r.routes, ["clerk: every event → clerk", "github: every event → github"]);
        let r = check_text(&rules(), None, None);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            r.routes,
            [
                "all: no rules; every event → deploys",
                "gh: 2 rules → deploys, bugs (envelope); unmatched events dropped",
                "single: every event → single (envelope)",
            ]
        );
        let with_default = rules().replacen(
            "secret_bindings = [\"GH\"]\n[[vars",
            "secret_bindings = [\"GH\"]\ndefault_flow = \"deploys\"\n[[vars",
            1,
        );
        let config = load_config(&with_default, None);
        let config = config.unwrap_or_else(|p| panic!("{p:#?}"));
        assert_eq!(
            route_summary(&config, &config.routes["gh"]),
            "gh: 2 rules → deploys, bugs (envelope); unmatched events → deploys"
        );
        // Problems in rules are reported, and no summary.
        let r = check_text(&rules().replace("flows = [\"deploys\"]\n[[", "flows = [\"deploy\"]\n[["), None, None);
        assert_eq!(paths(&r.errors), ["vars.FLOWGATE.routes.gh.rules[0].flows[0]"]);
        assert!(r.errors[0].fix.contains("bugs, deploys"), "{}", r.errors[0].fix);
        assert!(r.routes.is_empty());
    }

    #[test]
    fn dev_vars_cover_every_flow_and_credential() {
        let vars = "ENTRA_CLIENT_SECRET=x\nGH=s\nGH_ALL=t\nGH_SINGLE=u\nFLOW_URL_DEPLOYS=https://e.01.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/a/triggers/manual/paths/invoke?api-version=1\n\
                    FLOW_URL_SINGLE=https://e.01.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/b/triggers/manual/paths/invoke?api-version=1\n";
        let r = check_text(&rules(), None, Some(vars));
        assert_eq!(paths(&r.errors), [".dev.vars.PARTNER_SECRET", ".dev.vars.FLOW_URL_BUGS"]);
        let all = format!("{vars}PARTNER_SECRET=y\nFLOW_URL_BUGS=https://e.01.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/c/triggers/manual/paths/invoke?api-version=1\n");
        assert!(check_text(&rules(), None, Some(&all)).errors.is_empty());
    }

    #[test]
    fn invalid_toml_is_reported() {
        let r = check_text("name = ", None, None);
        assert!(r.errors[0].message.contains("not valid TOML"));
    }
}
