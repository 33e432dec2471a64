//! [`ClusterSender`]: one worker's sender to one worker of the cluster,
//! local (an in-process ring) or remote (zenoh frames under credit).

use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;
use std::time::Instant;

use ::zenoh::pubsub::Publisher;
use ::zenoh::qos::CongestionControl;
use ::zenoh::Wait;
use serde::Serialize;

use super::error::Fault;
use super::frame;
use super::shared::{PairOut, Shared};
use crate::exchange::{SendError, Sender, TrySendError};
use crate::sync::{Arc, Ordering};

/// How long dropping a sender that never sent waits for its receiving
/// process to subscribe (so that its END arrives).
const DROP_READY_BOUND: Duration = Duration::from_secs(10);

/// The most records one frame carries.
const MAX_FRAME_RECORDS: u64 = 4096;

/// A sender from one worker of a cluster to one worker (sender `i` of
/// [`ClusterWorker::allocate`](super::ClusterWorker::allocate) goes to
/// worker `i`). The methods are those of the in-process
/// [`Sender`](crate::exchange::Sender), with the same meaning: FIFO,
/// bounded (a remote pair holds at most `capacity` records the receiving
/// process has not taken yet), and dropping it (or [`done`](Self::done))
/// ends the pair: the receiver disconnects after everything sent before.
///
/// # Examples
///
/// ```
/// # use evlatch_std::zenoh::{self as ez, engine::Wait};
/// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
/// // Two processes of one worker each, here two zenoh peers in one process
/// // over loopback: each worker's sender to the other is remote.
/// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
/// let endpoint = format!("tcp/127.0.0.1:{port}");
/// let a = ez::engine::open(ez::peer_config(&[&endpoint], &[])?).wait()?;
/// let b = ez::engine::open(ez::peer_config(&[], &[&endpoint])?).wait()?;
/// let work = |mut worker: ez::exchange::ClusterWorker| {
///     let (mut senders, mut receiver) = worker.allocate_bounded::<u32>(0, 16).unwrap();
///     let peer = 1 - worker.index();
///     let mut to_peer = senders.swap_remove(peer);
///     drop(senders); // the pair to itself ends at once
///     assert!(to_peer.is_remote());
///     assert_eq!((to_peer.target(), to_peer.capacity()), (peer, 16));
///     to_peer.send(1).unwrap();
///     to_peer.send_batch(&mut vec![2, 3]).unwrap(); // one frame
///     to_peer.done(); // END after the records
///     let mut got = Vec::new();
///     while let Ok(record) = receiver.recv() {
///         got.push(record);
///     }
///     got
/// };
/// let on_a = initialize(&a, ClusterConfig::new("doc", 0, 2, 1)?, work)?;
/// let on_b = initialize(&b, ClusterConfig::new("doc", 1, 2, 1)?, work)?;
/// assert_eq!(on_a.join(), [Ok(vec![1, 2, 3])]);
/// assert_eq!(on_b.join(), [Ok(vec![1, 2, 3])]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub struct ClusterSender<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    Local(Sender<T>),
    Remote(Remote<T>),
}

struct Remote<T> {
    shared: Arc<Shared>,
    out: Arc<PairOut>,
    publisher: Option<Publisher<'static>>,
    id: usize,
    from: usize,
    to: usize,
    capacity: usize,
    /// The HELLO, until it went (once the receiving process subscribes).
    hello: Option<Vec<u8>>,
    /// The next frame's sequence number (the HELLO is 0).
    seq: u64,
    /// Records sent.
    sent: u64,
    _records: PhantomData<fn(T)>,
}

impl<T> ClusterSender<T> {
    pub(crate) fn local(sender: Sender<T>) -> Self {
        Self {
            inner: Inner::Local(sender),
        }
    }

    /// The worker this sender sends to.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 2)?, |mut w| {
    ///     let (senders, _receiver) = w.allocate::<u8>(0).unwrap();
    ///     senders.iter().map(|s| s.target()).collect::<Vec<_>>()
    /// })?;
    /// assert_eq!(guards.join(), [Ok(vec![0, 1]), Ok(vec![0, 1])]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn target(&self) -> usize {
        match &self.inner {
            Inner::Local(s) => s.target(),
            Inner::Remote(r) => r.to,
        }
    }

    /// The records this pair holds in flight at most.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (senders, _receiver) = w.allocate_bounded::<u8>(0, 32).unwrap();
    ///     senders[0].capacity()
    /// })?;
    /// assert_eq!(guards.join(), [Ok(32)]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        match &self.inner {
            Inner::Local(s) => s.capacity(),
            Inner::Remote(r) => r.capacity,
        }
    }

    /// Whether this sender's worker is in another process.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// // In a one-process cluster every pair is local.
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 2)?, |mut w| {
    ///     let (senders, _receiver) = w.allocate::<u8>(0).unwrap();
    ///     senders.iter().any(|s| s.is_remote())
    /// })?;
    /// assert_eq!(guards.join(), [Ok(false), Ok(false)]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn is_remote(&self) -> bool {
        matches!(self.inner, Inner::Remote(_))
    }

    /// Closes this pair now, the same as dropping the sender.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (mut senders, mut receiver) = w.allocate::<u8>(0).unwrap();
    ///     let mut sender = senders.pop().unwrap();
    ///     sender.send(7).unwrap();
    ///     sender.done();
    ///     // The record, then disconnected: the only sender is done.
    ///     (receiver.recv().ok(), receiver.recv().is_err())
    /// })?;
    /// assert_eq!(guards.join(), [Ok((Some(7), true))]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn done(self) {}
}

impl<T: Serialize> ClusterSender<T> {
    /// A remote pair: sends its HELLO at once.
    pub(crate) fn remote(
        shared: Arc<Shared>,
        id: usize,
        from: usize,
        to: usize,
        capacity: usize,
    ) -> Self {
        let name = core::any::type_name::<T>();
        let out = Arc::new(PairOut::new(
            capacity,
            format!("{name} with capacity {capacity}"),
        ));
        shared.register_out(id, from, to, &out);
        let key = shared.keys.data(shared.config.process_of(to), id, from, to);
        let publisher = match shared
            .session
            .declare_publisher(key)
            .congestion_control(CongestionControl::Block)
            .wait()
        {
            Ok(p) => Some(p),
            Err(e) => {
                shared.fault(Fault::Zenoh {
                    message: e.to_string(),
                });
                out.close();
                None
            }
        };
        let hello = frame::Hello {
            seq: 0,
            type_hash: frame::type_hash(name, core::mem::size_of::<T>()),
            capacity: capacity as u64,
            type_name: name.to_owned(),
        };
        let mut buf = Vec::new();
        let hello = frame::encode(&mut buf, frame::HELLO, &hello)
            .ok()
            .map(|()| buf);
        Self {
            inner: Inner::Remote(Remote {
                shared,
                out,
                publisher,
                id,
                from,
                to,
                capacity,
                hello,
                seq: 1,
                sent: 0,
                _records: PhantomData,
            }),
        }
    }

    /// Sends `value` if the pair has room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] without room (a remote pair: no credit),
    /// [`TrySendError::Disconnected`] when the receiver is gone (its
    /// worker dropped the receiver or departed, its process went away, the
    /// channel's allocations did not match, or the record did not encode —
    /// see the faults).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// use evlatch_std::exchange::TrySendError;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (mut senders, _receiver) = w.allocate_bounded::<u8>(0, 1).unwrap();
    ///     assert_eq!(senders[0].try_send(1), Ok(()));
    ///     assert_eq!(senders[0].try_send(2), Err(TrySendError::Full(2)));
    /// })?;
    /// assert!(guards.join().iter().all(Result::is_ok));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn try_send(&mut self, value: T) -> Result<(), TrySendError<T>> {
        match &mut self.inner {
            Inner::Local(s) => s.try_send(value),
            Inner::Remote(r) => {
                if !r.ready(Some(Instant::now())) {
                    return Err(if r.out.is_closed() {
                        TrySendError::Disconnected(value)
                    } else {
                        TrySendError::Full(value)
                    });
                }
                match r.out.available(r.sent, false) {
                    None => Err(TrySendError::Disconnected(value)),
                    Some(0) => Err(TrySendError::Full(value)),
                    Some(_) => r
                        .send_frame(core::slice::from_ref(&value))
                        .map_err(|()| TrySendError::Disconnected(value)),
                }
            }
        }
    }

    /// Sends `value`, waiting while the pair is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the receiver is gone (as for
    /// [`try_send`](Self::try_send)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (mut senders, mut receiver) = w.allocate::<String>(0).unwrap();
    ///     senders[0].send("hello".to_owned()).unwrap();
    ///     receiver.recv().unwrap()
    /// })?;
    /// assert_eq!(guards.join(), [Ok("hello".to_owned())]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        match &mut self.inner {
            Inner::Local(s) => s.send(value),
            Inner::Remote(r) => {
                if !r.ready(None) {
                    return Err(SendError(value));
                }
                match r.out.available(r.sent, true) {
                    None => Err(SendError(value)),
                    Some(_) => r
                        .send_frame(core::slice::from_ref(&value))
                        .map_err(|()| SendError(value)),
                }
            }
        }
    }

    /// Sends as many of `batch` as fit now, from the front, in order (a
    /// remote pair: in one frame); returns how many.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the receiver is gone; nothing is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (mut senders, _receiver) = w.allocate_bounded::<u8>(0, 2).unwrap();
    ///     let mut batch = vec![1, 2, 3];
    ///     // Room for two: the third stays in the batch.
    ///     let sent = senders[0].try_send_batch(&mut batch).unwrap();
    ///     (sent, batch)
    /// })?;
    /// assert_eq!(guards.join(), [Ok((2, vec![3]))]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn try_send_batch(&mut self, batch: &mut Vec<T>) -> Result<usize, SendError<()>> {
        match &mut self.inner {
            Inner::Local(s) => s.try_send_batch(batch),
            Inner::Remote(r) => {
                if !r.ready(Some(Instant::now())) {
                    return if r.out.is_closed() {
                        Err(SendError(()))
                    } else {
                        Ok(0)
                    };
                }
                let room = r.out.available(r.sent, false).ok_or(SendError(()))?;
                r.send_some(batch, room)
            }
        }
    }

    /// Sends all of `batch` in order, waiting while the pair is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the receiver is gone; what was not sent stays
    /// in `batch`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (mut senders, mut receiver) = w.allocate::<u8>(0).unwrap();
    ///     let mut batch = vec![1, 2, 3];
    ///     senders[0].send_batch(&mut batch).unwrap();
    ///     assert!(batch.is_empty());
    ///     drop(senders);
    ///     let mut got = Vec::new();
    ///     while let Ok(record) = receiver.recv() {
    ///         got.push(record);
    ///     }
    ///     got
    /// })?;
    /// assert_eq!(guards.join(), [Ok(vec![1, 2, 3])]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn send_batch(&mut self, batch: &mut Vec<T>) -> Result<(), SendError<()>> {
        match &mut self.inner {
            Inner::Local(s) => s.send_batch(batch),
            Inner::Remote(r) => {
                if !batch.is_empty() && !r.ready(None) {
                    return Err(SendError(()));
                }
                while !batch.is_empty() {
                    let room = r.out.available(r.sent, true).ok_or(SendError(()))?;
                    r.send_some(batch, room)?;
                }
                Ok(())
            }
        }
    }
}

impl<T: Serialize> Remote<T> {
    fn send_some(&mut self, batch: &mut Vec<T>, room: u64) -> Result<usize, SendError<()>> {
        let k = room.min(MAX_FRAME_RECORDS).min(batch.len() as u64) as usize;
        if k == 0 {
            return Ok(0);
        }
        self.send_frame(&batch[..k]).map_err(|()| SendError(()))?;
        batch.drain(..k);
        Ok(k)
    }

    /// One DATA frame of `records`; `Err` if it could not go (the pair is
    /// closed from then on).
    fn send_frame(&mut self, records: &[T]) -> Result<(), ()> {
        let mut buf = Vec::with_capacity(16 + records.len() * 8);
        let head = frame::DataHead {
            seq: self.seq,
            count: records.len() as u32,
        };
        let encoded = frame::encode(&mut buf, frame::DATA, &head)
            .and_then(|()| records.iter().try_for_each(|r| frame::append(&mut buf, r)));
        if let Err(message) = encoded {
            self.shared.fault(Fault::Encode {
                id: self.id,
                message,
            });
            return Err(());
        }
        if !self.put(buf) {
            return Err(());
        }
        self.seq += 1;
        self.sent += records.len() as u64;
        let c = &self.shared.counters;
        c.sent.fetch_add(records.len() as u64, Ordering::Relaxed);
        c.frames_sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl<T> Remote<T> {
    /// Whether the receiving process's subscriber is reachable (then the
    /// HELLO has gone), waiting for it until `deadline` (`None`: as long
    /// as the pair is open). zenoh drops a put that no subscriber matches,
    /// so nothing goes before.
    fn ready(&mut self, deadline: Option<Instant>) -> bool {
        let Some(hello) = &self.hello else {
            return !self.out.is_closed();
        };
        let Some(publisher) = &self.publisher else {
            return false;
        };
        let mut nap = Duration::from_micros(100);
        loop {
            if self.out.is_closed() {
                return false;
            }
            if publisher
                .matching_status()
                .wait()
                .is_ok_and(|s| s.matching())
            {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
        let hello = hello.clone();
        self.hello = None;
        self.put(hello)
    }

    fn put(&mut self, payload: Vec<u8>) -> bool {
        let ok = match &self.publisher {
            Some(p) => match p.put(payload).wait() {
                Ok(()) => true,
                Err(e) => {
                    self.shared.fault(Fault::Zenoh {
                        message: e.to_string(),
                    });
                    false
                }
            },
            None => false,
        };
        if !ok {
            self.out.close();
        }
        ok
    }
}

impl<T> Drop for Remote<T> {
    fn drop(&mut self) {
        // A pair that never sent waits a bounded time for its receiving
        // process, so that its END reaches it (still registered, so that a
        // lost process or a REJECT ends the wait).
        let bound = Instant::now() + DROP_READY_BOUND;
        if self.ready(Some(bound)) {
            let mut buf = Vec::new();
            if frame::encode(&mut buf, frame::END, &frame::End { seq: self.seq }).is_ok() {
                self.put(buf);
            }
        }
        self.shared.unregister_out(self.id, self.from, self.to);
        if let Some(p) = self.publisher.take() {
            let _ = p.undeclare().wait();
        }
    }
}

impl<T> fmt::Debug for ClusterSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterSender")
            .field("target", &self.target())
            .field("remote", &self.is_remote())
            .finish_non_exhaustive()
    }
}
