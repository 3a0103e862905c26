//! Sample events in each sender's own shape, and the headers a sender sets
//! beside its signature, for `flowgate send` and the tests: what a receiver
//! sees from the real sender (GitHub's push, Shopify's order and its
//! `X-Shopify-*` headers, Box's `BOX-*` headers, …), so that the sender's
//! own SDK accepts what `flowgate send` sends. Shapes follow each sender's
//! documented example payloads, trimmed; values are samples.

use serde_json::{json, Value};

/// A body in `provider`'s shape (JSON), or `None` for the generic sample.
/// `id` is a fresh id, `now` Unix seconds.
pub(crate) fn shaped(provider: &str, event: &str, id: &str, now: u64) -> Option<Value> {
    let iso = crate::senders::rfc3339(now);
    let short = &id[4..16];
    Some(match provider {
        // PayPal's REST webhook event (its docs' PAYMENT.CAPTURE.COMPLETED shape).
        "paypal" => json!({
            "id": format!("WH-{}", &id[4..21].to_ascii_uppercase()), "event_version": "1.0",
            "create_time": format!("{}Z", crate::types::format_utc(now).replace(' ', "T")), "resource_type": "capture", "resource_version": "2.0",
            "event_type": event, "summary": "Payment completed for $ 42.0 USD",
            "resource": {"id": "42311647XV020574X", "status": "COMPLETED", "amount": {"currency_code": "USD", "value": "42.00"}},
        }),
        "github" | "github-sha1" => json!({
            "ref": "refs/heads/main",
            "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
            "repository": {
                "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": "Hello-World",
                "full_name": "octocat/Hello-World", "private": false,
                "owner": {"name": "octocat", "login": "octocat", "id": 1, "type": "User"},
                "html_url": "https://github.com/octocat/Hello-World", "default_branch": "main",
            },
            "pusher": {"name": "octocat", "email": "octocat@github.com"},
            "sender": {"login": "octocat", "id": 1, "type": "User"},
            "created": false, "deleted": false, "forced": false,
            "compare": "https://github.com/octocat/Hello-World/compare/6113728f27ae...0d1a26e67d8f",
            "commits": [{
                "id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
                "distinct": true, "message": "Update README (flowgate sample)", "timestamp": iso,
                "url": "https://github.com/octocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
                "author": {"name": "The Octocat", "email": "octocat@github.com", "username": "octocat"},
                "added": [], "removed": [], "modified": ["README.md"],
            }],
            "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "message": "Update README (flowgate sample)", "timestamp": iso},
        }),
        "shopify" => json!({
            "id": 820982911946154508u64, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
            "email": "jon@example.com", "created_at": iso, "updated_at": iso, "currency": "USD",
            "financial_status": "paid", "name": "#9999", "total_price": "42.00", "subtotal_price": "42.00",
            "line_items": [{"id": 866550311766439020u64, "title": "Aviator sunglasses", "quantity": 1, "price": "42.00", "sku": "SKU2006-001"}],
            "customer": {"id": 115310627314723954u64, "email": "jon@example.com", "first_name": "Jon"},
        }),
        "box" => json!({
            "type": "webhook_event", "id": id, "created_at": iso, "trigger": event,
            "webhook": {"id": "1234567890", "type": "webhook"},
            "created_by": {"type": "user", "id": "12345678", "name": "Flowgate Sample", "login": "sample@example.com"},
            "source": {"id": "123456789", "type": "file", "name": "report.pdf",
                       "parent": {"type": "folder", "id": "0", "name": "All Files"}},
            "additional_info": [],
        }),
        "slack" => json!({
            "token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456",
            "event": {"type": if event == "event_callback" { "message" } else { event }, "channel": "C123ABC456", "user": "U123ABC456",
                      "text": "Hello from flowgate's sample", "ts": format!("{now}.000200"), "event_ts": format!("{now}.000200")},
            "type": "event_callback", "event_id": format!("Ev{}", short.to_ascii_uppercase()), "event_time": now,
        }),
        "zoom" => json!({
            "event": event, "event_ts": now * 1000,
            "payload": {"account_id": "AAAAAABBBB", "object": {"id": 1234567890, "uuid": "4444AAAiAAAAAiAiAiiAii==",
                        "host_id": "x1yCzABCDEfg23HiJKl4mN", "topic": "flowgate sample", "type": 2, "start_time": iso}},
        }),
        "linear" => json!({
            "action": "create", "type": event, "createdAt": iso, "organizationId": "2d5f4a1b-0000-4000-8000-000000000001",
            "url": "https://linear.app/flowgate/issue/FG-1", "webhookTimestamp": now * 1000,
            "data": {"id": id, "identifier": "FG-1", "title": "flowgate sample issue", "priority": 2},
        }),
        "twitch" => json!({
            "subscription": {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": event, "version": "2",
                             "status": "enabled", "condition": {"broadcaster_user_id": "1337"}, "created_at": iso},
            "event": {"user_id": "1234", "user_login": "cool_user", "broadcaster_user_id": "1337",
                      "broadcaster_user_login": "cooler_user", "followed_at": iso},
        }),
        "meta" => json!({
            "object": event,
            "entry": [{"id": "0", "time": now, "changes": [{"field": "feed", "value": {"item": "status", "verb": "add", "post_id": "44444444_444444444"}}]}],
        }),
        "square" => json!({
            "merchant_id": "6SSW7HV8K2ST5", "type": event, "event_id": id, "created_at": iso,
            "data": {"type": "payment", "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY",
                     "object": {"payment": {"id": "KkAkhdMsgzn59SM8A89WgKwekxLZY", "status": "APPROVED",
                                            "amount_money": {"amount": 4200, "currency": "USD"}}}},
        }),
        "pagerduty" => json!({
            "event": {"id": id, "event_type": event, "resource_type": "incident", "occurred_at": iso,
                      "agent": {"type": "user_reference", "id": "PLH1HKV"},
                      "data": {"id": "PGR0VU2", "type": "incident", "title": "A little bump in the road", "status": "triggered", "urgency": "high"}},
        }),
        "typeform" => json!({
            "event_id": id, "event_type": event,
            "form_response": {"form_id": "lT4Z3j", "token": "a3a12ec67a1365927098a606107fac15", "submitted_at": iso,
                              "definition": {"id": "lT4Z3j", "title": "flowgate sample"},
                              "answers": [{"type": "text", "text": "Hello", "field": {"id": "DlXFaesGBpoF", "type": "long_text"}}]},
        }),
        "intercom" => json!({
            "type": "notification_event", "app_id": "abc123", "id": id, "topic": event, "created_at": now,
            "data": {"type": "notification_event_data", "item": {"type": "conversation", "id": "123456789"}},
        }),
        "hubspot" | "hubspot-v2" | "hubspot-v1" => json!([{
            "eventId": 100, "subscriptionId": 1234, "portalId": 62515, "appId": 54321, "occurredAt": now * 1000,
            "subscriptionType": event, "attemptNumber": 0, "objectId": 123, "changeSource": "CRM",
        }]),
        "calendly" => json!({
            "event": event, "created_at": iso, "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
            "payload": {"email": "test@example.com", "name": "John Doe", "status": "active",
                        "uri": format!("https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/{short}")},
        }),
        "paddle" => json!({
            "event_id": id, "event_type": event, "occurred_at": iso, "notification_id": format!("ntf_{short}"),
            "data": {"id": "txn_01h04vsbhqc62t8hmd4z3b578c", "status": "completed", "currency_code": "USD"},
        }),
        "bitbucket" => json!({
            "repository": {"type": "repository", "full_name": "team/repo", "uuid": "{1e7a1f49-56b0-4f0d-9a7c-9a7e0b8d3e11}"},
            "actor": {"type": "user", "display_name": "Flowgate Sample"},
            "push": {"changes": [{"new": {"type": "branch", "name": "main", "target": {"hash": "709d658dc5b6d6afcd46049c2f332ee3f515a67d"}}}]},
        }),
        "jira" => json!({
            "timestamp": now * 1000, "webhookEvent": event, "issue_event_type_name": "issue_created",
            "issue": {"id": "10002", "key": "FG-1", "fields": {"summary": "flowgate sample issue", "issuetype": {"name": "Task"}}},
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Flowgate Sample"},
        }),
        "trello" => json!({
            "action": {"id": short, "type": event, "date": iso, "idMemberCreator": "5a0ea51b8d2ad9e1d3f5e1a1",
                       "data": {"card": {"id": "5a1b2c3d4e5f6a7b8c9d0e1f", "name": "flowgate sample card"}, "board": {"id": "5a1b2c3d4e5f6a7b8c9d0e10"}}},
            "model": {"id": "5a1b2c3d4e5f6a7b8c9d0e10", "name": "flowgate board"},
        }),
        "dropbox" => json!({"list_folder": {"accounts": ["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},
                            "delta": {"users": [12345678]}}),
        "asana" => {
            json!({"events": [{"action": event, "created_at": iso, "user": {"gid": "1234", "resource_type": "user"},
                                       "resource": {"gid": "5678", "resource_type": "task", "resource_subtype": "default_task"},
                                       "parent": null, "change": {"field": "name", "action": "changed"}}]})
        }
        "docusign" => json!({
            "event": event, "apiVersion": "v2.1", "uri": "/restapi/v2.1/accounts/0000/envelopes/0000", "retryCount": 0,
            "configurationId": 10000, "generatedDateTime": iso,
            "data": {"accountId": "00000000-0000-0000-0000-000000000000", "envelopeId": "93be49ab-0000-0000-0000-f752070d71ec"},
        }),
        "zendesk" => json!({
            "type": event, "account_id": 12345, "id": id, "time": iso, "zendesk_event_version": "2022-11-06",
            "subject": "zen:ticket:1", "detail": {"id": "1", "subject": "flowgate sample ticket", "status": "NEW"},
        }),
        "xero" => json!({
            "events": [{"resourceUrl": "https://api.xero.com/api.xro/2.0/Contacts/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",
                        "resourceId": "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777", "eventDateUtc": iso, "eventType": event,
                        "eventCategory": "CONTACT", "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f", "tenantType": "ORGANISATION"}],
            "firstEventSequence": 1, "lastEventSequence": 1, "entropy": short,
        }),
        "vercel" => json!({"id": id, "type": event, "createdAt": now * 1000, "region": "iad1",
                           "payload": {"deployment": {"id": "dpl_2Nq", "url": "flowgate-sample.vercel.app"}, "project": {"id": "prj_2Nq"}}}),
        "sentry" => json!({"action": "created", "installation": {"uuid": "7a485448-a9e2-4c85-8a3c-4f44175783c9"},
                           "data": {"issue": {"id": "1170820242", "title": "flowgate sample error", "level": "error"}},
                           "actor": {"type": "application", "id": "sentry", "name": "Sentry"}}),
        "segment" => json!({"type": event, "event": "Order Completed", "messageId": id, "userId": "user_2Nq",
                            "timestamp": iso, "properties": {"revenue": 42}}),
        "airtable" => {
            json!({"base": {"id": "appA1b2C3d4E5f6G7"}, "webhook": {"id": "achW8jP1hHQ2fZm4Y"}, "timestamp": iso})
        }
        "mux" => {
            json!({"type": event, "id": id, "created_at": iso, "object": {"type": "asset", "id": "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002"},
                        "data": {"id": "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002", "status": "ready"}})
        }
        "lemonsqueezy" => json!({"meta": {"event_name": event, "custom_data": {}},
                                 "data": {"type": "orders", "id": "1", "attributes": {"status": "paid", "total": 4200}}}),
        "woocommerce" => {
            json!({"id": 727, "status": "processing", "currency": "USD", "date_created": iso, "total": "42.00",
                                "billing": {"first_name": "John", "email": "john.doe@example.com"}, "line_items": []})
        }
        "notion" => {
            json!({"id": id, "timestamp": iso, "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565", "type": event,
                           "entity": {"id": "153104cd-477e-809d-8dc4-ff2d96ae3090", "type": "page"}, "attempt_number": 1})
        }
        "twitter" => {
            json!({"for_user_id": "2244994945", (event): [{"id_str": "1050118621198921728", "text": "flowgate sample",
                            "created_at": "Wed Oct 10 20:19:24 +0000 2018", "user": {"id_str": "2244994945", "screen_name": "XDevelopers"}}]})
        }
        "workos" => json!({"id": id, "event": event, "created_at": iso,
                           "data": {"object": "user", "id": "user_01E4ZCR3C56J083X43JQXF3JK5", "email": "todd@example.com"}}),
        "razorpay" => json!({"entity": "event", "account_id": "acc_BFQ7uQEaa7j2z7", "event": event, "created_at": now,
                             "payload": {"payment": {"entity": {"id": "pay_DESlfW9H8K9uqM", "amount": 4200, "currency": "INR", "status": "captured"}}}}),
        "calcom" => json!({"triggerEvent": event, "createdAt": iso,
                           "payload": {"type": "30min", "title": "flowgate sample", "startTime": iso, "uid": short}}),
        "heroku" => json!({"id": id, "action": "create", "resource": "release", "created_at": iso,
                           "data": {"id": "f6f4bb97-7c0b-4d4e-9f7f-fdc3d1d8e3c1", "version": 42, "status": "succeeded"},
                           "webhook_metadata": {"attempt": {"id": "d4a8b7c2-0000-4000-8000-000000000001"},
                                                "delivery": {"id": id}, "event": {"id": "e1f2a3b4-0000-4000-8000-000000000002", "include": event},
                                                "webhook": {"id": "f5e4d3c2-0000-4000-8000-000000000003"}}}),
        "circleci" => {
            json!({"id": id, "type": event, "happened_at": iso, "webhook": {"id": "cf8c4fdd-0587-4da1-b4ca-4846e9640af9", "name": "flowgate"},
                             "workflow": {"id": "fda08377-fe7e-46b1-8992-3a7aaecac9c3", "name": "build-test-deploy", "status": "success"},
                             "project": {"slug": "gh/flowgate/sample"}})
        }
        "clickup" => json!({"event": event, "task_id": "1vj37mc", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204",
                            "history_items": [{"id": "2027597518", "type": 1, "date": (now * 1000).to_string(), "field": "status"}]}),
        "tiktok" => {
            json!({"client_key": "bwo2m45353a6k85", "event": event, "create_time": now, "user_openid": "act.example12345",
                           "content": "{\"share_id\":\"video.6974245311675353080.VDCxrcMJ\"}"})
        }
        "customerio" => json!({"event_id": id, "object_type": "email", "metric": event, "timestamp": now,
                               "data": {"customer_id": "42", "email_address": "test@example.com", "delivery_id": "RAECAAFwnUSneIa0ZXkmq8EdkAM=="}}),
        "front" => {
            json!({"type": event, "id": id, "emitted_at": now, "conversation": {"id": "cnv_55c8c149", "subject": "flowgate sample"}})
        }
        // The new senders (issue 15).
        "nylas" => json!({
            "specversion": "1.0", "type": event, "source": "/google/emails/realtime", "id": id, "time": now,
            "webhook_delivery_attempt": 1,
            "data": {"application_id": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "grant_id": "8b2a4c1d-0000-4000-8000-000000000001",
                     "object": {"id": "18df0a3a1a5e2c21", "object": "message", "subject": "flowgate sample", "date": now}},
        }),
        "strava" => {
            json!({"aspect_type": event, "event_time": now, "object_id": 1360128428u64, "object_type": "activity",
                           "owner_id": 134815, "subscription_id": 120475, "updates": {}})
        }
        "oura" => json!({"event_type": "create", "data_type": event, "object_id": short, "event_time": iso,
                         "user_id": "ab1c2d3e-0000-4000-8000-000000000001"}),
        "ringcentral" => {
            json!({"uuid": id, "event": event, "timestamp": iso, "subscriptionId": "8a4e8f6e-0000-4000-8000-000000000001",
                                "ownerId": "400131473008", "body": {"extensionId": 400131473008u64, "lastUpdated": iso,
                                                                  "changes": [{"type": "SMS", "newCount": 1, "updatedCount": 0}]}})
        }
        "linkedin" => {
            json!({"type": event, "notificationId": id, "leadGenFormResponse": "urn:li:leadGenFormResponse:(urn:li:sponsoredAccount:520866471,0)",
                             "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:520866471"}, "occurredAt": now * 1000})
        }
        "adobesign" => json!({"webhookId": "3AAABLblqZhB9BYdNdMHAYqXylKeB6vqkvtHdabu7D1mcK3qHA2Ye5Ezxg",
                              "webhookName": "flowgate", "webhookNotificationId": id, "event": event, "eventDate": iso,
                              "eventResourceType": "agreement", "participantRole": "SENDER", "actionType": "ESIGNED",
                              "agreement": {"id": "CBJCHBCAABAAQ5nkfKM7Ie7ymjp1Slw8NeEymdTwavGS", "name": "flowgate sample", "status": "SIGNED"}}),
        "smartsheet" => json!({"nonce": id, "timestamp": iso, "webhookId": 4509506114742148u64, "scope": "sheet",
                               "scopeObjectId": 4509506114742148u64,
                               "events": [{"objectType": "row", "eventType": event, "id": 7141512000030596u64, "userId": 3863362700240772u64, "timestamp": iso}]}),
        "sharepoint" => json!({"value": [{"subscriptionId": "91779246-afe9-4525-b122-6c199ae89211",
                                           "expirationDateTime": crate::senders::rfc3339(now + 86_400 * 30),
                                           "resource": "b9f6f714-9df8-470b-b22e-653855e1c181",
                                           "tenantId": "00000000-0000-0000-0000-000000000000", "siteUrl": "/",
                                           "webId": "dbc5a806-e4d4-46e5-951c-6344d70b62fa"}]}),
        "clio" => {
            json!({"data": {"id": 1234567, "etag": format!("\"{short}\""), "updated_at": iso}, "meta": {"event": event, "webhook_id": 8910}})
        }
        "dropboxsign" => {
            json!({"event": {"event_metadata": {"related_signature_id": null, "reported_for_account_id": "63522885f9261e2b04eea043933ee7313eb674fd",
                                                              "reported_for_app_id": null, "event_message": null}},
                                "signature_request": {"signature_request_id": "fa5c8a0b0f492d768749333ad6fcc214c111e967", "title": "flowgate sample",
                                                      "is_complete": false, "signatures": [{"signer_email_address": "jack@example.com", "status_code": "awaiting_signature"}]}})
        }
        "webex" => json!({"id": "Y2lzY29zcGFyazovL3VzL1dFQkhPT0svZjRlNjA1NjAtNjYwMi00ZmIwLWEyNWEtOTQ5ODgxNjA5NDk3",
                          "name": "flowgate", "targetUrl": "https://example.com/hooks/webex", "resource": "messages", "event": event,
                          "orgId": "OTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh", "appId": "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL0MyNzljYjMwYzAyOTE4MGJiNGJkYWViYjA2MWI3OTY1Y2RhMzliNjAyOTdjODUwM2YyNjZhYmY2NmM5OTllYzFm",
                          "ownedBy": "creator", "status": "active", "created": iso, "actorId": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8xZjdkZTVjYi04NTYxLTQ2NzEtYmMwMy1iYzk3NDMxNDQ0MmQ",
                          "data": {"id": format!("Y2lz{short}"), "roomId": "Y2lzY29zcGFyazovL3VzL1JPT00vYmJjZWIxYWQtNDNmMS0zYjU4LTkxNDctZjE0YmIwYzRkMTU0",
                                   "personEmail": "matt@example.com", "created": iso}}),
        "microsoft-teams" => {
            json!({"type": event, "id": short, "timestamp": iso, "serviceUrl": "https://smba.trafficmanager.net/amer/",
                            "channelId": "microsoft-teams", "from": {"id": "29:1Vd2dS7A", "name": "Megan Bowen"},
                            "conversation": {"isGroup": true, "id": "19:a8c6e0b2@thread.skype;messageid=1582315418519"},
                            "text": "<at>flowgate</at> hello", "textFormat": "plain"})
        }
        "checkbook" => json!({"status": "PAID", "id": short, "type": event}),
        "easypost" => {
            json!({"id": format!("evt_{short}"), "object": "Event", "mode": "test", "description": event, "created_at": iso,
                             "status": "completed", "result": {"id": "trk_c8e0edb5bb284caa934a0d3db23a148z", "object": "Tracker", "status": "in_transit"}})
        }
        "port" => {
            json!({"action": {"identifier": event, "blueprint": "service"}, "resourceType": "run", "status": "TRIGGERED",
                         "trigger": {"by": {"userId": "auth0|0123", "orgId": "org_2Nq"}, "origin": "UI", "at": iso},
                         "context": {"entity": "flowgate", "blueprint": "service", "runId": format!("r_{short}")}, "payload": {"properties": {}}})
        }
        "rutter" => {
            json!({"type": event, "code": "CONNECTION_UPDATED", "connection_id": "c2a7e5d6-0000-4000-8000-000000000001",
                           "access_token": "0123-flowgate-sample", "platform": "SHOPIFY"})
        }
        "tailscale" => json!([{"timestamp": iso, "version": 1, "type": event, "tailnet": "example.com",
                               "message": "Node flowgate-sample created", "data": {"nodeID": "n2Nq", "deviceName": "flowgate-sample"}}]),
        "vapi" => {
            json!({"message": {"type": event, "timestamp": now * 1000, "call": {"id": id}, "endedReason": "customer-ended-call"}})
        }
        "veriff" => {
            json!({"id": "f04bdb47-d3be-4b28-b028-a652feb060b5", "attemptId": "e30122d1-740b-4764-853f-470374a7abf4",
                           "feature": "selfid", "code": 7002, "action": event, "vendorData": "flowgate-sample"})
        }
        "pandadoc" => {
            json!([{"event": event, "data": {"id": format!("doc{short}"), "name": "flowgate sample", "status": "document.completed",
                                                        "date_created": iso, "date_modified": iso}}])
        }
        "buildkite" => {
            json!({"event": event, "build": {"id": "0185f9c3-0000-4000-8000-000000000001", "number": 42, "state": "passed",
                                                         "branch": "main", "commit": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"},
                              "pipeline": {"slug": "flowgate"}, "sender": {"name": "Flowgate Sample"}})
        }
        "launchdarkly" => json!({"_id": short, "date": now * 1000, "kind": event, "name": "Flowgate flag",
                                 "titleVerb": "changed the default value of", "title": "Flowgate Sample changed the default value of Flowgate flag",
                                 "member": {"email": "sample@example.com"}}),
        "helpscout" => {
            json!({"id": 12345, "number": 42, "type": "email", "status": "active", "subject": "flowgate sample",
                              "createdAt": iso, "customer": {"id": 678, "email": "customer@example.com"}})
        }
        "paystack" => {
            json!({"event": event, "data": {"id": 302961, "domain": "live", "status": "success", "reference": format!("qTPrJoy9Bx{short}"),
                                                       "amount": 4200, "paid_at": iso, "currency": "NGN",
                                                       "customer": {"id": 68324, "email": "bojack@horsinaround.com"}}})
        }
        "dwolla" => {
            json!({"id": id, "resourceId": "b3f3b3c0-0000-4000-8000-000000000001", "topic": event, "timestamp": iso,
                           "_links": {"self": {"href": format!("https://api-sandbox.dwolla.com/events/{id}")},
                                      "resource": {"href": "https://api-sandbox.dwolla.com/customers/b3f3b3c0-0000-4000-8000-000000000001"}},
                           "created": iso})
        }
        "mollie" => {
            json!({"resource": "event", "id": format!("event_{short}"), "type": event, "entityId": "pl_qng5gbbv8NAZ5gpM5ZYgx",
                           "createdAt": iso, "_embedded": {"entity": {"resource": "payment-link", "id": "pl_qng5gbbv8NAZ5gpM5ZYgx"}}})
        }
        "coinbase" => json!({
            "attempt_number": 1, "id": uuid(short, "c01"), "scheduled_for": iso,
            "event": {"api_version": "2018-03-22", "created_at": iso, "id": uuid(short, "e01"), "resource": "event", "type": event,
                      "data": {"code": "66BEOV2A", "name": "flowgate sample", "pricing_type": "fixed_price",
                               "pricing": {"local": {"amount": "42.00", "currency": "USD"}}}},
        }),
        "aftership" => json!({
            "event": event, "event_id": uuid(short, "a01"), "is_tracking_first_tracking": false, "ts": now,
            "msg": {"id": format!("5b74f4958776db0e00{}", &short[..6]), "tracking_number": "1Z9999999999999999",
                    "slug": "ups", "tag": "InTransit", "subtag": "InTransit_001", "updated_at": iso},
        }),
        "alchemy" => json!({
            "webhookId": "wh_octjglnywaupz6th", "id": format!("whevt_{short}"), "createdAt": iso, "type": event,
            "event": {"network": "ETH_MAINNET", "activity": [{"fromAddress": "0x503828976d22510aad0201ac7ec88293211d23da",
                      "toAddress": "0xbe3f4b43db5eb49d1f48f53443b9abce45da3b79", "blockNum": "0xdf34a3", "value": 293.092129,
                      "asset": "USDC", "category": "token"}]},
        }),
        "terraform" => json!({
            "payload_version": 1, "notification_configuration_id": "nc-AeUQ2zfKZzW9TiGZ",
            "run_url": "https://app.terraform.io/app/flowgate/flowgate-ws/runs/run-FwnENkvDnrpyFC7M",
            "run_id": "run-FwnENkvDnrpyFC7M", "run_message": "flowgate sample", "run_created_at": iso, "run_created_by": "flowgate",
            "workspace_id": "ws-XdeUVMWShTesDMME", "workspace_name": "flowgate-ws", "organization_name": "flowgate",
            "notifications": [{"message": "Run Completed", "trigger": event, "run_status": "applied",
                               "run_updated_at": iso, "run_updated_by": "flowgate"}],
        }),
        "sonatype" => json!({
            "timestamp": iso.replace('Z', "+0000"), "nodeId": "7FFA7361-6ED33978-36997BD4-47095CC4-331356BE",
            "initiator": "admin/127.0.0.1", "repositoryName": "npm-proxy", "action": "CREATED",
            "component": {"id": short, "componentId": short, "format": "npm", "name": "flowgate", "version": "1.0.0"},
        }),
        "frameio" => json!({
            "type": event, "resource": {"type": "asset", "id": uuid(short, "f01")},
            "account": {"id": "6bdcb4d9-4548-4548-a9a4-a1a7f2ac8b0a"}, "team": {"id": "35543cd2-954a-c6ee-4aa1-ce9e19602aa9"},
            "user": {"id": "56d4ba1a-2e7b-4c5c-9b59-27b4a1a7b0e3"}, "project": {"id": "7e46e495-4444-4555-8649-bee4d391a997"},
        }),
        "bolt" => json!({
            "type": event, "object": "transaction",
            "data": {"id": format!("TA{short}"), "reference": "LBLJ-TWW7-R9VC", "type": "cc_payment", "status": "completed",
                     "amount": {"amount": 4200, "currency": "USD", "currency_symbol": "$"}, "date": now * 1000},
        }),
        "castle" => json!({
            "api_version": "v1", "app_id": "643237282357921", "type": event, "created_at": iso,
            "data": {"id": short, "device_token": "eyJhbGciOiJIUzI1NiJ9.flowgate", "user_id": "flowgate-sample",
                     "trigger": "$login.succeeded", "context": {"ip": "203.0.113.7"}},
        }),
        "clearbit" => json!({
            "id": "flowgate-sample", "status": 200, "type": event,
            "body": {"id": uuid(short, "b01"), "name": {"fullName": "Alex Sample", "givenName": "Alex", "familyName": "Sample"},
                     "email": "alex@example.com", "location": "San Francisco, CA, US", "employment": {"name": "Flowgate"}},
        }),
        "mongodb" => json!({
            "id": format!("5d1113b25a115342{}", &short[..8]), "alertConfigId": "5d1113b25a115342acc2d1ab",
            "eventTypeName": "OUTSIDE_METRIC_THRESHOLD", "metricName": "ASSERT_REGULAR", "status": "OPEN",
            "created": iso, "updated": iso, "groupId": "5d1113b25a115342acc2d1ac", "clusterName": "Cluster0",
            "currentValue": {"number": 2.0, "units": "RAW"}, "humanReadable": "flowgate sample alert",
        }),
        "worldline" => json!({
            "apiVersion": "v1", "id": uuid(short, "d01"), "created": iso.replace('Z', ".000+0000"), "merchantId": "20000",
            "type": event,
            "payment": {"id": "000000850010000188180000200001", "paymentOutput": {"amountOfMoney": {"amount": 4200, "currencyCode": "EUR"}},
                        "status": "CAPTURED", "statusOutput": {"statusCategory": "COMPLETED", "statusCode": 9}},
        }),
        "modern-treasury" => json!({
            "event": event,
            "data": {"id": uuid(short, "a02"), "object": "payment_order", "type": "ach", "direction": "credit", "amount": 1000,
                     "currency": "USD", "status": event, "live_mode": false, "created_at": iso, "updated_at": iso},
        }),
        "pusher" => json!({"time_ms": now * 1000, "events": [{"name": event, "channel": "presence-flowgate"}]}),
        "autodesk" => json!({
            "version": "1.0", "resourceUrn": "urn:adsk.wipprod:fs.file:vf.flowgate?version=1",
            "hook": {"hookId": uuid(short, "ad1"), "tenant": "urn:adsk.wipprod:fs.folder:co.flowgate", "system": "data",
                     "event": event, "callbackUrl": "https://flowgate.example/hooks/autodesk", "scope": {"folder": "urn:adsk.wipprod:fs.folder:co.flowgate"}},
            "payload": {"name": "model.rvt", "version": "1", "source": "urn:adsk.wipprod:fs.file:vf.flowgate?version=1",
                        "createdTime": iso, "creator": "flowgate"},
        }),
        "coinify" => json!({
            "id": uuid(short, "c02"), "event": event, "time": iso,
            "context": {"id": uuid(short, "c03"), "state": "completed", "amount": "42.00", "currency": "EUR"},
        }),
        "cashfree" => json!({
            "data": {"order": {"order_id": format!("order_{short}"), "order_amount": 42.0, "order_currency": "INR"},
                     "payment": {"cf_payment_id": 12_376_123, "payment_status": "SUCCESS", "payment_amount": 42.0,
                                 "payment_time": iso, "payment_group": "upi"},
                     "customer_details": {"customer_id": "flowgate-sample", "customer_email": "someone@example.com"}},
            "event_time": iso, "type": event,
        }),
        "gitea" | "forgejo" | "gogs" => json!({
            "ref": "refs/heads/main", "before": "28e1879d029cb852e4844d9c718537df08844e03",
            "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
            "compare_url": "https://git.example/flowgate/app/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
            "commits": [{"id": "bffeb74224043ba2feb48d137756c8a9331c449a", "message": "Update README (flowgate sample)\n",
                         "url": "https://git.example/flowgate/app/commit/bffeb74224043ba2feb48d137756c8a9331c449a",
                         "author": {"name": "flowgate", "email": "flowgate@example.com", "username": "flowgate"}, "timestamp": iso}],
            "repository": {"id": 1, "name": "app", "full_name": "flowgate/app", "private": false,
                           "html_url": "https://git.example/flowgate/app", "default_branch": "main",
                           "owner": {"id": 1, "login": "flowgate", "username": "flowgate"}},
            "pusher": {"id": 1, "login": "flowgate", "username": "flowgate"},
            "sender": {"id": 1, "login": "flowgate", "username": "flowgate"},
        }),
        "quickbooks" => json!({"eventNotifications": [{"realmId": "1185883450", "dataChangeEvent": {"entities": [
            {"name": "Customer", "id": "1", "operation": event, "lastUpdated": iso},
        ]}}]}),
        "webflow" => json!({
            "triggerType": event,
            "payload": {"name": "Contact form", "siteId": "65427cf400e02b306eaa049c", "formId": "65429eadebe8a9f3a30f62d0",
                        "data": {"Email": "someone@example.com", "Name": "Flowgate Sample"},
                        "submittedAt": iso, "id": format!("6321ca84df3949bf{}", &short[..8])},
        }),
        "todoist" => json!({
            "event_name": event, "user_id": "2671355", "version": "9", "triggered_at": iso,
            "initiator": {"id": "2671355", "email": "someone@example.com", "full_name": "Flowgate Sample"},
            "event_data": {"id": "2995104339", "content": "Buy Milk", "project_id": "2203306141", "checked": false, "added_at": iso},
        }),
        "checkout" => json!({
            "id": format!("evt_{}", &id[4..30]), "type": event, "version": "1.0.33", "created_on": iso,
            "data": {"id": format!("pay_{}", &id[4..30]), "action_id": format!("act_{}", &id[4..30]), "amount": 4200,
                     "currency": "GBP", "processed_on": iso, "reference": "ORD-5023-4E89"},
            "_links": {"self": {"href": format!("https://api.sandbox.checkout.com/workflows/events/evt_{}", &id[4..30])}},
        }),
        "elevenlabs" => json!({
            "type": event, "event_timestamp": now,
            "data": {"agent_id": "agent_flowgate", "conversation_id": format!("conv_{short}"), "status": "done",
                     "transcript": [{"role": "agent", "message": "Hello from flowgate's sample", "time_in_call_secs": 0}]},
        }),
        "storyblok" => json!({
            "text": "The user someone@example.com published the Story flowgate sample (flowgate-sample)",
            "action": event, "space_id": 1_000_001, "story_id": 2_000_002, "full_slug": "flowgate-sample",
        }),
        "nango" => {
            json!({"type": event, "from": "nango", "connectionId": "flowgate-sample", "providerConfigKey": "github",
                          "syncName": "issues", "model": "GithubIssue", "responseResults": {"added": 1, "updated": 0, "deleted": 0},
                          "syncType": "INCREMENTAL", "modifiedAfter": iso})
        }
        _ => return None,
    })
}

/// A UUID made of a sample's short id (12 hex digits) and a tag.
fn uuid(short: &str, tag: &str) -> String {
    format!("{}-{}-4{}-8{:0>3}-{}", &short[..8], &short[8..12], &short[..3], tag, &short[..12])
}

/// Maxio's (Chargify's) form-encoded webhook (`id=…&event=…&payload[…]=…`):
/// the webhook's id, again in `X-Chargify-Webhook-Id`.
pub(crate) fn chargify_form(event: &str, webhook_id: &str, now: u64) -> Vec<u8> {
    let at = crate::senders::rfc3339(now);
    form_urlencoded::Serializer::new(String::new())
        .append_pair("id", webhook_id)
        .append_pair("event", event)
        .append_pair("payload[subscription][id]", "15236")
        .append_pair("payload[subscription][state]", "active")
        .append_pair("payload[subscription][customer][email]", "someone@example.com")
        .append_pair("payload[transaction][amount_in_cents]", "4200")
        .append_pair("payload[event_id]", webhook_id)
        .append_pair("created_at", &at)
        .finish()
        .into_bytes()
}

/// Mailchimp's form-encoded event (`type=subscribe&fired_at=…&data[…]=…`).
pub(crate) fn mailchimp_form(event: &str, now: u64) -> Vec<u8> {
    let fired_at = crate::senders::rfc3339(now).replacen('T', " ", 1).trim_end_matches('Z').to_owned();
    form_urlencoded::Serializer::new(String::new())
        .append_pair("type", event)
        .append_pair("fired_at", &fired_at)
        .append_pair("data[id]", "8a25ff1d98")
        .append_pair("data[list_id]", "a6b5da1054")
        .append_pair("data[email]", "api@mailchimp.com")
        .append_pair("data[email_type]", "html")
        .append_pair("data[merges][EMAIL]", "api@mailchimp.com")
        .append_pair("data[merges][FNAME]", "Mailchimp")
        .append_pair("data[ip_opt]", "10.20.10.30")
        .finish()
        .into_bytes()
}

/// The headers `provider` sends beside its signature and labels (Shopify's
/// shop domain and API version, Box's signature version and algorithm,
/// GitHub's hook ids and user agent, …); `delivery` is a fresh UUID.
pub(crate) fn headers(provider: &str, event: &str, delivery: &str, now: u64) -> Vec<(&'static str, String)> {
    let iso = crate::senders::rfc3339(now);
    match provider {
        "github" | "github-sha1" => vec![
            ("user-agent", "GitHub-Hookshot/044aadd".into()),
            ("x-github-hook-id", "292430182".into()),
            ("x-github-hook-installation-target-id", "79929171".into()),
            ("x-github-hook-installation-target-type", "repository".into()),
        ],
        // @shopify/shopify-api's webhooks.validate needs the topic, the
        // domain, the API version and the webhook id (and reads the others).
        "shopify" => vec![
            ("x-shopify-shop-domain", "flowgate-sample.myshopify.com".into()),
            ("x-shopify-api-version", "2025-07".into()),
            ("x-shopify-triggered-at", iso),
            ("x-shopify-event-id", format!("98880550-7158-44d4-b7cd-{}", &delivery[24..])),
            ("user-agent", "Shopify-Captain-Hook".into()),
        ],
        // box-node-sdk's validateMessage checks the version and algorithm.
        "box" => vec![
            ("box-signature-version", "1".into()),
            ("box-signature-algorithm", "HmacSHA256".into()),
            ("box-delivery-id", delivery.to_owned()),
            ("user-agent", "Box-WH-Client/0.1".into()),
        ],
        "stripe" => vec![("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)".into())],
        "slack" => vec![("user-agent", "Slackbot 1.0 (+https://api.slack.com/robots)".into())],
        "twitch" => vec![
            ("twitch-eventsub-message-type", "notification".into()),
            ("twitch-eventsub-message-retry", "0".into()),
            ("twitch-eventsub-subscription-version", "2".into()),
        ],
        "zendesk" => vec![("x-zendesk-webhook-id", "01GDXYD7ZTWYP1T4ESSAN9BAJ8".into())],
        "sentry" => vec![("sentry-hook-timestamp", now.to_string())],
        "woocommerce" => vec![
            ("x-wc-webhook-source", "https://flowgate-sample.example/".into()),
            ("x-wc-webhook-resource", event.split('.').next().unwrap_or("order").to_owned()),
            ("x-wc-webhook-event", event.split('.').nth(1).unwrap_or("created").to_owned()),
            ("x-wc-webhook-id", "12".into()),
            ("x-wc-webhook-delivery-id", delivery.replace('-', "")),
        ],
        "bitbucket" => vec![("x-hook-uuid", "27f1c0f4-0000-4000-8000-000000000001".into())],
        "veriff" => vec![("x-auth-client", "f5b5c5a2-0000-4000-8000-000000000001".into())],
        "webex" => vec![("user-agent", "Webex-Webhook-Client".into())],
        "nylas" => vec![("user-agent", "Nylas-Webhooks".into())],
        "ringcentral" => vec![("user-agent", "RingCentral-Webhook/8.3".into())],
        "worldline" => vec![("x-gcs-keyid", "flowgate-sample-key".into())],
        "pusher" => vec![("x-pusher-key", "278d425bdf160c739803".into())],
        "todoist" => vec![("user-agent", "Todoist-Webhooks".into())],
        // Gitea and Forgejo send the other forges' headers too.
        "gitea" => vec![
            ("x-gitea-event-type", event.to_owned()),
            ("x-gogs-event", event.to_owned()),
            ("x-gogs-delivery", delivery.to_owned()),
            ("x-github-event", event.to_owned()),
            ("x-github-delivery", delivery.to_owned()),
        ],
        "forgejo" => vec![
            ("x-forgejo-event-type", event.to_owned()),
            ("x-gitea-event", event.to_owned()),
            ("x-gitea-event-type", event.to_owned()),
            ("x-gitea-delivery", delivery.to_owned()),
        ],
        _ => Vec::new(),
    }
}
