//! The wire format of one event: a version byte, then a postcard record.
//!
//! Layout of a zenoh payload (the whole event is one blob in the payload;
//! no attachment is used):
//!
//! ```text
//! byte 0     VERSION (1)
//! bytes 1..  postcard (serde) encoding of
//!            { origin:    str,               // sending bridge (its zenoh session id)
//!              publisher: u64,               // publisher id in the sending service
//!              priority:  u8,                // 0 = Low, 1 = High
//!              expires:   Option<u64>,       // unix time, ns; None = no TTL
//!              header:    [(str, Value)],    // without the `publisher` key
//!              body:      [(str, Value)] }
//!            Value = enum { Str(str), I64(i64), F64(f64), Bool(bool), Bytes([u8]) }
//! ```
//!
//! postcard's rules: integers are varints (zigzag for signed), `f64` is 8
//! little-endian bytes, strings and byte strings are a varint length and
//! the bytes, sequences a varint count and the items, enums a varint
//! variant index (in the order written above) and the fields, `Option` a
//! 0/1 byte and the value. Nothing follows the record. The topic is not in
//! the payload: the key carries it.
//!
//! Any change to this layout gets a new version number. A decoder refuses
//! an unknown version, a record that does not parse, trailing bytes, an
//! unknown priority and a key that appears twice in one map: each is a
//! [`WireError`] (counted as malformed, never a panic).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::error::WireError;
use crate::channel::Priority;
use crate::service::{Fields, Value, PUBLISHER_HEADER};

/// The version of the layout above, byte 0 of every payload.
pub(crate) const VERSION: u8 = 1;

/// An event read from the wire.
#[derive(Debug)]
pub(crate) struct WireEvent {
    pub(crate) origin: String,
    pub(crate) publisher: u64,
    pub(crate) priority: Priority,
    /// Unix time in ns.
    pub(crate) expires: Option<u64>,
    pub(crate) header: Fields,
    pub(crate) body: Fields,
}

/// The record, borrowed, for encoding.
#[derive(Serialize)]
struct RecordOut<'a> {
    origin: &'a str,
    publisher: u64,
    priority: u8,
    expires: Option<u64>,
    header: FieldsOut<'a>,
    body: FieldsOut<'a>,
}

/// The record, owned, for decoding (same field order as `RecordOut`).
#[derive(Deserialize)]
struct RecordIn {
    origin: String,
    publisher: u64,
    priority: u8,
    expires: Option<u64>,
    header: Vec<(String, ValueIn)>,
    body: Vec<(String, ValueIn)>,
}

/// A map to encode; `skip_publisher` leaves out the service's stamp.
struct FieldsOut<'a> {
    fields: &'a Fields,
    skip_publisher: bool,
}

/// A value to encode (variant order = `ValueIn`'s).
#[derive(Serialize)]
enum ValueOut<'a> {
    Str(&'a str),
    I64(i64),
    F64(f64),
    Bool(bool),
    Bytes(#[serde(serialize_with = "bytes_out")] &'a [u8]),
}

/// A decoded value.
#[derive(Deserialize)]
enum ValueIn {
    Str(String),
    I64(i64),
    F64(f64),
    Bool(bool),
    Bytes(Vec<u8>),
}

fn bytes_out<S: Serializer>(bytes: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    // postcard writes bytes as a length and the raw bytes, as it writes a
    // `Vec<u8>` sequence, so `ValueIn::Bytes` reads it back.
    s.serialize_bytes(bytes)
}

impl Serialize for FieldsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let skip = |k: &str| self.skip_publisher && k == PUBLISHER_HEADER;
        let n = self.fields.iter().filter(|(k, _)| !skip(k)).count();
        let mut seq = s.serialize_seq(Some(n))?;
        for (k, v) in self.fields.iter().filter(|(k, _)| !skip(k)) {
            let v = match v {
                Value::Str(s) => ValueOut::Str(s),
                Value::I64(i) => ValueOut::I64(*i),
                Value::F64(f) => ValueOut::F64(*f),
                Value::Bool(b) => ValueOut::Bool(*b),
                Value::Bytes(b) => ValueOut::Bytes(b),
            };
            seq.serialize_element(&(k, v))?;
        }
        seq.end()
    }
}

/// What [`encode`] needs of an event.
pub(crate) struct EventOut<'a> {
    pub(crate) origin: &'a str,
    pub(crate) publisher: u64,
    pub(crate) priority: Priority,
    pub(crate) expires: Option<u64>,
    pub(crate) header: &'a Fields,
    pub(crate) body: &'a Fields,
}

/// Encodes `event`: the version byte, then the record.
pub(crate) fn encode(event: &EventOut<'_>) -> Result<Vec<u8>, WireError> {
    let record = RecordOut {
        origin: event.origin,
        publisher: event.publisher,
        priority: match event.priority {
            Priority::Low => 0,
            Priority::High => 1,
        },
        expires: event.expires,
        header: FieldsOut {
            fields: event.header,
            skip_publisher: true,
        },
        body: FieldsOut {
            fields: event.body,
            skip_publisher: false,
        },
    };
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    postcard::to_extend(&record, out).map_err(|e| WireError::Encode(e.to_string()))
}

/// Decodes a payload written by [`encode`].
pub(crate) fn decode(payload: &[u8]) -> Result<WireEvent, WireError> {
    let (&version, rest) = payload.split_first().ok_or(WireError::Empty)?;
    if version != VERSION {
        return Err(WireError::UnknownVersion(version));
    }
    let (record, trailing): (RecordIn, _) =
        postcard::take_from_bytes(rest).map_err(|e| WireError::Decode(e.to_string()))?;
    if !trailing.is_empty() {
        return Err(WireError::TrailingBytes(trailing.len()));
    }
    let priority = match record.priority {
        0 => Priority::Low,
        1 => Priority::High,
        p => return Err(WireError::UnknownPriority(p)),
    };
    Ok(WireEvent {
        origin: record.origin,
        publisher: record.publisher,
        priority,
        expires: record.expires,
        header: fields_in(record.header)?,
        body: fields_in(record.body)?,
    })
}

fn fields_in(entries: Vec<(String, ValueIn)>) -> Result<Fields, WireError> {
    let mut fields = Fields::new();
    for (k, v) in entries {
        let v = match v {
            ValueIn::Str(s) => Value::Str(s),
            ValueIn::I64(i) => Value::I64(i),
            ValueIn::F64(f) => Value::F64(f),
            ValueIn::Bool(b) => Value::Bool(b),
            ValueIn::Bytes(b) => Value::Bytes(b),
        };
        let key = k.clone();
        if fields.insert(k, v).is_some() {
            return Err(WireError::DuplicateKey(key));
        }
    }
    Ok(fields)
}

/// The unix time, in ns, `remaining` after `wall`; `None` if it does not
/// fit (a TTL that long never runs out). Read `wall` *before* the monotonic
/// clock that `remaining` came from, so that the expiry is never later than
/// the local deadline.
pub(crate) fn expiry_after(wall: SystemTime, remaining: Duration) -> Option<u64> {
    let at = wall.checked_add(remaining)?;
    u64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_nanos()).ok()
}

/// How long until the unix time `expires` (ns); `None` if it has passed.
pub(crate) fn remaining_until(expires: u64) -> Option<Duration> {
    let at = UNIX_EPOCH.checked_add(Duration::from_nanos(expires))?;
    at.duration_since(SystemTime::now())
        .ok()
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Fields, Fields) {
        let mut header = Fields::new();
        header.insert(PUBLISHER_HEADER, 7_i64);
        header.insert("trace", "t-1");
        let mut body = Fields::new();
        body.insert("s", "text");
        body.insert("i", -5_i64);
        body.insert("f", 0.25);
        body.insert("b", true);
        body.insert("x", vec![0_u8, 1, 255]);
        (header, body)
    }

    #[test]
    fn round_trip_keeps_every_value_and_drops_the_stamp() {
        let (header, body) = sample();
        let bytes = encode(&EventOut {
            origin: "abc",
            publisher: 7,
            priority: Priority::High,
            expires: Some(123),
            header: &header,
            body: &body,
        })
        .unwrap();
        assert_eq!(bytes[0], VERSION);
        let event = decode(&bytes).unwrap();
        assert_eq!(event.origin, "abc");
        assert_eq!(event.publisher, 7);
        assert_eq!(event.priority, Priority::High);
        assert_eq!(event.expires, Some(123));
        assert_eq!(event.header.get(PUBLISHER_HEADER), None);
        assert_eq!(event.header.get_str("trace"), Some("t-1"));
        assert_eq!(event.body, body);
    }

    #[test]
    fn every_damage_is_an_error() {
        let (header, body) = sample();
        let good = encode(&EventOut {
            origin: "o",
            publisher: 1,
            priority: Priority::Low,
            expires: None,
            header: &header,
            body: &body,
        })
        .unwrap();
        assert!(matches!(decode(&[]), Err(WireError::Empty)));
        let mut v2 = good.clone();
        v2[0] = 2;
        assert!(matches!(decode(&v2), Err(WireError::UnknownVersion(2))));
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(decode(&long), Err(WireError::TrailingBytes(1))));
        // Every truncation fails cleanly.
        for n in 1..good.len() {
            assert!(decode(&good[..n]).is_err(), "truncated at {n}");
        }
        // Every single-byte change decodes or fails; none panics.
        for i in 1..good.len() {
            for b in [0_u8, 1, 0x7f, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] = b;
                let _ = decode(&bad);
            }
        }
    }

    #[test]
    fn unknown_priority_and_duplicate_keys_are_refused() {
        // version, origin "", publisher 0, priority 2, expires None, no header, no body
        assert!(matches!(
            decode(&[VERSION, 0, 0, 2, 0, 0, 0]),
            Err(WireError::UnknownPriority(2))
        ));
        // header [("k", Bool(true)), ("k", Bool(false))]
        let dup = [VERSION, 0, 0, 0, 0, 2, 1, b'k', 3, 1, 1, b'k', 3, 0, 0];
        assert!(matches!(decode(&dup), Err(WireError::DuplicateKey(k)) if k == "k"));
    }

    #[test]
    fn expiry_round_trip() {
        let at = expiry_after(SystemTime::now(), Duration::from_secs(60)).unwrap();
        let left = remaining_until(at).unwrap();
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));
        assert_eq!(remaining_until(1), None);
        assert_eq!(expiry_after(SystemTime::now(), Duration::MAX), None);
    }
}
