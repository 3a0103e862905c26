//! The built-in senders: each one's scheme, exactly as it signs
//! (webhook-providers.md §b, checked against the senders' documentation and
//! SDKs), where its event type and delivery id are, and which setup events
//! the Worker answers itself.
//!
//! Most senders are presets of the configurable [`HmacScheme`]; the same
//! settings written in `wrangler.toml` (`provider = "custom"`) verify the
//! same way, which the tests check preset by preset.

use std::borrow::Cow;

use super::{
    scheme::{
        parse_template, Encoding, Field, HmacScheme, MacAlgorithm, Part, SecretEncoding, SignatureFormat,
        TimestampRule, TimestampSource, TimestampUnit,
    },
    shared_secret::HeaderSecret,
    Handshake, Verified,
};

/// How a sender signs.
// Schemes are built once per isolate (at configuration load), never per
// request: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// An HMAC (or hash) over a signed string: most senders.
    Hmac(HmacScheme),
    /// Standard Webhooks / Svix (`webhook-*` or `svix-*` headers, `whsec_` keys).
    StandardWebhooks,
    /// Twilio: base64 HMAC-SHA1 of the URL and the sorted form parameters
    /// (or of a URL carrying `bodySHA256` for JSON bodies) ([`super::twilio`]).
    Twilio,
    /// Discord: Ed25519 over timestamp ‖ body; the secret is the app's public key ([`super::discord`]).
    Discord,
    /// SendGrid: ECDSA P-256 over timestamp ‖ body; the secret is the SPKI public key ([`super::sendgrid`]).
    SendGrid,
    /// Mailgun: HMAC of timestamp ‖ token in the JSON body ([`super::body_fields`]).
    Mailgun,
    /// Figma: the `passcode` field of the JSON body ([`super::body_fields`]).
    Figma,
    /// Microsoft Graph: every notification's `clientState` ([`super::body_fields`]).
    MsGraph,
    /// A header whose value is the secret (GitLab, Okta) ([`super::shared_secret`]).
    Token(HeaderSecret),
    /// `Authorization: Basic`, the secret written `user:pass` ([`super::shared_secret`]).
    BasicAuth(HeaderSecret),
    /// Netlify: an HS256 JWS with `iss` and the body's SHA-256 ([`super::jwt_hs256`]).
    Netlify,
    /// monday.com: an HS256 JWT in `Authorization` ([`super::jwt_hs256`]).
    Monday,
    /// Contentful: HMAC-SHA256 of the canonical request ([`super::contentful`]).
    Contentful,
    /// Plaid: an ES256 JWT with the body's SHA-256; the secrets are Plaid's
    /// JWKs, fetched by `kid` ([`super::plaid`]).
    Plaid,
}

impl Scheme {
    /// A short name of the mechanism, for listings.
    pub fn kind(&self) -> &'static str {
        match self {
            Scheme::Hmac(_) => "hmac",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Twilio => "twilio",
            Scheme::Discord => "ed25519",
            Scheme::SendGrid => "ecdsa-p256",
            Scheme::Mailgun => "hmac-in-body",
            Scheme::Figma | Scheme::MsGraph => "secret-in-body",
            Scheme::Token(_) => "token",
            Scheme::BasicAuth(_) => "basic-auth",
            Scheme::Netlify | Scheme::Monday => "jwt-hs256",
            Scheme::Contentful => "contentful",
            Scheme::Plaid => "jwt-es256",
        }
    }
}

/// What backs a provider's support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A vector published by the sender or its SDK passes (and its tampered twins fail).
    PublishedVector,
    /// Signed here exactly as the sender's documentation/SDK signs, round-tripped and mutated.
    SdkStyleRoundTrip,
}

impl Evidence {
    /// Short label for listings.
    pub fn label(self) -> &'static str {
        match self {
            Evidence::PublishedVector => "published vector",
            Evidence::SdkStyleRoundTrip => "SDK-style round trip",
        }
    }
}

/// A built-in sender.
#[derive(Debug)]
pub struct Provider {
    /// Configuration name (`provider = "..."`).
    pub name: &'static str,
    /// Display name.
    pub title: &'static str,
    /// The sender's signing documentation.
    pub docs: &'static str,
    /// What is checked, in one line.
    pub checks: &'static str,
    /// Test evidence.
    pub evidence: Evidence,
    /// A typical event type (for `flowgate send`).
    pub sample_event: &'static str,
    scheme: fn() -> Scheme,
    /// A setup event that only needs a 2xx: (event type) — answered, not forwarded.
    ping_event: Option<&'static str>,
}

impl Provider {
    /// The provider's scheme.
    pub fn scheme(&self) -> Scheme {
        (self.scheme)()
    }

    /// The handshake a verified request is, if any.
    pub(super) fn ping(&self, v: &Verified<'_>) -> Option<Handshake> {
        match (self.ping_event, v.event_type()) {
            (Some(ping), Some(ev)) if ping == ev => Some(Handshake::Ping(self.name)),
            _ => None,
        }
    }
}

impl PartialEq for Provider {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Provider {}

static CUSTOM: Provider = Provider {
    name: "custom",
    title: "Custom (configured scheme)",
    docs: "README.md#custom-senders",
    checks: "the route's [scheme] table",
    evidence: Evidence::SdkStyleRoundTrip,
    sample_event: "custom",
    // Never used: a custom route carries its own scheme.
    scheme: || Scheme::StandardWebhooks,
    ping_event: None,
};

/// The provider of `provider = "custom"` routes.
pub fn custom() -> &'static Provider {
    &CUSTOM
}

/// Every built-in sender, by name.
pub fn providers() -> &'static [Provider] {
    CATALOGUE
}

/// The built-in sender called `name`.
pub fn find_provider(name: &str) -> Option<&'static Provider> {
    CATALOGUE.iter().find(|p| p.name == name)
}

const fn s(t: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(t)
}

/// `header: [prefix]<sig>` over the body, raw secret, no timestamp.
fn body_mac(algorithm: MacAlgorithm, encoding: Encoding, header: &'static str, prefix: &'static str) -> HmacScheme {
    HmacScheme {
        algorithm,
        encoding,
        signature_headers: vec![s(header)],
        prefix: s(prefix),
        format: SignatureFormat::Plain,
        template: parse_template("{body}").expect("static template"),
        timestamp: None,
        id_header: None,
        secret: SecretEncoding::Raw,
        event: Vec::new(),
        delivery: Vec::new(),
    }
}

trait Preset {
    fn template(self, t: &'static str) -> Self;
    fn ts(self, source: TimestampSource, unit: TimestampUnit, tolerance_secs: u64, past_only: bool) -> Self;
    fn structured(self, separator: char, timestamp_key: &'static str, signature_key: &'static str) -> Self;
    fn list(self, separator: char) -> Self;
    fn secret(self, e: SecretEncoding) -> Self;
    fn id(self, header: &'static str) -> Self;
    fn headers(self, names: &[&'static str]) -> Self;
    fn event(self, f: Field) -> Self;
    fn delivery(self, f: Field) -> Self;
}

impl Preset for HmacScheme {
    fn template(mut self, t: &'static str) -> Self {
        self.template = parse_template(t).expect("static template");
        self
    }
    fn ts(mut self, source: TimestampSource, unit: TimestampUnit, tolerance_secs: u64, past_only: bool) -> Self {
        self.timestamp = Some(TimestampRule { source, unit, tolerance_secs, past_only });
        self
    }
    fn structured(mut self, separator: char, timestamp_key: &'static str, signature_key: &'static str) -> Self {
        self.format =
            SignatureFormat::Structured { separator, timestamp_key: s(timestamp_key), signature_key: s(signature_key) };
        self
    }
    fn list(mut self, separator: char) -> Self {
        self.format = SignatureFormat::List { separator };
        self
    }
    fn secret(mut self, e: SecretEncoding) -> Self {
        self.secret = e;
        self
    }
    fn id(mut self, header: &'static str) -> Self {
        self.id_header = Some(s(header));
        self
    }
    fn headers(mut self, names: &[&'static str]) -> Self {
        self.signature_headers = names.iter().map(|n| s(n)).collect();
        self
    }
    fn event(mut self, f: Field) -> Self {
        self.event.push(f);
        self
    }
    fn delivery(mut self, f: Field) -> Self {
        self.delivery.push(f);
        self
    }
}

fn h(name: &'static str) -> Field {
    Field::Header(s(name))
}
fn j(path: &'static str) -> Field {
    Field::Json(s(path))
}
fn hdr(name: &'static str) -> TimestampSource {
    TimestampSource::Header(s(name))
}

use self::{Evidence::*, MacAlgorithm::*};
use super::scheme::{Encoding::*, TimestampUnit::*};

macro_rules! provider {
    ($name:literal, $title:literal, $docs:literal, $checks:literal, $evidence:expr, $sample:literal, $scheme:expr) => {
        Provider {
            name: $name,
            title: $title,
            docs: $docs,
            checks: $checks,
            evidence: $evidence,
            sample_event: $sample,
            scheme: || $scheme,
            ping_event: None,
        }
    };
}

static CATALOGUE: &[Provider] = &[
    Provider {
        ping_event: Some("ping"),
        ..provider!(
            "github",
            "GitHub",
            "https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries",
            "X-Hub-Signature-256: sha256=hex HMAC-SHA256(body)",
            PublishedVector,
            "push",
            Scheme::Hmac(
                body_mac(HmacSha256, Hex, "x-hub-signature-256", "sha256=")
                    .event(h("x-github-event"))
                    .delivery(h("x-github-delivery"))
            )
        )
    },
    Provider {
        ping_event: Some("ping"),
        ..provider!(
            "github-sha1",
            "GitHub (legacy SHA-1)",
            "https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries",
            "X-Hub-Signature: sha1=hex HMAC-SHA1(body)",
            SdkStyleRoundTrip,
            "push",
            Scheme::Hmac(
                body_mac(HmacSha1, Hex, "x-hub-signature", "sha1=")
                    .event(h("x-github-event"))
                    .delivery(h("x-github-delivery"))
            )
        )
    },
    provider!(
        "standard-webhooks",
        "Standard Webhooks",
        "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
        "webhook-signature: v1,base64 HMAC-SHA256(id.ts.body), whsec_ key, ±5 min",
        PublishedVector,
        "invoice.paid",
        Scheme::StandardWebhooks
    ),
    provider!(
        "svix",
        "Svix",
        "https://docs.svix.com/receiving/verifying-payloads/how-manual",
        "svix-signature: v1,base64 HMAC-SHA256(id.ts.body), whsec_ key, ±5 min",
        PublishedVector,
        "invoice.paid",
        Scheme::StandardWebhooks
    ),
    provider!(
        "clerk",
        "Clerk (Svix)",
        "https://clerk.com/docs/webhooks/sync-data",
        "svix-* headers as Svix",
        PublishedVector,
        "user.created",
        Scheme::StandardWebhooks
    ),
    provider!(
        "resend",
        "Resend (Svix)",
        "https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests",
        "svix-* headers as Svix",
        PublishedVector,
        "email.delivered",
        Scheme::StandardWebhooks
    ),
    provider!(
        "gitlab-signing",
        "GitLab (signing token)",
        "https://docs.gitlab.com/user/project/integrations/webhooks/",
        "Standard Webhooks headers, whsec_ signing token",
        PublishedVector,
        "Push Hook",
        Scheme::StandardWebhooks
    ),
    provider!(
        "stripe",
        "Stripe",
        "https://docs.stripe.com/webhooks?verify=verify-manually",
        "Stripe-Signature: t=…,v1=hex HMAC-SHA256(t.body), whole whsec_ string as key, 5 min (past only)",
        SdkStyleRoundTrip,
        "invoice.paid",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "stripe-signature", "")
                .structured(',', "t", "v1")
                .template("{timestamp}.{body}")
                .ts(TimestampSource::Structured, Seconds, 300, true)
                .event(j("type"))
                .delivery(j("id"))
        )
    ),
    provider!(
        "slack",
        "Slack",
        "https://api.slack.com/authentication/verifying-requests-from-slack",
        "X-Slack-Signature: v0=hex HMAC-SHA256(v0:ts:body), ±5 min",
        PublishedVector,
        "event_callback",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "x-slack-signature", "v0=")
                .template("v0:{timestamp}:{body}")
                .ts(hdr("x-slack-request-timestamp"), Seconds, 300, false)
                .event(j("event.type"))
                .event(j("type"))
                .delivery(j("event_id"))
        )
    ),
    provider!(
        "shopify",
        "Shopify",
        "https://shopify.dev/docs/apps/build/webhooks/subscribe/https",
        "X-Shopify-Hmac-Sha256: base64 HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "orders/create",
        Scheme::Hmac(
            body_mac(HmacSha256, Base64, "x-shopify-hmac-sha256", "")
                .event(h("x-shopify-topic"))
                .delivery(h("x-shopify-webhook-id"))
        )
    ),
    provider!(
        "zoom",
        "Zoom",
        "https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events",
        "x-zm-signature: v0=hex HMAC-SHA256(v0:ts:body), ±5 min",
        SdkStyleRoundTrip,
        "meeting.started",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "x-zm-signature", "v0=")
                .template("v0:{timestamp}:{body}")
                .ts(hdr("x-zm-request-timestamp"), Seconds, 300, false)
                .event(j("event"))
        )
    ),
    provider!(
        "linear",
        "Linear",
        "https://linear.app/developers/webhooks",
        "Linear-Signature: hex HMAC-SHA256(body); webhookTimestamp (ms, in the body) ±60 s",
        SdkStyleRoundTrip,
        "Issue",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "linear-signature", "")
                .ts(TimestampSource::JsonField(s("webhookTimestamp")), Millis, 60, false)
                .event(h("linear-event"))
                .delivery(h("linear-delivery"))
        )
    ),
    provider!(
        "twitch",
        "Twitch EventSub",
        "https://dev.twitch.tv/docs/eventsub/handling-webhook-events",
        "Twitch-Eventsub-Message-Signature: sha256=hex HMAC-SHA256(id‖ts‖body), RFC 3339, 10 min (past only)",
        SdkStyleRoundTrip,
        "channel.follow",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "twitch-eventsub-message-signature", "sha256=")
                .template("{id}{timestamp}{body}")
                .id("twitch-eventsub-message-id")
                .ts(hdr("twitch-eventsub-message-timestamp"), Rfc3339, 600, true)
                .event(h("twitch-eventsub-subscription-type"))
                .delivery(h("twitch-eventsub-message-id"))
        )
    ),
    provider!(
        "meta",
        "Meta (Facebook, Instagram, Messenger, WhatsApp)",
        "https://developers.facebook.com/docs/graph-api/webhooks/getting-started",
        "X-Hub-Signature-256: sha256=hex HMAC-SHA256(body), App Secret",
        SdkStyleRoundTrip,
        "page",
        Scheme::Hmac(body_mac(HmacSha256, Hex, "x-hub-signature-256", "sha256=").event(j("object")))
    ),
    provider!(
        "square",
        "Square",
        "https://developer.squareup.com/docs/webhooks/step3validate",
        "x-square-hmacsha256-signature: base64 HMAC-SHA256(url‖body)",
        SdkStyleRoundTrip,
        "payment.created",
        Scheme::Hmac(
            body_mac(HmacSha256, Base64, "x-square-hmacsha256-signature", "")
                .template("{url}{body}")
                .event(j("type"))
                .delivery(j("event_id"))
        )
    ),
    provider!(
        "pagerduty",
        "PagerDuty",
        "https://developer.pagerduty.com/docs/webhooks/webhook-signatures",
        "X-PagerDuty-Signature: v1=hex[,v1=hex] HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "incident.triggered",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "x-pagerduty-signature", "v1=")
                .list(',')
                .event(j("event.event_type"))
                .delivery(j("event.id"))
        )
    ),
    provider!(
        "typeform",
        "Typeform",
        "https://www.typeform.com/developers/webhooks/secure-your-webhooks/",
        "Typeform-Signature: sha256=base64 HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "form_response",
        Scheme::Hmac(
            body_mac(HmacSha256, Base64, "typeform-signature", "sha256=")
                .event(j("event_type"))
                .delivery(j("event_id"))
        )
    ),
    provider!(
        "intercom",
        "Intercom",
        "https://developers.intercom.com/docs/references/webhooks/webhook-models",
        "X-Hub-Signature: sha1=hex HMAC-SHA1(body), the subscription's hub_secret",
        SdkStyleRoundTrip,
        "conversation.user.created",
        Scheme::Hmac(body_mac(HmacSha1, Hex, "x-hub-signature", "sha1=").event(j("topic")).delivery(j("id")))
    ),
    provider!(
        "hubspot",
        "HubSpot (v3)",
        "https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests",
        "X-HubSpot-Signature-v3: base64 HMAC-SHA256(method‖url‖body‖ts), ms, 5 min (past only)",
        SdkStyleRoundTrip,
        "contact.creation",
        Scheme::Hmac(
            // The URI with HubSpot's listed percent-encodings decoded (request-validation docs).
            HmacScheme {
                template: vec![Part::Method, Part::UrlHubSpotDecoded, Part::Body, Part::Timestamp],
                ..body_mac(HmacSha256, Base64, "x-hubspot-signature-v3", "")
            }
            .ts(
                hdr("x-hubspot-request-timestamp"),
                Millis,
                300,
                true
            )
        )
    ),
    provider!(
        "hubspot-v2",
        "HubSpot (v2)",
        "https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests",
        "X-HubSpot-Signature: hex SHA-256(secret‖method‖url‖body)",
        PublishedVector,
        "contact.creation",
        Scheme::Hmac(body_mac(Sha256SecretPrefix, Hex, "x-hubspot-signature", "").template("{method}{url}{body}"))
    ),
    provider!(
        "hubspot-v1",
        "HubSpot (v1)",
        "https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests",
        "X-HubSpot-Signature: hex SHA-256(secret‖body)",
        PublishedVector,
        "contact.creation",
        Scheme::Hmac(body_mac(Sha256SecretPrefix, Hex, "x-hubspot-signature", ""))
    ),
    provider!(
        "calendly",
        "Calendly",
        "https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures",
        "Calendly-Webhook-Signature: t=…,v1=hex HMAC-SHA256(t.body), 3 min",
        SdkStyleRoundTrip,
        "invitee.created",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "calendly-webhook-signature", "")
                .structured(',', "t", "v1")
                .template("{timestamp}.{body}")
                .ts(TimestampSource::Structured, Seconds, 180, false)
                .event(j("event"))
        )
    ),
    provider!(
        "paddle",
        "Paddle Billing",
        "https://developer.paddle.com/webhooks/signature-verification",
        "Paddle-Signature: ts=…;h1=hex HMAC-SHA256(ts:body), 5 s (past only)",
        PublishedVector,
        "transaction.completed",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "paddle-signature", "")
                .structured(';', "ts", "h1")
                .template("{timestamp}:{body}")
                .ts(TimestampSource::Structured, Seconds, 5, true)
                .event(j("event_type"))
                .delivery(j("event_id"))
        )
    ),
    provider!(
        "bitbucket",
        "Bitbucket",
        "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/",
        "X-Hub-Signature: sha256=hex HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "repo:push",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "x-hub-signature", "sha256=")
                .event(h("x-event-key"))
                .delivery(h("x-request-uuid"))
        )
    ),
    provider!(
        "jira",
        "Jira / Atlassian",
        "https://developer.atlassian.com/cloud/jira/platform/webhooks/",
        "X-Hub-Signature: sha256=hex HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "jira:issue_created",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "x-hub-signature", "sha256=")
                .event(j("webhookEvent"))
                .delivery(h("x-atlassian-webhook-identifier"))
        )
    ),
    provider!(
        "trello",
        "Trello",
        "https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/",
        "X-Trello-Webhook: base64 HMAC-SHA1(body‖callback URL)",
        SdkStyleRoundTrip,
        "updateCard",
        Scheme::Hmac(
            body_mac(HmacSha1, Base64, "x-trello-webhook", "")
                .template("{body}{url}")
                .event(j("action.type"))
                .delivery(j("action.id"))
        )
    ),
    provider!(
        "dropbox",
        "Dropbox",
        "https://www.dropbox.com/developers/reference/webhooks",
        "X-Dropbox-Signature: hex HMAC-SHA256(body), app secret",
        SdkStyleRoundTrip,
        "list_folder",
        Scheme::Hmac(body_mac(HmacSha256, Hex, "x-dropbox-signature", ""))
    ),
    provider!(
        "asana",
        "Asana",
        "https://developers.asana.com/docs/webhooks-guide",
        "X-Hook-Signature: hex HMAC-SHA256(body), the handshake's X-Hook-Secret",
        SdkStyleRoundTrip,
        "changed",
        Scheme::Hmac(body_mac(HmacSha256, Hex, "x-hook-signature", ""))
    ),
    provider!(
        "docusign",
        "DocuSign Connect",
        "https://developers.docusign.com/platform/webhooks/connect/validate/",
        "X-DocuSign-Signature-1…N: base64 HMAC-SHA256(body), one per active key",
        SdkStyleRoundTrip,
        "envelope-completed",
        Scheme::Hmac(
            // One header per active HMAC key, numbered from 1 (up to 100 keys,
            // per Hookdeck; DocuSign's page gives no maximum).
            HmacScheme {
                signature_headers: (1..=100).map(|n| Cow::Owned(format!("x-docusign-signature-{n}"))).collect(),
                ..body_mac(HmacSha256, Base64, "x-docusign-signature-1", "")
            }
            .event(j("event"))
        )
    ),
    provider!(
        "zendesk",
        "Zendesk",
        "https://developer.zendesk.com/documentation/webhooks/verifying/",
        "X-Zendesk-Webhook-Signature: base64 HMAC-SHA256(ts‖body), secret used literally",
        PublishedVector,
        "zen:event-type:ticket.created",
        Scheme::Hmac(
            body_mac(HmacSha256, Base64, "x-zendesk-webhook-signature", "")
                .template("{timestamp}{body}")
                .ts(hdr("x-zendesk-webhook-signature-timestamp"), Rfc3339, 3600, false)
                .event(j("type"))
                // x-zendesk-webhook-id names the webhook; the invocation id names this delivery
                // (developer.zendesk.com, "Anatomy of a webhook request").
                .delivery(h("x-zendesk-webhook-invocation-id"))
        )
    ),
    provider!(
        "xero",
        "Xero",
        "https://developer.xero.com/documentation/guides/webhooks/configuring-your-server/",
        "x-xero-signature: base64 HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "CREATE",
        Scheme::Hmac(body_mac(HmacSha256, Base64, "x-xero-signature", ""))
    ),
    provider!(
        "vercel",
        "Vercel",
        "https://vercel.com/docs/observability/webhooks-overview/webhooks-api#securing-webhooks",
        "x-vercel-signature: hex HMAC-SHA1(body)",
        SdkStyleRoundTrip,
        "deployment.succeeded",
        Scheme::Hmac(body_mac(HmacSha1, Hex, "x-vercel-signature", "").event(j("type")).delivery(j("id")))
    ),
    provider!(
        "sentry",
        "Sentry",
        "https://docs.sentry.io/organization/integrations/integration-platform/webhooks/",
        "Sentry-Hook-Signature: hex HMAC-SHA256(body), client secret",
        SdkStyleRoundTrip,
        "issue",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "sentry-hook-signature", "")
                .event(h("sentry-hook-resource"))
                .delivery(h("request-id"))
        )
    ),
    provider!(
        "segment",
        "Segment",
        "https://segment.com/docs/connections/destinations/catalog/actions-webhook/",
        "X-Signature: hex HMAC-SHA1(body)",
        SdkStyleRoundTrip,
        "track",
        Scheme::Hmac(body_mac(HmacSha1, Hex, "x-signature", "").event(j("type")).delivery(j("messageId")))
    ),
    provider!(
        "airtable",
        "Airtable",
        "https://airtable.com/developers/web/api/webhooks-overview",
        "X-Airtable-Content-MAC: hmac-sha256=hex HMAC-SHA256(body), base64-decoded macSecret",
        SdkStyleRoundTrip,
        "ping",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "x-airtable-content-mac", "hmac-sha256=").secret(SecretEncoding::Base64)
        )
    ),
    provider!(
        "box",
        "Box",
        "https://developer.box.com/guides/webhooks/v2/signatures-v2/",
        "BOX-SIGNATURE-PRIMARY/-SECONDARY: base64 HMAC-SHA256(body‖ts), 10 min (past only)",
        SdkStyleRoundTrip,
        "FILE.UPLOADED",
        Scheme::Hmac(
            body_mac(HmacSha256, Base64, "box-signature-primary", "")
                .headers(&["box-signature-primary", "box-signature-secondary"])
                .template("{body}{timestamp}")
                .ts(hdr("box-delivery-timestamp"), Rfc3339, 600, true)
                .event(j("trigger"))
                .delivery(h("box-delivery-id"))
        )
    ),
    provider!(
        "mux",
        "Mux",
        "https://www.mux.com/docs/core/verify-webhook-signatures",
        "Mux-Signature: t=…,v1=hex HMAC-SHA256(t.body), 5 min",
        SdkStyleRoundTrip,
        "video.asset.ready",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "mux-signature", "")
                .structured(',', "t", "v1")
                .template("{timestamp}.{body}")
                .ts(TimestampSource::Structured, Seconds, 300, false)
                .event(j("type"))
                .delivery(j("id"))
        )
    ),
    provider!(
        "lemonsqueezy",
        "Lemon Squeezy",
        "https://docs.lemonsqueezy.com/help/webhooks/signing-requests",
        "X-Signature: hex HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "order_created",
        Scheme::Hmac(body_mac(HmacSha256, Hex, "x-signature", "").event(h("x-event-name")).event(j("meta.event_name")))
    ),
    provider!(
        "woocommerce",
        "WooCommerce",
        "https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks",
        "X-WC-Webhook-Signature: base64 HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "order.created",
        Scheme::Hmac(
            body_mac(HmacSha256, Base64, "x-wc-webhook-signature", "")
                .event(h("x-wc-webhook-topic"))
                .delivery(h("x-wc-webhook-delivery-id"))
        )
    ),
    provider!(
        "notion",
        "Notion",
        "https://developers.notion.com/reference/webhooks",
        "X-Notion-Signature: sha256=hex HMAC-SHA256(body), verification_token",
        SdkStyleRoundTrip,
        "page.created",
        Scheme::Hmac(body_mac(HmacSha256, Hex, "x-notion-signature", "sha256=").event(j("type")).delivery(j("id")))
    ),
    provider!(
        "twitter",
        "Twitter / X",
        "https://docs.x.com/x-api/webhooks/introduction",
        "X-Twitter-Webhooks-Signature: sha256=base64 HMAC-SHA256(body), consumer secret",
        SdkStyleRoundTrip,
        "tweet_create_events",
        Scheme::Hmac(body_mac(HmacSha256, Base64, "x-twitter-webhooks-signature", "sha256="))
    ),
    provider!(
        "workos",
        "WorkOS",
        "https://workos.com/docs/events/data-syncing/webhooks",
        "WorkOS-Signature: t=ms,v1=hex HMAC-SHA256(t.body), 3 min",
        SdkStyleRoundTrip,
        "user.created",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "workos-signature", "")
                .structured(',', "t", "v1")
                .template("{timestamp}.{body}")
                .ts(TimestampSource::Structured, Millis, 180, false)
                .event(j("event"))
                .delivery(j("id"))
        )
    ),
    provider!(
        "razorpay",
        "Razorpay",
        "https://razorpay.com/docs/webhooks/validate-test/",
        "X-Razorpay-Signature: hex HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "payment.captured",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "x-razorpay-signature", "").event(j("event")).delivery(h("x-razorpay-event-id"))
        )
    ),
    provider!(
        "calcom",
        "Cal.com",
        "https://cal.com/docs/developing/guides/automation/webhooks",
        "x-cal-signature-256: hex HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "BOOKING_CREATED",
        Scheme::Hmac(body_mac(HmacSha256, Hex, "x-cal-signature-256", "").event(j("triggerEvent")))
    ),
    provider!(
        "heroku",
        "Heroku",
        "https://devcenter.heroku.com/articles/app-webhooks",
        "Heroku-Webhook-Hmac-SHA256: base64 HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "api:release",
        Scheme::Hmac(
            body_mac(HmacSha256, Base64, "heroku-webhook-hmac-sha256", "")
                .event(j("webhook_metadata.event.include"))
                .delivery(h("heroku-webhook-id"))
        )
    ),
    provider!(
        "circleci",
        "CircleCI",
        "https://circleci.com/docs/webhooks/",
        "circleci-signature: v1=hex HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "workflow-completed",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "circleci-signature", "v1=").list(',').event(j("type")).delivery(j("id"))
        )
    ),
    provider!(
        "clickup",
        "ClickUp",
        "https://developer.clickup.com/docs/webhooksignature",
        "X-Signature: hex HMAC-SHA256(body)",
        SdkStyleRoundTrip,
        "taskCreated",
        Scheme::Hmac(body_mac(HmacSha256, Hex, "x-signature", "").event(j("event")))
    ),
    provider!(
        "tiktok",
        "TikTok",
        "https://developers.tiktok.com/doc/webhooks-verification",
        "TikTok-Signature: t=…,s=hex HMAC-SHA256(t.body), 5 min",
        SdkStyleRoundTrip,
        "video.publish.complete",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "tiktok-signature", "")
                .structured(',', "t", "s")
                .template("{timestamp}.{body}")
                .ts(TimestampSource::Structured, Seconds, 300, false)
                .event(j("event"))
        )
    ),
    provider!(
        "customerio",
        "Customer.io",
        "https://docs.customer.io/journeys/webhooks/#securely-verify-requests",
        "X-CIO-Signature: hex HMAC-SHA256(v0:ts:body), 5 min",
        SdkStyleRoundTrip,
        "email_sent",
        Scheme::Hmac(
            body_mac(HmacSha256, Hex, "x-cio-signature", "")
                .template("v0:{timestamp}:{body}")
                .ts(hdr("x-cio-timestamp"), Seconds, 300, false)
                .event(j("metric"))
                .delivery(j("event_id"))
        )
    ),
    provider!(
        "front",
        "Front",
        "https://dev.frontapp.com/docs/application-webhooks",
        "X-Front-Signature: base64 HMAC-SHA256(ts:body), ms, 5 min",
        SdkStyleRoundTrip,
        "inbound_received",
        Scheme::Hmac(
            body_mac(HmacSha256, Base64, "x-front-signature", "")
                .template("{timestamp}:{body}")
                .ts(hdr("x-front-request-timestamp"), Millis, 300, false)
                .event(j("type"))
        )
    ),
    provider!(
        "twilio",
        "Twilio",
        "https://www.twilio.com/docs/usage/webhooks/webhooks-security",
        "X-Twilio-Signature: base64 HMAC-SHA1(url‖sorted form params), or url with bodySHA256 for JSON; ±port, '/%27",
        PublishedVector,
        "message",
        Scheme::Twilio
    ),
    provider!(
        "discord",
        "Discord (interactions)",
        "https://discord.com/developers/docs/interactions/receiving-and-responding#security-and-authorization",
        "X-Signature-Ed25519: hex Ed25519(timestamp‖body), the app's public key as secret",
        SdkStyleRoundTrip,
        "2",
        Scheme::Discord
    ),
    provider!(
        "sendgrid",
        "Twilio SendGrid Event Webhook",
        "https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features",
        "X-Twilio-Email-Event-Webhook-Signature: base64 DER ECDSA P-256(timestamp‖body), SPKI public key as secret",
        PublishedVector,
        "delivered",
        Scheme::SendGrid
    ),
    provider!(
        "mailgun",
        "Mailgun",
        "https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks",
        "body signature.signature: hex HMAC-SHA256(timestamp‖token) (or parent-signature), ±5 min",
        SdkStyleRoundTrip,
        "delivered",
        Scheme::Mailgun
    ),
    provider!(
        "figma",
        "Figma (webhooks V2)",
        "https://developers.figma.com/docs/rest-api/webhooks-security",
        "body passcode equals the secret (constant time)",
        SdkStyleRoundTrip,
        "FILE_UPDATE",
        Scheme::Figma
    ),
    provider!(
        "msgraph",
        "Microsoft Graph change notifications",
        "https://learn.microsoft.com/graph/change-notifications-delivery-webhooks",
        "every value[].clientState equals the secret (constant time)",
        SdkStyleRoundTrip,
        "created",
        Scheme::MsGraph
    ),
    provider!(
        "gitlab",
        "GitLab (secret token)",
        "https://docs.gitlab.com/user/project/integrations/webhooks/",
        "X-Gitlab-Token equals the secret (constant time)",
        SdkStyleRoundTrip,
        "Push Hook",
        Scheme::Token(HeaderSecret {
            header: s("x-gitlab-token"),
            event: vec![h("x-gitlab-event")],
            delivery: vec![h("x-gitlab-event-uuid"), h("idempotency-key")],
        })
    ),
    provider!(
        "okta",
        "Okta event hooks",
        "https://developer.okta.com/docs/guides/hooks-best-practices/",
        "Authorization equals the secret (constant time)",
        SdkStyleRoundTrip,
        "user.session.start",
        Scheme::Token(HeaderSecret {
            header: s("authorization"),
            event: vec![j("data.events.0.eventType")],
            delivery: vec![j("eventId")],
        })
    ),
    provider!(
        "basic-auth",
        "HTTP Basic authentication",
        "https://datatracker.ietf.org/doc/html/rfc7617",
        "Authorization: Basic base64(user:pass) equals the secret user:pass",
        SdkStyleRoundTrip,
        "event",
        Scheme::BasicAuth(HeaderSecret { header: s("authorization"), event: Vec::new(), delivery: Vec::new() })
    ),
    provider!(
        "postmark",
        "Postmark",
        "https://postmarkapp.com/developer/webhooks/webhooks-overview",
        "Authorization: Basic base64(user:pass) (credentials in the webhook URL)",
        SdkStyleRoundTrip,
        "Delivery",
        Scheme::BasicAuth(HeaderSecret {
            header: s("authorization"),
            event: vec![j("RecordType")],
            delivery: vec![j("MessageID")],
        })
    ),
    provider!(
        "pipedrive",
        "Pipedrive",
        "https://pipedrive.readme.io/docs/guide-for-webhooks-v2",
        "Authorization: Basic base64(http_auth_user:http_auth_password)",
        SdkStyleRoundTrip,
        "updated.deal",
        Scheme::BasicAuth(HeaderSecret {
            header: s("authorization"),
            event: vec![j("event"), j("meta.action")],
            delivery: Vec::new(),
        })
    ),
    provider!(
        "netlify",
        "Netlify deploy notifications",
        "https://docs.netlify.com/site-deploys/deploy-notifications/#payload-signature",
        "X-Webhook-Signature: JWS HS256 with iss=netlify and sha256=hex SHA-256(body)",
        SdkStyleRoundTrip,
        "ready",
        Scheme::Netlify
    ),
    provider!(
        "monday",
        "monday.com",
        "https://developer.monday.com/apps/docs/authorization-header",
        "Authorization: JWT HS256 (signing secret); exp and aud checked when present",
        SdkStyleRoundTrip,
        "create_pulse",
        Scheme::Monday
    ),
    provider!(
        "contentful",
        "Contentful",
        "https://www.contentful.com/developers/docs/webhooks/request-verification/",
        "x-contentful-signature: hex HMAC-SHA256(method\\npath\\nsigned headers\\nbody), ms timestamp, 30 s (past only)",
        SdkStyleRoundTrip,
        "ContentManagement.Entry.publish",
        Scheme::Contentful
    ),
    provider!(
        "plaid",
        "Plaid",
        "https://plaid.com/docs/api/webhooks/webhook-verification/",
        "Plaid-Verification: JWT ES256 (JWK fetched by kid) with request_body_sha256=hex SHA-256(body), iat ≤ 5 min",
        SdkStyleRoundTrip,
        "TRANSACTIONS.SYNC_UPDATES_AVAILABLE",
        Scheme::Plaid
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        secret::Secret,
        verify::{verify, Inbound, VerifyError},
    };

    const NOW: u64 = 1_700_000_000;
    const URL: &str = "https://flowgate.example/hooks/test";

    fn secret_for(scheme: &HmacScheme) -> Secret {
        Secret::new(match scheme.secret {
            SecretEncoding::Raw => "a-signing-secret-for-tests",
            SecretEncoding::Base64 => "YS1zaWduaW5nLXNlY3JldC1mb3ItdGVzdHM=",
            SecretEncoding::Hex => "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            SecretEncoding::Whsec => "whsec_YS1zaWduaW5nLXNlY3JldC1mb3ItdGVzdHM=",
        })
    }

    fn body() -> Vec<u8> {
        format!(
            r#"{{"type":"sample.event","id":"evt_1","webhookTimestamp":{},"data":{{"note":"héllo \u0001"}}}}"#,
            NOW * 1000
        )
        .into_bytes()
    }

    #[allow(clippy::too_many_arguments)] // a test helper: one request, spelled out
    fn check(
        p: &Provider,
        scheme: &Scheme,
        secret: &Secret,
        headers: &[(String, String)],
        body: &[u8],
        now: u64,
        url: &str,
        method: &str,
    ) -> Result<(), VerifyError> {
        let h: Headers = headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        verify(p, scheme, None, std::slice::from_ref(secret), Inbound { headers: &h, body, now_secs: now, method, url })
            .map(|_| ())
    }

    /// For every HMAC preset: a signature made as the sender makes it passes;
    /// every mutation of what is signed fails.
    #[test]
    fn every_hmac_preset_round_trips_and_rejects_every_mutation() {
        let mut failures = Vec::new();
        let mut checked = 0;
        for p in providers() {
            let scheme = p.scheme();
            let Scheme::Hmac(h) = &scheme else { continue };
            checked += 1;
            let secret = secret_for(h);
            let body = body();
            let signed = h.sign(&secret, &body, NOW, "msg_1", URL, "POST").unwrap();
            let mut fail = |what: String| failures.push(format!("{}: {what}", p.name));
            if let Err(e) = check(p, &scheme, &secret, &signed, &body, NOW, URL, "POST") {
                fail(format!("round trip failed: {e}"));
                continue;
            }
            let must_fail = |headers: &[(String, String)], body: &[u8], now: u64, url: &str, method: &str| {
                check(p, &scheme, &secret, headers, body, now, url, method).is_err()
            };
            // Body: each byte class changed, appended, truncated.
            for i in [0, body.len() / 2, body.len() - 1] {
                let mut b = body.clone();
                b[i] ^= 0x01;
                if !must_fail(&signed, &b, NOW, URL, "POST") {
                    fail(format!("body byte {i} changed but accepted"));
                }
            }
            let mut longer = body.clone();
            longer.push(b' ');
            if !must_fail(&signed, &longer, NOW, URL, "POST")
                || !must_fail(&signed, &body[..body.len() - 1], NOW, URL, "POST")
            {
                fail("body appended/truncated but accepted".into());
            }
            // Each header removed; the signature truncated or changed.
            for (i, (name, _)) in signed.iter().enumerate() {
                let without: Vec<_> =
                    signed.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, kv)| kv.clone()).collect();
                if !must_fail(&without, &body, NOW, URL, "POST") {
                    fail(format!("header {name} removed but accepted"));
                }
            }
            let (sig_name, sig_value) = &signed[0];
            let mut truncated = signed.clone();
            truncated[0].1 = sig_value[..sig_value.len() - 2].to_owned();
            let mut changed = signed.clone();
            let last = sig_value.chars().last().unwrap();
            changed[0].1 =
                format!("{}{}", &sig_value[..sig_value.len() - 1], if last == 'a' || last == 'A' { 'b' } else { 'a' });
            if !must_fail(&truncated, &body, NOW, URL, "POST") || !must_fail(&changed, &body, NOW, URL, "POST") {
                fail(format!("{sig_name} truncated/changed but accepted"));
            }
            // The wrong secret.
            if !must_fail(&signed, &body, NOW, URL, "POST")
                && check(p, &scheme, &Secret::new("d3Jvbmc="), &signed, &body, NOW, URL, "POST").is_ok()
            {
                fail("wrong secret accepted".into());
            }
            if check(p, &scheme, &Secret::new("d3Jvbmctc2VjcmV0"), &signed, &body, NOW, URL, "POST").is_ok() {
                fail("wrong secret accepted".into());
            }
            // URL- and method-bound schemes.
            if h.url_bound() && !must_fail(&signed, &body, NOW, "https://other.example/hooks/test", "POST") {
                fail("another URL accepted".into());
            }
            if h.template.contains(&super::super::scheme::Part::Method) && !must_fail(&signed, &body, NOW, URL, "PUT") {
                fail("another method accepted".into());
            }
            // The replay window: just inside passes, just outside fails.
            if let Some(rule) = &h.timestamp {
                let tol = rule.tolerance_secs;
                if check(p, &scheme, &secret, &signed, &body, NOW + tol, URL, "POST").is_err() {
                    fail(format!("rejected at +{tol} s (inside the window)"));
                }
                if check(p, &scheme, &secret, &signed, &body, NOW + tol + 1, URL, "POST")
                    != Err(VerifyError::TimestampTooOld)
                {
                    fail(format!("accepted at +{} s (outside the window)", tol + 1));
                }
                let early = check(p, &scheme, &secret, &signed, &body, NOW - tol - 1, URL, "POST");
                if rule.past_only != early.is_ok() {
                    fail(format!("future skew of {} s: past_only={} but got {early:?}", tol + 1, rule.past_only));
                }
                // The timestamp header itself is signed where the template says so.
                if let TimestampSource::Header(th) = &rule.source {
                    if h.template.contains(&super::super::scheme::Part::Timestamp) {
                        let mut moved = signed.clone();
                        let slot = moved.iter_mut().find(|(k, _)| k == th.as_ref()).unwrap();
                        slot.1 = rule.unit.format(NOW + 1);
                        if !must_fail(&moved, &body, NOW, URL, "POST") {
                            fail("timestamp header changed but accepted".into());
                        }
                    }
                }
            }
        }
        assert!(checked >= 40, "only {checked} HMAC presets");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn the_catalogue_is_large_unique_and_documented() {
        let names: std::collections::BTreeSet<_> = providers().iter().map(|p| p.name).collect();
        assert_eq!(names.len(), providers().len(), "unique names");
        assert!(providers().len() >= 50, "{} providers", providers().len());
        for p in providers() {
            assert!(p.docs.starts_with("https://"), "{}", p.name);
            assert!(!p.checks.is_empty() && !p.title.is_empty());
            if let Scheme::Hmac(h) = p.scheme() {
                h.validate().unwrap_or_else(|e| panic!("{}: {e}", p.name));
            }
        }
        assert!(find_provider("custom").is_none(), "custom is not a preset");
    }

    fn preset(name: &str) -> (&'static Provider, Scheme) {
        let p = find_provider(name).unwrap();
        (p, p.scheme())
    }

    fn verify_at(name: &str, secret: &str, headers: &[(&str, &str)], body: &[u8], now: u64) -> Result<(), VerifyError> {
        let (p, scheme) = preset(name);
        let h: Headers = headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        verify(p, &scheme, None, &[Secret::new(secret)], Inbound::post(&h, body, now)).map(|_| ())
    }

    // api.slack.com "Verifying requests from Slack" (webhook-providers.md §c).
    #[test]
    fn slack_published_vector() {
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        let h = [("x-slack-signature", sig), ("x-slack-request-timestamp", "1531420618")];
        assert_eq!(verify_at("slack", secret, &h, body, 1_531_420_618 + 60), Ok(()));
        assert_eq!(verify_at("slack", secret, &h, &body[1..], 1_531_420_618), Err(VerifyError::SignatureMismatch));
        let stale = verify_at("slack", secret, &h, body, 1_531_420_618 + 301);
        assert_eq!(stale, Err(VerifyError::TimestampTooOld));
        let other_ts = [("x-slack-signature", sig), ("x-slack-request-timestamp", "1531420619")];
        assert_eq!(verify_at("slack", secret, &other_ts, body, 1_531_420_618), Err(VerifyError::SignatureMismatch));
    }

    // PaddleHQ/paddle-node-sdk webhooks-validator test (webhook-providers.md §c):
    // clock frozen at 2023-11-01T00:00:00Z, valid up to +5 s.
    #[test]
    fn paddle_published_vector() {
        let h =
            [("paddle-signature", "ts=1698796800;h1=a300428748dce5c70e4da19bffd60769591ea969c99dea3105d0ec9612cf43f9")];
        assert_eq!(verify_at("paddle", "VALID_SECRET", &h, br#"{"data": ["1", "2"]}"#, 1_698_796_800), Ok(()));
        assert_eq!(verify_at("paddle", "VALID_SECRET", &h, br#"{"data": ["1", "2"]}"#, 1_698_796_805), Ok(()));
        assert_eq!(
            verify_at("paddle", "VALID_SECRET", &h, br#"{"data": ["1", "2"]}"#, 1_698_796_806),
            Err(VerifyError::TimestampTooOld)
        );
        // The same h1 over a differently spaced body must fail (whitespace matters).
        assert_eq!(
            verify_at("paddle", "VALID_SECRET", &h, br#"{ "data": [ "1", "2" ]}"#, 1_698_796_800),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            verify_at("paddle", "INVALID_SECRET", &h, br#"{"data": ["1", "2"]}"#, 1_698_796_800),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn stripe_uses_the_whole_whsec_string_and_ignores_v0() {
        let (p, scheme) = preset("stripe");
        let Scheme::Hmac(h) = &scheme else { panic!() };
        let secret = Secret::new("whsec_test_secret");
        let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
        let signed = h.sign(&secret, body, NOW, "", URL, "POST").unwrap();
        // Stripe's test events add a fake v0 signature, and several v1 during rotation.
        let header =
            format!("{},v0=6ffbb59b2300aade63f272db8d4dd1a9ab34a1d8b2a3b2d9f4d2d0f4b8b0f0a1,v1=deadbeef", signed[0].1);
        let hdrs: Headers = [("stripe-signature", header)].into_iter().collect();
        // Stripe's SDK only rejects old timestamps: one signed "in the future" passes.
        let v =
            verify(p, &scheme, None, std::slice::from_ref(&secret), Inbound::post(&hdrs, body, NOW - 10_000)).unwrap();
        assert_eq!(v.event_type(), Some("invoice.paid"));
        assert_eq!(
            verify(p, &scheme, None, std::slice::from_ref(&secret), Inbound::post(&hdrs, body, NOW + 301)).unwrap_err(),
            VerifyError::TimestampTooOld
        );
        assert_eq!(v.delivery_id(), Some("evt_1"));
        // Keyed by the whole string: the base64 part alone does not verify.
        assert!(verify(p, &scheme, None, &[Secret::new("test_secret")], Inbound::post(&hdrs, body, NOW)).is_err());
    }

    #[test]
    fn hubspot_v1_and_v2_hash_the_secret_first() {
        // v1 = sha256(secret ‖ body), v2 = sha256(secret ‖ method ‖ uri ‖ body), hex.
        use sha2::{Digest, Sha256};
        let body = br#"[{"eventId":1}]"#;
        let v1 = hex::encode(Sha256::digest([b"secret".as_slice(), body].concat()));
        assert_eq!(verify_at("hubspot-v1", "secret", &[("x-hubspot-signature", &v1)], body, NOW), Ok(()));
        let v2 = hex::encode(Sha256::digest([b"secret".as_slice(), b"POST", URL.as_bytes(), body].concat()));
        assert_eq!(verify_at("hubspot-v2", "secret", &[("x-hubspot-signature", &v2)], body, NOW), Ok(()));
        assert!(verify_at("hubspot-v2", "secret", &[("x-hubspot-signature", &v1)], body, NOW).is_err());
    }

    #[test]
    fn hubspot_v3_signs_the_uri_with_the_listed_encodings_decoded() {
        use crate::verify::scheme::hubspot_decode;
        assert_eq!(
            hubspot_decode("https://x.example/hooks/hs%3Ahook?a=%40b%2Cc&d=%20e%2fz"),
            "https://x.example/hooks/hs:hook?a=@b,c&d=%20e/z"
        );
        assert_eq!(hubspot_decode("https://x/%"), "https://x/%");
        let (p, scheme) = preset("hubspot");
        let Scheme::Hmac(h) = &scheme else { panic!() };
        let s = Secret::new("hubspot-client-secret");
        let url = "https://x.example/hooks/hs?name=a%40b";
        // HubSpot computes over the decoded form; flowgate receives the encoded one.
        let signed: Headers = h.sign(&s, b"[]", NOW, "", url, "POST").unwrap().into_iter().collect();
        let ok = Inbound { headers: &signed, body: b"[]", now_secs: NOW, method: "POST", url };
        assert!(verify(p, &scheme, None, std::slice::from_ref(&s), ok).is_ok());
        let decoded_by_hand = Inbound { url: "https://x.example/hooks/hs?name=a@b", ..ok };
        assert!(verify(p, &scheme, None, std::slice::from_ref(&s), decoded_by_hand).is_ok(), "same signed string");
        let other = Inbound { url: "https://x.example/hooks/hs?name=a%41b", ..ok };
        assert!(verify(p, &scheme, None, &[s], other).is_err());
    }

    #[test]
    fn twitch_and_box_read_rfc3339_timestamps() {
        let (p, scheme) = preset("twitch");
        let Scheme::Hmac(h) = &scheme else { panic!() };
        let s = Secret::new("twitch-secret-0123456789");
        let signed = h.sign(&s, b"{}", NOW, "msg-1", URL, "POST").unwrap();
        let ts = &signed.iter().find(|(k, _)| k == "twitch-eventsub-message-timestamp").unwrap().1;
        assert_eq!(ts, "2023-11-14T22:13:20Z");
        let hdrs: Headers = signed.into_iter().collect();
        let v = verify(p, &scheme, None, &[s], Inbound::post(&hdrs, b"{}", NOW + 30)).unwrap();
        assert_eq!(v.delivery_id(), Some("msg-1"));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::{
        headers::Headers,
        secret::Secret,
        verify::{scheme::SecretEncoding, verify, Inbound},
    };

    fn hmac_presets() -> Vec<(&'static Provider, HmacScheme)> {
        providers()
            .iter()
            .filter_map(|p| match p.scheme() {
                Scheme::Hmac(h)
                    if h.secret == SecretEncoding::Raw
                        && h.timestamp.as_ref().is_none_or(|t| !matches!(t.source, TimestampSource::JsonField(_))) =>
                {
                    Some((p, h))
                }
                _ => None,
            })
            .collect()
    }

    fn inbound<'a>(body: &'a [u8], headers: &'a Headers) -> Inbound<'a> {
        Inbound { headers, body, now_secs: 1_700_000_000, method: "POST", url: "https://flowgate.example/hooks/p" }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Any body and any secret: what a sender signs verifies; any single
        /// changed byte, or any other secret, does not.
        #[test]
        fn random_bodies_and_secrets(
            body in proptest::collection::vec(any::<u8>(), 1..2048),
            secret in "[ -~]{1,64}",
            other in "[ -~]{1,64}",
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let now = 1_700_000_000;
            for (p, h) in hmac_presets() {
                let s = Secret::new(secret.clone());
                let signed = h.sign(&s, &body, now, "id-1", "https://flowgate.example/hooks/p", "POST").unwrap();
                let headers: Headers = signed.into_iter().collect();
                let headers = &headers;
                prop_assert!(verify(p, &Scheme::Hmac(h.clone()), None, std::slice::from_ref(&s), inbound(&body, headers)).is_ok(), "{}", p.name);
                let mut changed = body.clone();
                let i = flip.index(changed.len());
                changed[i] ^= 1 << bit;
                prop_assert!(verify(p, &Scheme::Hmac(h.clone()), None, std::slice::from_ref(&s), inbound(&changed, headers)).is_err(), "{}: byte {i}", p.name);
                if other != secret {
                    prop_assert!(verify(p, &Scheme::Hmac(h.clone()), None, &[Secret::new(other.clone())], inbound(&body, headers)).is_err(), "{}", p.name);
                }
            }
        }
    }
}
