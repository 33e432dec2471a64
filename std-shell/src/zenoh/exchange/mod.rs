//! The worker [exchange](crate::exchange) across processes, over zenoh:
//! a cluster of `processes × workers_per_process` workers, each process
//! starting its own with [`initialize`].
//!
//! A worker's code is the in-process exchange's: [`ClusterWorker`] has
//! `index`, `peers`, `allocate`, `allocate_bounded`, `events`, `wait` and
//! `wait_async`, with global indices (worker `i` of process `p` is
//! `p * workers_per_process + i`); a channel gives one [`ClusterSender`]
//! per worker of the cluster (the methods of
//! [`Sender`](crate::exchange::Sender)) and the in-process
//! [`Receiver`](crate::exchange::Receiver) itself. The difference: records
//! cross processes, so they must be serde's `Serialize + DeserializeOwned`
//! (timely asks for `Exchangeable` for the same reason).
//!
//! ```
//! use std::time::Duration;
//! use evlatch_std::zenoh::{self as ez, engine::Wait};
//! use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
//!
//! // Two processes of one worker each, here two zenoh peers in one
//! // process over loopback (in real use: one `initialize` per process).
//! let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
//! let endpoint = format!("tcp/127.0.0.1:{port}");
//! let a = ez::engine::open(ez::peer_config(&[&endpoint], &[])?).wait()?;
//! let b = ez::engine::open(ez::peer_config(&[], &[&endpoint])?).wait()?;
//!
//! let work = |mut worker: ez::exchange::ClusterWorker| {
//!     let (mut senders, mut receiver) = worker.allocate::<(usize, u32)>(0).unwrap();
//!     let me = worker.index();
//!     for sender in &mut senders {
//!         sender.send((me, 7)).unwrap();
//!     }
//!     drop(senders); // done: every receiver disconnects after our records
//!     let mut got = Vec::new();
//!     while let Ok(record) = receiver.recv() {
//!         got.push(record);
//!     }
//!     got.sort();
//!     got
//! };
//! let on_a = initialize(&a, ClusterConfig::new("doc", 0, 2, 1)?, work)?;
//! let on_b = initialize(&b, ClusterConfig::new("doc", 1, 2, 1)?, work)?;
//! assert_eq!(on_a.join(), [Ok(vec![(0, 7), (1, 7)])]);
//! assert_eq!(on_b.join(), [Ok(vec![(0, 7), (1, 7)])]);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! # Guarantees
//!
//! - **FIFO per pair.** Local pairs are the in-process rings. A remote
//!   pair's frames go on one zenoh key from one publisher, reliable, with
//!   `Block` congestion control (zenoh keeps them in order on a link), and
//!   carry sequence numbers that the receiving process checks: a gap or a
//!   repeat is a [`Fault::OutOfOrder`] and disconnects the pair, never a
//!   silent loss.
//! - **Bounded.** A remote pair runs on credit: its sender may have at
//!   most `capacity` records that the receiving process has not moved into
//!   the receiver's ring, and blocks (`send`, `send_batch`) or reports
//!   `Full` (`try_send`) without credit; the receiving process returns
//!   credit as it moves records. So a remote pair holds at most
//!   `2 × capacity` records (the ring and the credit), and nothing is
//!   dropped or buffered without bound. The first `capacity` records need
//!   no round trip.
//! - **Termination.** Dropping a sender (or [`ClusterSender::done`]) sends
//!   an END after its records; the receiver disconnects once every
//!   sender's pair ended, local or remote. A worker that departs (returns,
//!   panics) tells the other processes which ids it had allocated, so a
//!   pair of an id it never allocated ends as well, as in one process.
//! - **Mistakes and faults are reported, never a hang.** A remote pair
//!   checks the record type (name and size) and capacity with its first
//!   frame; a mismatch is a [`Fault::Mismatch`] on both sides and
//!   disconnects the pair. A payload that does not decode is counted
//!   ([`ExchangeStats::malformed`]) and reported ([`Fault::Malformed`]),
//!   never a panic.
//! - **A process that dies** loses its zenoh liveliness token: its
//!   workers' pairs to this process end (after
//!   [`ClusterConfig::lost_grace`], so that frames it sent just before are
//!   still taken), so receivers disconnect instead of hanging, and sends to
//!   its workers fail; a [`Fault::PeerLost`] says so if pairs were still
//!   open.
//! - **Waiting.** A receiver wakes on remote records through the same
//!   doorbell as on local ones: [`ClusterWorker::wait`] reports both.
//!
//! # How it works
//!
//! Each process has one registry of the in-process exchange with a seat
//! for every worker of the cluster. Its own workers run in their seats;
//! the seats of remote workers are held by one *pump* thread, whose
//! senders to the local workers carry the remote records into the same
//! rings. A local worker's sender to a remote worker encodes records with
//! postcard, one frame per `send` or per `send_batch` chunk, and puts them
//! on the key `evlatch-x/<job>/<process>/d/<id>/<from>/<to>`; the receiving
//! process's zenoh callback queues the frame for its pump, which checks
//! and decodes it, moves the records into the ring as room allows and
//! returns credit on `…/c/<id>/<from>/<to>`. The layout of every frame is
//! written down, versioned, in the source (`std-shell/src/zenoh/exchange/frame.rs`).
//!
//! # Limits
//!
//! - A process that never comes up is not detected: sends to its workers
//!   block once their credit is spent, and receivers wait for its pairs.
//!   Bound your waits (`recv_timeout`, `wait(Some(..))`) if that matters.
//! - The type check compares [`core::any::type_name`] and size; it is not
//!   a schema check (two builds with different compilers may name a type
//!   differently).
//! - There is no `broadcast` yet; send to every sender instead.
//! - A remote `try_send` / `send` puts one frame per record: batch with
//!   `send_batch` for throughput.

mod cluster;
mod config;
mod error;
mod frame;
mod pump;
mod sender;
mod shared;
mod stats;

pub use cluster::{initialize, ClusterGuards, ClusterWorker};
pub use config::ClusterConfig;
pub use error::{ClusterError, Fault};
pub use sender::ClusterSender;
pub use stats::ExchangeStats;
