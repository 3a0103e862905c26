// @azure/msal-node against `flowgate emulate --tls`: a token with a client
// secret and with a certificate (clientCertificate: SHA-256 thumbprint →
// PS256, SHA-1 thumbprint → RS256), changing nothing but the authority and
// knownAuthorities (so msal-node skips instance discovery at
// login.microsoftonline.com); jose verifies each token against the JWKS the
// emulator's discovery document names, with the audience and issuer the
// flow checks. Node trusts the emulator's CA through NODE_EXTRA_CA_CERTS.
//
// Environment as tests/clients/python_clients.py reads it. One JSON line per
// check; exit code 1 on the first failure.
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

import { ConfidentialClientApplication } from "@azure/msal-node";
import { createRemoteJWKSet, jwtVerify } from "jose";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const HOST = env("FLOWGATE_AUTHORITY_HOST");
const TENANT = env("FLOWGATE_TENANT");
const TENANT_ID = env("FLOWGATE_TENANT_ID");
const CLIENT_ID = env("FLOWGATE_CLIENT_ID");
const SECRET = env("FLOWGATE_CLIENT_SECRET");
const CERT_PEM = readFileSync(env("FLOWGATE_CERT"), "utf8");
const KEY_PEM = readFileSync(env("FLOWGATE_KEY"), "utf8");
env("NODE_EXTRA_CA_CERTS");

const AUTHORITY = `${HOST}/${TENANT}`;
const AUDIENCE = "https://service.flow.microsoft.com/";
const SCOPE = `${AUDIENCE}/.default`; // double slash (§1.3)
const ISSUER = `https://sts.windows.net/${TENANT_ID}/`;

const oidc = await (await fetch(`${AUTHORITY}/v2.0/.well-known/openid-configuration`)).json();
const JWKS = createRemoteJWKSet(new URL(oidc.jwks_uri));

async function verify(client, token, appidacr) {
  const { payload } = await jwtVerify(token, JWKS, { audience: AUDIENCE, issuer: ISSUER, algorithms: ["RS256"] });
  if (payload.tid !== TENANT_ID || payload.appid !== CLIENT_ID || payload.appidacr !== appidacr) {
    throw new Error(`${client}: unexpected claims ${JSON.stringify(payload)}`);
  }
  console.log(JSON.stringify({ client, ok: true, aud: payload.aud, appidacr: payload.appidacr }));
}

function app(clientCredential) {
  return new ConfidentialClientApplication({
    auth: {
      clientId: CLIENT_ID,
      authority: AUTHORITY,
      knownAuthorities: [new URL(HOST).host],
      ...clientCredential,
    },
  });
}

async function token(cca) {
  const result = await cca.acquireTokenByClientCredential({ scopes: [SCOPE] });
  if (!result?.accessToken) throw new Error(`no token: ${JSON.stringify(result)}`);
  return result.accessToken;
}

const der = new X509Certificate(CERT_PEM).raw;
const thumb = (alg) => createHash(alg).update(der).digest("hex");

try {
  await verify("msal-node secret", await token(app({ clientSecret: SECRET })), "1");
  await verify(
    "msal-node certificate (thumbprintSha256)",
    await token(app({ clientCertificate: { thumbprintSha256: thumb("sha256"), privateKey: KEY_PEM } })),
    "2",
  );
  await verify(
    "msal-node certificate (thumbprint)",
    await token(app({ clientCertificate: { thumbprint: thumb("sha1"), privateKey: KEY_PEM } })),
    "2",
  );
  // A wrong secret: Entra's AADSTS7000215, as msal-node reports it.
  try {
    await token(app({ clientSecret: "not-the-secret" }));
    throw new Error("a wrong secret got a token");
  } catch (e) {
    if (!String(e?.errorMessage ?? e).includes("7000215")) throw e;
    console.log(JSON.stringify({ client: "msal-node wrong secret", ok: true, error: e.errorCode }));
  }
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e?.stack ?? e) }));
  process.exit(1);
}
