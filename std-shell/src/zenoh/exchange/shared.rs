//! The state one process's cluster shares between its workers, its zenoh
//! callbacks and its pump thread, and what the callbacks do.

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, OnceLock};
use std::time::{Duration, Instant};

use ::zenoh::qos::CongestionControl;
use ::zenoh::sample::{Sample, SampleKind};
use ::zenoh::{Session, Wait};

use super::config::ClusterConfig;
use super::error::Fault;
use super::frame::{self, Addr, Keys};
use super::pump::{Control, Inbound};
use super::stats::Counters;
use crate::sync::{lock, Arc, Mutex, Ordering, Thread};

/// The most faults kept (later ones are counted in `faults_lost`).
const MAX_FAULTS: usize = 256;

pub(crate) struct Shared {
    pub(crate) config: ClusterConfig,
    pub(crate) keys: Keys,
    pub(crate) session: Session,
    pub(crate) counters: Counters,
    faults: Mutex<Vec<Fault>>,
    /// The send side of every live remote pair of a local sender, by
    /// `(id, from, to)`.
    outs: Mutex<HashMap<(usize, usize, usize), Arc<PairOut>>>,
    /// Remote workers that departed, with the ids they had allocated.
    departed: Mutex<HashMap<usize, HashSet<usize>>>,
    /// Remote processes whose liveliness token was lost.
    lost: Mutex<HashSet<usize>>,
    /// What the callbacks hand the pump.
    pub(crate) inbox: Mutex<Inbox>,
    pub(crate) pump: OnceLock<Thread>,
}

#[derive(Default)]
pub(crate) struct Inbox {
    pub(crate) frames: Vec<Inbound>,
    pub(crate) controls: Vec<Control>,
    pub(crate) stop: bool,
}

impl Shared {
    pub(crate) fn new(config: ClusterConfig, session: Session) -> Self {
        Self {
            keys: Keys::new(config.job()),
            config,
            session,
            counters: Counters::default(),
            faults: Mutex::new(Vec::new()),
            outs: Mutex::new(HashMap::new()),
            departed: Mutex::new(HashMap::new()),
            lost: Mutex::new(HashSet::new()),
            inbox: Mutex::new(Inbox::default()),
            pump: OnceLock::new(),
        }
    }

    pub(crate) fn is_local(&self, worker: usize) -> bool {
        self.config.local().contains(&worker)
    }

    pub(crate) fn is_remote(&self, worker: usize) -> bool {
        worker < self.config.workers() && !self.is_local(worker)
    }

    pub(crate) fn fault(&self, fault: Fault) {
        let mut faults = lock(&self.faults);
        if faults.len() < MAX_FAULTS {
            faults.push(fault);
        } else {
            self.counters.faults_lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn faults(&self) -> Vec<Fault> {
        lock(&self.faults).clone()
    }

    pub(crate) fn malformed(&self, key: &str, message: String) {
        self.counters.malformed.fetch_add(1, Ordering::Relaxed);
        self.fault(Fault::Malformed {
            key: key.to_owned(),
            message,
        });
    }

    pub(crate) fn control(&self, control: Control) {
        lock(&self.inbox).controls.push(control);
        self.wake_pump();
    }

    pub(crate) fn wake_pump(&self) {
        if let Some(t) = self.pump.get() {
            t.unpark();
        }
    }

    /// Registers the send side of a new remote pair; it starts closed if
    /// its receiver's worker or process is already known to be gone.
    pub(crate) fn register_out(&self, id: usize, from: usize, to: usize, out: &Arc<PairOut>) {
        let gone = lock(&self.lost).contains(&self.config.process_of(to))
            || lock(&self.departed)
                .get(&to)
                .is_some_and(|ids| !ids.contains(&id));
        if gone {
            out.close();
        }
        lock(&self.outs).insert((id, from, to), out.clone());
    }

    pub(crate) fn unregister_out(&self, id: usize, from: usize, to: usize) {
        lock(&self.outs).remove(&(id, from, to));
    }

    /// Puts a frame, blocking while zenoh's queue is full.
    pub(crate) fn put(&self, key: String, payload: Vec<u8>) -> bool {
        match self
            .session
            .put(key, payload)
            .congestion_control(CongestionControl::Block)
            .wait()
        {
            Ok(()) => true,
            Err(e) => {
                self.fault(Fault::Zenoh {
                    message: e.to_string(),
                });
                false
            }
        }
    }

    /// Puts a frame for `process` once a subscriber matches its key (zenoh
    /// drops a put that none matches), waiting for one at most `bound` and
    /// not at all once `process` is lost; `false` if none came or zenoh
    /// refused.
    pub(crate) fn put_when_matched(
        &self,
        process: usize,
        key: String,
        payload: Vec<u8>,
        bound: Duration,
    ) -> bool {
        let publisher = match self
            .session
            .declare_publisher(key)
            .congestion_control(CongestionControl::Block)
            .wait()
        {
            Ok(p) => p,
            Err(e) => {
                self.fault(Fault::Zenoh {
                    message: e.to_string(),
                });
                return false;
            }
        };
        let deadline = Instant::now() + bound;
        let mut nap = Duration::from_micros(100);
        while !publisher
            .matching_status()
            .wait()
            .is_ok_and(|s| s.matching())
        {
            if Instant::now() >= deadline || lock(&self.lost).contains(&process) {
                return false;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
        let sent = match publisher.put(payload).wait() {
            Ok(()) => true,
            Err(e) => {
                self.fault(Fault::Zenoh {
                    message: e.to_string(),
                });
                false
            }
        };
        let _ = publisher.undeclare().wait();
        sent
    }

    /// The callback of the subscriber on `<root>/<me>/**`. Never waits.
    pub(crate) fn receive(&self, sample: &Sample) {
        let key = sample.key_expr().as_str();
        if sample.kind() != SampleKind::Put {
            self.malformed(key, "a zenoh delete, not a frame".to_owned());
            return;
        }
        let Some(addr) = self.keys.parse(self.config.process(), key) else {
            self.malformed(key, "not an exchange key".to_owned());
            return;
        };
        let payload = sample.payload().to_bytes();
        match addr {
            Addr::Data { id, from, to } => {
                if !self.is_local(to) || !self.is_remote(from) {
                    self.malformed(
                        key,
                        format!("no channel from worker {from} to worker {to} here"),
                    );
                    return;
                }
                lock(&self.inbox).frames.push(Inbound {
                    id,
                    from,
                    to,
                    key: key.to_owned(),
                    payload: payload.into_owned(),
                });
                self.wake_pump();
            }
            Addr::Credit { id, from, to } => self.credit(key, id, from, to, &payload),
            Addr::Depart { worker } => self.depart(key, worker, &payload),
        }
    }

    fn credit(&self, key: &str, id: usize, from: usize, to: usize, payload: &[u8]) {
        let out = lock(&self.outs).get(&(id, from, to)).cloned();
        let parsed = frame::kind(payload).and_then(|(kind, rest)| match kind {
            frame::CREDIT => frame::whole::<frame::Credit>(rest).map(|c| Ok(c.moved)),
            frame::REJECT => frame::whole::<frame::Reject>(rest).map(Err),
            other => Err(format!("frame kind {other} on a credit key")),
        });
        match parsed {
            Err(message) => self.malformed(key, message),
            Ok(Ok(moved)) => {
                if let Some(out) = out {
                    out.grant(moved);
                }
            }
            Ok(Err(reject)) => {
                if reject.reason == frame::REASON_MISMATCH {
                    let sender = out.as_ref().map_or_else(
                        || "(a sender dropped since)".to_owned(),
                        |o| o.allocation.clone(),
                    );
                    self.fault(Fault::Mismatch {
                        id,
                        from,
                        to,
                        sender,
                        receiver: reject.detail,
                    });
                }
                if let Some(out) = out {
                    out.close();
                }
            }
        }
    }

    fn depart(&self, key: &str, worker: usize, payload: &[u8]) {
        if !self.is_remote(worker) {
            self.malformed(key, format!("worker {worker} is not a remote worker"));
            return;
        }
        let parsed = frame::kind(payload).and_then(|(kind, rest)| match kind {
            frame::DEPART => frame::whole::<frame::Depart>(rest),
            other => Err(format!("frame kind {other} on a depart key")),
        });
        let ids: HashSet<usize> = match parsed {
            Ok(d) => d.ids.into_iter().map(|i| i as usize).collect(),
            Err(message) => return self.malformed(key, message),
        };
        for ((id, _, to), out) in lock(&self.outs).iter() {
            if *to == worker && !ids.contains(id) {
                out.close();
            }
        }
        lock(&self.departed).insert(worker, ids.clone());
        self.control(Control::RemoteDeparted { worker, ids });
    }

    /// The callback of the liveliness subscriber on `<root>/alive/*`.
    pub(crate) fn liveliness(&self, sample: &Sample) {
        if sample.kind() != SampleKind::Delete {
            return;
        }
        let Some(process) = self.keys.alive_process(sample.key_expr().as_str()) else {
            return;
        };
        if process == self.config.process() || process >= self.config.processes() {
            return;
        }
        if !lock(&self.lost).insert(process) {
            return;
        }
        let mut live_senders = false;
        for ((_, _, to), out) in lock(&self.outs).iter() {
            if self.config.process_of(*to) == process {
                live_senders |= !out.is_closed();
                out.close();
            }
        }
        self.control(Control::Lost {
            process,
            at: Instant::now() + self.config.grace(),
            reported: live_senders,
        });
        if live_senders {
            self.fault(Fault::PeerLost { process });
        }
    }
}

/// The send side of one remote pair: the credit the receiver granted.
pub(crate) struct PairOut {
    capacity: u64,
    /// The sender's allocation, for a mismatch report: "T with capacity n".
    pub(crate) allocation: String,
    state: std::sync::Mutex<OutState>,
    changed: Condvar,
}

struct OutState {
    /// Records this pair may have sent in total.
    granted: u64,
    closed: bool,
}

impl PairOut {
    pub(crate) fn new(capacity: usize, allocation: String) -> Self {
        Self {
            capacity: capacity as u64,
            allocation,
            state: std::sync::Mutex::new(OutState {
                // The receiver holds `capacity` records per pair from the
                // start, before it allocated: no round trip first.
                granted: capacity as u64,
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn grant(&self, moved: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.granted = s.granted.max(moved.saturating_add(self.capacity));
        drop(s);
        self.changed.notify_all();
    }

    pub(crate) fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.changed.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed
    }

    /// Records that may be sent after `sent`, waiting for credit if
    /// `block`; `None` once closed.
    pub(crate) fn available(&self, sent: u64, block: bool) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.closed {
                return None;
            }
            if s.granted > sent || !block {
                return Some(s.granted.saturating_sub(sent));
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}
