//! `flowgate schema <route>`: the JSON Schema of the envelope a route's
//! flows get with `payload = "envelope"`, for the flow's "When an HTTP
//! request is received" trigger (its "Request Body JSON Schema" box), so the
//! envelope's fields show up as dynamic content.
//!
//! The schema is on stdout (pretty JSON, nothing else, so it can be piped
//! or redirected); what to do with it, and anything to watch out for, is on
//! stderr.

use std::{path::PathBuf, process::ExitCode};

use flowgate_core::{
    config::{Config, Payload},
    envelope::{self, BodyHint},
    verify::Scheme,
};
use serde_json::Value;

use crate::check::{find_route, read_config};

/// What a route's bodies are, for the schema's `body` property.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// Form-encoded (Slack slash commands and interactivity, Twilio):
    /// `body` is an object of strings.
    Form,
    /// Anything the sender sends: `body` is left open.
    Any,
}

/// Arguments of `flowgate schema`.
#[derive(clap::Args, Debug)]
pub struct SchemaArgs {
    /// The route (a `[vars.FLOWGATE.routes.<name>]` table).
    pub route: String,
    /// The wrangler configuration.
    #[arg(long, default_value = "wrangler.toml")]
    pub config: PathBuf,
    /// Use `[env.NAME]` instead of the top level.
    #[arg(long)]
    pub env: Option<String>,
    /// What the route's bodies are [default: form for Twilio, any otherwise].
    #[arg(long, value_enum)]
    pub body: Option<BodyKind>,
}

/// The body hint for a route: what `--body` says, else form for the one
/// sender whose webhooks are form posts by design (Twilio). Slack is not
/// assumed: its Events API posts JSON, only slash commands and
/// interactivity post forms, and a route may take either.
fn hint(scheme: &Scheme, body: Option<BodyKind>) -> BodyHint {
    match body {
        Some(BodyKind::Form) => BodyHint::Form,
        Some(BodyKind::Any) => BodyHint::Unknown,
        None if *scheme == Scheme::Twilio => BodyHint::Form,
        None => BodyHint::Unknown,
    }
}

/// The schema of `route`'s envelopes, and the notes for the operator.
///
/// # Errors
/// An unknown route.
pub fn route_schema(config: &Config, route: &str, body: Option<BodyKind>) -> anyhow::Result<(Value, Vec<String>)> {
    let route = find_route(config, route)?;
    let hint = hint(&route.scheme, body);
    let schema = envelope::schema(&route.name, route.provider.name, &route.envelope, hint);
    let mut notes = vec![
        "Paste it into the flow's \"When an HTTP request is received\" trigger, as its \"Request Body JSON Schema\"."
            .to_owned(),
    ];
    let (envelope, raw): (Vec<&str>, Vec<&str>) = route
        .rules
        .flows()
        .into_iter()
        .partition(|f| config.flows.get(*f).is_some_and(|f| f.payload == Payload::Envelope));
    if envelope.is_empty() {
        notes.push(format!(
            "Note: no flow of route {} has payload = \"envelope\": its flows ({}) get the sender's raw body, not this envelope.",
            route.name,
            raw.join(", ")
        ));
    } else if !raw.is_empty() {
        notes.push(format!(
            "Flows that get this envelope: {}. (Flows {} get the raw body.)",
            envelope.join(", "),
            raw.join(", ")
        ));
    }
    if route.provider.name == "slack" && body.is_none() {
        notes.push(
            "Slack's Events API posts JSON, but slash commands and interactivity post forms: for a route that takes those, use --body form."
                .to_owned(),
        );
    }
    Ok((schema, notes))
}

/// Runs `flowgate schema`.
///
/// # Errors
/// An unreadable or invalid configuration, or an unknown route.
pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let config = read_config(&args.config, args.env.as_deref())?;
    let (schema, notes) = route_schema(&config, &args.route, args.body)?;
    crate::route::write_stdout(&format!("{}\n", serde_json::to_string_pretty(&schema)?))?;
    for note in notes {
        eprintln!("{note}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::load_config;

    const CONFIG: &str = r#"
[vars.FLOWGATE.entra]
tenant = "contoso.onmicrosoft.com"
client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
client_secret_binding = "ENTRA_CLIENT_SECRET"
[vars.FLOWGATE.flows.deploys]
url_binding = "FLOW_URL_DEPLOYS"
payload = "envelope"
[vars.FLOWGATE.flows.audit]
url_binding = "FLOW_URL_AUDIT"
[vars.FLOWGATE.routes.gh]
provider = "github"
secret_bindings = ["GH"]
default_flow = "audit"
envelope_headers = ["X-GitHub-Hook-ID"]
[[vars.FLOWGATE.routes.gh.rules]]
event = "push"
flows = ["deploys"]
[vars.FLOWGATE.routes.sms]
provider = "twilio"
secret_bindings = ["TWILIO"]
flow_url_binding = "FLOW_URL_SMS"
payload = "envelope"
[vars.FLOWGATE.routes.slack]
provider = "slack"
secret_bindings = ["SLACK"]
flow_url_binding = "FLOW_URL_SLACK"
"#;

    fn config() -> Config {
        load_config(CONFIG, None).unwrap_or_else(|p| panic!("{p:#?}"))
    }

    #[test]
    fn schema_carries_the_routes_headers_and_says_which_flows_get_it() {
        let (schema, notes) = route_schema(&config(), "gh", None).unwrap();
        assert_eq!(
            schema["properties"]["headers"]["properties"]["x-github-hook-id"],
            serde_json::json!({"type": "string"})
        );
        assert!(schema["properties"]["body"].get("type").is_none(), "a GitHub body is left open");
        assert!(notes[0].contains("Request Body JSON Schema"));
        assert_eq!(notes[1], "Flows that get this envelope: deploys. (Flows audit get the raw body.)");
    }

    #[test]
    fn form_senders_get_an_object_body() {
        let (schema, notes) = route_schema(&config(), "sms", None).unwrap();
        assert_eq!(schema["properties"]["body"]["type"], "object");
        assert_eq!(notes.len(), 1, "{notes:?}");
        let (schema, _) = route_schema(&config(), "sms", Some(BodyKind::Any)).unwrap();
        assert!(schema["properties"]["body"].get("type").is_none());
    }

    #[test]
    fn raw_only_routes_and_slack_are_noted() {
        let (schema, notes) = route_schema(&config(), "slack", None).unwrap();
        assert!(schema["properties"]["body"].get("type").is_none());
        assert!(notes[1].contains("no flow of route slack has payload = \"envelope\""), "{notes:?}");
        assert!(notes[2].contains("--body form"), "{notes:?}");
        let (schema, notes) = route_schema(&config(), "slack", Some(BodyKind::Form)).unwrap();
        assert_eq!(schema["properties"]["body"]["type"], "object");
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn unknown_routes_list_the_routes() {
        let err = route_schema(&config(), "github", None).unwrap_err().to_string();
        assert_eq!(err, "no route \"github\" in the configuration; its routes are: gh, slack, sms");
    }
}
