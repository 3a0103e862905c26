//! AWS SNS's side of an HTTP(S) subscription, for routes with
//! `sns_emulator_origin` set to the emulator:
//! - `GET /sns/SimpleNotificationService-flowgate-test.pem`
//!   ([`sns::EMULATOR_CERT_PATH`]) serves the certificate whose key signs
//!   the emulator's SNS messages ([`DEMO_SNS_PRIVATE_KEY`]; the certificate
//!   is [`crate::DEMO_CERT_PEM`]); any other `/sns/….pem` is 404, as SNS's
//!   S3-backed certificate hosts answer for a certificate that does not exist;
//! - `GET /?Action=ConfirmSubscription&TopicArn=…&Token=…` (the
//!   `SubscribeURL` of [`crate::senders::sns_message`]'s confirmations) is
//!   answered with SNS's `ConfirmSubscriptionResponse` and counted
//!   ([`crate::Stats::sns_confirmations`]).
//!
//!
//! PayPal's certificate host too: `GET /v1/notifications/certs/CERT-flowgate-test`
//! ([`paypal::EMULATOR_CERT_ID`]) serves the same certificate (what
//! [`crate::senders::paypal_headers`] signs for), any other id 404, counted
//! in [`crate::Stats::paypal_cert_requests`].
//!
//! **Faults.** [`crate::Emulator::inject_cert_faults`] queues HTTP
//! statuses (429, 500, 503, …), served one per certificate request (SNS's
//! or PayPal's) before it is processed.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{Path, Query, State as AxState},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use flowgate_core::verify::{paypal, sns};

use crate::{config::DEMO_CERT_PEM, inspect, state::State};

/// The PKCS#8 key of [`DEMO_CERT_PEM`]: what the emulator's SNS messages are
/// signed with (`flowgate send aws-sns --secret`).
pub const DEMO_SNS_PRIVATE_KEY: &str = include_str!("../../../tests/fixtures/entra-test-key.pem");

/// `GET /sns/{file}`.
pub(crate) async fn certificate(AxState(st): AxState<Arc<State>>, Path(file): Path<String>) -> Response {
    st.record_sns_cert_request();
    if let Some(fault) = fault(&st) {
        return fault;
    }
    let served = sns::EMULATOR_CERT_PATH.strip_prefix("/sns/");
    if served == Some(file.as_str()) {
        ([(header::CONTENT_TYPE, "application/x-x509-ca-cert")], DEMO_CERT_PEM).into_response()
    } else {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
    }
}

/// The next queued certificate fault, if any.
fn fault(st: &State) -> Option<Response> {
    let status = st.next_cert_fault()?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Some((status, "injected fault\n").into_response())
}

/// `GET /v1/notifications/certs/{id}` (PayPal's certificate host).
pub(crate) async fn paypal_certificate(AxState(st): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    st.record_paypal_cert_request();
    if let Some(fault) = fault(&st) {
        return fault;
    }
    if id == paypal::EMULATOR_CERT_ID {
        ([(header::CONTENT_TYPE, "application/x-pem-file")], DEMO_CERT_PEM).into_response()
    } else {
        let body = r#"{"name":"RESOURCE_NOT_FOUND","message":"The specified resource does not exist."}"#;
        (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// `GET /`: SNS's `ConfirmSubscription` when asked, otherwise the index.
pub(crate) async fn root(
    st: AxState<Arc<State>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if query.get("Action").map(String::as_str) != Some("ConfirmSubscription") {
        return inspect::index(st, headers).await.into_response();
    }
    let (Some(topic), Some(_token)) = (query.get("TopicArn"), query.get("Token")) else {
        return (StatusCode::BAD_REQUEST, "TopicArn and Token are required\n").into_response();
    };
    st.0.record_sns_confirmation();
    let body = format!(
        "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n  <ConfirmSubscriptionResult>\n    <SubscriptionArn>{topic}:{}</SubscriptionArn>\n  </ConfirmSubscriptionResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</ConfirmSubscriptionResponse>\n",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    );
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}
