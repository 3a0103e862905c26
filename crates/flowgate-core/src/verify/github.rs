//! GitHub: <https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries>
//!
//! `X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(secret, body)>`
//! (legacy: `X-Hub-Signature: sha1=`). No timestamp is signed; GitHub keeps
//! the delivery GUID (`X-GitHub-Delivery`) across redeliveries. `X-GitHub-Event`
//! names the event; `ping` is sent when a webhook is created and only needs a
//! 2xx. Verified by the catalogue's `github` preset of the HMAC scheme; this
//! module keeps the published vector and a signer for tools and tests.

use super::find_provider;
use crate::secret::Secret;

/// The `X-Hub-Signature-256` value GitHub would send for `body`.
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let p = find_provider("github").expect("github is in the catalogue");
    let super::Scheme::Hmac(h) = p.scheme() else { unreachable!("github is an HMAC preset") };
    h.sign(secret, body, 0, "", "", "POST").expect("a raw secret is always usable").remove(0).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{self, Handshake, Inbound, VerifyError},
    };

    // docs.github.com "Validating webhook deliveries" (webhook-providers.md §c).
    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn run(headers: &Headers, body: &[u8], secrets: &[&str]) -> Result<verify::Verified<'static>, VerifyError> {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let p = find_provider("github").unwrap();
        // Leak the headers and body so the result can outlive this call (tests only).
        let headers: &'static Headers = Box::leak(Box::new(headers.clone()));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        verify::verify(p, &p.scheme(), None, &secrets, Inbound::post(headers, body, 1_700_000_000))
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
        let v = run(&signed(SIG), BODY, &[SECRET]).unwrap();
        assert_eq!(v.event_type(), Some("push"));
        assert_eq!(v.delivery_id(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
        assert_eq!(v.body(), BODY);
        assert_eq!(v.provider(), "github");
        assert!(v.handshake().is_none());
    }

    #[test]
    fn ping_is_a_handshake() {
        let h = Headers::new().with("x-hub-signature-256", SIG).with("x-github-event", "ping");
        assert_eq!(run(&h, BODY, &[SECRET]).unwrap().handshake(), Some(&Handshake::Ping("github")));
    }

    #[test]
    fn rotation_accepts_any_configured_secret() {
        assert!(run(&signed(SIG), BODY, &["old-secret", SECRET]).is_ok());
        assert!(run(&signed(SIG), BODY, &[SECRET, "next-secret"]).is_ok());
    }

    #[test]
    fn tampering_and_wrong_secrets_fail() {
        assert_eq!(run(&signed(SIG), b"Hello, World?", &[SECRET]).unwrap_err(), VerifyError::SignatureMismatch);
        let mut bad = SIG.to_owned();
        bad.pop();
        bad.push('8');
        assert_eq!(run(&signed(&bad), BODY, &[SECRET]).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(
            run(&signed(SIG), BODY, &["It's a secret to everybody"]).unwrap_err(),
            VerifyError::SignatureMismatch
        );
    }

    #[test]
    fn malformed_and_missing_headers() {
        assert_eq!(
            run(&Headers::new(), BODY, &[SECRET]).unwrap_err(),
            VerifyError::MissingHeader("x-hub-signature-256".into())
        );
        for bad in [
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", // no prefix
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", // not hex
        ] {
            assert_eq!(
                run(&signed(bad), BODY, &[SECRET]).unwrap_err(),
                VerifyError::MalformedHeader("x-hub-signature-256".into()),
                "{bad}"
            );
        }
        // Truncated or too long: well-formed hex of the wrong length never matches.
        for bad in ["sha256=757107ea", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700"] {
            assert_eq!(run(&signed(bad), BODY, &[SECRET]).unwrap_err(), VerifyError::SignatureMismatch, "{bad}");
        }
    }
}
