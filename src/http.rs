//! Outbound `fetch` with a deadline, and bounded body reads.
//!
//! Workers' fetch has no timeout option, so each call races a `Delay` and is
//! aborted when the deadline wins. Redirects are not followed: a redirect
//! would carry the bearer token (or the client secret) to another URL.

use std::time::Duration;

use flowgate_core::{forward::FlowRequest, headers::answer_fits_in_one_read};

use futures::{
    future::{select, Either},
    StreamExt,
};
use worker::{AbortController, ByteStream, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

/// Most of an upstream answer that is read: enough for any error document.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What came back.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
    pub(crate) header: Option<String>,
    /// At most [`MAX_ANSWER_BYTES`] of the body.
    pub(crate) body: Vec<u8>,
}

/// Why nothing came back.
pub(crate) enum Failure {
    /// The deadline passed; the request may have been received.
    Timeout,
    Network(String),
}

impl Failure {
    pub(crate) fn describe(&self) -> String {
        match self {
            Failure::Timeout => "timed out".to_owned(),
            Failure::Network(e) => e.clone(),
        }
    }
}

/// Reads a body stream, keeping at most `limit` bytes. Returns `Err(())`
/// as soon as the body is longer than `limit` when `strict`, otherwise the
/// first `limit` bytes.
pub(crate) async fn read_capped(stream: Option<ByteStream>, limit: usize, strict: bool) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    let Some(mut stream) = stream else { return Ok(out) };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ReadError::Failed(e.to_string()))?;
        if out.len() + chunk.len() > limit {
            if strict {
                return Err(ReadError::TooLarge);
            }
            out.extend_from_slice(&chunk[..limit - out.len()]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Why a body could not be read.
pub(crate) enum ReadError {
    TooLarge,
    Failed(String),
}

/// POSTs `body` to `url` with `headers`, waiting at most `timeout`. The
/// value of response header `keep_header` (if any) is returned too.
/// POSTs a flow request ([`FlowRequest`]: only ever built from an accepted
/// webhook), keeping the run id the trigger answers with.
pub(crate) async fn post_flow(url: &str, request: &FlowRequest<'_>, timeout: Duration) -> Result<Answer, Failure> {
    post(url, request.headers(), request.body(), timeout, "x-ms-workflow-run-id").await
}

pub(crate) async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
    keep_header: &str,
) -> Result<Answer, Failure> {
    send(Method::Post, url, headers, Some(body), timeout, keep_header).await
}

/// GETs `url`, waiting at most `timeout` (SNS's certificates and
/// `SubscribeURL`).
pub(crate) async fn get(url: &str, timeout: Duration) -> Result<Answer, Failure> {
    send(Method::Get, url, &[], None, timeout, "content-type").await
}

/// Sends `method` to `url` with `headers` and `body` (none for a GET),
/// waiting at most `timeout`; as [`post`].
pub(crate) async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
    timeout: Duration,
    keep_header: &str,
) -> Result<Answer, Failure> {
    let h = Headers::new();
    for (name, value) in headers {
        h.set(name, value).map_err(|e| Failure::Network(format!("bad header {name}: {e}")))?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(h).with_redirect(RequestRedirect::Manual);
    if let Some(body) = body {
        init.with_body(Some(js_sys::Uint8Array::from(body).into()));
    }
    let req = Request::new_with_init(url, &init).map_err(|e| Failure::Network(e.to_string()))?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let call = async {
        let mut resp = Fetch::Request(req).send_with_signal(&signal).await?;
        let status = resp.status_code();
        let retry_after = resp.headers().get("retry-after").ok().flatten().and_then(|v| v.trim().parse().ok());
        let header = resp.headers().get(keep_header).ok().flatten();
        let h = resp.headers();
        let one_read = answer_fits_in_one_read(
            h.get("content-length").ok().flatten().as_deref(),
            h.get("transfer-encoding").ok().flatten().as_deref(),
            h.get("content-encoding").ok().flatten().as_deref(),
            MAX_ANSWER_BYTES,
        );
        let body = if one_read {
            // `worker::Response::bytes` would still pull the stream chunk by
            // chunk through wasm; the web_sys Response (the same stream)
            // reads it in one `arrayBuffer()`.
            let raw = web_sys::Response::from(resp);
            let mut b = match raw.array_buffer() {
                Ok(p) => worker::wasm_bindgen_futures::JsFuture::from(p)
                    .await
                    .map(|v| js_sys::Uint8Array::new(&v).to_vec())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            b.truncate(MAX_ANSWER_BYTES);
            b
        } else {
            read_capped(resp.stream().ok(), MAX_ANSWER_BYTES, false).await.unwrap_or_default()
        };
        Ok::<_, worker::Error>(Answer { status, retry_after, header, body })
    };
    let deadline = Delay::from(timeout);
    futures::pin_mut!(call);
    match select(call, deadline).await {
        Either::Left((Ok(answer), _)) => Ok(answer),
        Either::Left((Err(e), _)) => Err(Failure::Network(e.to_string())),
        Either::Right(((), _)) => {
            controller.abort();
            Err(Failure::Timeout)
        }
    }
}
