//! # evlatch-std
//!
//! The std shell of [`evlatch`]: it is where blocking waits, async wakers,
//! channels, the topic event service and worker exchange live. This first
//! release re-exports the core; the waits arrive with the std-shell work.
//!
//! # Examples
//!
//! ```
//! let event = evlatch_std::Event::new();
//! event.set_finished().unwrap();
//! assert!(event.is_finished());
//! ```

pub use evlatch::{Event, EventError, EventStatus};
