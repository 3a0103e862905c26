// The senders' own SDKs judge what `flowgate send` sends (issue 15, item 5):
// an HTTP server on a free loopback port takes the requests exactly as they
// arrive and asks the sender's own library whether they are genuine —
// Shopify's @shopify/shopify-api (webhooks.validate), Box's box-node-sdk
// (WebhooksManager.validateMessage), stripe (webhooks.constructEvent),
// @octokit/webhooks-methods (verify), standardwebhooks (Webhook.verify),
// twilio (validateRequest), @adyen/api-library (hmacValidator.validateHMAC,
// every item; validateHMACSignature for platform webhooks), @slack/bolt
// (verifySlackRequest) and @wix/sdk (AppStrategy + webhooks.process). It answers 200
// when the SDK accepts the request and 401 when it does not (so `flowgate
// send` exits non-zero), and prints one JSON line per request. The first
// line is `listening <port>`. The path names the SDK; the secret each SDK
// verifies with is the one the request should have been signed with.
//
// Environment: FLOWGATE_SHOPIFY_SECRET, FLOWGATE_BOX_PRIMARY_KEY,
// FLOWGATE_STRIPE_SECRET, FLOWGATE_GITHUB_SECRET, FLOWGATE_SW_SECRET,
// FLOWGATE_TWILIO_TOKEN, FLOWGATE_ADYEN_KEY, FLOWGATE_WIX_PUBLIC_KEY,
// FLOWGATE_SLACK_SECRET.
import { createServer } from "node:http";

import "@shopify/shopify-api/adapters/node";
import { shopifyApi, ApiVersion } from "@shopify/shopify-api";
import { WebhooksManager } from "box-node-sdk/lib/managers/webhooks";
import Stripe from "stripe";
import { verify as octokitVerify } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import twilio from "twilio";
import { hmacValidator } from "@adyen/api-library";
import { createClient, AppStrategy } from "@wix/sdk";
import { verifySlackRequest } from "@slack/bolt";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const SHOPIFY_SECRET = env("FLOWGATE_SHOPIFY_SECRET");
const BOX_PRIMARY_KEY = env("FLOWGATE_BOX_PRIMARY_KEY");
const STRIPE_SECRET = env("FLOWGATE_STRIPE_SECRET");
const GITHUB_SECRET = env("FLOWGATE_GITHUB_SECRET");
const SW_SECRET = env("FLOWGATE_SW_SECRET");
const TWILIO_TOKEN = env("FLOWGATE_TWILIO_TOKEN");
const ADYEN_KEY = env("FLOWGATE_ADYEN_KEY");
const WIX_PUBLIC_KEY = env("FLOWGATE_WIX_PUBLIC_KEY");
const SLACK_SECRET = env("FLOWGATE_SLACK_SECRET");

const stripe = new Stripe("sk_test_flowgate_unused");
const wix = createClient({ auth: AppStrategy({ appId: "flowgate-sample-app", publicKey: WIX_PUBLIC_KEY }) });

const shopify = shopifyApi({
  apiKey: "flowgate-sample-api-key",
  apiSecretKey: SHOPIFY_SECRET,
  scopes: ["read_orders"],
  hostName: "flowgate.example",
  apiVersion: ApiVersion.July25,
  isEmbeddedApp: false,
  logger: { level: 0 },
});

async function judge(sdk, req, res, raw) {
  if (sdk === "shopify") {
    const result = await shopify.webhooks.validate({ rawBody: raw, rawRequest: req, rawResponse: res });
    return { valid: result.valid, topic: result.topic, domain: result.domain, webhookId: result.webhookId, apiVersion: result.apiVersion, reason: result.reason };
  }
  if (sdk === "box") {
    const valid = await WebhooksManager.validateMessage(raw, req.headers, BOX_PRIMARY_KEY);
    return { valid, version: req.headers["box-signature-version"], algorithm: req.headers["box-signature-algorithm"] };
  }
  if (sdk === "stripe") {
    // Throws unless a v1 signature matches and t is within 300 s.
    const event = stripe.webhooks.constructEvent(raw, req.headers["stripe-signature"], STRIPE_SECRET);
    return { valid: true, type: event.type, id: event.id };
  }
  if (sdk === "github") {
    const valid = await octokitVerify(GITHUB_SECRET, raw, req.headers["x-hub-signature-256"]);
    return { valid, event: req.headers["x-github-event"] };
  }
  if (sdk === "standard-webhooks") {
    // Throws unless webhook-id/-timestamp/-signature verify (5 min window).
    const payload = new Webhook(SW_SECRET).verify(raw, req.headers);
    return { valid: true, type: payload.type };
  }
  if (sdk === "twilio") {
    // The URL flowgate send signed: the one it POSTed to.
    const url = `http://${req.headers.host}${req.url}`;
    const params = Object.fromEntries(new URLSearchParams(raw));
    const valid = twilio.validateRequest(TWILIO_TOKEN, req.headers["x-twilio-signature"], url, params);
    return { valid, messageSid: params.MessageSid };
  }
  if (sdk === "adyen") {
    const items = JSON.parse(raw).notificationItems.map((i) => i.NotificationRequestItem);
    const validator = new hmacValidator();
    const valid = items.length > 0 && items.every((item) => validator.validateHMAC(item, ADYEN_KEY));
    return { valid, items: items.length, eventCode: items[0]?.eventCode };
  }
  if (sdk === "adyen-platform") {
    // Banking/Management webhooks: the raw body, the hmacsignature header.
    const valid = new hmacValidator().validateHMACSignature(ADYEN_KEY, req.headers["hmacsignature"], raw);
    return { valid, type: JSON.parse(raw).type };
  }
  if (sdk === "slack") {
    // Throws unless v0=HMAC(v0:ts:body) matches and ts is within 5 minutes.
    verifySlackRequest({
      signingSecret: SLACK_SECRET,
      body: raw,
      headers: {
        "x-slack-signature": req.headers["x-slack-signature"],
        "x-slack-request-timestamp": Number(req.headers["x-slack-request-timestamp"]),
      },
    });
    return { valid: true, type: JSON.parse(raw).type };
  }
  if (sdk === "wix") {
    // jose jwtVerify with importSPKI(publicKey, "RS256"), then data and data.data parsed.
    const event = await wix.webhooks.process(raw);
    return { valid: true, eventType: event.eventType, instanceId: event.instanceId, entityFqdn: event.payload.entityFqdn };
  }
  return { valid: false, reason: `no SDK for ${sdk}` };
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const raw = Buffer.concat(chunks).toString("utf8");
    const sdk = new URL(req.url, "http://x").pathname.slice(1);
    let out;
    try {
      out = { sdk, ...(await judge(sdk, req, res, raw)) };
    } catch (e) {
      out = { sdk, valid: false, error: String(e) };
    }
    console.log(JSON.stringify(out));
    if (!res.headersSent) {
      res.writeHead(out.valid ? 200 : 401, { "content-type": "application/json" });
      res.end(JSON.stringify(out));
    }
  });
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
