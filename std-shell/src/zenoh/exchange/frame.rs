//! The exchange's wire format: the frames of one point-to-point channel
//! and the keys they travel under.
//!
//! Keys (`<root>` is `evlatch-x/<job>`; `<p>` the process the frame is
//! addressed to, which subscribes to `<root>/<p>/**`):
//!
//! ```text
//! <root>/<p>/d/<id>/<from>/<to>   sender → receiver: HELLO, DATA, END   (p = process of <to>)
//! <root>/<p>/c/<id>/<from>/<to>   receiver → sender: CREDIT, REJECT     (p = process of <from>)
//! <root>/<p>/w/<worker>           a worker departed: DEPART             (p = every other process)
//! <root>/alive/<p>                liveliness token of process p
//! ```
//!
//! Payload: byte 0 is [`VERSION`] (1), byte 1 the kind, then a postcard
//! record of the kind's fields:
//!
//! ```text
//! HELLO  = 1  { seq: u64 (= 0), type_hash: u64, capacity: u64, type_name: str }
//! DATA   = 2  { seq: u64, count: u32 } then `count` postcard records of T, nothing after
//! END    = 3  { seq: u64 }
//! CREDIT = 4  { moved: u64 }        records of this pair the receiver has taken, in total
//! REJECT = 5  { reason: u8, detail: str }   reason: 1 mismatch, 2 receiver gone, 3 broken
//! DEPART = 6  { ids: [u64] }        the ids the worker allocated before it departed
//! ```
//!
//! Frames on one `d` key carry consecutive sequence numbers from 0 (the
//! HELLO); a receiver checks each one, and a gap or a repeat breaks the
//! pair (reported, never silent). Any layout change gets a new version.

use serde::{Deserialize, Serialize};

/// The version of the layout above, byte 0 of every payload.
pub(crate) const VERSION: u8 = 1;

pub(crate) const HELLO: u8 = 1;
pub(crate) const DATA: u8 = 2;
pub(crate) const END: u8 = 3;
pub(crate) const CREDIT: u8 = 4;
pub(crate) const REJECT: u8 = 5;
pub(crate) const DEPART: u8 = 6;

/// REJECT reasons.
pub(crate) const REASON_MISMATCH: u8 = 1;
pub(crate) const REASON_GONE: u8 = 2;
pub(crate) const REASON_BROKEN: u8 = 3;

#[derive(Serialize, Deserialize)]
pub(crate) struct Hello {
    pub(crate) seq: u64,
    pub(crate) type_hash: u64,
    pub(crate) capacity: u64,
    pub(crate) type_name: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct DataHead {
    pub(crate) seq: u64,
    pub(crate) count: u32,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct End {
    pub(crate) seq: u64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Credit {
    pub(crate) moved: u64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Reject {
    pub(crate) reason: u8,
    pub(crate) detail: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Depart {
    pub(crate) ids: Vec<u64>,
}

/// Starts a payload of `kind` with `fields` in `out` (cleared first).
pub(crate) fn encode<S: Serialize>(out: &mut Vec<u8>, kind: u8, fields: &S) -> Result<(), String> {
    out.clear();
    out.push(VERSION);
    out.push(kind);
    postcard::to_extend(fields, core::mem::take(out))
        .map(|v| *out = v)
        .map_err(|e| e.to_string())
}

/// Appends one record to a DATA payload.
pub(crate) fn append<T: Serialize>(out: &mut Vec<u8>, record: &T) -> Result<(), String> {
    postcard::to_extend(record, core::mem::take(out))
        .map(|v| *out = v)
        .map_err(|e| e.to_string())
}

/// Splits a payload into its kind and the bytes after the header byte pair.
pub(crate) fn kind(payload: &[u8]) -> Result<(u8, &[u8]), String> {
    match payload {
        [] => Err("empty payload".to_owned()),
        [v, ..] if *v != VERSION => Err(format!(
            "unknown frame version {v} (this side speaks {VERSION})"
        )),
        [_] => Err("no frame kind".to_owned()),
        [_, k, rest @ ..] => Ok((*k, rest)),
    }
}

/// Decodes the fields of a frame; the rest of the bytes (DATA's records).
pub(crate) fn fields<'a, D: Deserialize<'a>>(bytes: &'a [u8]) -> Result<(D, &'a [u8]), String> {
    postcard::take_from_bytes(bytes).map_err(|e| e.to_string())
}

/// Decodes a frame that must end after its fields.
pub(crate) fn whole<'a, D: Deserialize<'a>>(bytes: &'a [u8]) -> Result<D, String> {
    let (d, rest) = fields(bytes)?;
    if rest.is_empty() {
        Ok(d)
    } else {
        Err(format!("{} trailing bytes", rest.len()))
    }
}

/// A stable 64-bit FNV-1a hash of a record type's name and size: what two
/// processes compare to tell that they allocated a channel with one type.
pub(crate) fn type_hash(name: &str, size: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain((size as u64).to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// What a key under `<root>/<p>/` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addr {
    Data { id: usize, from: usize, to: usize },
    Credit { id: usize, from: usize, to: usize },
    Depart { worker: usize },
}

/// The keys of one job.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    root: String,
}

impl Keys {
    pub(crate) fn new(job: &str) -> Self {
        Self {
            root: format!("evlatch-x/{job}"),
        }
    }
    pub(crate) fn data(&self, process: usize, id: usize, from: usize, to: usize) -> String {
        format!("{}/{process}/d/{id}/{from}/{to}", self.root)
    }
    pub(crate) fn credit(&self, process: usize, id: usize, from: usize, to: usize) -> String {
        format!("{}/{process}/c/{id}/{from}/{to}", self.root)
    }
    pub(crate) fn depart(&self, process: usize, worker: usize) -> String {
        format!("{}/{process}/w/{worker}", self.root)
    }
    pub(crate) fn inbox(&self, process: usize) -> String {
        format!("{}/{process}/**", self.root)
    }
    pub(crate) fn alive(&self, process: usize) -> String {
        format!("{}/alive/{process}", self.root)
    }
    pub(crate) fn alive_all(&self) -> String {
        format!("{}/alive/*", self.root)
    }

    /// The process of a liveliness key.
    pub(crate) fn alive_process(&self, key: &str) -> Option<usize> {
        key.strip_prefix(&self.root)?
            .strip_prefix("/alive/")?
            .parse()
            .ok()
    }

    /// Parses a key under `<root>/<me>/`.
    pub(crate) fn parse(&self, me: usize, key: &str) -> Option<Addr> {
        let rest = key.strip_prefix(&self.root)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        if parts.next()?.parse::<usize>().ok()? != me {
            return None;
        }
        let kind = parts.next()?;
        let nums: Vec<usize> = parts.map(|p| p.parse().ok()).collect::<Option<_>>()?;
        match (kind, nums.as_slice()) {
            ("d", &[id, from, to]) => Some(Addr::Data { id, from, to }),
            ("c", &[id, from, to]) => Some(Addr::Credit { id, from, to }),
            ("w", &[worker]) => Some(Addr::Depart { worker }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_back() {
        let k = Keys::new("job1");
        assert_eq!(
            k.parse(1, &k.data(1, 7, 0, 3)),
            Some(Addr::Data {
                id: 7,
                from: 0,
                to: 3
            })
        );
        assert_eq!(
            k.parse(0, &k.credit(0, 7, 0, 3)),
            Some(Addr::Credit {
                id: 7,
                from: 0,
                to: 3
            })
        );
        assert_eq!(
            k.parse(2, &k.depart(2, 5)),
            Some(Addr::Depart { worker: 5 })
        );
        assert_eq!(k.parse(0, &k.data(1, 7, 0, 3)), None);
        assert_eq!(k.parse(1, "evlatch-x/job1/1/d/7/0"), None);
        assert_eq!(k.parse(1, "evlatch-x/job1/1/d/7/0/x"), None);
        assert_eq!(k.alive_process(&k.alive(4)), Some(4));
    }

    #[test]
    fn frames_round_trip_and_refuse_garbage() {
        let mut out = Vec::new();
        encode(&mut out, DATA, &DataHead { seq: 9, count: 2 }).unwrap();
        append(&mut out, &(1u32, "a")).unwrap();
        append(&mut out, &(2u32, "b")).unwrap();
        let (k, rest) = kind(&out).unwrap();
        assert_eq!(k, DATA);
        let (head, mut records): (DataHead, _) = fields(rest).unwrap();
        assert_eq!((head.seq, head.count), (9, 2));
        let mut got = Vec::new();
        for _ in 0..head.count {
            let (r, more): ((u32, String), _) = fields(records).unwrap();
            got.push(r);
            records = more;
        }
        assert!(records.is_empty());
        assert_eq!(got, [(1, "a".to_owned()), (2, "b".to_owned())]);
        assert!(kind(&[]).is_err());
        assert!(kind(&[9, DATA]).is_err());
        assert!(kind(&[VERSION]).is_err());
        assert!(whole::<End>(&[0x80]).is_err());
        assert!(whole::<End>(&[1, 2]).is_err());
        assert_ne!(type_hash("u32", 4), type_hash("u64", 8));
    }
}
