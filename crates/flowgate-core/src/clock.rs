//! Time as an injected dependency: `std::time::SystemTime::now` does not work
//! on `wasm32-unknown-unknown`, so the Worker passes `Date.now()` in and tests
//! pass a fixed instant.

/// A source of wall-clock time.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// Whole seconds since the Unix epoch.
    fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }
}

/// A clock that always answers the same instant (tests, vectors).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub u64);

impl FixedClock {
    /// A clock fixed at `secs` seconds after the epoch.
    pub fn at_secs(secs: u64) -> Self {
        Self(secs * 1000)
    }
}

impl Clock for FixedClock {
    fn now_millis(&self) -> u64 {
        self.0
    }
}
