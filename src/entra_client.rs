//! The client-credentials call to Entra's token endpoint, as a
//! `flowgate_core::entra::TokenSource`.

use std::time::Duration;

use flowgate_core::{
    config::EntraConfig,
    entra::{client_secret_form, parse_token_response, CachedToken, TokenError, TokenSource},
    Secret,
};

use crate::{http, log::now_millis};

pub(crate) struct EntraClient {
    endpoint: String,
    form: Secret,
    timeout: Duration,
}

impl EntraClient {
    pub(crate) fn new(cfg: &EntraConfig, client_secret: &Secret) -> Self {
        Self {
            endpoint: cfg.token_endpoint(),
            form: Secret::new(client_secret_form(cfg, client_secret)),
            timeout: Duration::from_secs(cfg.timeout_secs),
        }
    }
}

impl TokenSource for EntraClient {
    async fn fetch(&self) -> Result<CachedToken, TokenError> {
        let headers = [("content-type", "application/x-www-form-urlencoded".to_owned())];
        let answer =
            http::post(&self.endpoint, &headers, self.form.expose().as_bytes(), self.timeout, "x-ms-request-id")
                .await
                .map_err(|f| TokenError::Transport(f.describe()))?;
        parse_token_response(answer.status, answer.retry_after, &answer.body, now_millis() / 1000)
    }
}
