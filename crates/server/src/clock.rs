//! [`Clock`]: where the server reads the time. The wall clock in production; a manual clock in
//! tests, so a scripted scenario has exact waits and exact statistics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard_routing::Timestamp;

/// The time source every handler, the timer loop and the statistics read. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: milliseconds since the Unix epoch, set by the test.
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands still at `start` until [`Clock::set`] or [`Clock::advance`] moves it.
    pub fn manual(start: Timestamp) -> Clock {
        Clock { manual: Some(Arc::new(AtomicU64::new(start.as_millis()))) }
    }

    /// The time now.
    pub fn now(&self) -> Timestamp {
        match &self.manual {
            Some(ms) => Timestamp::from_millis(ms.load(Ordering::Acquire)),
            None => {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                Timestamp::from_millis(ms)
            }
        }
    }

    /// Moves a manual clock to `at` (never backwards); does nothing to the system clock.
    pub fn set(&self, at: Timestamp) {
        if let Some(ms) = &self.manual {
            ms.fetch_max(at.as_millis(), Ordering::AcqRel);
        }
    }

    /// Moves a manual clock forward by `by`; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.manual {
            ms.fetch_add(by.as_millis() as u64, Ordering::AcqRel);
        }
    }
}
