// The senders' own SDKs judge what `flowgate send` sends (issue 15, item 5):
// an HTTP server on a free loopback port takes the requests exactly as they
// arrive and asks Shopify's @shopify/shopify-api (webhooks.validate) and
// Box's box-node-sdk (WebhooksManager.validateMessage) whether they are
// genuine. It answers 200 when the SDK accepts the request and 401 when it
// does not (so `flowgate send` exits non-zero), and prints one JSON line per
// request. The first line is `listening <port>`.
//
// Environment: FLOWGATE_SHOPIFY_SECRET, FLOWGATE_BOX_PRIMARY_KEY.
import { createServer } from "node:http";

import "@shopify/shopify-api/adapters/node";
import { shopifyApi, ApiVersion } from "@shopify/shopify-api";
import { WebhooksManager } from "box-node-sdk/lib/managers/webhooks";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const SHOPIFY_SECRET = env("FLOWGATE_SHOPIFY_SECRET");
const BOX_PRIMARY_KEY = env("FLOWGATE_BOX_PRIMARY_KEY");

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
