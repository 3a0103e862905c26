//! Signs a payload exactly as each built-in sender does: the sender side of
//! the emulated world, behind `flowgate send` and the end-to-end tests. The
//! signing code is the core's, which is checked against each sender's
//! published vectors and mutation suites; this module adds the headers a
//! sender sets beside its signature and a sample body in each sender's shape.

use anyhow::bail;

use crate::samples;
use flowgate_core::{
    verify::{
        adyen, body_fields, circle, contentful, discord, dropbox_sign, ebay, fireblocks, jwt_hs256, paypal, plaid,
        scheme::{Field, TimestampUnit},
        sendgrid,
        shared_secret::{self, HeaderSecret},
        sns, standard_webhooks, telnyx, twilio, wix, Provider, Scheme,
    },
    Secret,
};

/// A signed request, ready to send.
#[derive(Debug, Clone, Default)]
pub struct SignedRequest {
    /// Headers, including the signature.
    pub headers: Vec<(String, String)>,
    /// The exact body.
    pub body: Vec<u8>,
    /// Query parameters the sender adds to the URL it was given (PandaDoc's
    /// `signature`; the `token` of senders that sign nothing and are given a
    /// URL with a secret in it), already encoded, without the `?`.
    pub query: Option<String>,
}

impl SignedRequest {
    /// `url` with [`Self::query`] added.
    pub fn url(&self, url: &str) -> String {
        match &self.query {
            None => url.to_owned(),
            Some(q) if url.contains('?') => format!("{url}&{q}"),
            Some(q) => format!("{url}?{q}"),
        }
    }
}

/// A sample payload: the fields senders commonly carry (`type`, `id`,
/// Linear's `webhookTimestamp`), plus the event type and delivery id at the
/// JSON paths where `provider` reads them, so both show up in the forwarded
/// headers as they would for the real sender.
pub fn sample_body(provider: &Provider, event: &str, now: u64) -> Vec<u8> {
    let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    if let Some(body) = sender_sample(provider, event, &id, now) {
        return body;
    }
    if provider.name == "mailchimp" {
        return samples::mailchimp_form(event, now);
    }
    if provider.name == "chargify" {
        // Maxio's webhook ids are numbers.
        let webhook_id = u64::from_str_radix(&id[4..12], 16).unwrap_or(1).to_string();
        return samples::chargify_form(event, &webhook_id, now);
    }
    let mut v = samples::shaped(provider.name, event, &id, now).unwrap_or_else(|| {
        serde_json::json!({
            "id": id,
            "type": event,
            "webhookTimestamp": now * 1000,
            "data": {"object": {"id": "obj_2Nq", "amount": 4200, "currency": "usd"}},
            "flowgate_sample": true,
        })
    });
    let (events, deliveries) = label_fields(&provider.scheme());
    let paths = events.iter().map(|f| (f, event)).chain(deliveries.iter().map(|f| (f, id.as_str())));
    for (field, value) in paths {
        if let Field::Json(path) = field {
            set_path(&mut v, path, value);
        }
    }
    v.to_string().into_bytes()
}

/// The header family a Standard Webhooks sender uses: `svix` (`svix-id`, …)
/// for Svix-branded senders, `webhook` (`webhook-id`, …) for the others
/// (Brex, Render and incident.io document `webhook-*`); flowgate reads both.
pub fn standard_webhooks_prefix(provider: &Provider) -> &'static str {
    match provider.name {
        "svix" | "clerk" | "resend" | "beehiiv" | "guesty" | "pleo" | "safebase" | "sardine" => "svix",
        _ => "webhook",
    }
}

/// The content type of `provider`'s sample body ([`sample_body`]): form
/// encoding for Twilio, Mailchimp and Maxio (Chargify), text for Wix (its body
/// is a JWT), JSON for the others (Dropbox Sign's signer makes its own
/// multipart body).
pub fn sample_content_type(provider: &Provider) -> &'static str {
    if provider.scheme() == Scheme::Wix {
        return "text/plain";
    }
    if provider.scheme() == Scheme::Twilio || matches!(provider.name, "mailchimp" | "chargify") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    }
}

/// Where a scheme reads the event type and the delivery id, for the
/// schemes that say so in fields.
fn label_fields(scheme: &Scheme) -> (Vec<Field>, Vec<Field>) {
    match scheme {
        Scheme::Hmac(h) => (h.event.clone(), h.delivery.clone()),
        Scheme::Token(h) | Scheme::BasicAuth(h) | Scheme::QueryToken(h) => (h.event.clone(), h.delivery.clone()),
        _ => (Vec::new(), Vec::new()),
    }
}

/// A sample in the shape the sender really sends, where it is not the
/// generic one.
fn sender_sample(provider: &Provider, event: &str, id: &str, now: u64) -> Option<Vec<u8>> {
    use serde_json::json;
    if let Some(v) = hookdeck_list_sample(provider.name, event, id, now) {
        return Some(v.to_string().into_bytes());
    }
    let v = match provider.scheme() {
        Scheme::Twilio => {
            let form = form_urlencoded::Serializer::new(String::new())
                .append_pair("AccountSid", "AC00000000000000000000000000000000")
                .append_pair("MessageSid", &format!("SM{}", &id[4..]))
                .append_pair("From", "+14158675309")
                .append_pair("To", "+18005551212")
                .append_pair("Body", "Hello from flowgate's sample: 'quotes' & +plus")
                .finish();
            return Some(form.into_bytes());
        }
        Scheme::Discord => json!({
            "type": event.parse::<u64>().map_or_else(|_| json!(event), |n| json!(n)),
            "id": id, "application_id": "1234567890", "token": "sample-interaction-token",
            "data": {"name": "flowgate", "type": 1},
        }),
        Scheme::Telnyx => json!({
            "data": {
                "event_type": event, "id": uuid_of(&id[4..]), "occurred_at": TimestampUnit::Rfc3339.format(now),
                "record_type": "event",
                "payload": {"direction": "inbound", "type": "SMS", "text": "Hello from flowgate's sample",
                            "from": {"phone_number": "+13125550001", "carrier": "T-Mobile USA", "line_type": "Wireless"},
                            "to": [{"phone_number": "+13125550002", "status": "webhook_delivered"}],
                            "messaging_profile_id": "740572b6-099c-44a1-89b9-6c92163bc68d"},
            },
            "meta": {"attempt": 1, "delivered_to": "https://flowgate.example/hooks/telnyx"},
        }),
        Scheme::SendGrid => {
            let events = json!([{ "email": "someone@example.com", "event": event, "sg_event_id": id,
                                  "sg_message_id": "flowgate-sample", "timestamp": now }]);
            // SendGrid's bodies end with CRLF, which is signed.
            return Some(format!("{events}\r\n").into_bytes());
        }
        Scheme::Mailgun => json!({
            "event-data": {"event": event, "id": id, "timestamp": now, "recipient": "someone@example.com"},
        }),
        Scheme::Figma => json!({
            "event_type": event, "file_key": "CL06nJNn5eZLQKDoARMND5", "file_name": "flowgate sample",
            "timestamp": "2020-02-23T20:27:16Z", "webhook_id": "22",
        }),
        Scheme::MsGraph => json!({"value": [{
            "subscriptionId": id, "changeType": event, "resource": "Users/sample/Messages/sample",
            "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z", "tenantId": "00000000-0000-0000-0000-000000000000",
        }]}),
        Scheme::Token(_) if provider.name == "okta" => json!({
            "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "eventId": id,
            "data": {"events": [{"uuid": id, "eventType": event, "displayMessage": "flowgate sample"}]},
        }),
        Scheme::Netlify => json!({"id": id, "state": event, "name": "flowgate-sample", "branch": "main"}),
        Scheme::Monday => json!({"event": {"type": event, "triggerUuid": id, "boardId": 1, "pulseId": 2}}),
        Scheme::Contentful => json!({"sys": {"id": id, "type": "Entry"}, "fields": {}}),
        // An AUTHORISATION as Adyen sends it (one item; `sign` adds its
        // hmacSignature); the pspReference is 16 digits.
        Scheme::Adyen => {
            let psp = format!("{:016}", u64::from_str_radix(&id[4..17], 16).unwrap_or(1) % 10_000_000_000_000_000);
            json!({"live": "false", "notificationItems": [{"NotificationRequestItem": {
                "additionalData": {"authCode": "058747", "cardSummary": "1111", "expiryDate": "03/2030"},
                "amount": {"currency": "EUR", "value": 1130},
                "eventCode": event, "eventDate": rfc3339(now).replace('Z', "+01:00"),
                "merchantAccountCode": "FlowgateSampleECOM", "merchantReference": format!("order-{}", &id[4..12]),
                "operations": ["CANCEL", "CAPTURE", "REFUND"], "paymentMethod": "visa",
                "pspReference": psp, "reason": "058747:1111:03/2030", "success": "true",
            }}]})
        }
        // The event inside Wix's JWT (`sign` wraps it): a domain event.
        Scheme::Wix => json!({
            "id": uuid_of(&id[4..]), "entityFqdn": "wix.ecom.v1.order", "slug": "created",
            "entityId": uuid_of(&format!("{:0>32}", &id[4..20])), "eventTime": rfc3339(now),
            "createdEvent": {"entity": {"number": "10001", "status": "APPROVED",
                                        "priceSummary": {"total": {"amount": "49.00", "formattedAmount": "€49.00"}}}},
        }),
        Scheme::Plaid => {
            // `TYPE.CODE`, as flowgate reports Plaid's event type.
            let (kind, code) = event.split_once('.').unwrap_or((event, ""));
            let mut v = json!({"webhook_type": kind, "item_id": format!("item_{}", &id[4..]),
                               "environment": "sandbox", "error": null});
            if !code.is_empty() {
                v["webhook_code"] = code.into();
            }
            // Plaid's bodies are JSON indented with two spaces, no trailing newline.
            return serde_json::to_vec_pretty(&v).ok();
        }
        // eBay's Marketplace Account Deletion notification (its SDK's test
        // message), compact as eBay sends it.
        Scheme::Ebay => json!({
            "metadata": {"topic": event, "schemaVersion": "1.0", "deprecated": false},
            "notification": {
                "notificationId": format!("{}_{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4()),
                "eventDate": rfc3339(now), "publishDate": rfc3339(now), "publishAttemptCount": 1,
                "data": {"username": "test_user", "userId": "ma8vp1jySJC",
                         "eiasToken": "nY+sHZ2PrBmdj6wVnY+sEZ2PrA2dj6wJnY+gAZGEpwmdj6x9nY+seQ=="},
            },
        }),
        // A Circle Wallets v2 notification (an inbound transfer).
        Scheme::Circle => json!({
            "subscriptionId": "d4c07d5f-f05f-4fe4-853d-4dd434806dfb",
            "notificationId": uuid::Uuid::new_v4().to_string(),
            "notificationType": event,
            "notification": {
                "id": uuid::Uuid::new_v4().to_string(), "blockchain": "MATIC-AMOY",
                "walletId": "01899cf2-d415-7052-a207-f9862157e546", "transactionType": "INBOUND",
                "state": "COMPLETE", "amounts": ["0.01"], "createDate": rfc3339(now),
            },
            "timestamp": rfc3339(now),
            "version": 2,
        }),
        _ => return None,
    };
    Some(v.to_string().into_bytes())
}

/// `now` in RFC 3339 (`2023-11-14T22:13:20Z`).
pub(crate) fn rfc3339(now: u64) -> String {
    TimestampUnit::Rfc3339.format(now)
}

/// The headers a sender sets beside its signature and labels
/// ([`samples::headers`]), unless a signature header already has the name.
fn documented_headers(provider: &Provider, event: &str, delivery: &str, now: u64, headers: &mut Vec<(String, String)>) {
    for (k, v) in samples::headers(provider.name, event, delivery, now) {
        if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
            headers.push((k.to_owned(), v));
        }
    }
}

/// Issue 15's senders (Hookdeck's list), in the shape each documents for its
/// typical event; `id` is `evt_<32 hex>`.
fn hookdeck_list_sample(name: &str, event: &str, id: &str, now: u64) -> Option<serde_json::Value> {
    use serde_json::json;
    let hex = &id[4..];
    let at = TimestampUnit::Rfc3339.format(now);
    let ms = now * 1000;
    Some(match name {
        "aiprise" => json!({
            "verification_session_id": uuid_of(hex), "template_id": "5b7c3a1e-0c1d-4e2f-9a3b-4c5d6e7f8a9b",
            "client_reference_id": "flowgate-sample",
            "aiprise_summary": {"tags": [], "reasons": [], "notes": [], "verification_result": event},
            "created_at": ms,
        }),
        "adyen-platform" => json!({
            "data": {"balancePlatform": "FlowgateSamplePlatform", "accountHolder": {
                "id": format!("AH{}", hex[..22].to_ascii_uppercase()), "status": "active",
                "legalEntityId": format!("LE{}", hex[..22].to_ascii_uppercase()), "description": "flowgate sample"}},
            "environment": "test", "timestamp": at, "type": event,
        }),
        "airwallex" => json!({
            "id": id, "name": event, "account_id": "acct_TOslkS7-MnyXlQuV8Lb4og",
            "data": {"object": {"id": format!("int_{}", &hex[..20]), "amount": 16.66, "currency": "USD",
                                "merchant_order_id": "flowgate-sample", "status": "SUCCEEDED"}},
            "created_at": at.replace('Z', "+0000"), "version": "2024-02-22",
        }),
        "akeneo" => json!({"events": [{
            "action": event, "event_id": uuid_of(hex), "event_datetime": at.replace('Z', "+00:00"),
            "author": "julia", "author_type": "ui", "pim_source": "flowgate.example",
            "data": {"resource": {"identifier": "flowgate-sample", "family": "shoes", "enabled": true}},
        }]}),
        "ascend" => json!({
            "event_id": id, "event_name": event,
            "payload": {"invoice_id": format!("inv_{}", &hex[..12]), "amount_cents": 125_000, "status": "paid"},
        }),
        "bigcommerce" => json!({
            "created_at": now, "store_id": "1001197568", "producer": "stores/abcde", "scope": event,
            "data": {"type": "order", "id": 272}, "hash": &hex[..32],
        }),
        "chargebee" => json!({
            "id": format!("ev_{}", &hex[..16]), "occurred_at": now, "source": "admin_console", "object": "event",
            "api_version": "v2", "event_type": event, "webhook_status": "scheduled",
            "content": {"subscription": {"id": format!("sub_{}", &hex[..12]), "status": "active", "plan_amount": 4900}},
        }),
        "commercelayer" => json!({"data": {
            "id": &hex[..10], "type": "orders",
            "attributes": {"number": "3481", "status": "placed", "payment_status": "authorized", "updated_at": at},
        }}),
        "courier" => json!({"type": event, "data": {
            "enqueued": ms, "event": "SNKDF4GZK94M0NHXBJQDF8GAQWM1", "id": format!("1-{}", &hex[..24]),
            "notification": "SNKDF4GZK94M0NHXBJQDF8GAQWM1", "providers": [], "recipient": uuid_of(hex), "status": "ENQUEUED",
        }}),
        "cursor" => json!({
            "event": event, "timestamp": at, "id": format!("bc_{}", &hex[..12]), "status": "FINISHED",
            "source": {"repository": "https://github.com/flowgate-example/app", "ref": "main"},
            "target": {"url": "https://cursor.com/agents?id=flowgate", "branchName": "cursor/flowgate-sample",
                       "prUrl": "https://github.com/flowgate-example/app/pull/1"},
            "summary": "Updated 3 files and fixed linting errors",
        }),
        "enode" => json!([{
            "event": event, "createdAt": at, "version": "2024-10-01",
            "user": {"id": uuid_of(hex)},
            "vehicle": {"id": format!("veh_{}", &hex[..12]), "chargeState": {"batteryLevel": 64, "isPluggedIn": true}},
        }]),
        "fastspring" => json!({"events": [{
            "id": id, "processed": false, "created": ms, "type": event, "live": false,
            "data": {"order": &hex[..16], "reference": "FLOW-230101-0001", "total": 49.99, "currency": "USD"},
        }]}),
        "gocardless" => json!({
            "events": [{
                "id": format!("EV{}", hex[..12].to_ascii_uppercase()), "created_at": at, "resource_type": event,
                "action": "confirmed", "links": {"payment": format!("PM{}", hex[12..24].to_ascii_uppercase())},
                "details": {"origin": "gocardless", "cause": "payment_confirmed", "description": "Payment was confirmed."},
                "metadata": {},
            }],
            "meta": {"webhook_id": format!("WB{}", hex[..12].to_ascii_uppercase())},
        }),
        "lithic" => json!({
            "event_type": event, "token": uuid_of(hex), "card_token": "8d4f0f3e-2b57-4b9e-a1d2-3c4b5a6d7e8f",
            "status": "SETTLED", "result": "APPROVED", "amount": 1250, "currency": "USD", "created": at,
            "merchant": {"descriptor": "FLOWGATE SAMPLE", "mcc": "5812", "country": "USA"},
        }),
        "nuvemshop" => json!({"store_id": 1_234_567, "event": event, "id": 987_654_321}),
        "openai" => json!({
            "id": id, "object": "event", "created_at": now, "type": event,
            "data": {"id": format!("resp_{hex}")},
        }),
        "orb" => json!({
            "id": &hex[..16], "created_at": at.replace('Z', "+00:00"), "type": event, "properties": {},
            "invoice": {"id": &hex[16..], "status": "issued", "amount_due": "49.00"},
        }),
        "persona" => json!({"data": {"type": "event", "id": format!("evt_{}", &hex[..24]), "attributes": {
            "name": event, "created-at": at,
            "payload": {"data": {"type": "inquiry", "id": format!("inq_{}", &hex[..24]), "attributes": {"status": "completed"}}},
        }}}),
        "picqer" => json!({
            "idhook": 4211, "name": "flowgate sample", "event": event,
            "event_triggered_at": at.replace('T', " ").trim_end_matches('Z'),
            "data": {"idorder": 7_024_135, "orderid": "O2023-0001", "status": "completed"},
        }),
        "polar" => json!({"type": event, "timestamp": at, "data": {
            "id": uuid_of(hex), "status": "paid", "total_amount": 4900, "currency": "usd",
        }}),
        "recharge" => {
            // The body is the topic's object (subscription/created: {"subscription": …}).
            let object = event.split('/').next().unwrap_or("subscription");
            json!({ object: {"id": 880_001, "customer_id": 71_002, "status": "active", "created_at": at, "updated_at": at} })
        }
        "replicate" => json!({
            "id": &hex[..26], "model": "replicate/hello-world",
            "version": "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
            "input": {"text": "flowgate"}, "logs": "", "output": "hello flowgate", "error": null, "status": event,
            "created_at": at, "started_at": at, "completed_at": at,
            "urls": {"get": format!("https://api.replicate.com/v1/predictions/{}", &hex[..26]),
                     "cancel": format!("https://api.replicate.com/v1/predictions/{}/cancel", &hex[..26])},
            "metrics": {"predict_time": 0.5},
        }),
        "sanity" => json!({
            "_id": "flowgate-sample", "_type": "post", "_rev": &hex[..22], "_createdAt": at, "_updatedAt": at,
            "title": "Hello from flowgate",
        }),
        "synctera" => json!({
            "id": uuid_of(hex), "type": event, "event_time": at, "webhook_id": "7c1f2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
            "url": "https://flowgate.example/hooks/synctera", "event_resource": "{\"id\":\"acct_1\",\"status\":\"ACTIVE\"}",
        }),
        "tally" => json!({
            "eventId": uuid_of(hex), "eventType": event, "createdAt": at,
            "data": {"responseId": &hex[..6], "formId": "VwbNEw", "formName": "flowgate sample", "fields": [
                {"key": "question_1", "label": "Email", "type": "INPUT_EMAIL", "value": "someone@example.com"},
            ]},
        }),
        "zerohash" => json!({
            "trade_id": uuid_of(hex), "client_trade_id": "flowgate-sample", "trade_state": "terminated",
            "settlement_state": "settled", "timestamp": ms,
        }),
        _ => return None,
    })
}

/// A UUID written from 32 hex digits.
fn uuid_of(hex: &str) -> String {
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The headers a sender sets beyond its signature and its labels, as its
/// documentation lists them (issue 15's senders).
fn hookdeck_list_headers(provider: &Provider, now: u64, delivery: &str) -> Vec<(String, String)> {
    let pairs: Vec<(&str, String)> = match provider.name {
        // The signed t, again on its own.
        "ascend" => vec![("x-ascend-request-timestamp", now.to_string())],
        "cursor" => vec![("x-webhook-id", delivery.to_owned()), ("user-agent", "Cursor-Agent-Webhook/1.0".to_owned())],
        "enode" => vec![("x-enode-delivery", delivery.to_owned())],
        "sanity" => vec![
            ("sanity-project-id", "flowgate1".to_owned()),
            ("sanity-dataset", "production".to_owned()),
            ("sanity-document-id", "flowgate-sample".to_owned()),
            ("sanity-transaction-id", delivery.to_owned()),
            ("sanity-transaction-time", TimestampUnit::Rfc3339.format(now)),
            ("sanity-webhook-id", "flowgate-sample-webhook".to_owned()),
        ],
        _ => Vec::new(),
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Sets a dotted `path` in a JSON object, creating objects on the way.
fn set_path(v: &mut serde_json::Value, path: &str, value: &str) {
    let mut cur = v;
    let mut keys = path.split('.').peekable();
    while let Some(k) = keys.next() {
        let Some(obj) = cur.as_object_mut() else { return };
        if keys.peek().is_none() {
            obj.entry(k.to_owned()).or_insert_with(|| value.into());
            return;
        }
        cur = obj.entry(k.to_owned()).or_insert_with(|| serde_json::json!({}));
    }
}

/// Adds the headers a sender sets beside its signature: the event type and
/// delivery id, where the scheme reads them from headers.
fn label_headers(scheme: &Scheme, event: &str, delivery: &str, headers: &mut Vec<(String, String)>) {
    let (events, deliveries) = label_fields(scheme);
    if let Some(Field::Header(name)) = events.first() {
        headers.push((name.to_string(), event.to_owned()));
    }
    if let Some(Field::Header(name)) = deliveries.first() {
        if !headers.iter().any(|(k, _)| k == name.as_ref()) {
            headers.push((name.to_string(), delivery.to_owned()));
        }
    }
}

/// The JSON object of a body that carries its proof inside (Mailgun, Figma, Graph).
fn json_body(body: &[u8], sender: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => bail!("{sender} carries its secret inside a JSON object body: the body is not one"),
    }
}

fn key_error(provider: &Provider) -> impl Fn(&'static str) -> anyhow::Error + '_ {
    move |why| anyhow::anyhow!("the secret is not in the form {} uses: it {why}", provider.title)
}

/// Re-signs a Twilio request the way a SharedKey Webhook Setting signs it:
/// `X-Twilio-Signature` with `algorithm` over the same URL and parameters,
/// and `X-Twilio-Webhooks-Signature-Settings: key=<key_id>,algorithm=<name>`.
pub fn twilio_shared_key(
    req: &mut SignedRequest,
    secret: &Secret,
    url: &str,
    key_id: &str,
    algorithm: twilio::Algorithm,
) {
    let sig = twilio::sign_with(algorithm, secret, url, &req.body);
    req.headers.retain(|(k, _)| k != twilio::SIGNATURE_HEADER && k != twilio::SIGNATURE_SETTINGS_HEADER);
    req.headers.push((twilio::SIGNATURE_HEADER.to_owned(), sig));
    req.headers.push((twilio::SIGNATURE_SETTINGS_HEADER.to_owned(), twilio::settings_header(key_id, algorithm)));
}

/// An ISO 8601 UTC time with milliseconds, as SNS writes `Timestamp`.
fn sns_timestamp(now: u64) -> String {
    let (days, secs) = (now / 86_400, now % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The topic of `flowgate send aws-sns`'s notifications.
pub const SNS_DEMO_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:flowgate-demo";
/// Where `flowgate send aws-sns` says the certificate is: the emulator's
/// default address (a route accepts it with `sns_emulator_origin`).
pub const SNS_DEMO_ORIGIN: &str = "http://127.0.0.1:8790";

/// The webhook id `flowgate send paypal` signs for (a route's
/// `paypal_webhook_id` must be the same).
pub const PAYPAL_DEMO_WEBHOOK_ID: &str = "FLOWGATEDEMOWEBHOOK1";

/// The headers PayPal sends with `body` for `webhook_id`, signed with
/// `private_pem` (the key of the certificate at
/// `{origin}/v1/notifications/certs/CERT-flowgate-test`): a fresh
/// transmission id, the time `now`.
///
/// # Errors
/// `private_pem` is not an RSA private key.
pub fn paypal_headers(
    private_pem: &str,
    webhook_id: &str,
    body: &[u8],
    origin: &str,
    now: u64,
) -> anyhow::Result<Vec<(String, String)>> {
    let cert_url = format!("{}{}{}", origin.trim_end_matches('/'), paypal::CERT_PATH, paypal::EMULATOR_CERT_ID);
    let time = sns_timestamp(now).replace(".000Z", "Z");
    let id = uuid::Uuid::new_v4().to_string();
    paypal::sign(private_pem, webhook_id, &id, &time, &cert_url, body)
        .map_err(|why| anyhow::anyhow!("the secret {why}"))
}

/// The three SNS message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsKind {
    /// `Notification`.
    Notification,
    /// `SubscriptionConfirmation`.
    SubscriptionConfirmation,
    /// `UnsubscribeConfirmation`.
    UnsubscribeConfirmation,
}

impl SnsKind {
    /// The `Type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SnsKind::Notification => "Notification",
            SnsKind::SubscriptionConfirmation => "SubscriptionConfirmation",
            SnsKind::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// An SNS message as SNS POSTs it to an HTTP(S) subscription
/// (<https://docs.aws.amazon.com/sns/latest/dg/http-header.html>): the JSON
/// document with `SignatureVersion` 2, signed with `private_pem` (the key of
/// the certificate at `{origin}/sns/…pem`), `SubscribeURL`/`UnsubscribeURL`
/// under `origin` (in place of `https://sns.<region>.amazonaws.com`), and
/// SNS's headers: `x-amz-sns-message-type`, `-message-id`, `-topic-arn`
/// (and `-subscription-arn` on notifications), `text/plain` content type.
///
/// # Errors
/// `private_pem` is not an RSA private key.
pub fn sns_message(
    private_pem: &str,
    kind: SnsKind,
    topic: &str,
    message: &str,
    origin: &str,
    now: u64,
) -> anyhow::Result<SignedRequest> {
    let id = uuid::Uuid::new_v4().to_string();
    let token = hex::encode(uuid::Uuid::new_v4().as_bytes()).repeat(4);
    let origin = origin.trim_end_matches('/');
    let subscription = format!("{topic}:{}", uuid::Uuid::new_v4());
    let mut m = serde_json::Map::new();
    m.insert("Type".to_owned(), kind.as_str().into());
    m.insert("MessageId".to_owned(), id.clone().into());
    if kind != SnsKind::Notification {
        m.insert("Token".to_owned(), token.clone().into());
    }
    m.insert("TopicArn".to_owned(), topic.into());
    m.insert("Message".to_owned(), message.into());
    if kind != SnsKind::Notification {
        let url = format!("{origin}/?Action=ConfirmSubscription&TopicArn={topic}&Token={token}");
        m.insert("SubscribeURL".to_owned(), url.into());
    }
    m.insert("Timestamp".to_owned(), sns_timestamp(now).into());
    m.insert("SigningCertURL".to_owned(), format!("{origin}{}", sns::EMULATOR_CERT_PATH).into());
    if kind == SnsKind::Notification {
        let url = format!("{origin}/?Action=Unsubscribe&SubscriptionArn={subscription}");
        m.insert("UnsubscribeURL".to_owned(), url.into());
    }
    sns::sign(private_pem, &mut m, 2).map_err(|why| anyhow::anyhow!("the secret {why}"))?;
    let mut headers = vec![
        ("content-type".to_owned(), "text/plain; charset=UTF-8".to_owned()),
        (sns::TYPE_HEADER.to_owned(), kind.as_str().to_owned()),
        ("x-amz-sns-message-id".to_owned(), id),
        ("x-amz-sns-topic-arn".to_owned(), topic.to_owned()),
    ];
    if kind == SnsKind::Notification {
        headers.push(("x-amz-sns-subscription-arn".to_owned(), subscription));
    }
    headers.push(("user-agent".to_owned(), "Amazon Simple Notification Service Agent".to_owned()));
    Ok(SignedRequest { headers, body: serde_json::Value::Object(m).to_string().into_bytes(), query: None })
}

/// The public key that verifies what `send` signs with `secret`, for the
/// senders whose route secret is a public key.
///
/// # Errors
/// A private key in the wrong form.
pub fn verifying_key(provider: &Provider, secret: &Secret) -> anyhow::Result<Option<String>> {
    Ok(match provider.scheme() {
        Scheme::Discord => Some(discord::public_key_hex(secret).map_err(key_error(provider))?),
        Scheme::SendGrid => Some(sendgrid::public_key_base64(secret).map_err(key_error(provider))?),
        Scheme::Telnyx => Some(telnyx::public_key_base64(secret).map_err(key_error(provider))?),
        Scheme::Plaid => Some(plaid::public_jwk_text(secret).map_err(key_error(provider))?),
        Scheme::Fireblocks | Scheme::Wix => {
            Some(fireblocks::public_key_base64(secret.expose()).map_err(key_error(provider))?)
        }
        // eBay's and Circle's keys are fetched by id (the emulator serves
        // them); this is the same key, to pin in secret_bindings.
        Scheme::Ebay | Scheme::Circle => Some(sendgrid::public_key_base64(secret).map_err(key_error(provider))?),
        _ => None,
    })
}

/// Signs `body` as `provider` does, at time `now` (Unix seconds), for `url`.
///
/// # Errors
/// A secret in the wrong form.
pub fn sign(
    provider: &Provider,
    secret: &Secret,
    body: Vec<u8>,
    event: &str,
    content_type: &str,
    url: &str,
    now: u64,
) -> anyhow::Result<SignedRequest> {
    let delivery = uuid::Uuid::new_v4().to_string();
    let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
    let mut body = body;
    let mut query = None;
    let scheme = provider.scheme();
    match &scheme {
        Scheme::Hmac(h) => {
            let signed = h.sign(secret, &body, now, &delivery, url, "POST").map_err(key_error(provider))?;
            // A signature that travels in the URL (PandaDoc) is named `?param`.
            for (k, v) in signed {
                match k.strip_prefix('?') {
                    Some(param) => query = Some(encode_query(param, &v)),
                    None => headers.push((k, v)),
                }
            }
            label_headers(&scheme, event, &delivery, &mut headers);
            headers.extend(hookdeck_list_headers(provider, now, &delivery));
        }
        Scheme::QueryToken(h) => {
            query = Some(encode_query(&h.header, secret.expose()));
            label_headers(&scheme, event, &delivery, &mut headers);
        }
        Scheme::DropboxSign => {
            body = dropbox_sign_body(secret, &body, event, now, &mut headers)?;
        }
        Scheme::Twilio => {
            headers.push((twilio::SIGNATURE_HEADER.to_owned(), twilio::sign(secret, url, &body)));
            headers.push((twilio::IDEMPOTENCY_HEADER.to_owned(), delivery.clone()));
        }
        Scheme::Discord => {
            let ts = now.to_string();
            let sig = discord::sign(secret, &ts, &body).map_err(key_error(provider))?;
            headers.push((discord::SIGNATURE_HEADER.to_owned(), sig));
            headers.push((discord::TIMESTAMP_HEADER.to_owned(), ts));
        }
        Scheme::Telnyx => {
            let ts = now.to_string();
            let sig = telnyx::sign(secret, &ts, &body).map_err(key_error(provider))?;
            headers.push((telnyx::SIGNATURE_HEADER.to_owned(), sig));
            headers.push((telnyx::TIMESTAMP_HEADER.to_owned(), ts));
        }
        Scheme::SendGrid => {
            let ts = now.to_string();
            let sig = sendgrid::sign(secret, &ts, &body).map_err(key_error(provider))?;
            headers.push((sendgrid::SIGNATURE_HEADER.to_owned(), sig));
            headers.push((sendgrid::TIMESTAMP_HEADER.to_owned(), ts));
        }
        Scheme::Mailgun => {
            let mut map = json_body(&body, provider.title)?;
            let token = uuid::Uuid::new_v4().simple().to_string();
            map.insert("signature".to_owned(), body_fields::mailgun_signature(secret, now, &token));
            body = serde_json::Value::Object(map).to_string().into_bytes();
        }
        Scheme::Figma => {
            let mut map = json_body(&body, provider.title)?;
            map.insert("passcode".to_owned(), secret.expose().into());
            body = serde_json::Value::Object(map).to_string().into_bytes();
        }
        Scheme::MsGraph => {
            let mut map = json_body(&body, provider.title)?;
            let Some(serde_json::Value::Array(items)) = map.get_mut("value") else {
                bail!("a Microsoft Graph body is {{\"value\": [notification, ...]}}");
            };
            for n in items.iter_mut().filter_map(serde_json::Value::as_object_mut) {
                n.insert("clientState".to_owned(), secret.expose().into());
            }
            body = serde_json::Value::Object(map).to_string().into_bytes();
        }
        Scheme::Token(HeaderSecret { header, .. }) => {
            headers.push((header.to_string(), secret.expose().to_owned()));
            label_headers(&scheme, event, &delivery, &mut headers);
        }
        Scheme::BasicAuth(HeaderSecret { header, .. }) => {
            shared_secret::check_basic_secret(secret).map_err(key_error(provider))?;
            headers.push((header.to_string(), shared_secret::basic_header(secret)));
            label_headers(&scheme, event, &delivery, &mut headers);
        }
        Scheme::Netlify => {
            let jws = jwt_hs256::sign(secret, &jwt_hs256::netlify_claims(&body));
            headers.push((jwt_hs256::NETLIFY_HEADER.to_owned(), jws));
        }
        Scheme::Monday => {
            headers.push((
                jwt_hs256::MONDAY_HEADER.to_owned(),
                jwt_hs256::sign(secret, &jwt_hs256::monday_claims(url, now)),
            ));
        }
        Scheme::Contentful => {
            let labels = [
                ("x-contentful-topic", event),
                ("x-contentful-idempotency-key", delivery.as_str()),
                ("x-contentful-webhook-name", "flowgate-send"),
            ];
            let signed =
                contentful::sign(secret, "POST", url, &labels, &body, now * 1000).map_err(key_error(provider))?;
            headers.extend(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            headers.extend(signed);
        }
        Scheme::Plaid => {
            // Plaid signs {iat, request_body_sha256} (ES256, header kid).
            let jwt = plaid::sign(secret, plaid::TEST_KID, &plaid::claims(&body, now)).map_err(key_error(provider))?;
            headers.push((plaid::HEADER.to_owned(), jwt));
        }
        Scheme::Fireblocks => {
            let sig = fireblocks::sign(secret.expose(), &body).map_err(key_error(provider))?;
            headers.push((fireblocks::SIGNATURE_HEADER.to_owned(), sig));
        }
        // Every item's additionalData.hmacSignature (the body is written again).
        Scheme::Adyen => body = adyen::sign_body(secret, &body).map_err(key_error(provider))?,
        // The body becomes the JWT Wix sends: the event (`body`, JSON or
        // text) in `data`, inside `data`, with an instance id.
        Scheme::Wix => {
            let event_data = serde_json::from_slice(&body)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
            let claims = wix::claims_for(event, WIX_INSTANCE_ID, &event_data, now);
            body = wix::sign(secret.expose(), &claims).map_err(key_error(provider))?.into_bytes();
        }
        Scheme::Ebay => {
            // base64 {"alg":"ecdsa","kid","signature":DER ECDSA-SHA1(body),"digest":"SHA1"}.
            let sig = ebay::sign(secret, ebay::TEST_KID, &body).map_err(key_error(provider))?;
            headers.push(("X-EBAY-SIGNATURE".to_owned(), sig));
        }
        Scheme::Circle => {
            let sig = circle::sign(secret, &body).map_err(key_error(provider))?;
            headers.push(("X-Circle-Signature".to_owned(), sig));
            headers.push(("X-Circle-Key-Id".to_owned(), circle::TEST_KEY_ID.to_owned()));
        }
        Scheme::Sns => {
            // An SNS Notification carrying the sample as its Message, signed
            // with the key of the emulator's test certificate, naming it at
            // the emulator's default address.
            let text = String::from_utf8_lossy(&body).into_owned();
            let m = sns_message(secret.expose(), SnsKind::Notification, SNS_DEMO_TOPIC, &text, SNS_DEMO_ORIGIN, now)
                .map_err(|e| anyhow::anyhow!("{}: {e}", provider.name))?;
            // SNS sends its JSON as text/plain.
            headers.clear();
            headers.extend(m.headers);
            body = m.body;
        }
        Scheme::PayPal => {
            // Signed with the key of the emulator's test certificate, naming
            // it at the emulator's default address, for the demo webhook id.
            let signed = paypal_headers(secret.expose(), PAYPAL_DEMO_WEBHOOK_ID, &body, SNS_DEMO_ORIGIN, now)
                .map_err(|e| anyhow::anyhow!("{}: {e}", provider.name))?;
            headers.extend(signed);
        }
        Scheme::StandardWebhooks => {
            let prefix = standard_webhooks_prefix(provider);
            let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            let sig = standard_webhooks::sign(secret, &id, now, &body)
                .map_err(|why| anyhow::anyhow!("the secret is not a Standard Webhooks secret: it {why}"))?;
            headers.push((format!("{prefix}-id"), id));
            headers.push((format!("{prefix}-timestamp"), now.to_string()));
            headers.push((format!("{prefix}-signature"), sig));
        }
    }
    match provider.name {
        // Oura writes its hex upper-case.
        "oura" => {
            for (k, v) in headers.iter_mut().filter(|(k, _)| k == "x-oura-signature") {
                let _ = k;
                *v = v.to_ascii_uppercase();
            }
        }
        // Maxio's X-Chargify-Webhook-Id is the form's `id`.
        "chargify" => {
            if let Some(id) = form_urlencoded::parse(&body).find(|(k, _)| k == "id").map(|(_, v)| v.into_owned()) {
                for (_, v) in headers.iter_mut().filter(|(k, _)| k == "x-chargify-webhook-id") {
                    v.clone_from(&id);
                }
            }
        }
        // Gitea signs once and sends the signature under the other forges'
        // names too (Forgejo under Gitea's).
        "gitea" | "forgejo" => {
            let own = if provider.name == "gitea" { "x-gitea-signature" } else { "x-forgejo-signature" };
            if let Some(sig) = headers.iter().find(|(k, _)| k == own).map(|(_, v)| v.clone()) {
                if provider.name == "gitea" {
                    headers.push(("x-gogs-signature".to_owned(), sig.clone()));
                    headers.push(("x-hub-signature-256".to_owned(), format!("sha256={sig}")));
                } else {
                    headers.push(("x-gitea-signature".to_owned(), sig));
                }
            }
        }
        // GitHub sends the legacy SHA-1 signature beside the SHA-256 one.
        "github" | "github-sha1" => {
            let other = if provider.name == "github" { "github-sha1" } else { "github" };
            if let Some(Scheme::Hmac(h)) = flowgate_core::verify::find_provider(other).map(Provider::scheme) {
                headers.extend(h.sign(secret, &body, now, &delivery, url, "POST").map_err(key_error(provider))?);
            }
        }
        _ => {}
    }
    documented_headers(provider, event, &delivery, now, &mut headers);
    Ok(SignedRequest { headers, body, query })
}

/// The app instance `flowgate send wix` writes in its events.
pub const WIX_INSTANCE_ID: &str = "6f5e4d3c-2b1a-4c00-8d00-f1cafe5a3b1e";

/// `name=value`, form-encoded.
fn encode_query(name: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new()).append_pair(name, value).finish()
}

/// A Dropbox Sign callback as it sends one: the event JSON (`body`, a JSON
/// object) with `event.event_time`, `event.event_type` and the
/// `event.event_hash` over them, in the `json` part of a multipart body.
fn dropbox_sign_body(
    secret: &Secret,
    body: &[u8],
    event: &str,
    now: u64,
    headers: &mut Vec<(String, String)>,
) -> anyhow::Result<Vec<u8>> {
    let mut map = json_body(body, "Dropbox Sign")?;
    let time = now.to_string();
    let e = map.entry("event").or_insert_with(|| serde_json::json!({}));
    let Some(e) = e.as_object_mut() else { bail!("Dropbox Sign's event is an object") };
    e.insert("event_time".into(), time.clone().into());
    e.insert("event_type".into(), event.into());
    e.insert("event_hash".into(), dropbox_sign::sign(secret, &time, event).into());
    let json = serde_json::Value::Object(map).to_string();
    let boundary = format!("------------------------{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    headers.retain(|(k, _)| k != "content-type");
    headers.push(("content-type".into(), format!("multipart/form-data; boundary={boundary}")));
    Ok(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{json}\r\n--{boundary}--\r\n")
        .into_bytes())
}

#[cfg(test)]
mod tests {
    use flowgate_core::{
        verify::{providers, scheme::SecretEncoding, verify, Inbound},
        Headers,
    };

    use flowgate_core::verify::find_provider;

    use super::*;

    // Test keys: RFC 8032 §7.1 test 1 (Ed25519) and RFC 6979 §A.2.5 (P-256).
    const ED25519_PRIVATE: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const ED25519_PRIVATE_BASE64: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
    const P256_PRIVATE: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
    /// The private key of `DEMO_CERT_PEM` (tests/fixtures).
    const RSA_PRIVATE: &str = include_str!("../../../tests/fixtures/entra-test-key.pem");

    /// (what `send` signs with, what the route verifies with).
    fn secrets_for(p: &Provider) -> (Secret, Secret) {
        let same = |s: &str| (Secret::new(s), Secret::new(s));
        match p.scheme() {
            Scheme::StandardWebhooks => same("whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQ="),
            Scheme::Hmac(h) if h.secret == SecretEncoding::Base64 => same("ZGVtby1zZWNyZXQ="),
            Scheme::Hmac(h) if h.secret == SecretEncoding::Hex => same("0a0b0c0d"),
            Scheme::Hmac(h) if h.secret == SecretEncoding::Whsec => {
                same("whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQ=")
            }
            Scheme::Discord => {
                let private = Secret::new(ED25519_PRIVATE);
                let public = verifying_key(p, &private).unwrap().unwrap();
                (private, Secret::new(public))
            }
            Scheme::Telnyx => {
                let private = Secret::new(ED25519_PRIVATE_BASE64);
                let public = verifying_key(p, &private).unwrap().unwrap();
                (private, Secret::new(public))
            }
            Scheme::SendGrid | Scheme::Plaid | Scheme::Ebay | Scheme::Circle => {
                let private = Secret::new(P256_PRIVATE);
                let public = verifying_key(p, &private).unwrap().unwrap();
                (private, Secret::new(public))
            }
            // The fixture RSA key: Fireblocks's and Wix's routes hold its
            // public key; an SNS route verifies with the certificate of that key.
            Scheme::Fireblocks | Scheme::Wix => {
                let private = Secret::new(RSA_PRIVATE);
                let public = verifying_key(p, &private).unwrap().unwrap();
                (private, Secret::new(public))
            }
            Scheme::Sns => (Secret::new(RSA_PRIVATE), Secret::new(crate::DEMO_CERT_PEM)),
            Scheme::PayPal => (
                Secret::new(crate::DEMO_SNS_PRIVATE_KEY),
                paypal::route_key(PAYPAL_DEMO_WEBHOOK_ID, crate::DEMO_CERT_PEM),
            ),
            Scheme::BasicAuth(_) => same("demo-user:demo-password"),
            Scheme::Contentful => same("demo-contentful-signing-secret-demo-contentful-signing-secret-64"),
            Scheme::Adyen => same("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"),
            _ => same("demo-secret"),
        }
    }

    #[test]
    fn every_built_in_sender_is_signed_so_that_flowgate_verifies_it() {
        let url = "http://127.0.0.1:8787/hooks/x";
        for p in providers() {
            let (signing, verifying) = secrets_for(p);
            let now = 1_700_000_000;
            let req =
                sign(p, &signing, sample_body(p, p.sample_event, now), p.sample_event, "application/json", url, now)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            let headers: Headers = req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            // Some senders add to the URL they were given (a token, a signature).
            let url = &req.url(url);
            let inbound = Inbound { headers: &headers, body: &req.body, now_secs: now + 1, method: "POST", url };
            let v = verify(p, &p.scheme(), None, std::slice::from_ref(&verifying), inbound)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            // What `send` signs with is not what verifies, for the public-key senders.
            if verifying_key(p, &signing).unwrap().is_some() {
                let inbound = Inbound { headers: &headers, body: &req.body, now_secs: now + 1, method: "POST", url };
                assert!(verify(p, &p.scheme(), None, std::slice::from_ref(&signing), inbound).is_err(), "{}", p.name);
            }
            // And a changed body is refused, for every sender that binds the body (shared
            // tokens, monday.com's JWT, Mailgun's HMAC of timestamp‖token, Figma's passcode
            // and Graph's clientState do not).
            if !matches!(
                p.scheme(),
                Scheme::Token(_)
                    | Scheme::BasicAuth(_)
                    | Scheme::QueryToken(_)
                    | Scheme::Monday
                    | Scheme::Mailgun
                    | Scheme::Figma
                    | Scheme::MsGraph
                    | Scheme::DropboxSign
                    | Scheme::Adyen
            ) {
                let mut tampered = req.body.clone();
                let at = tampered.len() / 2;
                tampered[at] ^= 0x01;
                let inbound = Inbound { headers: &headers, body: &tampered, now_secs: now + 1, method: "POST", url };
                assert!(verify(p, &p.scheme(), None, std::slice::from_ref(&verifying), inbound).is_err(), "{}", p.name);
            }
            if !matches!(
                p.name,
                "dropbox"
                    | "asana"
                    | "xero"
                    | "twitter"
                    | "airtable"
                    | "hubspot"
                    | "hubspot-v1"
                    | "hubspot-v2"
                    | "twilio"
                    | "basic-auth"
                    | "sharepoint"
                    | "clio"
                    | "mailchimp"
                    | "chargify"
                    | "quickbooks"
            ) {
                // (Those senders carry no event type flowgate reads; Slack's is
                // the inner event's, `message` in an `event_callback`.)
                let expected = if p.name == "slack" { "message" } else { p.sample_event };
                assert_eq!(v.event_type(), Some(expected), "{}: the sample carries the event type", p.name);
            }
        }
    }

    fn header<'a>(req: &'a SignedRequest, name: &str) -> Option<&'a str> {
        req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[test]
    fn senders_send_the_headers_and_bodies_their_receivers_read() {
        let now = 1_700_000_000;
        let send = |name: &str| {
            let p = find_provider(name).unwrap();
            let (signing, _) = secrets_for(p);
            sign(
                p,
                &signing,
                sample_body(p, p.sample_event, now),
                p.sample_event,
                sample_content_type(p),
                "https://x/h",
                now,
            )
            .unwrap()
        };
        // Shopify: what @shopify/shopify-api's webhooks.validate needs (tests/e2e/sender_sdks.rs runs it).
        let r = send("shopify");
        for h in [
            "x-shopify-hmac-sha256",
            "x-shopify-topic",
            "x-shopify-webhook-id",
            "x-shopify-shop-domain",
            "x-shopify-api-version",
            "x-shopify-triggered-at",
            "x-shopify-event-id",
        ] {
            assert!(header(&r, h).is_some_and(|v| !v.is_empty()), "shopify: {h}");
        }
        assert_eq!(header(&r, "x-shopify-topic"), Some("orders/create"));
        // Box: what box-node-sdk's validateMessage checks.
        let r = send("box");
        assert_eq!(header(&r, "box-signature-version"), Some("1"));
        assert_eq!(header(&r, "box-signature-algorithm"), Some("HmacSHA256"));
        assert_eq!(header(&r, "box-delivery-timestamp"), Some("2023-11-14T22:13:20Z"));
        assert!(header(&r, "box-delivery-id").is_some() && header(&r, "box-signature-primary").is_some());
        // GitHub: a push event as GitHub sends it, both signatures, its hook headers.
        let r = send("github");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["ref"], "refs/heads/main");
        assert!(
            body["commits"].is_array() && body["repository"]["full_name"].is_string() && body["pusher"].is_object()
        );
        assert!(body.get("type").is_none() && body.get("data").is_none(), "not Stripe-shaped");
        for h in ["x-hub-signature-256", "x-hub-signature", "x-github-event", "x-github-delivery", "x-github-hook-id"] {
            assert!(header(&r, h).is_some(), "github: {h}");
        }
        assert!(header(&r, "user-agent").is_some_and(|u| u.starts_with("GitHub-Hookshot/")));
        // Others in their own shape.
        let slack: serde_json::Value = serde_json::from_slice(&send("slack").body).unwrap();
        assert_eq!(
            (slack["type"].as_str(), slack["event"]["type"].as_str()),
            (Some("event_callback"), Some("message"))
        );
        let r = send("mailchimp");
        assert!(r.body.starts_with(b"type=subscribe&fired_at="), "{}", String::from_utf8_lossy(&r.body));
        assert!(r.query.as_deref().is_some_and(|q| q.starts_with("token=")));
        let r = send("dropboxsign");
        assert!(header(&r, "content-type").is_some_and(|c| c.starts_with("multipart/form-data; boundary=")));
        let r = send("oura");
        let sig = header(&r, "x-oura-signature").unwrap();
        assert_eq!(sig, sig.to_ascii_uppercase(), "Oura writes upper-case hex");
        let r = send("pandadoc");
        assert!(r.query.as_deref().is_some_and(|q| q.starts_with("signature=")) && header(&r, "signature").is_none());
        assert_eq!(header(&send("render"), "webhook-id").map(|v| v.starts_with("msg_")), Some(true));
        assert_eq!(header(&send("beehiiv"), "svix-id").map(|v| v.starts_with("msg_")), Some(true));
    }

    /// Issue 15's senders: `send` writes every header the sender documents
    /// (signature, timestamp, ids, topics, agent), and a body in its shape.
    #[test]
    fn hookdeck_list_senders_send_their_documented_headers() {
        let url = "http://127.0.0.1:8787/hooks/x";
        let expected: &[(&str, &[&str])] = &[
            ("aiprise", &["x-hmac-signature"]),
            ("airwallex", &["x-signature", "x-timestamp"]),
            ("akeneo", &["x-akeneo-request-signature", "x-akeneo-request-timestamp"]),
            ("ascend", &["x-ascend-signature", "x-ascend-request-timestamp"]),
            ("bigcommerce", &["webhook-id", "webhook-timestamp", "webhook-signature"]),
            ("chargebee", &["authorization"]),
            ("commercelayer", &["x-commercelayer-signature", "x-commercelayer-topic"]),
            ("courier", &["courier-signature"]),
            ("cursor", &["x-webhook-signature", "x-webhook-id", "x-webhook-event", "user-agent"]),
            ("enode", &["x-enode-signature", "x-enode-delivery"]),
            ("fastspring", &["x-fs-signature"]),
            ("gocardless", &["webhook-signature"]),
            ("lithic", &["webhook-id", "webhook-timestamp", "webhook-signature"]),
            ("nuvemshop", &["x-linkedstore-hmac-sha256"]),
            ("openai", &["webhook-id", "webhook-timestamp", "webhook-signature"]),
            ("replicate", &["webhook-id", "webhook-timestamp", "webhook-signature"]),
            ("orb", &["x-orb-signature", "x-orb-timestamp"]),
            ("persona", &["persona-signature"]),
            ("picqer", &["x-picqer-signature"]),
            ("polar", &["webhook-id", "webhook-timestamp", "webhook-signature"]),
            ("recharge", &["x-recharge-hmac-sha256", "x-recharge-topic"]),
            (
                "sanity",
                &[
                    "sanity-webhook-signature",
                    "sanity-operation",
                    "idempotency-key",
                    "sanity-project-id",
                    "sanity-dataset",
                    "sanity-document-id",
                    "sanity-transaction-id",
                    "sanity-transaction-time",
                    "sanity-webhook-id",
                ],
            ),
            ("synctera", &["synctera-signature", "request-timestamp"]),
            ("tally", &["tally-signature"]),
            (
                "zerohash",
                &["x-zh-hook-signature", "x-zh-hook-timestamp", "x-zh-hook-payload-type", "x-zh-hook-notification-id"],
            ),
        ];
        for (name, headers) in expected {
            let p = find_provider(name).unwrap_or_else(|| panic!("{name}"));
            let (signing, _) = secrets_for(p);
            let now = 1_700_000_000;
            let body = sample_body(p, p.sample_event, now);
            assert!(
                hookdeck_list_sample(name, p.sample_event, "evt_0123456789abcdef0123456789abcdef", now).is_some(),
                "{name}: its own sample"
            );
            let req = sign(p, &signing, body, p.sample_event, "application/json", url, now).unwrap();
            let mut names: Vec<&str> =
                req.headers.iter().map(|(k, _)| k.as_str()).filter(|k| *k != "content-type").collect();
            names.sort_unstable();
            let mut want = headers.to_vec();
            want.sort_unstable();
            assert_eq!(names, want, "{name}");
            serde_json::from_slice::<serde_json::Value>(&req.body).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        // Headers whose values say something: the timestamps agree, Cursor names itself.
        let p = find_provider("ascend").unwrap();
        let req = sign(p, &Secret::new("s"), sample_body(p, "invoice.paid", 1), "invoice.paid", "a", url, 1).unwrap();
        let get = |k: &str| req.headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert!(get("x-ascend-signature").starts_with("t=1,v1="));
        assert_eq!(get("x-ascend-request-timestamp"), "1");
        let p = find_provider("cursor").unwrap();
        let req = sign(p, &Secret::new("s"), sample_body(p, "statusChange", 1), "statusChange", "a", url, 1).unwrap();
        assert!(req.headers.contains(&("user-agent".to_owned(), "Cursor-Agent-Webhook/1.0".to_owned())));
    }

    /// The senders added after Hookdeck's list: `send` writes every header
    /// the sender documents and a body in its shape.
    #[test]
    fn more_senders_send_their_documented_headers() {
        let url = "http://127.0.0.1:8787/hooks/x";
        let expected: &[(&str, &[&str])] = &[
            ("coinbase", &["x-cc-webhook-signature"]),
            ("chargify", &["x-chargify-webhook-signature-hmac-sha-256", "x-chargify-webhook-id"]),
            ("aftership", &["aftership-hmac-sha256"]),
            ("alchemy", &["x-alchemy-signature"]),
            ("terraform", &["x-tfe-notification-signature"]),
            ("sonatype", &["x-nexus-webhook-signature", "x-nexus-webhook-id", "x-nexus-webhook-delivery"]),
            ("frameio", &["x-frameio-signature", "x-frameio-request-timestamp"]),
            ("bolt", &["x-bolt-hmac-sha256"]),
            ("castle", &["x-castle-signature"]),
            ("clearbit", &["x-request-signature"]),
            ("mongodb", &["x-mms-signature", "x-mms-event"]),
            ("worldline", &["x-gcs-signature", "x-gcs-keyid"]),
            ("modern-treasury", &["x-signature", "x-webhook-id"]),
            ("pusher", &["x-pusher-signature", "x-pusher-key"]),
            ("autodesk", &["x-adsk-signature"]),
            ("coinify", &["x-coinify-webhook-signature"]),
            ("cashfree", &["x-webhook-signature", "x-webhook-timestamp"]),
            (
                "gitea",
                &[
                    "x-gitea-signature",
                    "x-gitea-event",
                    "x-gitea-event-type",
                    "x-gitea-delivery",
                    "x-gogs-signature",
                    "x-gogs-event",
                    "x-gogs-delivery",
                    "x-github-event",
                    "x-github-delivery",
                    "x-hub-signature-256",
                ],
            ),
            (
                "forgejo",
                &[
                    "x-forgejo-signature",
                    "x-forgejo-event",
                    "x-forgejo-event-type",
                    "x-forgejo-delivery",
                    "x-gitea-signature",
                    "x-gitea-event",
                    "x-gitea-event-type",
                    "x-gitea-delivery",
                ],
            ),
            ("gogs", &["x-gogs-signature", "x-gogs-event", "x-gogs-delivery"]),
            ("quickbooks", &["intuit-signature"]),
            ("webflow", &["x-webflow-signature", "x-webflow-timestamp"]),
            ("todoist", &["x-todoist-hmac-sha256", "x-todoist-delivery-id", "user-agent"]),
            ("checkout", &["cko-signature"]),
            ("elevenlabs", &["elevenlabs-signature"]),
            ("storyblok", &["webhook-signature"]),
        ];
        for (name, headers) in expected {
            let p = find_provider(name).unwrap_or_else(|| panic!("{name}"));
            let (signing, _) = secrets_for(p);
            let now = 1_700_000_000;
            let body = sample_body(p, p.sample_event, now);
            let req = sign(p, &signing, body, p.sample_event, sample_content_type(p), url, now).unwrap();
            let mut names: Vec<&str> =
                req.headers.iter().map(|(k, _)| k.as_str()).filter(|k| *k != "content-type").collect();
            names.sort_unstable();
            let mut want = headers.to_vec();
            want.sort_unstable();
            assert_eq!(names, want, "{name}");
            if *name != "chargify" {
                serde_json::from_slice::<serde_json::Value>(&req.body).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(
                    crate::samples::shaped(name, p.sample_event, "evt_0123456789abcdef0123456789abcdef", now).is_some(),
                    "{name}: its own sample"
                );
            }
        }
        // Values that say something: Maxio's id is the form's, Gitea's copies are its signature.
        let p = find_provider("chargify").unwrap();
        let req =
            sign(p, &Secret::new("s"), sample_body(p, "payment_success", 1), "payment_success", "a", url, 1).unwrap();
        let id = header(&req, "x-chargify-webhook-id").unwrap().to_owned();
        assert!(String::from_utf8_lossy(&req.body).starts_with(&format!("id={id}&event=payment_success&")));
        assert_eq!(sample_content_type(p), "application/x-www-form-urlencoded");
        let p = find_provider("gitea").unwrap();
        let req = sign(p, &Secret::new("s"), sample_body(p, "push", 1), "push", "a", url, 1).unwrap();
        let sig = header(&req, "x-gitea-signature").unwrap();
        assert_eq!(header(&req, "x-gogs-signature"), Some(sig));
        assert_eq!(header(&req, "x-hub-signature-256").map(str::to_owned), Some(format!("sha256={sig}")));
        assert_eq!(header(&req, "x-github-delivery"), header(&req, "x-gitea-delivery"));
    }

    /// Adyen and Wix carry their proof in the body: Adyen's notification
    /// with each item's hmacSignature, Wix's JWT as `text/plain`.
    #[test]
    fn adyen_and_wix_bodies_are_what_the_senders_send() {
        let url = "http://127.0.0.1:8787/hooks/x";
        let now = 1_700_000_000;
        let p = find_provider("adyen").unwrap();
        let (signing, _) = secrets_for(p);
        let req =
            sign(p, &signing, sample_body(p, "AUTHORISATION", now), "AUTHORISATION", sample_content_type(p), url, now)
                .unwrap();
        assert_eq!(header(&req, "content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let item = &v["notificationItems"][0]["NotificationRequestItem"];
        assert_eq!(item["eventCode"], "AUTHORISATION");
        assert_eq!(item["pspReference"].as_str().map(str::len), Some(16));
        assert!(item["additionalData"]["hmacSignature"].as_str().is_some_and(|s| s.len() == 44));
        let p = find_provider("wix").unwrap();
        let (signing, _) = secrets_for(p);
        let event = "wix.ecom.v1.order_created";
        let req = sign(p, &signing, sample_body(p, event, now), event, sample_content_type(p), url, now).unwrap();
        assert_eq!(header(&req, "content-type"), Some("text/plain"));
        let token = String::from_utf8(req.body).unwrap();
        assert_eq!(token.split('.').count(), 3);
        use base64::Engine as _;
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let envelope: serde_json::Value = serde_json::from_str(claims["data"].as_str().unwrap()).unwrap();
        assert_eq!(
            (envelope["eventType"].as_str(), envelope["instanceId"].as_str()),
            (Some(event), Some(WIX_INSTANCE_ID))
        );
        let data: serde_json::Value = serde_json::from_str(envelope["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["entityFqdn"], "wix.ecom.v1.order");
    }

    #[test]
    fn svix_branded_senders_use_svix_headers() {
        let s = Secret::new("whsec_ZGVtbw==");
        for name in ["svix", "clerk", "resend"] {
            let req = sign(find_provider(name).unwrap(), &s, b"{}".to_vec(), "e", "application/json", "u", 1).unwrap();
            assert!(req.headers.iter().any(|(k, _)| k == "svix-signature"), "{name}");
        }
        let req = sign(find_provider("standard-webhooks").unwrap(), &s, b"{}".to_vec(), "e", "a", "u", 1).unwrap();
        assert!(req.headers.iter().any(|(k, _)| k == "webhook-signature"));
    }

    #[test]
    fn twilio_json_bodies_are_signed_through_the_url() {
        let p = find_provider("twilio").unwrap();
        let s = Secret::new("twilio-auth-token");
        let body = br#"{"CallSid":"CA1"}"#.to_vec();
        let url = twilio::url_with_body_hash("https://flowgate.example/hooks/tw", &body);
        let req = sign(p, &s, body.clone(), "e", "application/json", &url, 1).unwrap();
        let headers: Headers = req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let inbound = Inbound { headers: &headers, body: &req.body, now_secs: 1, method: "POST", url: &url };
        assert!(verify(p, &p.scheme(), None, std::slice::from_ref(&s), inbound).is_ok());
        let inbound = Inbound { headers: &headers, body: b"{}", now_secs: 1, method: "POST", url: &url };
        assert!(verify(p, &p.scheme(), None, &[s], inbound).is_err());
    }

    #[test]
    fn bad_secrets_are_explained() {
        let err =
            sign(find_provider("standard-webhooks").unwrap(), &Secret::new("whsec_***"), vec![], "e", "a", "u", 1)
                .unwrap_err();
        assert!(err.to_string().contains("not a Standard Webhooks secret"));
        let err = sign(find_provider("airtable").unwrap(), &Secret::new("not base64!"), vec![], "e", "a", "u", 1)
            .unwrap_err();
        assert!(err.to_string().contains("Airtable"), "{err}");
        for name in ["discord", "telnyx", "sendgrid", "plaid", "basic-auth", "contentful"] {
            let p = find_provider(name).unwrap();
            let err = sign(p, &Secret::new("nope"), b"{}".to_vec(), "e", "a", "https://x/y", 1).unwrap_err();
            assert!(err.to_string().contains(p.title), "{name}: {err}");
        }
        let err =
            sign(find_provider("mailgun").unwrap(), &Secret::new("k"), b"[]".to_vec(), "e", "a", "u", 1).unwrap_err();
        assert!(err.to_string().contains("JSON object"), "{err}");
    }
}
