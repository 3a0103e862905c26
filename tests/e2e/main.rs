//! End-to-end tests: real signed requests through the real Worker under
//! `wrangler dev` (workerd, local KV), forwarded to the emulator's flow, and
//! asserted on what the emulator received. Run by `make test` (which builds
//! the Worker first); not part of a bare `cargo test`.

mod alerts;
mod attacks;
mod attacks_bounded;
mod clients;
mod console;
mod credentials;
mod delivery;
mod fetched_keys;
mod flow_answers;
mod handshake_senders;
mod inbound;
mod pacing;
mod paypal;
mod routing;
mod sender_sdks;
mod senders;
mod sns;
mod tokens;

use std::sync::OnceLock;

use flowgate_e2e::{standard_setup, start_emulator, Emulator, EmulatorConfig, WorkerProcess};

/// One emulator and one Worker shared by the tests that only look at their
/// own deliveries (they never assert on global counters).
pub struct Shared {
    pub emulator: Emulator,
    pub worker: WorkerProcess,
    _runtime: tokio::runtime::Runtime,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The shared stack, started on first use on a runtime of its own (each
/// `#[tokio::test]` has a runtime that ends with the test).
pub fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
            let (emulator, worker) = runtime.block_on(async {
                let emulator = start_emulator(EmulatorConfig::demo()).await.expect("emulator starts");
                let worker = WorkerProcess::start(&standard_setup(&emulator)).await.expect("worker starts");
                (emulator, worker)
            });
            Shared { emulator, worker, _runtime: runtime }
        })
        .join()
        .expect("shared stack starts")
    })
}
