"""Real Microsoft clients for Python against `flowgate emulate --tls`.

MSAL for Python (`msal`) and azure-identity obtain tokens with a client
secret and with a certificate, changing nothing but the authority and the
documented discovery options (`instance_discovery=False`,
`disable_instance_discovery=True`); PyJWT then verifies every token against
the JWKS the emulator's discovery document names, with the audience and the
issuer the flow checks. The CA comes from REQUESTS_CA_BUNDLE, as the README
says, for requests (MSAL, azure-identity) and for PyJWT's fetch.

Environment: FLOWGATE_AUTHORITY_HOST (https://127.0.0.1:PORT), FLOWGATE_TENANT,
FLOWGATE_TENANT_ID, FLOWGATE_CLIENT_ID, FLOWGATE_CLIENT_SECRET,
FLOWGATE_CERT (PEM), FLOWGATE_KEY (PKCS#8 PEM), REQUESTS_CA_BUNDLE.
Prints one JSON line per check; exits non-zero on the first failure.
"""

import json
import os
import ssl
import sys

import jwt
import msal
import requests
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes

HOST = os.environ["FLOWGATE_AUTHORITY_HOST"]
TENANT = os.environ["FLOWGATE_TENANT"]
TENANT_ID = os.environ["FLOWGATE_TENANT_ID"]
CLIENT_ID = os.environ["FLOWGATE_CLIENT_ID"]
SECRET = os.environ["FLOWGATE_CLIENT_SECRET"]
CERT_PEM = open(os.environ["FLOWGATE_CERT"]).read()
KEY_PEM = open(os.environ["FLOWGATE_KEY"]).read()
CA = os.environ["REQUESTS_CA_BUNDLE"]

AUTHORITY = f"{HOST}/{TENANT}"
# The flow service's scope, double slash included (§1.3); the GCC High one
# shows a second resource through the same client.
SCOPES = {
    "https://service.flow.microsoft.com/": "https://service.flow.microsoft.com//.default",
    "https://high.service.flow.microsoft.us/": "https://high.service.flow.microsoft.us//.default",
}
# What the flow checks (§1.5): aud exactly, the tenant's issuer, tid.
ISSUER = f"https://sts.windows.net/{TENANT_ID}/"


def jwks_client():
    # The JWKS named by the discovery document, fetched over TLS with the
    # emulator's CA.
    oidc = requests.get(f"{AUTHORITY}/v2.0/.well-known/openid-configuration", timeout=10).json()
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri", "issuer"):
        assert field in oidc, f"discovery lacks {field}"
    assert oidc["token_endpoint"].startswith(HOST + "/"), oidc["token_endpoint"]
    return jwt.PyJWKClient(oidc["jwks_uri"], ssl_context=ssl.create_default_context(cafile=CA))


JWKS = jwks_client()


def verify(name, access_token, audience, appidacr):
    key = JWKS.get_signing_key_from_jwt(access_token)
    claims = jwt.decode(
        access_token,
        key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "nbf", "aud", "iss"]},
    )
    assert claims["tid"] == TENANT_ID, claims
    assert claims["appid"] == CLIENT_ID, claims
    assert claims["appidacr"] == appidacr, claims
    print(json.dumps({"client": name, "ok": True, "aud": claims["aud"], "appidacr": claims["appidacr"]}), flush=True)


def msal_app(credential):
    return msal.ConfidentialClientApplication(
        CLIENT_ID, client_credential=credential, authority=AUTHORITY, instance_discovery=False
    )


def msal_token(app, scope):
    result = app.acquire_token_for_client(scopes=[scope])
    assert "access_token" in result, result
    return result["access_token"]


def sha1_thumbprint(pem):
    # As the Azure portal shows it: hex SHA-1 of the certificate's DER.
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA1()).hex()


def main():
    # MSAL, client secret: both resources through one app.
    app = msal_app(SECRET)
    for aud, scope in SCOPES.items():
        verify("msal-python secret", msal_token(app, scope), aud, "1")

    # MSAL with the emulator's own instance discovery instead of none.
    app = msal.ConfidentialClientApplication(
        CLIENT_ID, client_credential=SECRET, authority=AUTHORITY, instance_discovery=f"{HOST}/common/discovery/instance"
    )
    aud, scope = next(iter(SCOPES.items()))
    verify("msal-python secret (emulator's instance discovery)", msal_token(app, scope), aud, "1")

    # MSAL, certificate with its SHA-1 thumbprint (RS256 + x5t). Both token
    # requests reuse MSAL's one assertion (it keeps it for 9 minutes).
    app = msal_app({"private_key": KEY_PEM, "thumbprint": sha1_thumbprint(CERT_PEM)})
    for aud, scope in SCOPES.items():
        verify("msal-python certificate (thumbprint)", msal_token(app, scope), aud, "2")

    # MSAL, certificate with the public certificate: SHA-256 thumbprint (PS256 + x5t#S256).
    app = msal_app({"private_key": KEY_PEM, "public_certificate": CERT_PEM})
    aud, scope = next(iter(SCOPES.items()))
    verify("msal-python certificate (public_certificate)", msal_token(app, scope), aud, "2")

    # azure-identity: the authority host and disable_instance_discovery.
    cred = ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority=HOST, disable_instance_discovery=True)
    verify("azure-identity ClientSecretCredential", cred.get_token(scope).token, aud, "1")
    cred = CertificateCredential(
        TENANT,
        CLIENT_ID,
        certificate_data=(KEY_PEM + "\n" + CERT_PEM).encode(),
        authority=HOST,
        disable_instance_discovery=True,
    )
    verify("azure-identity CertificateCredential", cred.get_token(scope).token, aud, "2")

    # A wrong secret is Entra's AADSTS7000215, as MSAL reports it.
    result = msal_app("not-the-secret").acquire_token_for_client(scopes=[scope])
    assert result.get("error") == "invalid_client" and 7000215 in result.get("error_codes", []), result
    print(json.dumps({"client": "msal-python wrong secret", "ok": True, "error": result["error"]}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the Rust test prints this output when it fails
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}), flush=True)
        raise
    sys.exit(0)
