//! GitHub: <https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries>
//!
//! `X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
//! No timestamp is signed; replays are caught by the delivery id
//! (`X-GitHub-Delivery`). `X-GitHub-Event` names the event; `ping` is sent
//! when a webhook is created and only needs a 2xx.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{required, Handshake, Inbound, Provider, Verified, VerifyError};
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The event-type header.
pub const EVENT_HEADER: &str = "x-github-event";
/// The delivery-id header (a GUID, unique per delivery; re-deliveries keep it).
pub const DELIVERY_HEADER: &str = "x-github-delivery";
const PREFIX: &str = "sha256=";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &Secret, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    mac
}

/// The `X-Hub-Signature-256` value GitHub would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    format!("{PREFIX}{}", hex::encode(mac(secret, body).finalize().into_bytes()))
}

pub(super) fn verify<'a>(secrets: &[Secret], inbound: Inbound<'a>) -> Result<Verified<'a>, VerifyError> {
    let header = required(inbound.headers, SIGNATURE_HEADER)?;
    let hex_sig = header.strip_prefix(PREFIX).ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
    // Exactly 32 bytes of hex; `hex` accepts either case, as GitHub's own
    // examples compare case-sensitively only by accident of formatting.
    let mut sig = [0u8; 32];
    hex::decode_to_slice(hex_sig, &mut sig).map_err(|_| VerifyError::MalformedHeader(SIGNATURE_HEADER))?;

    // Every secret is tried (rotation); `verify_slice` compares in constant time.
    let matched = secrets.iter().fold(false, |ok, s| mac(s, inbound.body).verify_slice(&sig).is_ok() | ok);
    if !matched {
        return Err(VerifyError::SignatureMismatch);
    }

    let event_type = inbound.headers.get(EVENT_HEADER).map(str::to_owned);
    let handshake = (event_type.as_deref() == Some("ping")).then_some(Handshake::GitHubPing);
    Ok(Verified {
        provider: Provider::GitHub,
        body: inbound.body,
        event_type,
        delivery_id: inbound.headers.get(DELIVERY_HEADER).map(str::to_owned),
        handshake,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{self, VerifyOptions},
    };

    // docs.github.com "Validating webhook deliveries" (webhook-providers.md §c).
    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn run(headers: &Headers, body: &[u8], secrets: &[&str]) -> Result<(), VerifyError> {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let inbound = Inbound { headers, body, now_secs: 1_700_000_000 };
        verify::verify(Provider::GitHub, &VerifyOptions::default(), &secrets, inbound).map(|_| ())
    }

    fn signed(sig: &str) -> Headers {
        Headers::new()
            .with("X-Hub-Signature-256", sig)
            .with("X-GitHub-Event", "push")
            .with("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    }

    #[test]
    fn published_vector_signs_and_verifies() {
        assert_eq!(sign(&Secret::new(SECRET), BODY), SIG);
        assert_eq!(run(&signed(SIG), BODY, &[SECRET]), Ok(()));
    }

    #[test]
    fn extracts_event_and_delivery() {
        let h = signed(SIG);
        let s = [Secret::new(SECRET)];
        let v = verify::verify(
            Provider::GitHub,
            &VerifyOptions::default(),
            &s,
            Inbound { headers: &h, body: BODY, now_secs: 0 },
        )
        .unwrap();
        assert_eq!(v.event_type(), Some("push"));
        assert_eq!(v.delivery_id(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
        assert_eq!(v.body(), BODY);
        assert!(v.handshake().is_none());
    }

    #[test]
    fn ping_is_a_handshake() {
        let h = Headers::new().with("x-hub-signature-256", SIG).with("x-github-event", "ping");
        let s = [Secret::new(SECRET)];
        let v = verify::verify(
            Provider::GitHub,
            &VerifyOptions::default(),
            &s,
            Inbound { headers: &h, body: BODY, now_secs: 0 },
        )
        .unwrap();
        assert_eq!(v.handshake(), Some(&Handshake::GitHubPing));
    }

    #[test]
    fn rotation_accepts_any_configured_secret() {
        assert_eq!(run(&signed(SIG), BODY, &["old-secret", SECRET]), Ok(()));
        assert_eq!(run(&signed(SIG), BODY, &[SECRET, "next-secret"]), Ok(()));
    }

    #[test]
    fn tampered_body_fails() {
        assert_eq!(run(&signed(SIG), b"Hello, World?", &[SECRET]), Err(VerifyError::SignatureMismatch));
        assert_eq!(run(&signed(SIG), b"Hello, World! ", &[SECRET]), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn tampered_signature_fails() {
        let mut bad = SIG.to_owned();
        bad.pop();
        bad.push('8');
        assert_eq!(run(&signed(&bad), BODY, &[SECRET]), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn wrong_secret_fails() {
        assert_eq!(run(&signed(SIG), BODY, &["It's a secret to everybody"]), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn malformed_and_missing_headers() {
        assert_eq!(run(&Headers::new(), BODY, &[SECRET]), Err(VerifyError::MissingHeader(SIGNATURE_HEADER)));
        for bad in [
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", // no prefix
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=",
            "sha256=757107ea",                                                           // truncated
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",   // not hex
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700", // too long
        ] {
            assert_eq!(
                run(&signed(bad), BODY, &[SECRET]),
                Err(VerifyError::MalformedHeader(SIGNATURE_HEADER)),
                "{bad}"
            );
        }
    }

    #[test]
    fn raw_bytes_not_text() {
        // Non-UTF-8 bodies are signed and verified as bytes.
        let body = [0xff, 0x00, 0xfe, b'{'];
        let sig = sign(&Secret::new("k"), &body);
        assert_eq!(run(&signed(&sig), &body, &["k"]), Ok(()));
    }
}
