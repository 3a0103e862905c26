//! Outbound `fetch` with a deadline. Workers' fetch has no timeout option, so
//! the call races a `Delay` and is aborted when the deadline wins.

use std::time::Duration;

use futures::future::{select, Either};
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

/// What came back.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
    pub(crate) header: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// Why nothing came back.
pub(crate) enum Failure {
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

/// POSTs `body` to `url` with `headers`, waiting at most `timeout`. The
/// value of response header `keep_header` (if any) is returned too.
pub(crate) async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
    keep_header: &str,
) -> Result<Answer, Failure> {
    let h = Headers::new();
    for (name, value) in headers {
        h.set(name, value).map_err(|e| Failure::Network(format!("bad header {name}: {e}")))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(h).with_body(Some(js_sys::Uint8Array::from(body).into()));
    let req = Request::new_with_init(url, &init).map_err(|e| Failure::Network(e.to_string()))?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let call = async {
        let mut resp = Fetch::Request(req).send_with_signal(&signal).await?;
        let status = resp.status_code();
        let retry_after = resp.headers().get("retry-after").ok().flatten().and_then(|v| v.trim().parse().ok());
        let header = resp.headers().get(keep_header).ok().flatten();
        let body = resp.bytes().await?;
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
