//! Adyen standard (payments) webhooks, HMAC-signed
//! (<https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures>,
//! and the `HmacValidator` of Adyen's Node and Java libraries, read 2026-12-02):
//!
//! - the body is `{"live": "false", "notificationItems": [{"NotificationRequestItem":
//!   {…}}]}`; JSON webhooks carry one item (Adyen: "JSON and HTTP POST
//!   webhooks contain only one NotificationRequestItem"), and flowgate
//!   verifies *every* item of a batch;
//! - each item's `additionalData.hmacSignature` is the base64
//!   HMAC-SHA256, keyed by the **hex-decoded** HMAC key of the endpoint, of
//!   `pspReference:originalReference:merchantAccountCode:merchantReference:amount.value:amount.currency:eventCode:success`;
//!   a missing field is written as the empty string (Java's `getDataToSign`:
//!   "If any value is null, it is represented as an empty string"; Node's
//!   `Array.join` does the same with `undefined`), and nothing is escaped —
//!   the libraries escape `\` and `:` only in the sorted key-value form of
//!   the hosted payment pages, not in notification items;
//! - Adyen's current docs ask for any 2xx; older integrations had to answer
//!   the text `[accepted]`, which every Adyen endpoint still takes, so
//!   flowgate answers that ([`super::catalogue::Ack`]).
//!
//! **The HMAC does not cover the body.** It signs the eight fields above and
//! nothing else: `additionalData`, `reason`, `eventDate`, `paymentMethod`,
//! `operations` and `live` can be changed by anyone who captured one
//! notification. The flow receives the body byte-exact, but should trust
//! only the signed fields (or look the payment up by `pspReference`).
//!
//! Because the fields are joined by `:` without escaping, a colon inside a
//! field could shift text from one field to the next under the same
//! signature. Only `merchantReference` is the merchant's free text; the other
//! seven are Adyen's references, account codes, amounts, currencies, event
//! codes and booleans, which never contain a colon. flowgate refuses an item
//! whose other fields hold one, so the signed string splits into fields one
//! way only (three fields before `merchantReference`, four after).
//!
//! Work before verification is bounded: the body must be at most
//! [`MAX_BODY_BYTES`] and hold at most [`MAX_ITEMS`] items, and it is parsed
//! once (serde_json's nesting limit applies).
//!
//! Event type: the (first) item's `eventCode`. Delivery id, for a body of one
//! item: `pspReference:eventCode:success`. A payment's events share its
//! `pspReference` and differ by `eventCode` (AUTHORISATION, CAPTURE, REFUND …;
//! a dispute's events share the dispute's); Adyen can send the same event
//! code again for a reference with the other `success` value, which is news,
//! not a retry, so `success` is part of the id. A retry repeats all three.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{decode_keys, Inbound, Labels, Proof, Verified, VerifyError};
use crate::secret::{ct_eq, Secret};

/// Where the signature is, in each item (named in errors).
pub const SIGNATURE_FIELD: &str = "additionalData.hmacSignature";

/// The largest body parsed before verification (Adyen's notifications are a
/// few kilobytes per item).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// The most items a body may hold (each is one HMAC).
pub const MAX_ITEMS: usize = 100;

/// The answer Adyen's older integrations require (any 2xx body is taken today).
pub const ACK_BODY: &str = "[accepted]";

/// The eight signed fields of one item, as Adyen writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFields {
    /// `pspReference`.
    pub psp_reference: String,
    /// `originalReference` (empty for a payment's own events).
    pub original_reference: String,
    /// `merchantAccountCode`.
    pub merchant_account_code: String,
    /// `merchantReference` (the merchant's text: may hold `:`).
    pub merchant_reference: String,
    /// `amount.value`, in minor units.
    pub value: String,
    /// `amount.currency`.
    pub currency: String,
    /// `eventCode`.
    pub event_code: String,
    /// `success`: `true` or `false`.
    pub success: String,
}

impl SignedFields {
    /// The string Adyen signs.
    pub fn signing_string(&self) -> String {
        [
            self.psp_reference.as_str(),
            &self.original_reference,
            &self.merchant_account_code,
            &self.merchant_reference,
            &self.value,
            &self.currency,
            &self.event_code,
            &self.success,
        ]
        .join(":")
    }
}

/// One item: its signed fields and its signature text (if any).
struct Item {
    fields: SignedFields,
    signature: Option<String>,
}

/// A string field, absent or `null` as the empty string; another type is
/// not Adyen's shape.
fn text(item: &Value, key: &str) -> Result<String, VerifyError> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(VerifyError::UnexpectedBody),
    }
}

/// The items of an Adyen body, or why it is not one.
fn items(body: &[u8]) -> Result<Vec<Item>, VerifyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(VerifyError::BodyOverLimit("Adyen body size"));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| VerifyError::UnexpectedBody)?;
    let list = v.get("notificationItems").and_then(Value::as_array).ok_or(VerifyError::UnexpectedBody)?;
    if list.is_empty() {
        return Err(VerifyError::UnexpectedBody);
    }
    if list.len() > MAX_ITEMS {
        return Err(VerifyError::BodyOverLimit("Adyen notification items"));
    }
    list.iter().map(item_of).collect()
}

/// One `{"NotificationRequestItem": {…}}` of `notificationItems`.
fn item_of(wrapper: &Value) -> Result<Item, VerifyError> {
    let item = wrapper.get("NotificationRequestItem").filter(|i| i.is_object()).ok_or(VerifyError::UnexpectedBody)?;
    let fields = fields_of(item)?;
    let signature = match item.get("additionalData").and_then(|a| a.get("hmacSignature")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(VerifyError::MalformedHeader(SIGNATURE_FIELD.into())),
    };
    Ok(Item { fields, signature })
}

/// The signed fields of a `NotificationRequestItem` object.
fn fields_of(item: &Value) -> Result<SignedFields, VerifyError> {
    let amount = item.get("amount").filter(|a| !a.is_null());
    let value = match amount.and_then(|a| a.get("value")) {
        None | Some(Value::Null) => String::new(),
        // Minor units: an integer (Java's Long), written as such.
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(_) => return Err(VerifyError::UnexpectedBody),
    };
    let currency = match amount {
        Some(a) => text(a, "currency")?,
        None => String::new(),
    };
    let success = match item.get("success") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(VerifyError::UnexpectedBody),
    };
    let fields = SignedFields {
        psp_reference: text(item, "pspReference")?,
        original_reference: text(item, "originalReference")?,
        merchant_account_code: text(item, "merchantAccountCode")?,
        merchant_reference: text(item, "merchantReference")?,
        value,
        currency,
        event_code: text(item, "eventCode")?,
        success,
    };
    // One way to split the signed string (module docs).
    let fixed = [
        &fields.psp_reference,
        &fields.original_reference,
        &fields.merchant_account_code,
        &fields.currency,
        &fields.event_code,
        &fields.success,
    ];
    if fixed.iter().any(|f| f.contains(':')) {
        return Err(VerifyError::UnexpectedBody);
    }
    Ok(fields)
}

/// `body` (an Adyen notification) with every item's
/// `additionalData.hmacSignature` set as Adyen sets it, under the hex
/// `secret` (for `flowgate send` and the emulator). The JSON is written
/// again (compact, keys sorted), so the bytes are not `body`'s.
///
/// # Errors
/// A fixed reason when the key is not hex or the body is not an Adyen
/// notification.
pub fn sign_body(secret: &Secret, body: &[u8]) -> Result<Vec<u8>, &'static str> {
    const SHAPE: &str = "is not an Adyen notification ({\"notificationItems\": [{\"NotificationRequestItem\": …}]})";
    let key = decode_key(secret)?;
    let mut v: Value = serde_json::from_slice(body).map_err(|_| SHAPE)?;
    let list = v.get_mut("notificationItems").and_then(Value::as_array_mut).ok_or(SHAPE)?;
    for wrapper in list {
        let item = wrapper.get_mut("NotificationRequestItem").and_then(Value::as_object_mut).ok_or(SHAPE)?;
        let fields = fields_of(&Value::Object(item.clone())).map_err(|_| SHAPE)?;
        let sig = STANDARD.encode(mac(&key, &fields));
        let extra = item.entry("additionalData").or_insert_with(|| Value::Object(serde_json::Map::new()));
        extra.as_object_mut().ok_or(SHAPE)?.insert("hmacSignature".into(), sig.into());
    }
    serde_json::to_vec(&v).map_err(|_| SHAPE)
}

fn mac(key: &[u8], fields: &SignedFields) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(fields.signing_string().as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The HMAC key of a route secret: Adyen shows it as hex (64 digits).
///
/// # Errors
/// A fixed reason when it is not an even number of hex digits.
pub fn decode_key(secret: &Secret) -> Result<Vec<u8>, &'static str> {
    hex::decode(secret.expose().trim()).ok().filter(|k| !k.is_empty()).ok_or("is not a hex HMAC key")
}

/// The `hmacSignature` Adyen writes for `fields` under the hex `secret` (for
/// `flowgate send`, the emulator and tests).
///
/// # Errors
/// As [`decode_key`].
pub fn sign(secret: &Secret, fields: &SignedFields) -> Result<String, &'static str> {
    Ok(STANDARD.encode(mac(&decode_key(secret)?, fields)))
}

fn labels_of(items: &[Item]) -> Labels {
    let first = items.first().map(|i| &i.fields);
    let delivery_id = match items {
        [one] if !one.fields.psp_reference.is_empty() => {
            Some(format!("{}:{}:{}", one.fields.psp_reference, one.fields.event_code, one.fields.success))
        }
        _ => None,
    };
    Labels { event_type: first.map(|f| f.event_code.clone()).filter(|e| !e.is_empty()), delivery_id }
}

/// The labels of an Adyen body, unverified (dry runs).
pub(super) fn labels(body: &[u8]) -> Labels {
    items(body).map(|i| labels_of(&i)).unwrap_or_default()
}

pub(super) fn verify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    let keys = decode_keys(provider, secrets, decode_key)?;
    let items = items(inbound.body)?;
    let mut macs = Vec::with_capacity(items.len() * 32);
    let mut secret_index = None;
    for item in &items {
        let sig = item.signature.as_deref().ok_or(VerifyError::MissingHeader(SIGNATURE_FIELD.into()))?;
        let given = STANDARD.decode(sig.trim()).map_err(|_| VerifyError::MalformedHeader(SIGNATURE_FIELD.into()))?;
        // Every item must verify, each under any of the route's keys (a
        // batch queued across a key rotation carries both).
        let (index, expected) = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (i, mac(k, &item.fields)))
            .find(|(_, expected)| ct_eq(expected, &given))
            .ok_or(VerifyError::SignatureMismatch)?;
        secret_index.get_or_insert(index);
        macs.extend_from_slice(&expected);
    }
    let secret_index = secret_index.ok_or(VerifyError::UnexpectedBody)?;
    Ok(Verified::labelled(provider, secret_index, inbound.body, labels_of(&items)).with_proof(Proof::of_mac(&macs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify as verify_any},
    };

    /// Adyen's published example (its HMAC documentation and libraries).
    const KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
    const SIGNED: &str = "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true";
    const SIGNATURE: &str = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=";

    fn item(sig: &str) -> String {
        format!(
            r#"{{"NotificationRequestItem":{{"additionalData":{{"hmacSignature":"{sig}","authCode":"58747","cardSummary":"1111"}},"amount":{{"currency":"EUR","value":1130}},"eventCode":"AUTHORISATION","eventDate":"2014-08-06T13:39:03+02:00","merchantAccountCode":"TestMerchant","merchantReference":"TestPayment-1407325143704","operations":["CANCEL","CAPTURE","REFUND"],"paymentMethod":"visa","pspReference":"7914073381342284","reason":"58747:1111:12/2012","success":"true"}}}}"#
        )
    }

    fn body(items: &[String]) -> Vec<u8> {
        format!(r#"{{"live":"false","notificationItems":[{}]}}"#, items.join(",")).into_bytes()
    }

    fn run_keys(body: &[u8], keys: &[&str]) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("adyen").unwrap();
        let h: &'static Headers = Box::leak(Box::new(Headers::new().with("content-type", "application/json")));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let secrets: Vec<Secret> = keys.iter().map(|k| Secret::new(*k)).collect();
        verify_any(p, &p.scheme(), None, &secrets, Inbound::post(h, body, 1_700_000_000))
    }

    fn run(body: &[u8]) -> Result<Verified<'static>, VerifyError> {
        run_keys(body, &[KEY])
    }

    fn published_fields() -> SignedFields {
        let items = items(&body(&[item(SIGNATURE)])).unwrap();
        items.into_iter().next().unwrap().fields
    }

    #[test]
    fn adyen_published_vector() {
        let fields = published_fields();
        assert_eq!(fields.signing_string(), SIGNED);
        assert_eq!(sign(&Secret::new(KEY), &fields).unwrap(), SIGNATURE);
        // Lower-case hex is the same key.
        assert_eq!(sign(&Secret::new(KEY.to_ascii_lowercase()), &fields).unwrap(), SIGNATURE);
        let v = run(&body(&[item(SIGNATURE)])).unwrap();
        assert_eq!(v.event_type(), Some("AUTHORISATION"));
        assert_eq!(v.delivery_id(), Some("7914073381342284:AUTHORISATION:true"));
    }

    #[test]
    fn adyen_node_library_vector() {
        // adyen-node-api-library hmacValidator.spec.ts: "should have valid
        // notification request item HMAC" (key DFB1EB…AB00).
        let key = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";
        let b = br#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"pspReference":"pspReference","originalReference":"originalReference","merchantAccountCode":"merchantAccount","merchantReference":"reference","amount":{"currency":"EUR","value":1000},"eventCode":"EVENT","success":"true","additionalData":{"hmacSignature":"ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="}}}]}"#;
        let v = run_keys(b, &[key]).unwrap();
        assert_eq!(v.delivery_id(), Some("pspReference:EVENT:true"));
    }

    #[test]
    fn unsigned_fields_are_not_covered_but_signed_ones_are() {
        // additionalData, reason, eventDate are not signed (module docs).
        let changed = String::from_utf8(body(&[item(SIGNATURE)])).unwrap().replace("58747:1111", "99999:0000");
        assert!(run(changed.as_bytes()).is_ok());
        let ok = String::from_utf8(body(&[item(SIGNATURE)])).unwrap();
        for (from, to) in [
            ("\"7914073381342284\"", "\"7914073381342285\""),
            ("\"TestMerchant\"", "\"TestMerchanu\""),
            ("TestPayment-1407325143704", "TestPayment-1407325143705"),
            ("\"value\":1130", "\"value\":1131"),
            ("\"EUR\"", "\"USD\""),
            ("\"AUTHORISATION\"", "\"CAPTURE\""),
            ("\"success\":\"true\"", "\"success\":\"false\""),
            ("\"merchantAccountCode\"", "\"originalReference\":\"x\",\"merchantAccountCode\""),
        ] {
            let b = ok.replacen(from, to, 1);
            assert_ne!(b, ok, "{from}");
            assert_eq!(run(b.as_bytes()).unwrap_err(), VerifyError::SignatureMismatch, "{from}");
        }
    }

    #[test]
    fn every_mutation_of_the_signature_or_key_is_rejected() {
        let mut raw = STANDARD.decode(SIGNATURE).unwrap();
        for i in [0, 15, 31] {
            raw[i] ^= 1;
            let sig = STANDARD.encode(&raw);
            raw[i] ^= 1;
            assert_eq!(run(&body(&[item(&sig)])).unwrap_err(), VerifyError::SignatureMismatch, "{i}");
        }
        // Truncated, padded out, another length, not base64, empty, absent.
        let short = STANDARD.encode(&raw[..31]);
        assert_eq!(run(&body(&[item(&short)])).unwrap_err(), VerifyError::SignatureMismatch);
        let long = STANDARD.encode([raw.as_slice(), &[0]].concat());
        assert_eq!(run(&body(&[item(&long)])).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(run(&body(&[item("!!")])).unwrap_err(), VerifyError::MalformedHeader(SIGNATURE_FIELD.into()));
        assert_eq!(run(&body(&[item("")])).unwrap_err(), VerifyError::SignatureMismatch);
        let unsigned = String::from_utf8(body(&[item(SIGNATURE)]))
            .unwrap()
            .replace(&format!(r#""hmacSignature":"{SIGNATURE}","#), "");
        assert_eq!(run(unsigned.as_bytes()).unwrap_err(), VerifyError::MissingHeader(SIGNATURE_FIELD.into()));
        // The key as text (not hex-decoded) signs something else.
        let mut m = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        m.update(SIGNED.as_bytes());
        let as_text = STANDARD.encode(m.finalize().into_bytes());
        assert_eq!(run(&body(&[item(&as_text)])).unwrap_err(), VerifyError::SignatureMismatch);
        // Another key; a key that is not hex is flowgate's configuration error.
        let other = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA057";
        assert_eq!(run_keys(&body(&[item(SIGNATURE)]), &[other]).unwrap_err(), VerifyError::SignatureMismatch);
        assert!(run_keys(&body(&[item(SIGNATURE)]), &[other, KEY]).is_ok(), "rotation");
        for bad in ["not hex", "ABC"] {
            assert!(run_keys(&body(&[item(SIGNATURE)]), &[bad]).unwrap_err().is_config_error(), "{bad}");
        }
    }

    #[test]
    fn every_item_of_a_batch_must_verify() {
        let fields = SignedFields { psp_reference: "8815400000000001".into(), ..published_fields() };
        let second_sig = sign(&Secret::new(KEY), &fields).unwrap();
        let second = item(&second_sig).replace("7914073381342284", "8815400000000001");
        let v = run(&body(&[item(SIGNATURE), second.clone()])).unwrap();
        // A batch has no one delivery id; the first item's event type.
        assert_eq!((v.event_type(), v.delivery_id()), (Some("AUTHORISATION"), None));
        // One forged item fails the batch, wherever it is.
        let forged = second.replace(&second_sig, SIGNATURE);
        assert_eq!(run(&body(&[item(SIGNATURE), forged.clone()])).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(run(&body(&[forged, item(SIGNATURE)])).unwrap_err(), VerifyError::SignatureMismatch);
        // Two items give another proof than either alone.
        let one = run(&body(&[item(SIGNATURE)])).unwrap().proof();
        assert_ne!(v.proof(), one);
    }

    #[test]
    fn missing_fields_are_empty_and_colons_cannot_shift_fields() {
        // A REPORT_AVAILABLE-style item without amount or references.
        let fields = SignedFields {
            psp_reference: "report.csv".into(),
            original_reference: String::new(),
            merchant_account_code: "TestMerchant".into(),
            merchant_reference: String::new(),
            value: String::new(),
            currency: String::new(),
            event_code: "REPORT_AVAILABLE".into(),
            success: "true".into(),
        };
        assert_eq!(fields.signing_string(), "report.csv::TestMerchant::::REPORT_AVAILABLE:true");
        let sig = sign(&Secret::new(KEY), &fields).unwrap();
        let b = format!(
            r#"{{"live":"false","notificationItems":[{{"NotificationRequestItem":{{"additionalData":{{"hmacSignature":"{sig}"}},"eventCode":"REPORT_AVAILABLE","merchantAccountCode":"TestMerchant","merchantReference":null,"pspReference":"report.csv","reason":"https://ca-test.adyen.com/reports/download/report.csv","success":"true"}}}}]}}"#
        );
        assert!(run(b.as_bytes()).is_ok());
        // A colon in the merchant's reference is signed as is.
        let fields = SignedFields { merchant_reference: "order:42".into(), ..published_fields() };
        let sig = sign(&Secret::new(KEY), &fields).unwrap();
        let b = String::from_utf8(body(&[item(&sig)])).unwrap().replace("TestPayment-1407325143704", "order:42");
        assert!(run(b.as_bytes()).is_ok());
        // Moving it into the account code gives the same signed string: refused.
        let shifted = b.replace("\"TestMerchant\"", "\"TestMerchant:order\"").replace("\"order:42\"", "\"42\"");
        assert_eq!(run(shifted.as_bytes()).unwrap_err(), VerifyError::UnexpectedBody);
    }

    #[test]
    fn bodies_not_in_adyen_shape_or_over_the_bounds_are_refused() {
        for b in [
            &b"not json"[..],
            b"{}",
            br#"{"notificationItems":[]}"#,
            br#"{"notificationItems":{}}"#,
            br#"{"notificationItems":[{"Other":{}}]}"#,
            br#"{"notificationItems":[{"NotificationRequestItem":{"pspReference":1}}]}"#,
            br#"{"notificationItems":[{"NotificationRequestItem":{"amount":{"value":11.3}}}]}"#,
            br#"{"notificationItems":[{"NotificationRequestItem":{"success":1}}]}"#,
        ] {
            assert_eq!(run(b).unwrap_err(), VerifyError::UnexpectedBody, "{}", String::from_utf8_lossy(b));
        }
        let many: Vec<String> = (0..=MAX_ITEMS).map(|_| item(SIGNATURE)).collect();
        assert_eq!(run(&body(&many)).unwrap_err(), VerifyError::BodyOverLimit("Adyen notification items"));
        let big = format!(r#"{{"pad":"{}","notificationItems":[{}]}}"#, "x".repeat(MAX_BODY_BYTES), item(SIGNATURE));
        assert_eq!(run(big.as_bytes()).unwrap_err(), VerifyError::BodyOverLimit("Adyen body size"));
        // The route's default body cap is the same bound, so the Worker
        // answers 413 before reading a larger body.
        let cap = crate::verify::body_fields::body_proof_max_body_bytes(&find_provider("adyen").unwrap().scheme());
        assert_eq!(cap, Some(MAX_BODY_BYTES as u64));
        // A full batch of MAX_ITEMS verifies.
        let full: Vec<String> = (0..MAX_ITEMS).map(|_| item(SIGNATURE)).collect();
        assert!(run(&body(&full)).is_ok());
    }

    #[test]
    fn sign_body_signs_every_item_as_adyen_does() {
        let unsigned = String::from_utf8(body(&[item(SIGNATURE), item(SIGNATURE)]))
            .unwrap()
            .replace(&format!(r#""hmacSignature":"{SIGNATURE}","#), "");
        let signed = sign_body(&Secret::new(KEY), unsigned.as_bytes()).unwrap();
        assert!(String::from_utf8_lossy(&signed).matches(SIGNATURE).count() == 2);
        assert!(run(&signed).is_ok());
        assert!(sign_body(&Secret::new(KEY), b"{}").is_err());
        assert!(sign_body(&Secret::new("zz"), &signed).is_err());
    }

    #[test]
    fn platform_webhooks_sign_the_raw_body_in_a_header() {
        // HmacValidator.validateHMACSignature: base64 HMAC-SHA256 under the
        // hex-decoded key over the payload as received.
        let p = find_provider("adyen-platform").unwrap();
        let b: &'static [u8] = br#"{"data":{"balancePlatform":"YOUR_BALANCE_PLATFORM","accountHolder":{"id":"AH00000000000000000001","status":"active"}},"environment":"test","type":"balancePlatform.accountHolder.created"}"#;
        let mut m = Hmac::<Sha256>::new_from_slice(&hex::decode(KEY).unwrap()).unwrap();
        m.update(b);
        let sig = STANDARD.encode(m.finalize().into_bytes());
        let check = |sig: &str, body: &'static [u8]| {
            let h: &'static Headers = Box::leak(Box::new(Headers::new().with("HmacSignature", sig)));
            verify_any(p, &p.scheme(), None, &[Secret::new(KEY)], Inbound::post(h, body, 1_700_000_000))
        };
        let v = check(&sig, b).unwrap();
        assert_eq!((v.event_type(), v.delivery_id()), (Some("balancePlatform.accountHolder.created"), None));
        assert_eq!(check(&sig, br#"{"type":"x"}"#).unwrap_err(), VerifyError::SignatureMismatch);
        // Keyed with the key's text instead of its bytes: refused.
        let mut m = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        m.update(b);
        assert!(check(&STANDARD.encode(m.finalize().into_bytes()), b).is_err());
    }

    #[test]
    fn labels_agree_with_verify() {
        let b = body(&[item(SIGNATURE)]);
        let l = labels(&b);
        let v = run(&b).unwrap();
        assert_eq!((l.event_type.as_deref(), l.delivery_id.as_deref()), (v.event_type(), v.delivery_id()));
    }
}
