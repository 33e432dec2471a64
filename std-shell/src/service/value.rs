//! [`Value`] and [`Fields`]: the typed key/value maps an event's header and
//! body are made of.

use core::fmt;
use std::borrow::Cow;

/// One typed value of an event's header or body.
///
/// The five types of the CCA event service: text, 64-bit integers, 64-bit
/// floats, booleans and raw bytes. `From` conversions exist for the usual
/// Rust types, so [`Message::with_body`](super::Message::with_body) and
/// friends take them directly.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::Value;
///
/// assert_eq!(Value::from("loss"), Value::Str("loss".into()));
/// assert_eq!(Value::from(3_i64).as_i64(), Some(3));
/// assert_eq!(Value::from(0.5).as_f64(), Some(0.5));
/// assert_eq!(Value::from(true).as_bool(), Some(true));
/// assert_eq!(Value::from(vec![1_u8, 2]).as_bytes(), Some(&[1_u8, 2][..]));
/// assert_eq!(Value::from(3_i64).as_str(), None); // no silent conversions
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// UTF-8 text.
    Str(String),
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

impl Value {
    /// The text, if this is a [`Value::Str`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::service::Value::from("a").as_str(), Some("a"));
    /// ```
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::I64`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::service::Value::from(-4_i64).as_i64(), Some(-4));
    /// ```
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The float, if this is a [`Value::F64`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::service::Value::from(1.5).as_f64(), Some(1.5));
    /// ```
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F64(v) => Some(v),
            _ => None,
        }
    }

    /// The boolean, if this is a [`Value::Bool`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::service::Value::from(false).as_bool(), Some(false));
    /// ```
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Value::Bytes`].
    ///
    /// # Examples
    ///
    /// ```
    /// let v = evlatch_std::service::Value::from(&b"\x00\x01"[..]);
    /// assert_eq!(v.as_bytes(), Some(&[0_u8, 1][..]));
    /// ```
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The name of the type, for messages: `"str"`, `"i64"`, `"f64"`,
    /// `"bool"` or `"bytes"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::service::Value::from(1_i64).type_name(), "i64");
    /// ```
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "str",
            Value::I64(_) => "i64",
            Value::F64(_) => "f64",
            Value::Bool(_) => "bool",
            Value::Bytes(_) => "bytes",
        }
    }

    /// Bytes this value counts for in a size limit: the length of text and
    /// bytes, 8 for numbers, 1 for booleans.
    fn weight(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::I64(_) | Value::F64(_) => 8,
            Value::Bool(_) => 1,
        }
    }
}

impl fmt::Display for Value {
    /// Text as is, numbers and booleans as Rust prints them, bytes as
    /// `<N bytes>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::I64(v.into())
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::I64(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

/// A small map from text keys to [`Value`]s: an event's header or body.
///
/// Keys are text: a `&'static str` (stored without allocating) or a
/// `String`. They are unique: [`insert`](Fields::insert) replaces the value
/// of a key already present (keeping its place). Iteration is in first-insertion
/// order. Lookups scan the entries, which beats hashing for the handful of
/// fields events carry; for hundreds of fields, put one
/// [`Value::Bytes`] in instead.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{Fields, Value};
///
/// let mut body = Fields::new();
/// body.insert("step", 10_i64);
/// body.insert("loss", 0.25);
/// body.insert("step", 11_i64); // replaces
/// assert_eq!(body.len(), 2);
/// assert_eq!(body.get_i64("step"), Some(11));
/// assert_eq!(body.get("loss"), Some(&Value::F64(0.25)));
/// let keys: Vec<&str> = body.iter().map(|(k, _)| k).collect();
/// assert_eq!(keys, ["step", "loss"]);
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Fields {
    entries: Entries,
}

impl Fields {
    /// An empty map. Allocates nothing until the second key: the first
    /// [`INLINE_FIELDS`] (one) is stored in place.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evlatch_std::service::Fields::new().is_empty());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Fields {
            entries: Entries::new(),
        }
    }

    /// Sets `key` to `value`; returns the value it replaces, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{Fields, Value};
    /// let mut f = Fields::new();
    /// assert_eq!(f.insert("k", 1_i64), None);
    /// assert_eq!(f.insert("k", "x"), Some(Value::I64(1)));
    /// ```
    pub fn insert(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        if let Some((_, old)) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            return Some(core::mem::replace(old, value));
        }
        self.entries.push((key, value));
        None
    }

    /// Removes `key`; returns its value, if it was present.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("k", true);
    /// assert!(f.remove("k").is_some());
    /// assert!(f.is_empty());
    /// ```
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let pos = self.entries.iter().position(|(k, _)| &**k == key)?;
        self.entries.remove(pos).map(|(_, v)| v)
    }

    /// The value of `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{Fields, Value};
    /// let mut f = Fields::new();
    /// f.insert("k", 2_i64);
    /// assert_eq!(f.get("k"), Some(&Value::I64(2)));
    /// assert_eq!(f.get("missing"), None);
    /// ```
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
    }

    /// The text of `key`, if present and a [`Value::Str`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("k", "v");
    /// assert_eq!(f.get_str("k"), Some("v"));
    /// ```
    #[must_use]
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The integer of `key`, if present and a [`Value::I64`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("k", 7_i64);
    /// assert_eq!(f.get_i64("k"), Some(7));
    /// ```
    #[must_use]
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_i64)
    }

    /// The float of `key`, if present and a [`Value::F64`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("k", 0.5);
    /// assert_eq!(f.get_f64("k"), Some(0.5));
    /// ```
    #[must_use]
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    /// The boolean of `key`, if present and a [`Value::Bool`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("k", true);
    /// assert_eq!(f.get_bool("k"), Some(true));
    /// ```
    #[must_use]
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    /// The bytes of `key`, if present and a [`Value::Bytes`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("k", vec![9_u8]);
    /// assert_eq!(f.get_bytes("k"), Some(&[9_u8][..]));
    /// ```
    #[must_use]
    pub fn get_bytes(&self, key: &str) -> Option<&[u8]> {
        self.get(key).and_then(Value::as_bytes)
    }

    /// Number of keys.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("a", 1_i64);
    /// assert_eq!(f.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no key.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evlatch_std::service::Fields::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys and values, in first-insertion order.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("a", 1_i64);
    /// f.insert("b", 2_i64);
    /// let sum: i64 = f.iter().filter_map(|(_, v)| v.as_i64()).sum();
    /// assert_eq!(sum, 3);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// Bytes the map counts for in a size limit
    /// ([`Builder::max_message_bytes`](super::Builder::max_message_bytes)):
    /// key lengths plus value weights (text and bytes by length, numbers 8,
    /// booleans 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = evlatch_std::service::Fields::new();
    /// f.insert("ab", "xyz");
    /// f.insert("n", 1_i64);
    /// assert_eq!(f.weight(), 2 + 3 + 1 + 8);
    /// ```
    #[must_use]
    pub fn weight(&self) -> usize {
        self.entries
            .iter()
            .map(|(k, v)| k.len().saturating_add(v.weight()))
            .fold(0, usize::saturating_add)
    }

    /// Sets `key` without looking for an earlier entry: only for keys the
    /// caller knows are absent.
    /// Whether the map owns no heap memory: its fields are stored in
    /// place, with `&'static` keys and no text or bytes values.
    pub(super) fn owns_nothing(&self) -> bool {
        match &self.entries {
            Entries::Inline(None) => true,
            Entries::Inline(Some((key, value))) => {
                matches!(key, Cow::Borrowed(_))
                    && matches!(value, Value::I64(_) | Value::F64(_) | Value::Bool(_))
            }
            Entries::Heap(_) => false,
        }
    }

    pub(super) fn push_unique(&mut self, key: &'static str, value: Value) {
        debug_assert!(self.get(key).is_none(), "{key} already present");
        self.entries.push((Cow::Borrowed(key), value));
    }

    pub(super) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }
}

/// Keys stored in place by [`Fields`] before it allocates: an event's
/// header holds the publisher id, so a header without fields of its own,
/// and a body of one field, allocate nothing; more fields go to the heap,
/// all of them together.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::INLINE_FIELDS, 1);
/// ```
pub const INLINE_FIELDS: usize = 1;

type Entry = (Cow<'static, str>, Value);

/// The entries of a [`Fields`], in insertion order: up to
/// [`INLINE_FIELDS`] (one) in place, more on the heap.
///
/// `Inline(None)` is empty; `Heap` may hold any number, even 0 or 1 (after
/// removals or a `reserve`): the variant is about storage, not content, so
/// equality compares the entries.
#[derive(Clone)]
enum Entries {
    Inline(Option<Entry>),
    Heap(Vec<Entry>),
}

const _: () = assert!(INLINE_FIELDS == 1, "Entries::Inline holds one entry");

impl Default for Entries {
    fn default() -> Self {
        Entries::new()
    }
}

impl PartialEq for Entries {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Entries {
    const fn new() -> Self {
        Entries::Inline(None)
    }

    fn len(&self) -> usize {
        match self {
            Entries::Inline(e) => usize::from(e.is_some()),
            Entries::Heap(v) => v.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, entry: Entry) {
        match self {
            Entries::Inline(slot @ None) => *slot = Some(entry),
            Entries::Inline(first @ Some(_)) => {
                let mut v = Vec::with_capacity(2);
                v.extend(first.take());
                v.push(entry);
                *self = Entries::Heap(v);
            }
            Entries::Heap(v) => v.push(entry),
        }
    }

    fn iter(&self) -> core::slice::Iter<'_, Entry> {
        match self {
            Entries::Inline(e) => e.as_slice().iter(),
            Entries::Heap(v) => v.iter(),
        }
    }

    fn iter_mut(&mut self) -> core::slice::IterMut<'_, Entry> {
        match self {
            Entries::Inline(e) => e.as_mut_slice().iter_mut(),
            Entries::Heap(v) => v.iter_mut(),
        }
    }

    /// Removes the entry at position `i` (of [`iter`](Self::iter)), keeping
    /// the order; `None` if there is no such entry.
    fn remove(&mut self, i: usize) -> Option<Entry> {
        match self {
            Entries::Inline(e) if i == 0 => e.take(),
            Entries::Inline(_) => None,
            Entries::Heap(v) => (i < v.len()).then(|| v.remove(i)),
        }
    }

    fn reserve(&mut self, additional: usize) {
        if self.len() + additional <= INLINE_FIELDS {
            return;
        }
        match self {
            Entries::Heap(v) => v.reserve(additional),
            Entries::Inline(e) => {
                let mut v = Vec::with_capacity(usize::from(e.is_some()) + additional);
                v.extend(e.take());
                *self = Entries::Heap(v);
            }
        }
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<Value>> FromIterator<(K, V)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut fields = Fields::new();
        for (k, v) in iter {
            fields.insert(k, v);
        }
        fields
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<Value>> Extend<(K, V)> for Fields {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}
