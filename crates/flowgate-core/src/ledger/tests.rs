//! The ledger's rules over [`MemoryLedger`]: admission (duplicates, replays,
//! pending direct calls), handed-over secrets, and every delivery transition.

use super::*;

const NOW: i64 = 1_800_000_000;
const QUEUE: AdmitPolicy =
    AdmitPolicy { dedupe_window_secs: Some(259_200), replay_window_secs: Some(259_200), pending_secs: None };
const DIRECT: AdmitPolicy = AdmitPolicy { pending_secs: Some(80), ..QUEUE };

fn fp(id: Option<&str>, body: &str, proof: Option<&str>) -> Fingerprint {
    Fingerprint { delivery_id: id.map(str::to_owned), body: body.to_owned(), proof: proof.map(str::to_owned) }
}

fn admit_ok(l: &mut MemoryLedger, id: &str, fp: &Fingerprint, policy: &AdmitPolicy, now: i64) -> Admission {
    let Ok(a) = admit(l, id, fp, policy, now);
    a
}

fn new() -> Admission {
    Admission::New { id_reused: false }
}

#[test]
fn a_new_webhook_is_new_and_its_copy_a_duplicate() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    assert_eq!(admit_ok(&mut l, "f1", &a, &QUEUE, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &a, &QUEUE, NOW + 10), Admission::Duplicate);
}

#[test]
fn a_replay_with_a_fresh_id_is_refused_and_not_recorded() {
    let mut l = MemoryLedger::default();
    assert_eq!(admit_ok(&mut l, "f1", &fp(Some("d-1"), "b1", Some("p1")), &QUEUE, NOW), new());
    // The captured request, re-sent with another (unsigned) delivery id.
    assert_eq!(admit_ok(&mut l, "f2", &fp(Some("d-2"), "b1", Some("p1")), &QUEUE, NOW), Admission::Replay);
    // d-2 was not recorded: the real d-2 goes through.
    assert_eq!(admit_ok(&mut l, "f3", &fp(Some("d-2"), "b2", Some("p2")), &QUEUE, NOW), new());
}

#[test]
fn a_swapped_event_header_is_still_the_same_delivery() {
    // Same signature, same id: the sender's copy (or a replay of it with
    // another X-GitHub-Event): a duplicate, never forwarded again.
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    assert_eq!(admit_ok(&mut l, "f1", &a, &QUEUE, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &a, &QUEUE, NOW + 1), Admission::Duplicate);
}

#[test]
fn a_planted_id_does_not_cost_the_real_delivery() {
    // The attacker's capture was never seen (intercepted), and is sent
    // under the id the sender will use next.
    let mut l = MemoryLedger::default();
    assert_eq!(admit_ok(&mut l, "f1", &fp(Some("d-9"), "old", Some("p-old")), &QUEUE, NOW), new());
    // The real d-9 arrives with its own body and signature.
    assert_eq!(
        admit_ok(&mut l, "f2", &fp(Some("d-9"), "real", Some("p-real")), &QUEUE, NOW),
        Admission::New { id_reused: true }
    );
    // And its own re-sent copy is a duplicate, not a third run.
    assert_eq!(admit_ok(&mut l, "f3", &fp(Some("d-9"), "real", Some("p-real")), &QUEUE, NOW), Admission::Duplicate);
}

#[test]
fn a_re_signed_retry_is_a_duplicate_by_id_and_body() {
    // Stripe, Slack, Standard Webhooks: a retry is signed again (new
    // timestamp): another proof, same id and body.
    let mut l = MemoryLedger::default();
    assert_eq!(admit_ok(&mut l, "f1", &fp(Some("evt_1"), "b", Some("p-t1")), &QUEUE, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &fp(Some("evt_1"), "b", Some("p-t2")), &QUEUE, NOW + 60), Admission::Duplicate);
}

#[test]
fn a_signed_token_on_another_body_is_a_replay() {
    // Mailgun signs timestamp‖token, not the body.
    let mut l = MemoryLedger::default();
    assert_eq!(admit_ok(&mut l, "f1", &fp(Some("e1"), "b1", Some("tok")), &QUEUE, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &fp(Some("e1"), "forged", Some("tok")), &QUEUE, NOW), Admission::Replay);
    assert_eq!(admit_ok(&mut l, "f3", &fp(None, "forged", Some("tok")), &QUEUE, NOW), Admission::Replay);
}

#[test]
fn without_an_id_the_proof_still_recognises_a_copy() {
    let mut l = MemoryLedger::default();
    assert_eq!(admit_ok(&mut l, "f1", &fp(None, "b", Some("p")), &QUEUE, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &fp(None, "b", Some("p")), &QUEUE, NOW), Admission::Duplicate);
    // Without a proof (a token scheme) and without an id: nothing to go by.
    assert_eq!(admit_ok(&mut l, "f3", &fp(None, "b", None), &QUEUE, NOW), new());
    assert_eq!(admit_ok(&mut l, "f4", &fp(None, "b", None), &QUEUE, NOW), new());
}

#[test]
fn dedupe_off_still_refuses_replays_but_lets_copies_through() {
    let policy = AdmitPolicy { dedupe_window_secs: None, ..QUEUE };
    let mut l = MemoryLedger::default();
    assert_eq!(admit_ok(&mut l, "f1", &fp(Some("d-1"), "b", Some("p")), &policy, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &fp(Some("d-1"), "b", Some("p")), &policy, NOW), new());
    assert_eq!(admit_ok(&mut l, "f3", &fp(Some("d-2"), "b", Some("p")), &policy, NOW), Admission::Replay);
}

#[test]
fn guard_off_keeps_id_dedupe() {
    let policy = AdmitPolicy { replay_window_secs: None, ..QUEUE };
    let mut l = MemoryLedger::default();
    assert_eq!(admit_ok(&mut l, "f1", &fp(Some("d-1"), "b", Some("p")), &policy, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &fp(Some("d-2"), "b", Some("p")), &policy, NOW), new());
    assert_eq!(admit_ok(&mut l, "f3", &fp(Some("d-1"), "b", Some("p")), &policy, NOW), Admission::Duplicate);
    let none = AdmitPolicy { dedupe_window_secs: None, replay_window_secs: None, pending_secs: None };
    assert_eq!(admit_ok(&mut l, "f4", &fp(Some("d-1"), "b", Some("p")), &none, NOW), new());
}

#[test]
fn entries_expire_with_their_window() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b", Some("p"));
    assert_eq!(admit_ok(&mut l, "f1", &a, &QUEUE, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &a, &QUEUE, NOW + 259_200), Admission::Duplicate);
    assert_eq!(admit_ok(&mut l, "f3", &a, &QUEUE, NOW + 259_201), new());
}

#[test]
fn direct_mode_pending_then_confirmed_or_forgotten() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b", Some("p"));
    assert_eq!(admit_ok(&mut l, "f1", &a, &DIRECT, NOW), new());
    assert_eq!(admit_ok(&mut l, "f2", &a, &DIRECT, NOW + 5), Admission::InProgress);
    // Confirmed: from now on a duplicate.
    l.confirm("f1").unwrap();
    assert_eq!(admit_ok(&mut l, "f3", &a, &DIRECT, NOW + 6), Admission::Duplicate);

    // A failed call forgets its entries: the sender's retry is new.
    let b = fp(Some("d-2"), "b2", Some("p2"));
    assert_eq!(admit_ok(&mut l, "g1", &b, &DIRECT, NOW), new());
    l.forget("g1").unwrap();
    assert_eq!(admit_ok(&mut l, "g2", &b, &DIRECT, NOW + 1), new());

    // A pending entry whose request died: after its time, a copy takes over.
    let c = fp(Some("d-3"), "b3", Some("p3"));
    assert_eq!(admit_ok(&mut l, "h1", &c, &DIRECT, NOW), new());
    assert_eq!(admit_ok(&mut l, "h2", &c, &DIRECT, NOW + 81), new());
    assert_eq!(admit_ok(&mut l, "h3", &c, &DIRECT, NOW + 82), Admission::InProgress);
}

#[test]
fn handed_over_secrets_need_an_open_window() {
    let mut l = MemoryLedger::default();
    assert_eq!(keep(&mut l, "asana", "s1".into(), NOW).unwrap(), Err(KeepRefused::WindowClosed));
    let until = open_window(&mut l, 600, NOW).unwrap();
    assert_eq!(until, NOW + 600);
    assert_eq!(keep(&mut l, "asana", "s1".into(), NOW + 10).unwrap(), Ok(()));
    // The window closed with the first secret; and it is never replaced.
    assert_eq!(keep(&mut l, "asana", "s2".into(), NOW + 11).unwrap(), Err(KeepRefused::WindowClosed));
    open_window(&mut l, 600, NOW + 20).unwrap();
    assert_eq!(keep(&mut l, "asana", "s2".into(), NOW + 21).unwrap(), Err(KeepRefused::AlreadyKept));
    assert_eq!(l.kept("asana").unwrap().map(|k| k.sealed), Some("s1".to_owned()));
    // Re-registering is explicit: delete, open, keep.
    l.delete_kept("asana").unwrap();
    assert_eq!(keep(&mut l, "asana", "s3".into(), NOW + 22).unwrap(), Ok(()));
}

#[test]
fn handshake_requests_round_trip_as_json() {
    let mut l = MemoryLedger::default();
    let call = |l: &mut MemoryLedger, req: &str, now| {
        handle_handshake(l, serde_json::from_str(req).expect("a request"), now).unwrap()
    };
    let keep = r#"{"keep":{"name":"asana-x-hook-secret","sealed":"v1.x"}}"#;
    assert_eq!(call(&mut l, keep, NOW), serde_json::json!({"refused": "window_closed"}));
    let s = call(&mut l, r#"{"open":{"name":"asana-x-hook-secret","for_secs":600}}"#, NOW);
    assert_eq!(s, serde_json::json!({"open_until": NOW + 600, "kept_at": null}));
    assert_eq!(call(&mut l, keep, NOW + 1), serde_json::json!("kept"));
    let s = call(&mut l, r#"{"status":{"name":"asana-x-hook-secret"}}"#, NOW + 2);
    assert_eq!(s, serde_json::json!({"open_until": null, "kept_at": NOW + 1}));
    let k = call(&mut l, r#"{"kept":{"name":"asana-x-hook-secret"}}"#, NOW + 2);
    assert_eq!(serde_json::from_value::<Option<KeptSecret>>(k).unwrap().unwrap().sealed, "v1.x");
    let s = call(&mut l, r#"{"reset":{"name":"asana-x-hook-secret"}}"#, NOW + 3);
    assert_eq!(s, serde_json::json!({"open_until": null, "kept_at": null}));
}

#[test]
fn a_window_expires_and_is_bounded() {
    let mut l = MemoryLedger::default();
    let until = open_window(&mut l, 10 * 86_400, NOW).unwrap();
    assert_eq!(until, NOW + MAX_REGISTRATION_WINDOW_SECS as i64);
    assert_eq!(keep(&mut l, "notion", "s".into(), until).unwrap(), Err(KeepRefused::WindowClosed));
}

// ---------------------------------------------------------------------------
// Deliveries: the transitions of `delivery.rs`, and the calls carrying them.

const LEASE: i64 = 90;
const LOST_AFTER: i64 = 900;

fn key(id: &str, flow: &str) -> DeliveryKey {
    DeliveryKey { id: id.to_owned(), flow: flow.to_owned() }
}

/// A message of webhook `id` for `flow`, as the consumer sends it.
fn item(id: &str, flow: &str, copy: u32, fingerprint: &Fingerprint) -> BatchItem {
    BatchItem { key: key(id, flow), copy, fingerprint: Some(fingerprint.clone()) }
}

/// One batch call at `now`, as the consumer makes it.
fn batch(l: &mut MemoryLedger, items: Vec<BatchItem>, mailbox: Mailbox, now: i64) -> Vec<Verdict> {
    let req = BatchRequest { items, policy: QUEUE, lease_until: now + LEASE, due: now + LEASE + LOST_AFTER, mailbox };
    let Ok((answer, _)) = judge_batch(l, req, now);
    answer.verdicts
}

fn judge_one(l: &mut MemoryLedger, i: BatchItem, now: i64) -> Verdict {
    batch(l, vec![i], Mailbox::default(), now).remove(0)
}

fn settle_now(l: &mut MemoryLedger, id: &str, flow: &str, copy: u32, attempt: u32, outcome: Outcome, now: i64) {
    let Ok(()) = settle(l, Settlement { key: key(id, flow), copy, attempt, outcome }, now, &mut None);
}

fn retrying(next_at: i64, message: Option<&str>) -> Outcome {
    Outcome::Retrying {
        status: Some(503),
        reason: "flow answered 503".to_owned(),
        next_at,
        due: next_at + LOST_AFTER,
        message: message.map(str::to_owned),
    }
}

fn dead() -> Outcome {
    Outcome::Dead { status: Some(404), reason: "permanent".to_owned() }
}

fn row(l: &mut MemoryLedger, id: &str, flow: &str) -> DeliveryRow {
    let Ok(Some(r)) = l.row(&key(id, flow)) else { panic!("no row for {id}/{flow}") };
    r
}

fn attempt_fresh() -> Verdict {
    Verdict::Attempt { history: Vec::new(), keeps_copy: false, id_reused: false }
}

/// A queue message's JSON, as the ledger keeps it.
fn message_json(id: &str, flow: &str, copy: u32) -> String {
    let m = crate::delivery::QueuedDelivery {
        v: crate::delivery::MESSAGE_VERSION,
        id: id.to_owned(),
        route: "r".to_owned(),
        flow: flow.to_owned(),
        provider: "github".to_owned(),
        delivery_id: None,
        event_type: None,
        received_at: 0,
        content_type: None,
        headers: Vec::new(),
        body: crate::delivery::BodyRef::Inline("e30=".to_owned()),
        copy,
        body_digest: None,
        proof: None,
        attempts_before: 0,
    };
    serde_json::to_string(&m).unwrap()
}

#[test]
fn first_sight_accepts_a_delivery_and_leases_it_for_its_attempt() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW), attempt_fresh());
    let r = row(&mut l, "f1", "flow");
    assert_eq!(r.state, DeliveryState::Queued);
    assert_eq!(r.lease_until, NOW + LEASE);
    assert!(!r.keeps_copy, "no copy until the message goes back to the queue");
    assert_eq!(r.due, None, "nothing to recover without a copy");
    assert_eq!(l.counter(Counter::Accepted), 1);
}

#[test]
fn a_leased_delivery_is_busy_until_its_lease_expires() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW), attempt_fresh());
    // A second copy of the message (Queues delivers at least once) while the
    // attempt runs: it waits.
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW + 10), Verdict::Busy);
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW + LEASE - 1), Verdict::Busy);
    // The attempt was cut off (its isolate died): past the lease, the copy Queues
    // delivers again is attempted.
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW + LEASE), attempt_fresh());
    assert_eq!(row(&mut l, "f1", "flow").lease_until, NOW + 2 * LEASE);
    assert_eq!(l.counter(Counter::Accepted), 1, "one webhook");
}

#[test]
fn delivered_is_final_and_a_later_copy_is_acknowledged_without_an_attempt() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    judge_one(&mut l, item("f1", "flow", 0, &a), NOW);
    settle_now(&mut l, "f1", "flow", 0, 1, Outcome::Delivered, NOW + 1);
    let r = row(&mut l, "f1", "flow");
    assert_eq!((r.state, r.lease_until, r.due), (DeliveryState::Delivered, 0, None));
    assert_eq!(l.counter(Counter::Delivered), 1);
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW + 2), Verdict::Skip(Skip::Delivered));
    // A late settlement (a cut-off attempt that did finish) changes nothing.
    settle_now(&mut l, "f1", "flow", 0, 1, retrying(NOW + 30, Some("{}")), NOW + 3);
    assert_eq!(row(&mut l, "f1", "flow").state, DeliveryState::Delivered);
    assert_eq!(l.copy_of(&key("f1", "flow")), None);
}

#[test]
fn a_failed_attempt_keeps_a_copy_and_the_next_waits_for_its_backoff() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    judge_one(&mut l, item("f1", "flow", 0, &a), NOW);
    let json = message_json("f1", "flow", 0);
    settle_now(&mut l, "f1", "flow", 0, 1, retrying(NOW + 30, Some(&json)), NOW + 1);
    let r = row(&mut l, "f1", "flow");
    assert_eq!(r.state, DeliveryState::Retrying);
    assert_eq!((r.next_at, r.due, r.lease_until), (NOW + 30, Some(NOW + 30 + LOST_AFTER), 0));
    assert_eq!(r.history.len(), 1);
    assert_eq!(r.history[0].status, Some(503));
    assert_eq!(l.copy_of(&key("f1", "flow")), Some(json.as_str()));
    // Early (a copy Queues delivered twice): not before the backoff.
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW + 10), Verdict::Busy);
    // Due: attempted, with its history; the copy is kept and the due time moves
    // past the new lease.
    let Verdict::Attempt { history, keeps_copy: true, .. } = judge_one(&mut l, item("f1", "flow", 0, &a), NOW + 30)
    else {
        panic!("attempted, with the copy kept")
    };
    assert_eq!(history.len(), 1);
    assert_eq!(row(&mut l, "f1", "flow").due, Some(NOW + 30 + LEASE + LOST_AFTER));
    // Another failure does not ship the message again (the ledger has it).
    settle_now(&mut l, "f1", "flow", 0, 2, retrying(NOW + 90, None), NOW + 31);
    assert_eq!(l.copy_of(&key("f1", "flow")), Some(json.as_str()));
    assert_eq!(row(&mut l, "f1", "flow").history.len(), 2);
    // Then it is delivered: the copy goes.
    judge_one(&mut l, item("f1", "flow", 0, &a), NOW + 90);
    settle_now(&mut l, "f1", "flow", 0, 3, Outcome::Delivered, NOW + 91);
    assert_eq!(l.copy_of(&key("f1", "flow")), None);
    assert_eq!(l.counter(Counter::Delivered), 1);
}

#[test]
fn dead_is_final_until_redriven_and_the_redriven_copy_supersedes_the_old() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    judge_one(&mut l, item("f1", "flow", 0, &a), NOW);
    settle_now(&mut l, "f1", "flow", 0, 1, dead(), NOW + 1);
    let r = row(&mut l, "f1", "flow");
    assert_eq!((r.state, r.history.len()), (DeliveryState::Dead, 1));
    assert_eq!(l.counter(Counter::DeadLettered), 1);
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW + 2), Verdict::Skip(Skip::Dead));

    let json = message_json("f1", "flow", 0);
    let Ok(copy) =
        redrive(&mut l, RedriveRequest { key: key("f1", "flow"), message: json.clone(), due: NOW + 1000 }, NOW + 5);
    assert_eq!(copy, 1);
    let r = row(&mut l, "f1", "flow");
    assert_eq!((r.state, r.copy, r.due, r.keeps_copy), (DeliveryState::Queued, 1, Some(NOW + 1000), true));
    assert_eq!(l.counter(Counter::Redriven), 1);
    // The old copy, turning up late, is stale; the redriven one is attempted
    // with the history of its earlier attempts.
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), NOW + 6), Verdict::Skip(Skip::Stale));
    let Verdict::Attempt { history, keeps_copy: true, .. } = judge_one(&mut l, item("f1", "flow", 1, &a), NOW + 6)
    else {
        panic!("the redriven copy is attempted")
    };
    assert_eq!(history.len(), 1);
    // Its outcome counts; an outcome of the old copy would not.
    settle_now(&mut l, "f1", "flow", 0, 2, dead(), NOW + 7);
    assert_eq!(row(&mut l, "f1", "flow").state, DeliveryState::Queued, "a superseded copy's outcome changes nothing");
    settle_now(&mut l, "f1", "flow", 1, 1, Outcome::Delivered, NOW + 7);
    assert_eq!(row(&mut l, "f1", "flow").state, DeliveryState::Delivered);
    // Deleting a letter forgets the delivery.
    let Ok(()) = l.delete_row(&key("f1", "flow"));
    assert_eq!(l.row(&key("f1", "flow")), Ok(None));
}

#[test]
fn recovery_sends_an_overdue_copy_again_and_only_one_that_can_be_lost() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    let b = fp(Some("d-2"), "b2", Some("p2"));
    // f1 failed once: back in the queue, its copy kept. f2 is in its first
    // attempt: Queues holds its message, the ledger has no copy.
    let verdicts = batch(&mut l, vec![item("f1", "flow", 0, &a), item("f2", "flow", 0, &b)], Mailbox::default(), NOW);
    assert_eq!(verdicts, vec![attempt_fresh(), attempt_fresh()]);
    settle_now(&mut l, "f1", "flow", 0, 1, retrying(NOW + 10, Some(&message_json("f1", "flow", 0))), NOW + 1);
    let lost_after = |_: &crate::delivery::QueuedDelivery| 900;
    let recover_at = |l: &mut MemoryLedger, now| {
        let Ok(m) = recover(l, now, 100, lost_after);
        m
    };
    assert!(recover_at(&mut l, NOW + 10 + LOST_AFTER - 1).is_empty(), "not overdue yet");
    let sent = recover_at(&mut l, NOW + 10 + LOST_AFTER);
    assert_eq!(sent.len(), 1, "f2 has no copy: a message in its first attempt is Queues' to keep");
    assert_eq!((sent[0].id.as_str(), sent[0].copy), ("f1", 1));
    assert_eq!(row(&mut l, "f1", "flow").due, Some(NOW + 10 + 2 * LOST_AFTER));
    assert!(recover_at(&mut l, NOW + 10 + LOST_AFTER + 1).is_empty(), "sent once");
    // The old message turns up after all: stale. The recovered copy is attempted.
    let later = NOW + 2000;
    assert_eq!(judge_one(&mut l, item("f1", "flow", 0, &a), later), Verdict::Skip(Skip::Stale));
    assert!(matches!(judge_one(&mut l, item("f1", "flow", 1, &a), later), Verdict::Attempt { .. }));
    // While that attempt holds its lease (its due time lies past the lease), nothing is recovered.
    assert!(recover_at(&mut l, later + LEASE).is_empty());
    assert_eq!(recover_at(&mut l, later + LEASE + LOST_AFTER + 1).len(), 1, "cut off: recovered after the lease");
    // A recovered message that could not be sent is tried again in a minute.
    let Ok(()) = recovery_failed(&mut l, &key("f1", "flow"), later + 2000);
    assert_eq!(row(&mut l, "f1", "flow").due, Some(later + 2060));
    // A copy that does not parse is dropped rather than tried forever.
    let Ok(()) = l.set_copy(&key("f1", "flow"), Some("not json"));
    assert!(recover_at(&mut l, later + 3000).is_empty());
    assert_eq!(l.copy_of(&key("f1", "flow")), None);
}

#[test]
fn a_resent_webhook_is_a_duplicate_whatever_the_state_of_the_first_and_a_replay_is_refused() {
    let a = fp(Some("d-1"), "b1", Some("p1"));
    let settle_to: [(&str, Option<Outcome>); 4] = [
        ("in its first attempt", None),
        ("retrying", Some(retrying(NOW + 30, Some("{}")))),
        ("delivered", Some(Outcome::Delivered)),
        ("dead", Some(dead())),
    ];
    for (state, outcome) in settle_to {
        let mut l = MemoryLedger::default();
        judge_one(&mut l, item("f1", "flow", 0, &a), NOW);
        if let Some(o) = outcome {
            settle_now(&mut l, "f1", "flow", 0, 1, o, NOW + 1);
        }
        // The sender re-sends it: a new webhook to flowgate, the same fingerprint.
        assert_eq!(judge_one(&mut l, item("f2", "flow", 0, &a), NOW + 5), Verdict::Skip(Skip::Duplicate), "{state}");
        // A re-signed retry (Stripe: new timestamp, new proof): by id and body.
        let resigned = fp(Some("d-1"), "b1", Some("p1-later"));
        assert_eq!(
            judge_one(&mut l, item("f3", "flow", 0, &resigned), NOW + 6),
            Verdict::Skip(Skip::Duplicate),
            "{state}"
        );
        // A capture replayed under a fresh delivery id.
        let replay = fp(Some("d-9"), "b1", Some("p1"));
        assert_eq!(judge_one(&mut l, item("f4", "flow", 0, &replay), NOW + 7), Verdict::Skip(Skip::Replay), "{state}");
        assert_eq!((l.counter(Counter::Duplicates), l.counter(Counter::Replays)), (2, 1), "{state}");
        assert_eq!(l.counter(Counter::Accepted), 1, "{state}");
        assert_eq!(l.row(&key("f2", "flow")), Ok(None), "{state}: nothing recorded for a duplicate");
        // The replay planted nothing: the real d-9 goes through.
        let real = fp(Some("d-9"), "b9", Some("p9"));
        assert_eq!(judge_one(&mut l, item("f5", "flow", 0, &real), NOW + 8), attempt_fresh(), "{state}");
    }
}

#[test]
fn one_call_judges_a_batch_with_duplicates_and_fan_out_inside_it() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    let b = fp(Some("d-2"), "b2", Some("p2"));
    let none = fp(None, "b3", None);
    let verdicts = batch(
        &mut l,
        vec![
            item("f1", "deploys", 0, &a),                                 // new
            item("f1", "bugs", 0, &a),                                    // the same webhook's other flow (fan-out)
            item("f2", "deploys", 0, &a),                                 // the sender's re-sent copy of f1
            item("f3", "deploys", 0, &b),                                 // new
            item("f1", "deploys", 0, &a), // Queues delivered f1's message twice in one batch
            item("f4", "deploys", 0, &fp(Some("d-7"), "b1", Some("p1"))), // f1 replayed under another id
            item("f5", "deploys", 0, &none), // nothing to judge by: new
            item("f6", "deploys", 0, &none), // ... and so is its twin
        ],
        Mailbox::default(),
        NOW,
    );
    assert_eq!(
        verdicts,
        vec![
            attempt_fresh(),
            attempt_fresh(),
            Verdict::Skip(Skip::Duplicate),
            attempt_fresh(),
            Verdict::Busy,
            Verdict::Skip(Skip::Replay),
            attempt_fresh(),
            attempt_fresh(),
        ]
    );
    assert_eq!(l.counter(Counter::Accepted), 4, "f1 (two flows), f3, f5, f6");
    assert_eq!((l.counter(Counter::Duplicates), l.counter(Counter::Replays)), (1, 1));
    // The outcomes ride on the next call and are applied before its verdicts.
    let settled = vec![
        Settlement { key: key("f1", "deploys"), copy: 0, attempt: 1, outcome: Outcome::Delivered },
        Settlement { key: key("f1", "bugs"), copy: 0, attempt: 1, outcome: retrying(NOW + 5, Some("{}")) },
    ];
    let verdicts = batch(
        &mut l,
        vec![item("f1", "deploys", 0, &a), item("f1", "bugs", 0, &a)],
        Mailbox { settled, ..Mailbox::default() },
        NOW + 10,
    );
    assert_eq!(verdicts[0], Verdict::Skip(Skip::Delivered));
    assert!(matches!(&verdicts[1], Verdict::Attempt { keeps_copy: true, history, .. } if history.len() == 1));
}

#[test]
fn a_delivery_given_up_on_is_judged_only_for_whether_it_is_done() {
    let mut l = MemoryLedger::default();
    let a = fp(Some("d-1"), "b1", Some("p1"));
    judge_one(&mut l, item("f1", "flow", 0, &a), NOW);
    // Queues gave up on it (its dead-letter queue): leased or not, its letter is written.
    let give_up = BatchItem { key: key("f1", "flow"), copy: 0, fingerprint: None };
    assert!(matches!(judge_one(&mut l, give_up.clone(), NOW + 1), Verdict::Attempt { .. }));
    settle_now(&mut l, "f1", "flow", 0, 101, dead(), NOW + 2);
    assert_eq!(judge_one(&mut l, give_up, NOW + 3), Verdict::Skip(Skip::Dead));
    // A delivery never seen (its route was removed before its first attempt).
    let unseen = BatchItem { key: key("f9", "gone"), copy: 0, fingerprint: None };
    assert_eq!(judge_one(&mut l, unseen, NOW + 4), attempt_fresh());
    assert_eq!(l.counter(Counter::Accepted), 1, "giving up is not accepting");
}

#[test]
fn direct_mode_confirmations_and_releases_ride_on_the_next_call() {
    let mut l = MemoryLedger::default();
    let call = |l: &mut MemoryLedger, id: &str, fp: &Fingerprint, mailbox: Mailbox, now: i64| {
        let Ok(a) =
            admit_direct(l, AdmitRequest { id: id.to_owned(), fingerprint: fp.clone(), policy: DIRECT, mailbox }, now);
        a
    };
    let a = fp(Some("d-1"), "b1", Some("p1"));
    assert_eq!(call(&mut l, "f1", &a, Mailbox::default(), NOW), new());
    // Its copy while the flow call runs: told to retry.
    assert_eq!(call(&mut l, "f2", &a, Mailbox::default(), NOW + 1), Admission::InProgress);
    // The flow took it; the confirmation comes with the next call, first.
    let confirmed = Mailbox {
        confirmed: vec!["f1".to_owned()],
        counts: Counts { delivered: 1, ..Counts::default() },
        ..Mailbox::default()
    };
    assert_eq!(call(&mut l, "f3", &a, confirmed, NOW + 2), Admission::Duplicate);
    // A failed call is released the same way: the sender's retry is new.
    let b = fp(Some("d-2"), "b2", Some("p2"));
    assert_eq!(call(&mut l, "g1", &b, Mailbox::default(), NOW + 3), new());
    let released = Mailbox { released: vec!["g1".to_owned()], ..Mailbox::default() };
    assert_eq!(call(&mut l, "g2", &b, released, NOW + 4), new());
    assert_eq!(l.counter(Counter::Accepted), 2, "f1 and g2 (g1 released)");
    assert_eq!((l.counter(Counter::Delivered), l.counter(Counter::Duplicates)), (1, 1));
    // Counts alone (a route without anything to judge, and drops) are flushed the same way.
    let counts = Mailbox { counts: Counts { accepted: 3, delivered: 3, dropped: 2 }, ..Mailbox::default() };
    let Ok(s) = route_status(&mut l, StatusRequest { mailbox: counts }, NOW + 5);
    assert_eq!((s.accepted, s.delivered, s.dropped), (5, 4, 2));
}

#[test]
fn status_counts_deliveries_by_state() {
    let mut l = MemoryLedger::default();
    let fps: Vec<Fingerprint> = (0..4).map(|n| fp(Some(&format!("d-{n}")), &format!("b{n}"), None)).collect();
    let items = fps.iter().enumerate().map(|(n, f)| item(&format!("f{n}"), "flow", 0, f)).collect();
    batch(&mut l, items, Mailbox::default(), NOW);
    settle_now(&mut l, "f1", "flow", 0, 1, retrying(NOW + 5, Some("{}")), NOW);
    settle_now(&mut l, "f2", "flow", 0, 1, Outcome::Delivered, NOW);
    settle_now(&mut l, "f3", "flow", 0, 1, dead(), NOW);
    let Ok(s) = route_status(&mut l, StatusRequest::default(), NOW);
    assert_eq!((s.accepted, s.delivered, s.dead_lettered), (4, 1, 1));
    assert_eq!((s.queued, s.retrying, s.dead_letters_waiting), (1, 1, 1));
}

#[test]
fn requests_and_answers_have_one_json_shape() {
    // The Worker and the Durable Object share these types; the shapes are the wire format.
    assert_eq!(serde_json::to_value(Verdict::Skip(Skip::Duplicate)).unwrap(), serde_json::json!({"skip": "duplicate"}));
    assert_eq!(serde_json::to_value(Verdict::Busy).unwrap(), serde_json::json!("busy"));
    assert_eq!(serde_json::to_value(Outcome::Delivered).unwrap(), serde_json::json!("delivered"));
    assert_eq!(serde_json::to_value(Admission::Duplicate).unwrap(), serde_json::json!("duplicate"));
    assert_eq!(
        serde_json::to_value(Admission::New { id_reused: false }).unwrap(),
        serde_json::json!({"new": {"id_reused": false}})
    );
    let s = Settlement { key: key("f1", "flow"), copy: 2, attempt: 3, outcome: dead() };
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<Settlement>(&json).unwrap(), s);
    // An empty mailbox may be left out of a request entirely.
    let req: AdmitRequest = serde_json::from_value(serde_json::json!({
        "id": "f1", "fingerprint": {"delivery_id": null, "body": "b", "proof": null},
        "policy": {"dedupe_window_secs": null, "replay_window_secs": null, "pending_secs": null}
    }))
    .unwrap();
    assert!(req.mailbox.is_empty());
    assert_eq!((BatchRequest::OP, Mailbox::OP, AdmitRequest::OP), ("batch", "flush", "admit"));
    for state in DeliveryState::ALL {
        assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
    }
    for counter in Counter::ALL {
        assert_eq!(Counter::parse(counter.as_str()), Some(counter));
    }
}
