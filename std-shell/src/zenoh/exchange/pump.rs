//! The pump: the thread that takes remote frames into local rings.
//!
//! Every remote worker has a seat in this process's registry, held by the
//! pump: its senders to the local workers are the ends of the in-process
//! rings that carry its records, so a local receiver reads remote records
//! from the same rings and wakes on the same doorbell as local ones. The
//! zenoh callback only queues a frame and unparks the pump; the pump
//! checks its sequence number, decodes it, moves its records into the ring
//! as room allows (never blocking on one ring: a full one is retried after
//! a short park, from 50 µs up to 1 ms), and returns a CREDIT for what it
//! moved. The credit is what bounds a remote pair: a sender may have at
//! most `capacity` records sent and not yet moved, so a pair holds at most
//! `capacity` in the ring plus `capacity` on the way or waiting here.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ::zenoh::pubsub::Publisher;
use ::zenoh::qos::CongestionControl;
use ::zenoh::Wait;
use serde::de::DeserializeOwned;

use super::error::Fault;
use super::frame;
use super::shared::Shared;
use crate::exchange::{Sender, Worker};
use crate::sync::{lock, Arc, Ordering};

/// A frame from the data subscriber.
pub(crate) struct Inbound {
    pub(crate) id: usize,
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) key: String,
    pub(crate) payload: Vec<u8>,
}

/// What the workers and callbacks tell the pump.
pub(crate) enum Control {
    /// A local worker allocated channel `id`: the first one to do so hands
    /// over the typed port (built on the pump thread).
    Allocate {
        id: usize,
        type_hash: u64,
        type_name: &'static str,
        capacity: usize,
        make: MakePort,
    },
    /// A local worker departed, having allocated `ids`.
    LocalDeparted { worker: usize, ids: HashSet<usize> },
    /// A remote worker departed, having allocated `ids`.
    RemoteDeparted { worker: usize, ids: HashSet<usize> },
    /// A remote process's liveliness token was lost; take its frames
    /// until `at`.
    Lost {
        process: usize,
        at: Instant,
        reported: bool,
    },
}

/// The typed half of one channel, on the pump thread.
pub(crate) trait Port {
    /// Decodes `count` records into the pair's buffer.
    fn decode(&mut self, from: usize, to: usize, bytes: &[u8], count: u32) -> Result<(), String>;
    /// Moves what fits of the pair's buffer into its ring: `Some(moved)`,
    /// or `None` when the receiver is gone (the buffer is dropped).
    fn flush(&mut self, from: usize, to: usize) -> Option<usize>;
    /// Records in the pair's buffer.
    fn buffered(&self, from: usize, to: usize) -> usize;
    /// Drops the pair's sender (and buffer): its receiver counts it gone.
    fn close(&mut self, from: usize, to: usize);
}

struct TypedPort<T> {
    senders: HashMap<(usize, usize), Sender<T>>,
    buffers: HashMap<(usize, usize), Vec<T>>,
}

/// Builds the port of channel `id` carrying `T` with `capacity`: claims the
/// endpoints of every remote seat and keeps its senders to local workers.
pub(crate) fn make_port<T: DeserializeOwned + Send + 'static>(
    seats: &mut [Option<Worker>],
    id: usize,
    capacity: usize,
    local: core::ops::Range<usize>,
) -> Result<Box<dyn Port>, crate::exchange::Error> {
    let mut senders = HashMap::new();
    for (from, seat) in seats.iter_mut().enumerate() {
        let Some(worker) = seat else { continue };
        let (txs, _rx) = worker.allocate_bounded::<T>(id, capacity)?;
        for tx in txs {
            if local.contains(&tx.target()) {
                senders.insert((from, tx.target()), tx);
            }
        }
    }
    Ok(Box::new(TypedPort {
        senders,
        buffers: HashMap::new(),
    }))
}

/// The port maker a worker hands over with [`Control::Allocate`].
pub(crate) type MakePort =
    Box<dyn FnOnce(&mut [Option<Worker>]) -> Result<Box<dyn Port>, crate::exchange::Error> + Send>;

impl<T: DeserializeOwned> Port for TypedPort<T> {
    fn decode(
        &mut self,
        from: usize,
        to: usize,
        mut bytes: &[u8],
        count: u32,
    ) -> Result<(), String> {
        let buf = self.buffers.entry((from, to)).or_default();
        let start = buf.len();
        for _ in 0..count {
            match frame::fields::<T>(bytes) {
                Ok((record, rest)) => {
                    buf.push(record);
                    bytes = rest;
                }
                Err(e) => {
                    buf.truncate(start);
                    return Err(format!("record does not decode: {e}"));
                }
            }
        }
        if !bytes.is_empty() {
            buf.truncate(start);
            return Err(format!("{} bytes after the last record", bytes.len()));
        }
        Ok(())
    }

    fn flush(&mut self, from: usize, to: usize) -> Option<usize> {
        let buf = self.buffers.entry((from, to)).or_default();
        if buf.is_empty() {
            return Some(0);
        }
        let Some(sender) = self.senders.get_mut(&(from, to)) else {
            buf.clear();
            return None;
        };
        match sender.try_send_batch(buf) {
            Ok(k) => Some(k),
            Err(_) => {
                buf.clear();
                None
            }
        }
    }

    fn buffered(&self, from: usize, to: usize) -> usize {
        self.buffers.get(&(from, to)).map_or(0, Vec::len)
    }

    fn close(&mut self, from: usize, to: usize) {
        self.senders.remove(&(from, to));
        self.buffers.remove(&(from, to));
    }
}

/// The receive side of one remote pair `(id, from, to)`.
#[derive(Default)]
struct PairIn {
    next_seq: u64,
    hello: Option<frame::Hello>,
    /// The HELLO was checked against the local allocation.
    checked: bool,
    /// DATA taken before the channel was allocated here: records, count.
    raw: Vec<(Vec<u8>, u32)>,
    /// Records received / moved into the ring / moved and credited.
    received: u64,
    moved: u64,
    credited: u64,
    /// No more frames will come (END, or the sender is gone): close once
    /// drained.
    ending: bool,
    /// Closed: nothing more is taken.
    closed: bool,
}

struct Channel {
    type_hash: u64,
    type_name: &'static str,
    capacity: usize,
    port: Box<dyn Port>,
}

type PairKey = (usize, usize, usize);

pub(crate) struct Pump {
    shared: Arc<Shared>,
    seats: Vec<Option<Worker>>,
    channels: HashMap<usize, Channel>,
    pairs: HashMap<PairKey, PairIn>,
    /// Pairs with something to move or to close.
    active: HashSet<PairKey>,
    credit_due: HashSet<PairKey>,
    /// A declared publisher per pair for its credits (`None`: zenoh refused).
    credit_publishers: HashMap<PairKey, Option<Publisher<'static>>>,
    remote_departed: HashMap<usize, HashSet<usize>>,
    local_departed: HashMap<usize, HashSet<usize>>,
    losses: Vec<(usize, Instant, bool)>,
    lost: HashSet<usize>,
    /// Lost processes already reported as a fault.
    reported: HashSet<usize>,
}

const BACKOFF_MIN: Duration = Duration::from_micros(50);
const BACKOFF_MAX: Duration = Duration::from_millis(1);

impl Pump {
    /// `seats`: a worker handle for every remote seat (`None` for local ones).
    pub(crate) fn new(shared: Arc<Shared>, seats: Vec<Option<Worker>>) -> Self {
        Self {
            shared,
            seats,
            channels: HashMap::new(),
            pairs: HashMap::new(),
            active: HashSet::new(),
            credit_due: HashSet::new(),
            credit_publishers: HashMap::new(),
            remote_departed: HashMap::new(),
            local_departed: HashMap::new(),
            losses: Vec::new(),
            lost: HashSet::new(),
            reported: HashSet::new(),
        }
    }

    /// Runs until the cluster stops.
    pub(crate) fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let (frames, controls, stop) = {
                let mut inbox = lock(&self.shared.inbox);
                (
                    core::mem::take(&mut inbox.frames),
                    core::mem::take(&mut inbox.controls),
                    inbox.stop,
                )
            };
            for c in controls {
                self.control(c);
            }
            for f in frames {
                self.frame(f);
            }
            self.due_losses();
            let stuck = self.flush();
            self.credit();
            if stop {
                break;
            }
            let now = Instant::now();
            let mut wait = self
                .losses
                .iter()
                .map(|&(_, at, _)| at.saturating_duration_since(now))
                .min();
            if stuck {
                wait = Some(wait.map_or(backoff, |w| w.min(backoff)));
                backoff = (backoff * 2).min(BACKOFF_MAX);
            } else {
                backoff = BACKOFF_MIN;
            }
            {
                let inbox = lock(&self.shared.inbox);
                if !inbox.frames.is_empty() || !inbox.controls.is_empty() || inbox.stop {
                    continue;
                }
            }
            match wait {
                Some(d) => std::thread::park_timeout(d),
                None => std::thread::park(),
            }
        }
        // Senders first (receivers see the remote pairs end), then seats.
        for p in self.credit_publishers.drain().filter_map(|(_, p)| p) {
            let _ = p.undeclare().wait();
        }
        self.channels.clear();
        self.seats.clear();
    }

    fn local(&self) -> core::ops::Range<usize> {
        self.shared.config.local()
    }

    fn remote_workers_of(&self, process: usize) -> core::ops::Range<usize> {
        let w = self.shared.config.workers_per_process();
        process * w..(process + 1) * w
    }

    fn control(&mut self, control: Control) {
        match control {
            Control::Allocate {
                id,
                type_hash,
                type_name,
                capacity,
                make,
            } => {
                if self.channels.contains_key(&id) {
                    return;
                }
                let port = match make(self.seats.as_mut_slice()) {
                    Ok(port) => port,
                    // The local workers allocated `id` consistently (the
                    // registry checked), so the seats cannot fail; if they
                    // do, say so and leave the channel without remote pairs.
                    Err(e) => {
                        self.shared.fault(Fault::Zenoh {
                            message: format!("channel {id}: remote seats could not allocate: {e}"),
                        });
                        return;
                    }
                };
                self.channels.insert(
                    id,
                    Channel {
                        type_hash,
                        type_name,
                        capacity,
                        port,
                    },
                );
                let known: Vec<PairKey> =
                    self.pairs.keys().filter(|k| k.0 == id).copied().collect();
                for k in known {
                    self.adopt(k);
                }
                let departed: Vec<usize> = self
                    .remote_departed
                    .iter()
                    .filter(|(_, ids)| !ids.contains(&id))
                    .map(|(w, _)| *w)
                    .collect();
                for from in departed {
                    for to in self.local() {
                        self.end_pair((id, from, to));
                    }
                }
                let lost: Vec<usize> = self.lost.iter().copied().collect();
                for p in lost {
                    for from in self.remote_workers_of(p) {
                        for to in self.local() {
                            self.end_pair((id, from, to));
                        }
                    }
                }
            }
            Control::LocalDeparted { worker, ids } => {
                let gone: Vec<PairKey> = self
                    .pairs
                    .iter()
                    .filter(|(k, p)| k.2 == worker && !ids.contains(&k.0) && !p.closed)
                    .map(|(k, _)| *k)
                    .collect();
                self.local_departed.insert(worker, ids);
                for k in gone {
                    self.break_pair(k, frame::REASON_GONE, String::new());
                }
            }
            Control::RemoteDeparted { worker, ids } => {
                let ended: Vec<usize> = self
                    .channels
                    .keys()
                    .filter(|id| !ids.contains(id))
                    .copied()
                    .collect();
                self.remote_departed.insert(worker, ids);
                for id in ended {
                    for to in self.local() {
                        self.end_pair((id, worker, to));
                    }
                }
            }
            Control::Lost {
                process,
                at,
                reported,
            } => {
                if reported {
                    self.reported.insert(process);
                }
                self.losses.push((process, at, reported));
            }
        }
    }

    /// The grace of a lost process ran out: its pairs end.
    fn due_losses(&mut self) {
        let now = Instant::now();
        let due: Vec<usize> = self
            .losses
            .iter()
            .filter(|&&(_, at, _)| at <= now)
            .map(|&(p, _, _)| p)
            .collect();
        if due.is_empty() {
            return;
        }
        self.losses.retain(|&(_, at, _)| at > now);
        for p in due {
            self.lost.insert(p);
            let ids: Vec<usize> = self.channels.keys().copied().collect();
            let mut hurt = false;
            for id in ids {
                for from in self.remote_workers_of(p) {
                    for to in self.local() {
                        let pair = self.pairs.entry((id, from, to)).or_default();
                        hurt |= !pair.ending && !pair.closed;
                        self.end_pair((id, from, to));
                    }
                }
            }
            if hurt && self.reported.insert(p) {
                self.shared.fault(Fault::PeerLost { process: p });
            }
        }
    }

    fn end_pair(&mut self, k: PairKey) {
        let pair = self.pairs.entry(k).or_default();
        if !pair.closed {
            pair.ending = true;
            self.active.insert(k);
        }
    }

    /// Closes a pair for good and tells its sender why.
    fn break_pair(&mut self, k: PairKey, reason: u8, detail: String) {
        let (id, from, to) = k;
        let pair = self.pairs.entry(k).or_default();
        if pair.closed {
            return;
        }
        pair.closed = true;
        pair.raw.clear();
        self.active.remove(&k);
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.port.close(from, to);
        }
        let mut buf = Vec::new();
        if frame::encode(&mut buf, frame::REJECT, &frame::Reject { reason, detail }).is_ok() {
            let key = self
                .shared
                .keys
                .credit(self.shared.config.process_of(from), id, from, to);
            self.shared.put(key, buf);
        }
    }

    /// Checks a pair's HELLO against the local allocation and decodes what
    /// it stashed, once the channel exists here.
    fn adopt(&mut self, k: PairKey) {
        let (id, from, to) = k;
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        let Some(pair) = self.pairs.get_mut(&k) else {
            return;
        };
        if pair.closed || pair.checked {
            return;
        }
        let Some(hello) = &pair.hello else { return };
        if hello.type_hash != ch.type_hash || hello.capacity != ch.capacity as u64 {
            let sender = format!("{} with capacity {}", hello.type_name, hello.capacity);
            let receiver = format!("{} with capacity {}", ch.type_name, ch.capacity);
            self.shared.fault(Fault::Mismatch {
                id,
                from,
                to,
                sender,
                receiver: receiver.clone(),
            });
            return self.break_pair(k, frame::REASON_MISMATCH, receiver);
        }
        pair.checked = true;
        for (bytes, count) in core::mem::take(&mut pair.raw) {
            if let Err(m) = ch.port.decode(from, to, &bytes, count) {
                let key = self
                    .shared
                    .keys
                    .data(self.shared.config.process(), id, from, to);
                self.shared.malformed(&key, m);
                return self.break_pair(k, frame::REASON_BROKEN, String::new());
            }
        }
        self.active.insert(k);
    }

    fn frame(&mut self, f: Inbound) {
        let k = (f.id, f.from, f.to);
        if self
            .local_departed
            .get(&f.to)
            .is_some_and(|ids| !ids.contains(&f.id))
        {
            return self.break_pair(k, frame::REASON_GONE, String::new());
        }
        if self.pairs.get(&k).is_some_and(|p| p.closed) {
            return;
        }
        let (kind, rest) = match frame::kind(&f.payload) {
            Ok(x) => x,
            Err(m) => return self.shared.malformed(&f.key, m),
        };
        let parsed = match kind {
            frame::HELLO => frame::whole::<frame::Hello>(rest).map(|h| (h.seq, Some(h), None)),
            frame::DATA => frame::fields::<frame::DataHead>(rest)
                .map(|(h, records)| (h.seq, None, Some((h.count, records)))),
            frame::END => frame::whole::<frame::End>(rest).map(|e| (e.seq, None, None)),
            other => Err(format!("frame kind {other} on a data key")),
        };
        let (seq, hello, data) = match parsed {
            Ok(x) => x,
            Err(m) => return self.shared.malformed(&f.key, m),
        };
        let pair = self.pairs.entry(k).or_default();
        if seq != pair.next_seq {
            let expected = pair.next_seq;
            self.shared.fault(Fault::OutOfOrder {
                id: f.id,
                from: f.from,
                to: f.to,
                expected,
                got: seq,
            });
            return self.break_pair(k, frame::REASON_BROKEN, String::new());
        }
        pair.next_seq += 1;
        if let Some(h) = hello {
            pair.hello = Some(h);
            self.adopt(k);
            return;
        }
        let Some((count, records)) = data else {
            // END
            pair.ending = true;
            self.active.insert(k);
            return;
        };
        pair.received += u64::from(count);
        let capacity = pair.hello.as_ref().map_or(0, |h| h.capacity);
        if pair.received - pair.moved > capacity {
            self.shared.malformed(
                &f.key,
                format!(
                    "{} records beyond the credit of {capacity}",
                    pair.received - pair.moved - capacity
                ),
            );
            return self.break_pair(k, frame::REASON_BROKEN, String::new());
        }
        match self.channels.get_mut(&f.id) {
            Some(ch) if pair.checked => {
                if let Err(m) = ch.port.decode(f.from, f.to, records, count) {
                    self.shared.malformed(&f.key, m);
                    return self.break_pair(k, frame::REASON_BROKEN, String::new());
                }
                self.active.insert(k);
            }
            _ => pair.raw.push((records.to_vec(), count)),
        }
    }

    /// Moves buffered records into their rings; `true` if a ring was full.
    fn flush(&mut self) -> bool {
        let mut stuck = false;
        let keys: Vec<PairKey> = self.active.iter().copied().collect();
        for k in keys {
            let (id, from, to) = k;
            let Some(ch) = self.channels.get_mut(&id) else {
                // Re-activated when the channel is allocated here.
                self.active.remove(&k);
                continue;
            };
            let Some(pair) = self.pairs.get_mut(&k) else {
                self.active.remove(&k);
                continue;
            };
            if pair.closed {
                self.active.remove(&k);
                continue;
            }
            match ch.port.flush(from, to) {
                Some(moved) => {
                    if moved > 0 {
                        pair.moved += moved as u64;
                        self.shared
                            .counters
                            .received
                            .fetch_add(moved as u64, Ordering::Relaxed);
                        self.credit_due.insert(k);
                    }
                    if ch.port.buffered(from, to) > 0 {
                        stuck = true;
                    } else {
                        if pair.ending && pair.raw.is_empty() {
                            pair.closed = true;
                            ch.port.close(from, to);
                        }
                        self.active.remove(&k);
                    }
                }
                None => self.break_pair(k, frame::REASON_GONE, String::new()),
            }
        }
        stuck
    }

    /// Tells senders what was moved since the last credit.
    fn credit(&mut self) {
        for k in core::mem::take(&mut self.credit_due) {
            let (id, from, to) = k;
            let Some(pair) = self.pairs.get_mut(&k) else {
                continue;
            };
            if pair.closed {
                // Ended or broken: credit is moot.
                continue;
            }
            if pair.moved == pair.credited {
                continue;
            }
            pair.credited = pair.moved;
            let mut buf = Vec::new();
            if frame::encode(
                &mut buf,
                frame::CREDIT,
                &frame::Credit { moved: pair.moved },
            )
            .is_ok()
            {
                let shared = &self.shared;
                let publisher = self.credit_publishers.entry(k).or_insert_with(|| {
                    let key = shared
                        .keys
                        .credit(shared.config.process_of(from), id, from, to);
                    shared
                        .session
                        .declare_publisher(key)
                        .congestion_control(CongestionControl::Block)
                        .wait()
                        .ok()
                });
                let sent = match publisher {
                    Some(p) => p.put(buf).wait().map_err(|e| e.to_string()),
                    None => Err("could not declare the credit publisher".to_owned()),
                };
                if let Err(message) = sent {
                    self.shared.fault(Fault::Zenoh { message });
                }
            }
        }
    }
}
