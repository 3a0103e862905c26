//! Raw input into every sender's verifier and the handshake code around it,
//! as the Worker calls them: nothing may panic, and what verifies is
//! labelled as the unverified labelling says.

use arbitrary::{Result, Unstructured};
use base64::{engine::general_purpose::STANDARD, Engine};
use flowgate_core::{
    verify::{
        self, contentful, discord, handshake, jwt_hs256, plaid, providers, scheme::Field, sendgrid,
        standard_webhooks as sw, twilio, Scheme,
    },
    Headers, Secret,
};

use crate::support::{any_text, bytes, key, printable};

/// Every header name some verifier or handshake reads.
fn header_names() -> Vec<String> {
    let mut names: Vec<String> = [
        sw::ID_HEADERS.0,
        sw::ID_HEADERS.1,
        sw::TIMESTAMP_HEADERS.0,
        sw::TIMESTAMP_HEADERS.1,
        sw::SIGNATURE_HEADERS.0,
        sw::SIGNATURE_HEADERS.1,
        twilio::SIGNATURE_HEADER,
        twilio::IDEMPOTENCY_HEADER,
        discord::SIGNATURE_HEADER,
        discord::TIMESTAMP_HEADER,
        sendgrid::SIGNATURE_HEADER,
        sendgrid::TIMESTAMP_HEADER,
        contentful::SIGNATURE_HEADER,
        contentful::SIGNED_HEADERS_HEADER,
        contentful::TIMESTAMP_HEADER,
        plaid::HEADER,
        verify::ebay::HEADER,
        verify::circle::SIGNATURE_HEADER,
        verify::circle::KEY_ID_HEADER,
        jwt_hs256::NETLIFY_HEADER,
        jwt_hs256::MONDAY_HEADER,
        "x-hook-secret",
        "x-okta-verification-challenge",
        "twitch-eventsub-message-type",
        "x-notion-signature",
        "content-type",
    ]
    .map(str::to_owned)
    .to_vec();
    for p in providers() {
        let mut fields: Vec<Field> = Vec::new();
        match p.scheme() {
            Scheme::Hmac(h) => {
                names.extend(h.signature_headers.iter().map(|n| n.to_string()));
                names.extend(h.id_header.iter().map(|n| n.to_string()));
                if let Some(verify::scheme::TimestampSource::Header(n)) = h.timestamp.map(|t| t.source) {
                    names.push(n.to_string());
                }
                fields.extend(h.event);
                fields.extend(h.delivery);
            }
            Scheme::Token(h) | Scheme::BasicAuth(h) => {
                names.push(h.header.to_string());
                fields.extend(h.event);
                fields.extend(h.delivery);
            }
            _ => {}
        }
        names.extend(fields.into_iter().filter_map(|f| match f {
            Field::Header(n) => Some(n.to_string()),
            Field::Json(_) => None,
        }));
    }
    names.sort();
    names.dedup();
    names
}

/// A secret of some well-formed shape, or arbitrary text.
fn secret(u: &mut Unstructured<'_>) -> Result<Secret> {
    let k = key(u, 64)?;
    Ok(Secret::new(match u.int_in_range(0..=6u8)? {
        0 => printable(&k),
        1 => format!("whsec_{}", STANDARD.encode(&k)),
        2 => hex::encode(&k),
        3 => {
            let mut seed = [0u8; 32];
            seed.iter_mut().zip(&k).for_each(|(s, b)| *s = *b);
            discord::public_key_hex(&Secret::new(hex::encode(seed))).unwrap_or_default()
        }
        4 => {
            let mut seed = [1u8; 32];
            seed.iter_mut().zip(&k).for_each(|(s, b)| *s = *b);
            let private = Secret::new(hex::encode(seed));
            if u.arbitrary()? {
                sendgrid::public_key_base64(&private).unwrap_or_default()
            } else {
                plaid::public_jwk_text(&private).unwrap_or_default()
            }
        }
        5 => format!("{}:{}", printable(&k[..k.len() / 2]), printable(&k[k.len() / 2..])),
        _ => any_text(u, 80)?,
    }))
}

/// A header value: arbitrary text, or one built of the pieces the parsers
/// look for.
fn value(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => any_text(u, 120)?,
        1 => {
            let pieces = ["t=", "v1=", "v1,", "sha256=", ",", ";", " ", "=", ".", "Basic ", "Bearer ", "ts=", "h1="];
            let mut s = String::new();
            for _ in 0..u.int_in_range(0..=8)? {
                if u.arbitrary()? {
                    s.push_str(u.choose(&pieces)?);
                } else {
                    s.push_str(&hex::encode(bytes(u, 33)?));
                }
            }
            s
        }
        2 => STANDARD.encode(bytes(u, 72)?),
        _ => {
            // Something shaped like a JWT.
            let parts: Vec<String> =
                (0..3).map(|_| Ok(crate::support::b64url(&bytes(u, 60)?))).collect::<Result<_>>()?;
            parts.join(".")
        }
    })
}

/// Every built-in sender (the input picks) on raw headers, body, URL,
/// method, time and secrets: verification, labelling and both kinds of
/// handshake run without a panic; an accepted request is labelled as
/// [`verify::labels`] labels it, with a matching secret's position.
pub fn verify_raw(data: &[u8]) {
    let _ = inner(&mut Unstructured::new(data));
}

fn inner(u: &mut Unstructured<'_>) -> Result<()> {
    let all = providers();
    let p = &all[u.choose_index(all.len())?];
    let scheme = p.scheme();
    let names = header_names();
    let mut headers = Headers::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let name = if u.ratio(7, 8)? { u.choose(&names)?.clone() } else { any_text(u, 20)? };
        headers.insert(&name, value(u)?);
    }
    let body = if u.arbitrary()? { bytes(u, 1024)? } else { any_text(u, 1024)?.into_bytes() };
    let url = format!("https://flowgate.example/hooks/x{}", any_text(u, 60)?);
    let method = *u.choose(&["POST", "GET", "PUT"])?;
    let now: u64 = if u.arbitrary()? { u.arbitrary()? } else { u.int_in_range(1_000_000_000..=4_000_000_000)? };
    let tolerance: Option<u64> = if u.arbitrary()? { Some(u.arbitrary()?) } else { None };
    let secrets: Vec<Secret> = (0..u.int_in_range(0..=3)?).map(|_| secret(u)).collect::<Result<_>>()?;
    let verify_token = if u.arbitrary()? { Some(secret(u)?) } else { None };

    let _ = handshake::before_verification(p.name, method, &url, &headers, &body, &secrets, verify_token.as_ref());
    let _ = handshake::stored_secret_name(p.name);
    let _ = handshake::answers_get(p.name);
    let labels = verify::labels(&scheme, &headers, &body);
    let _ = verify::handshake_name(p, &scheme, &headers, &body);
    let _ = plaid::jwt_kid(&headers);
    // The ids read before any fetch are always safe to put in a URL path.
    if let Ok(h) = verify::ebay::parse_header(&headers) {
        assert!(verify::fetched_key::is_valid_key_id(&h.kid), "ebay kid {:?}", h.kid);
        assert_eq!(h.signature.len(), 64);
    }
    if let Ok((id, sig)) = verify::circle::parse_headers(&headers) {
        assert!(verify::circle::is_valid_key_id(&id) && sig.len() == 64, "circle id {id:?}");
    }
    let inbound = verify::Inbound { headers: &headers, body: &body, now_secs: now, method, url: &url };
    match verify::verify(p, &scheme, tolerance, &secrets, inbound) {
        Ok(v) => {
            assert!(v.secret_index() < secrets.len());
            assert_eq!(v.body(), &body[..]);
            // Standard Webhooks without a signature header is the one
            // documented difference, and such a request never verifies.
            assert_eq!(labels.event_type.as_deref(), v.event_type(), "{}", p.name);
            assert_eq!(labels.delivery_id.as_deref(), v.delivery_id(), "{}", p.name);
            let _ = handshake::after_verification(&v, &headers, &secrets);
        }
        Err(e) => {
            let _ = (e.code(), e.to_string(), e.is_config_error());
        }
    }
    Ok(())
}
