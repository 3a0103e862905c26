//! Senders that prove nothing about the body and only present a shared
//! secret in a header:
//!
//! - **Token** ([`Scheme::Token`](super::Scheme::Token)): a header whose value
//!   is the secret. GitLab's classic `X-Gitlab-Token`
//!   (<https://docs.gitlab.com/user/project/integrations/webhooks/>; event in
//!   `X-Gitlab-Event`, delivery in `X-Gitlab-Event-UUID`); Okta event hooks,
//!   whose "Authentication field"/"Authentication secret" pair is sent as a
//!   header and which Okta's hooks best-practices guide configures as
//!   `Authorization` (event: `data.events[0].eventType`, delivery: `eventId`).
//! - **Basic auth** ([`Scheme::BasicAuth`](super::Scheme::BasicAuth)):
//!   `Authorization: Basic base64(user:pass)`, the route secret written as
//!   `user:pass` (RFC 7617). Postmark (credentials in the webhook URL, sent
//!   as Basic auth; event `RecordType`, delivery `MessageID`) and Pipedrive
//!   (`http_auth_user`/`http_auth_password` on the webhook; event `event` in
//!   v1 payloads, `meta.action` in v2).
//! - **URL token** ([`Scheme::QueryToken`](super::Scheme::QueryToken)): a query
//!   parameter of the URL the sender was given (`/hooks/<route>?token=<secret>`)
//!   equals the secret, for senders that sign nothing at all and whose only
//!   secret is the URL (Mailchimp's documented advice: "a secret key in the
//!   webhook URL"; Strava, whose events carry no signature). The URL is then
//!   a credential: it appears wherever URLs are logged (Cloudflare's request
//!   logs and `wrangler tail` show it; flowgate's own log lines never carry
//!   a URL's query).
//!
//! Values are compared in constant time (`subtle`, through [`ct_eq`]). These
//! senders sign nothing: anyone who sees one request can replay it or send
//! another body, so TLS and a long random secret are the whole protection.

use std::borrow::Cow;

use base64::{engine::general_purpose::STANDARD, Engine};

use super::{body_fields::labels_of, scheme::Field, Inbound, Labels, Verified, VerifyError};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// The `Authorization` header.
pub const AUTHORIZATION: &str = "authorization";

/// A header that must carry the secret, and where the labels are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSecret {
    /// The header (lower case).
    pub header: Cow<'static, str>,
    /// Where the event type is (first found wins).
    pub event: Vec<Field>,
    /// Where the delivery id is (first found wins).
    pub delivery: Vec<Field>,
}

fn labelled<'a>(h: &HeaderSecret, provider: &'static str, secret_index: usize, inbound: Inbound<'a>) -> Verified<'a> {
    Verified::labelled(provider, secret_index, inbound.body, labels(h, inbound.headers, inbound.body))
}

/// The labels where `h` says they are; the body is parsed only if one is in it.
pub(super) fn labels(h: &HeaderSecret, headers: &Headers, body: &[u8]) -> Labels {
    // A static credential does not bind the body: it is read without being
    // parsed into a `Value` (a hostile body costs no more than its bytes).
    labels_of(&h.event, &h.delivery, headers, body)
}

/// The query parameter a URL-token route's secret travels in.
pub const URL_TOKEN_PARAM: &str = "token";

pub(super) fn verify_query_token<'a>(
    h: &HeaderSecret,
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    let given = super::scheme::query_param(inbound.url, &h.header)
        .ok_or_else(|| VerifyError::MissingHeader(Cow::Owned(format!("?{}", h.header))))?;
    let hits: Vec<bool> = secrets.iter().map(|s| ct_eq(s.expose().trim().as_bytes(), given.as_bytes())).collect();
    let secret_index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    Ok(labelled(h, provider, secret_index, inbound))
}

pub(super) fn verify_token<'a>(
    h: &HeaderSecret,
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    let given = inbound.headers.get(&h.header).ok_or_else(|| VerifyError::MissingHeader(h.header.clone()))?.trim();
    let hits: Vec<bool> = secrets.iter().map(|s| ct_eq(s.expose().trim().as_bytes(), given.as_bytes())).collect();
    let secret_index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    Ok(labelled(h, provider, secret_index, inbound))
}

/// Checks that a route secret is `user:pass`.
///
/// # Errors
/// A fixed reason when there is no `:`.
pub fn check_basic_secret(secret: &Secret) -> Result<(), &'static str> {
    if secret.expose().contains(':') {
        Ok(())
    } else {
        Err("is not written as user:password")
    }
}

/// The `Authorization` value for a `user:pass` secret.
pub fn basic_header(secret: &Secret) -> String {
    format!("Basic {}", STANDARD.encode(secret.expose().as_bytes()))
}

pub(super) fn verify_basic<'a>(
    h: &HeaderSecret,
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    for (index, s) in secrets.iter().enumerate() {
        check_basic_secret(s).map_err(|reason| VerifyError::InvalidSecret { index, provider, reason })?;
    }
    let value = inbound.headers.get(&h.header).ok_or_else(|| VerifyError::MissingHeader(h.header.clone()))?.trim();
    let malformed = || VerifyError::MalformedHeader(h.header.clone());
    let (scheme, credentials) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let given = STANDARD.decode(credentials.trim()).map_err(|_| malformed())?;
    let hits: Vec<bool> = secrets.iter().map(|s| ct_eq(s.expose().as_bytes(), &given)).collect();
    let secret_index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    Ok(labelled(h, provider, secret_index, inbound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify},
    };

    fn run(name: &str, h: &Headers, body: &[u8], secrets: &[&str]) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider(name).unwrap();
        let h: &'static Headers = Box::leak(Box::new(h.clone()));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        verify(p, &p.scheme(), None, &secrets, Inbound::post(h, body, 1_700_000_000))
    }

    #[test]
    fn gitlab_token_must_match_exactly() {
        let h = Headers::new()
            .with("X-Gitlab-Token", "glt-0123456789")
            .with("X-Gitlab-Event", "Push Hook")
            .with("X-Gitlab-Event-UUID", "2f7a4c2e-1d7b-4f0e-8a53-1f5b7a9d0c11");
        let v = run("gitlab", &h, br#"{"object_kind":"push"}"#, &["old", "glt-0123456789"]).unwrap();
        assert_eq!(v.secret_index(), 1);
        assert_eq!(v.event_type(), Some("Push Hook"));
        // The Event-UUID is shared by recursive webhooks: never the delivery id.
        assert_eq!(v.delivery_id(), None);
        let h = h.with("Idempotency-Key", "7b1e0a4c-3f8e-4d7e-9d51-6c2f0b8a9e14");
        let v = run("gitlab", &h, br#"{"object_kind":"push"}"#, &["glt-0123456789"]).unwrap();
        assert_eq!(v.delivery_id(), Some("7b1e0a4c-3f8e-4d7e-9d51-6c2f0b8a9e14"));
        for bad in ["glt-012345678", "glt-01234567890", "GLT-0123456789", ""] {
            let h = Headers::new().with("X-Gitlab-Token", bad);
            assert_eq!(
                run("gitlab", &h, b"{}", &["glt-0123456789"]).unwrap_err(),
                VerifyError::SignatureMismatch,
                "{bad}"
            );
        }
        assert_eq!(
            run("gitlab", &Headers::new(), b"{}", &["glt-0123456789"]).unwrap_err(),
            VerifyError::MissingHeader("x-gitlab-token".into())
        );
        // The token travels in its own header only.
        let elsewhere = Headers::new().with("Authorization", "glt-0123456789");
        assert!(run("gitlab", &elsewhere, b"{}", &["glt-0123456789"]).is_err());
    }

    #[test]
    fn okta_authorization_header_and_labels() {
        let body = br#"{"eventType":"com.okta.event_hook","eventId":"b5a188b9-5ece-4636-b041-482ffda96311","data":{"events":[{"uuid":"7d1b1d5e","eventType":"user.session.start"}]}}"#;
        let h = Headers::new().with("Authorization", "Basic YWRtaW46c3VwZXJzZWNyZXQ=");
        let v = run("okta", &h, body, &["Basic YWRtaW46c3VwZXJzZWNyZXQ="]).unwrap();
        assert_eq!(v.event_type(), Some("user.session.start"));
        assert_eq!(v.delivery_id(), Some("b5a188b9-5ece-4636-b041-482ffda96311"));
        let wrong = Headers::new().with("Authorization", "Basic YWRtaW46c3VwZXJzZWNyZXR=");
        assert_eq!(
            run("okta", &wrong, body, &["Basic YWRtaW46c3VwZXJzZWNyZXQ="]).unwrap_err(),
            VerifyError::SignatureMismatch
        );
    }

    #[test]
    fn basic_auth_round_trip_and_mutations() {
        let secret = Secret::new("flowgate:correct horse battery staple");
        let h = Headers::new().with("Authorization", basic_header(&secret));
        let body = br#"{"RecordType":"Delivery","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483"}"#;
        let v = run("postmark", &h, body, &[secret.expose()]).unwrap();
        assert_eq!(v.event_type(), Some("Delivery"));
        // MessageID names the email (Delivery, Open, Click share it): no id.
        assert_eq!(v.delivery_id(), None);
        assert!(run("basic-auth", &h, body, &[secret.expose()]).is_ok());
        // Lower-case scheme name is allowed (RFC 7617: case-insensitive).
        let lower = Headers::new().with("Authorization", basic_header(&secret).replace("Basic", "basic"));
        assert!(run("basic-auth", &lower, body, &[secret.expose()]).is_ok());
        for bad in [
            basic_header(&Secret::new("flowgate:correct horse battery stapl")),
            basic_header(&Secret::new("flowgat:correct horse battery staple")),
            basic_header(&Secret::new("flowgate:correct horse battery staple ")),
            "Bearer Zmxvd2dhdGU6Y29ycmVjdA==".to_owned(),
            "Basic".to_owned(),
            "Basic !!!".to_owned(),
            secret.expose().to_owned(),
        ] {
            let h = Headers::new().with("Authorization", bad.clone());
            assert!(run("basic-auth", &h, body, &[secret.expose()]).is_err(), "{bad}");
        }
        assert_eq!(
            run("pipedrive", &Headers::new(), body, &[secret.expose()]).unwrap_err(),
            VerifyError::MissingHeader("authorization".into())
        );
        let err = run("basic-auth", &h, body, &["no-colon"]).unwrap_err();
        assert!(err.is_config_error(), "{err:?}");
    }

    #[test]
    fn pipedrive_labels_v1_and_v2() {
        let secret = Secret::new("u:p");
        let h = Headers::new().with("Authorization", basic_header(&secret));
        let v1 = br#"{"event":"updated.deal","meta":{"action":"updated","object":"deal"}}"#;
        assert_eq!(run("pipedrive", &h, v1, &["u:p"]).unwrap().event_type(), Some("updated.deal"));
        let v2 = br#"{"meta":{"action":"change","entity":"deal","version":"2.0"},"data":{}}"#;
        assert_eq!(run("pipedrive", &h, v2, &["u:p"]).unwrap().event_type(), Some("change"));
    }
}
