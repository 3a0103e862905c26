//! The token cache: per-isolate memory, then Workers KV (sealed), then Entra.
//!
//! - One fetch in flight per key and isolate: concurrent callers wait for it.
//!   Waiting callers poll memory on their own timer instead of awaiting the
//!   fetching caller's future: in workerd every request has its own I/O
//!   context, and a request that only awaits a promise resolved by another
//!   request's I/O is cancelled as hung ("The Workers runtime canceled this
//!   request because it detected that your Worker's code had hung").
//! - From half its lifetime a token is refreshed in the background
//!   ([`TokenCache::refresh`], run under `ctx.wait_until`), so while a valid
//!   token exists no webhook waits on Entra.
//! - Failures (entra-power-automate.md §2): network errors, timeouts and
//!   5xx are retried twice with jittered pauses; a 429 holds every request
//!   back for `Retry-After`; a permanent error (wrong or expired secret,
//!   unknown app or tenant, bad assertion, Conditional Access) holds requests
//!   back for 30 s, doubling to 5 min, so a misconfiguration cannot turn
//!   into a retry storm against Entra.

use std::{cell::RefCell, collections::HashMap, future::Future, rc::Rc};

use super::{seal::KvSeal, CachedToken, TokenError, TokenOrigin};
use crate::secret::Secret;

/// The shared cache (Workers KV in the Worker). Failures are swallowed by the
/// implementation: the cache is an optimisation, never the truth.
pub trait TokenStore {
    /// Reads a value.
    fn get(&self, key: &str) -> impl Future<Output = Option<String>>;
    /// Writes a value with a TTL in seconds (≥ 60).
    fn put(&self, key: &str, value: String, ttl_secs: u64) -> impl Future<Output = ()>;
    /// Deletes a value.
    fn delete(&self, key: &str) -> impl Future<Output = ()>;
}

/// Obtains a new token from Entra (one request, no retries).
pub trait TokenSource {
    /// Requests a token.
    fn fetch(&self) -> impl Future<Output = Result<CachedToken, TokenError>>;
}

/// Time, waiting and randomness (a timer and `crypto.getRandomValues` in
/// the Worker).
pub trait Runtime {
    /// Seconds since the epoch.
    fn now_secs(&self) -> u64;
    /// Resolves after about `ms` milliseconds.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
    /// Fills `buf` with random bytes.
    fn fill_random(&self, buf: &mut [u8]);
}

/// What a lookup needs, borrowed.
pub struct Io<'a, S, F, R> {
    /// Shared cache.
    pub store: &'a S,
    /// Entra.
    pub source: &'a F,
    /// Clock, timer, randomness.
    pub runtime: &'a R,
    /// Seals KV values.
    pub seal: &'a KvSeal,
    /// How long a caller waits on another's fetch before fetching itself;
    /// longer than the token endpoint's timeout.
    pub max_wait_ms: u64,
}

/// How often a waiting caller looks for the token another caller is fetching.
const FOLLOWER_POLL_MS: u64 = 10;
/// Retries of a transient failure, within one fetch.
const TRANSIENT_RETRIES: u32 = 2;
/// First hold after a permanent error; doubles per repeat.
const PERMANENT_HOLD_SECS: u64 = 30;
/// Longest hold after a permanent error.
const MAX_PERMANENT_HOLD_SECS: u64 = 300;
/// Hold after a 429 without `Retry-After` (Entra sends 60, §2).
const DEFAULT_THROTTLE_SECS: u64 = 60;

struct Hold {
    until: u64,
    cause: TokenError,
    strikes: u32,
}

#[derive(Default)]
struct Inner {
    memory: HashMap<String, CachedToken>,
    /// Key → id of the caller fetching (or refreshing) it now.
    inflight: HashMap<String, u64>,
    /// Key → (id, error) of the last failed fetch, for the callers that waited on it.
    failed: HashMap<String, (u64, TokenError)>,
    /// Key → (id, origin) of the last successful fetch.
    finished: HashMap<String, (u64, TokenOrigin)>,
    /// Key → hold after a throttled or permanent failure.
    held: HashMap<String, Hold>,
    next_id: u64,
}

/// Per-isolate token cache (single-threaded, as a Worker isolate is).
#[derive(Clone, Default)]
pub struct TokenCache {
    inner: Rc<RefCell<Inner>>,
}

/// The right to run the one background refresh of a key; see
/// [`TokenCache::try_begin_refresh`].
#[derive(Debug)]
pub struct RefreshTicket {
    key: String,
    id: u64,
}

/// Removes an `inflight` entry when its fetch ends or is dropped (a
/// request cancelled mid-fetch must not leave others waiting on it).
struct InflightGuard {
    inner: Rc<RefCell<Inner>>,
    key: String,
    id: u64,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut i = self.inner.borrow_mut();
        if i.inflight.get(&self.key) == Some(&self.id) {
            i.inflight.remove(&self.key);
        }
    }
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A usable token for `key`. `avoid` names a token the flow just refused
    /// (401): it is dropped from memory and never returned again, even if
    /// KV still serves it (KV reads can be up to 60 s stale).
    ///
    /// A caller that waited on another's fetch reports that fetch's origin,
    /// so "fresh from Entra" means the same for every caller.
    ///
    /// # Errors
    /// The [`TokenError`] when no usable token exists and Entra could not
    /// (or, during a hold, may not) be asked.
    pub async fn get<S: TokenStore, F: TokenSource, R: Runtime>(
        &self,
        key: &str,
        avoid: Option<&Secret>,
        io: &Io<'_, S, F, R>,
    ) -> Result<(CachedToken, TokenOrigin), TokenError> {
        if let Some(t) = self.usable_in_memory(key, io.runtime.now_secs(), avoid) {
            return Ok((t, TokenOrigin::Memory));
        }
        // Another caller is fetching: wait for its result. If it takes too
        // long (or its request was cancelled without finishing), take over;
        // the first to take over becomes the one the others wait on.
        let mut waited = 0;
        loop {
            let Some(leader) = self.inner.borrow().inflight.get(key).copied() else { break };
            while waited < io.max_wait_ms && self.inner.borrow().inflight.get(key) == Some(&leader) {
                io.runtime.sleep(FOLLOWER_POLL_MS).await;
                waited += FOLLOWER_POLL_MS;
            }
            if let Some(t) = self.usable_in_memory(key, io.runtime.now_secs(), avoid) {
                let origin = self.inner.borrow().finished.get(key).map_or(TokenOrigin::Memory, |(_, o)| *o);
                return Ok((t, origin));
            }
            if let Some((id, e)) = self.inner.borrow().failed.get(key) {
                if *id == leader {
                    return Err(e.clone());
                }
            }
            if waited >= io.max_wait_ms {
                break;
            }
        }

        let guard = self.claim(key);
        let result = self.lookup(key, avoid, io).await;
        self.settle(&guard, &result);
        result
    }

    /// Claims the single background refresh of `key`, if none (and no
    /// fetch) is running.
    pub fn try_begin_refresh(&self, key: &str) -> Option<RefreshTicket> {
        if self.inner.borrow().inflight.contains_key(key) {
            return None;
        }
        let guard = self.claim(key);
        let ticket = RefreshTicket { key: guard.key.clone(), id: guard.id };
        // The ticket now owns the entry; `refresh` releases it.
        std::mem::forget(guard);
        Some(ticket)
    }

    /// Replaces the token of `ticket`'s key before it is due to expire:
    /// adopts a fresher token another isolate put in KV, otherwise asks
    /// Entra. Meanwhile callers keep using the current token.
    ///
    /// # Errors
    /// When Entra could not be asked or refused; the current token stays.
    pub async fn refresh<S: TokenStore, F: TokenSource, R: Runtime>(
        &self,
        ticket: RefreshTicket,
        io: &Io<'_, S, F, R>,
    ) -> Result<TokenOrigin, TokenError> {
        let guard = InflightGuard { inner: Rc::clone(&self.inner), key: ticket.key, id: ticket.id };
        let key = guard.key.as_str();
        let current = self.inner.borrow().memory.get(key).map(|t| t.obtained_at).unwrap_or(0);
        let now = io.runtime.now_secs();
        if let Some(t) = self.read_kv(key, io).await {
            if t.obtained_at > current && !t.refresh_due(now) && t.is_usable(now) {
                self.inner.borrow_mut().memory.insert(key.to_owned(), t);
                return Ok(TokenOrigin::Kv);
            }
        }
        let result = self.fetch_from_entra(key, io).await.map(|t| (t, TokenOrigin::Entra));
        if let Ok((t, _)) = &result {
            self.write_kv(key, t, io).await;
        }
        self.settle(&guard, &result);
        result.map(|(_, origin)| origin)
    }

    /// Forgets `token` for `key` in this isolate and in the store, after the
    /// flow refused it.
    pub async fn invalidate<S: TokenStore>(&self, key: &str, token: &CachedToken, store: &S) {
        let drop_memory = self.inner.borrow().memory.get(key).is_some_and(|t| t.access_token == token.access_token);
        if drop_memory {
            self.inner.borrow_mut().memory.remove(key);
        }
        store.delete(key).await;
    }

    /// (obtained, expires) of the token held in memory for `key`, if any —
    /// for status pages; never the token.
    pub fn memory_times(&self, key: &str) -> Option<(u64, u64)> {
        self.inner.borrow().memory.get(key).map(|t| (t.obtained_at, t.expires_at))
    }

    fn claim(&self, key: &str) -> InflightGuard {
        let mut i = self.inner.borrow_mut();
        i.next_id += 1;
        let id = i.next_id;
        i.inflight.insert(key.to_owned(), id);
        InflightGuard { inner: Rc::clone(&self.inner), key: key.to_owned(), id }
    }

    fn settle(&self, guard: &InflightGuard, result: &Result<(CachedToken, TokenOrigin), TokenError>) {
        let mut i = self.inner.borrow_mut();
        match result {
            Ok((t, origin)) => {
                i.memory.insert(guard.key.clone(), t.clone());
                i.finished.insert(guard.key.clone(), (guard.id, *origin));
                i.failed.remove(&guard.key);
            }
            Err(e) => {
                i.failed.insert(guard.key.clone(), (guard.id, e.clone()));
            }
        }
    }

    fn usable_in_memory(&self, key: &str, now: u64, avoid: Option<&Secret>) -> Option<CachedToken> {
        let mut inner = self.inner.borrow_mut();
        let t = inner.memory.get(key)?;
        if t.is_usable(now) && avoid.is_none_or(|a| *a != t.access_token) {
            return Some(t.clone());
        }
        inner.memory.remove(key);
        None
    }

    async fn lookup<S: TokenStore, F: TokenSource, R: Runtime>(
        &self,
        key: &str,
        avoid: Option<&Secret>,
        io: &Io<'_, S, F, R>,
    ) -> Result<(CachedToken, TokenOrigin), TokenError> {
        if let Some(t) = self.read_kv(key, io).await {
            if t.is_usable(io.runtime.now_secs()) && avoid.is_none_or(|a| *a != t.access_token) {
                return Ok((t, TokenOrigin::Kv));
            }
        }
        let token = self.fetch_from_entra(key, io).await?;
        self.write_kv(key, &token, io).await;
        Ok((token, TokenOrigin::Entra))
    }

    async fn read_kv<S: TokenStore, F, R>(&self, key: &str, io: &Io<'_, S, F, R>) -> Option<CachedToken> {
        // A value that does not open (tampered, old key) is a miss.
        io.store.get(key).await.and_then(|v| io.seal.open(key, &v))
    }

    async fn write_kv<S: TokenStore, F, R: Runtime>(&self, key: &str, token: &CachedToken, io: &Io<'_, S, F, R>) {
        if let Some(ttl) = token.kv_ttl(io.runtime.now_secs()) {
            let mut nonce = [0u8; 12];
            io.runtime.fill_random(&mut nonce);
            io.store.put(key, io.seal.seal(key, token, nonce), ttl).await;
        }
    }

    /// One Entra fetch with the failure policy: holds, retries, back-off.
    async fn fetch_from_entra<S, F: TokenSource, R: Runtime>(
        &self,
        key: &str,
        io: &Io<'_, S, F, R>,
    ) -> Result<CachedToken, TokenError> {
        let now = io.runtime.now_secs();
        if let Some(h) = self.inner.borrow().held.get(key) {
            if now < h.until {
                return Err(TokenError::HeldBack { retry_after: h.until - now, cause: Box::new(h.cause.clone()) });
            }
        }
        let mut retries = 0;
        loop {
            match io.source.fetch().await {
                Ok(t) => {
                    self.inner.borrow_mut().held.remove(key);
                    return Ok(t);
                }
                Err(e) if e.is_transient() && retries < TRANSIENT_RETRIES => {
                    retries += 1;
                    // 200-450 ms, then 400-650 ms: spread isolates apart.
                    let mut r = [0u8; 1];
                    io.runtime.fill_random(&mut r);
                    io.runtime.sleep(200 * u64::from(retries) + u64::from(r[0])).await;
                }
                Err(e) => {
                    self.hold_after(key, &e, io.runtime.now_secs());
                    return Err(e);
                }
            }
        }
    }

    fn hold_after(&self, key: &str, e: &TokenError, now: u64) {
        let mut i = self.inner.borrow_mut();
        let strikes = i.held.get(key).map_or(0, |h| h.strikes);
        let hold = if matches!(e, TokenError::Entra { status: 429, .. }) {
            Some((e.retry_after().unwrap_or(DEFAULT_THROTTLE_SECS), strikes))
        } else if e.is_permanent() {
            let secs = (PERMANENT_HOLD_SECS << strikes.min(4)).min(MAX_PERMANENT_HOLD_SECS);
            Some((secs, strikes + 1))
        } else {
            None
        };
        if let Some((secs, strikes)) = hold {
            i.held.insert(key.to_owned(), Hold { until: now + secs, cause: e.clone(), strikes });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        cell::{Cell, RefCell},
        collections::{HashMap, VecDeque},
        rc::Rc,
    };

    use futures::{executor::block_on, future::join_all};

    use super::*;

    /// Returns `Pending` once, as real I/O would, so joined futures interleave.
    async fn yield_now() {
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
    }

    #[derive(Default)]
    struct TestRuntime {
        now: Cell<u64>,
        sleeps: Cell<u32>,
        slept_ms: Cell<u64>,
    }
    impl Runtime for TestRuntime {
        fn now_secs(&self) -> u64 {
            self.now.get()
        }
        async fn sleep(&self, ms: u64) {
            self.sleeps.set(self.sleeps.get() + 1);
            self.slept_ms.set(self.slept_ms.get() + ms);
            yield_now().await;
        }
        fn fill_random(&self, buf: &mut [u8]) {
            buf.fill(0x2a);
        }
    }

    #[derive(Default)]
    struct MemStore {
        map: RefCell<HashMap<String, (String, u64)>>,
        gets: Cell<u32>,
        deletes: Cell<u32>,
        stale: RefCell<Option<String>>, // a value returned even after delete (KV staleness)
    }
    impl TokenStore for MemStore {
        async fn get(&self, key: &str) -> Option<String> {
            self.gets.set(self.gets.get() + 1);
            yield_now().await;
            self.map.borrow().get(key).map(|(v, _)| v.clone()).or_else(|| self.stale.borrow().clone())
        }
        async fn put(&self, key: &str, value: String, ttl: u64) {
            assert!(ttl >= super::super::KV_MIN_TTL_SECS);
            self.map.borrow_mut().insert(key.to_owned(), (value, ttl));
        }
        async fn delete(&self, key: &str) {
            self.deletes.set(self.deletes.get() + 1);
            self.map.borrow_mut().remove(key);
        }
    }

    /// Entra: answers the queued failures first, then tokens `token-N`.
    struct Source {
        calls: Cell<u32>,
        lifetime: u64,
        failures: RefCell<VecDeque<TokenError>>,
        gate: Cell<bool>,
        rt: Rc<TestRuntime>,
    }
    impl TokenSource for Source {
        async fn fetch(&self) -> Result<CachedToken, TokenError> {
            self.calls.set(self.calls.get() + 1);
            // Yield (and wait for the gate) so that concurrent callers really overlap.
            yield_now().await;
            while !self.gate.get() {
                yield_now().await;
            }
            if let Some(e) = self.failures.borrow_mut().pop_front() {
                return Err(e);
            }
            let now = self.rt.now.get();
            Ok(CachedToken {
                access_token: Secret::new(format!("token-{}", self.calls.get())),
                obtained_at: now,
                expires_at: now + self.lifetime,
            })
        }
    }

    struct Fixture {
        rt: Rc<TestRuntime>,
        store: MemStore,
        source: Source,
        seal: KvSeal,
    }

    impl Fixture {
        fn new(lifetime: u64) -> Self {
            let rt = Rc::new(TestRuntime::default());
            let source = Source {
                calls: Cell::new(0),
                lifetime,
                failures: RefCell::new(VecDeque::new()),
                gate: Cell::new(true),
                rt: Rc::clone(&rt),
            };
            Self { rt, store: MemStore::default(), source, seal: KvSeal::from_key(&[9; 32]) }
        }
        fn io(&self) -> Io<'_, MemStore, Source, TestRuntime> {
            Io { store: &self.store, source: &self.source, runtime: &self.rt, seal: &self.seal, max_wait_ms: 1000 }
        }
        fn fail_next(&self, e: TokenError) {
            self.source.failures.borrow_mut().push_back(e);
        }
    }

    fn entra(status: u16, error: &str, aadsts: Option<u32>, retry_after: Option<u64>) -> TokenError {
        TokenError::Entra { status, error: error.into(), aadsts, trace_id: None, retry_after }
    }

    fn get(cache: &TokenCache, f: &Fixture) -> Result<(CachedToken, TokenOrigin), TokenError> {
        block_on(cache.get("k", None, &f.io()))
    }

    #[test]
    fn concurrent_callers_share_one_entra_request() {
        let f = Fixture::new(3600);
        let cache = TokenCache::new();
        let io = f.io();
        let results = block_on(join_all((0..50).map(|_| cache.get("k", None, &io))));
        assert_eq!(f.source.calls.get(), 1);
        assert!(results.iter().all(|r| r.as_ref().unwrap().0.access_token.expose() == "token-1"));
        assert!(
            results.iter().all(|r| r.as_ref().unwrap().1 == TokenOrigin::Entra),
            "waiters report the fetch's origin"
        );
        assert_eq!(f.store.map.borrow()["k"].1, 3300);
        // Then memory answers without touching KV.
        let gets = f.store.gets.get();
        assert_eq!(get(&cache, &f).unwrap().1, TokenOrigin::Memory);
        assert_eq!(f.store.gets.get(), gets);
    }

    #[test]
    fn the_kv_value_is_sealed_and_a_new_isolate_reads_it_before_entra() {
        let f = Fixture::new(3600);
        get(&TokenCache::new(), &f).unwrap();
        let stored = f.store.map.borrow()["k"].0.clone();
        assert!(!stored.contains("token-1"), "KV holds ciphertext, not the token");
        f.rt.now.set(100);
        let (t, origin) = get(&TokenCache::new(), &f).unwrap();
        assert_eq!(origin, TokenOrigin::Kv);
        assert_eq!(t.access_token.expose(), "token-1");
        assert_eq!(f.source.calls.get(), 1);
    }

    #[test]
    fn a_tampered_kv_value_is_ignored_and_replaced() {
        let f = Fixture::new(3600);
        get(&TokenCache::new(), &f).unwrap();
        let mut value = f.store.map.borrow()["k"].0.clone();
        let last = value.pop().unwrap();
        value.push(if last == 'A' { 'B' } else { 'A' });
        f.store.map.borrow_mut().insert("k".into(), (value, 60));
        let (t, origin) = get(&TokenCache::new(), &f).unwrap();
        assert_eq!(origin, TokenOrigin::Entra);
        assert_eq!(t.access_token.expose(), "token-2");
        assert!(f.seal.open("k", &f.store.map.borrow()["k"].0).is_some(), "replaced by a valid value");
    }

    #[test]
    fn an_expiring_token_is_replaced() {
        let f = Fixture::new(8);
        let cache = TokenCache::new();
        get(&cache, &f).unwrap();
        f.rt.now.set(7);
        let (t, origin) = get(&cache, &f).unwrap();
        assert_eq!(origin, TokenOrigin::Entra);
        assert_eq!(t.access_token.expose(), "token-2");
    }

    #[test]
    fn a_refused_token_is_never_served_again_even_from_stale_kv() {
        let f = Fixture::new(3600);
        let cache = TokenCache::new();
        let (first, _) = get(&cache, &f).unwrap();
        *f.store.stale.borrow_mut() = Some(f.store.map.borrow()["k"].0.clone());
        block_on(cache.invalidate("k", &first, &f.store));
        assert_eq!(f.store.deletes.get(), 1);
        let (second, origin) = block_on(cache.get("k", Some(&first.access_token), &f.io())).unwrap();
        assert_eq!(origin, TokenOrigin::Entra);
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(f.source.calls.get(), 2);
    }

    #[test]
    fn a_cancelled_fetch_does_not_leave_waiters_stuck() {
        let f = Fixture::new(3600);
        let cache = TokenCache::new();
        f.source.gate.set(false);
        // Start a fetch and drop it mid-way, as workerd does with a cancelled request.
        {
            let io = f.io();
            let mut fut = Box::pin(cache.get("k", None, &io));
            let waker = futures::task::noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        }
        f.source.gate.set(true);
        let (_, origin) = get(&cache, &f).unwrap();
        assert_eq!(origin, TokenOrigin::Entra);
        assert_eq!(f.rt.sleeps.get(), 0, "the next caller fetched at once instead of waiting on a dead fetch");
    }

    #[test]
    fn transient_failures_are_retried_with_jittered_pauses() {
        let f = Fixture::new(3600);
        f.fail_next(TokenError::Transport("timed out".into()));
        f.fail_next(entra(503, "server_error", None, None));
        let (t, _) = get(&TokenCache::new(), &f).unwrap();
        assert_eq!(t.access_token.expose(), "token-3");
        assert_eq!(f.rt.sleeps.get(), 2);
        assert_eq!(f.rt.slept_ms.get(), (200 + 42) + (400 + 42));
        // Three transient failures in a row: the third is returned, nothing held.
        let f = Fixture::new(3600);
        for _ in 0..3 {
            f.fail_next(TokenError::Transport("down".into()));
        }
        let cache = TokenCache::new();
        assert!(matches!(get(&cache, &f), Err(TokenError::Transport(_))));
        assert_eq!(f.source.calls.get(), 3);
        assert!(get(&cache, &f).is_ok(), "no hold after transient failures");
    }

    #[test]
    fn a_429_holds_requests_for_retry_after() {
        let f = Fixture::new(3600);
        f.fail_next(entra(429, "throttled", None, Some(60)));
        let cache = TokenCache::new();
        assert!(matches!(get(&cache, &f), Err(TokenError::Entra { status: 429, .. })));
        f.rt.now.set(59);
        let err = get(&cache, &f).unwrap_err();
        assert!(matches!(err, TokenError::HeldBack { retry_after: 1, .. }), "{err:?}");
        assert_eq!(err.code(), "throttled");
        assert_eq!(f.source.calls.get(), 1, "Entra was not asked during the hold");
        f.rt.now.set(60);
        assert!(get(&cache, &f).is_ok());
        assert_eq!(f.source.calls.get(), 2);
    }

    #[test]
    fn permanent_errors_back_off_30_then_60_seconds_without_asking_entra() {
        let f = Fixture::new(3600);
        let wrong_secret = entra(401, "invalid_client", Some(7_000_215), None);
        f.fail_next(wrong_secret.clone());
        f.fail_next(wrong_secret.clone());
        let cache = TokenCache::new();
        assert_eq!(get(&cache, &f).unwrap_err(), wrong_secret);
        for now in [1, 29] {
            f.rt.now.set(now);
            let err = get(&cache, &f).unwrap_err();
            assert_eq!(err.code(), "AADSTS7000215");
            assert!(err.hint().contains("Secret ID"));
        }
        assert_eq!(f.source.calls.get(), 1);
        f.rt.now.set(30);
        assert_eq!(get(&cache, &f).unwrap_err(), wrong_secret, "asked again after 30 s");
        f.rt.now.set(89);
        assert!(matches!(get(&cache, &f), Err(TokenError::HeldBack { retry_after: 1, .. })), "then 60 s");
        f.rt.now.set(90);
        assert!(get(&cache, &f).is_ok(), "fixed configuration recovers");
        assert_eq!(f.source.calls.get(), 3);
    }

    #[test]
    fn errors_are_shared_by_waiters() {
        let f = Fixture::new(3600);
        f.fail_next(entra(400, "invalid_client", Some(700_016), None));
        f.source.gate.set(false);
        let cache = TokenCache::new();
        let io = f.io();
        let (results, ()) = block_on(async {
            futures::join!(join_all((0..5).map(|_| cache.get("k", None, &io))), async {
                for _ in 0..3 {
                    yield_now().await;
                }
                f.source.gate.set(true);
            })
        });
        assert!(results.iter().all(|r| r.as_ref().unwrap_err().code() == "AADSTS700016"));
        assert_eq!(f.source.calls.get(), 1);
    }

    #[test]
    fn background_refresh_runs_once_and_replaces_the_token() {
        let f = Fixture::new(3600);
        let cache = TokenCache::new();
        let (first, _) = get(&cache, &f).unwrap();
        f.rt.now.set(1800);
        assert!(first.refresh_due(1800));
        let ticket = cache.try_begin_refresh("k").expect("first claim");
        assert!(cache.try_begin_refresh("k").is_none(), "one refresh in flight");
        // Meanwhile callers keep the current token, without waiting.
        assert_eq!(get(&cache, &f).unwrap().0.access_token.expose(), "token-1");
        assert_eq!(block_on(cache.refresh(ticket, &f.io())).unwrap(), TokenOrigin::Entra);
        let (t, origin) = get(&cache, &f).unwrap();
        assert_eq!((t.access_token.expose(), origin), ("token-2", TokenOrigin::Memory));
        assert_eq!(f.rt.sleeps.get(), 0, "nobody waited");
        assert!(f.seal.open("k", &f.store.map.borrow()["k"].0).unwrap().access_token.expose() == "token-2");
        assert!(cache.try_begin_refresh("k").is_some(), "released");
    }

    #[test]
    fn background_refresh_adopts_a_fresher_token_from_kv() {
        let f = Fixture::new(3600);
        let cache = TokenCache::new();
        get(&cache, &f).unwrap();
        // Another isolate refreshed at t=1700 and stored its token.
        f.rt.now.set(1700);
        let newer =
            CachedToken { access_token: Secret::new("from-another-isolate"), obtained_at: 1700, expires_at: 5300 };
        f.store.map.borrow_mut().insert("k".into(), (f.seal.seal("k", &newer, [1; 12]), 3000));
        f.rt.now.set(1800);
        let ticket = cache.try_begin_refresh("k").unwrap();
        assert_eq!(block_on(cache.refresh(ticket, &f.io())).unwrap(), TokenOrigin::Kv);
        assert_eq!(f.source.calls.get(), 1, "Entra not asked");
        assert_eq!(get(&cache, &f).unwrap().0.access_token.expose(), "from-another-isolate");
    }

    #[test]
    fn a_failed_background_refresh_keeps_the_current_token() {
        let f = Fixture::new(3600);
        let cache = TokenCache::new();
        get(&cache, &f).unwrap();
        f.rt.now.set(1800);
        f.fail_next(entra(400, "invalid_client", Some(7_000_222), None));
        let ticket = cache.try_begin_refresh("k").unwrap();
        assert!(block_on(cache.refresh(ticket, &f.io())).is_err());
        assert_eq!(get(&cache, &f).unwrap().0.access_token.expose(), "token-1");
    }
}
