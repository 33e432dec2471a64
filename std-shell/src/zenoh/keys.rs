//! [`KeyMap`]: evlatch topics and patterns as zenoh key expressions.

use core::fmt;

use ::zenoh::key_expr::{keyexpr, OwnedKeyExpr};
use evlatch::topic::{Pattern, PatternSegment, Topic};

use super::error::KeyError;

/// Maps evlatch topics and patterns to zenoh key expressions under a root
/// key, and keys back to topics.
///
/// The rule, under a root key (default [`KeyMap::DEFAULT_ROOT`], `evlatch`):
///
/// | evlatch                | zenoh                         |
/// |------------------------|-------------------------------|
/// | topic `a.b.c`          | key `evlatch/a/b/c`           |
/// | segment `name`         | chunk `name` (same text)      |
/// | pattern segment `?`    | chunk `*` (exactly one chunk) |
/// | pattern segment `*`    | chunks `*/**` (one or more)   |
///
/// Patterns are then brought to zenoh's canonical form
/// ([`KeyExpr::autocanonize`](::zenoh::key_expr::KeyExpr::autocanonize):
/// runs like `*/**/*/**` fold to `*/*/**`).
///
/// **Escaping.** A topic segment is 1 or more ASCII letters, digits, `_` and
/// `-` (see [`Topic`]). Each of those bytes is an ordinary byte in a zenoh
/// chunk: none is a separator (`/`), a wildcard (`*`, `$*`), a forbidden
/// character (`?`, `#`, `$`) or a verbatim marker (`@` at the start of a
/// chunk). So the escape is the identity on segment text, and a topic maps
/// to one key and back. The other way round, [`KeyMap::topic_of`] accepts a
/// key only if it lies strictly under the root and the rest, with `/` read
/// as `.`, is a valid topic; a chunk holding `.` (which would make two keys
/// read as one topic) or any byte a topic cannot hold is a
/// [`KeyError::NotATopic`]. Should the topic grammar ever admit a byte that
/// zenoh gives a meaning, this module must escape it; the round-trip tests
/// in `std-shell/tests/zenoh_keys.rs` would catch the change.
///
/// Matching agrees: a published key never holds a wildcard, so zenoh's
/// intersection of a subscriber's key expression with it is inclusion, and
/// `Pattern::matches(topic)` is exactly
/// `pattern_key(pattern).includes(topic_key(topic))` (a differential
/// proptest against zenoh's own matcher checks it).
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::engine::key_expr::OwnedKeyExpr;
/// use evlatch_std::zenoh::KeyMap;
///
/// let keys = KeyMap::new("lab/run7")?;
/// assert_eq!(keys.root().as_str(), "lab/run7");
/// assert_eq!(keys.topic_key("jobs.done")?.as_str(), "lab/run7/jobs/done");
/// assert!(keys.topic_of(&OwnedKeyExpr::new("other/jobs/done")?).is_err());
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMap {
    /// Canonical, wildcard-free, not starting with `@`.
    root: OwnedKeyExpr,
}

impl KeyMap {
    /// The root used by [`KeyMap::default`]: `evlatch`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::zenoh::KeyMap::DEFAULT_ROOT, "evlatch");
    /// ```
    pub const DEFAULT_ROOT: &'static str = "evlatch";

    /// A map under `root`: one or more `/`-separated zenoh chunks, without
    /// wildcards, in canonical form, not in zenoh's `@` admin space.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidRoot`] saying what is wrong with `root`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::KeyMap;
    /// assert!(KeyMap::new("site/a").is_ok());
    /// assert!(KeyMap::new("site/*").is_err());
    /// assert!(KeyMap::new("").is_err());
    /// ```
    pub fn new(root: &str) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::InvalidRoot {
            root: root.to_owned(),
            reason,
        };
        let key = OwnedKeyExpr::new(root).map_err(|e| invalid(e.to_string()))?;
        if key.is_wild() {
            return Err(invalid("it holds a wildcard".to_owned()));
        }
        if root.starts_with('@') || root.contains("/@") {
            return Err(invalid("it is in zenoh's `@` (admin) space".to_owned()));
        }
        Ok(KeyMap { root: key })
    }

    /// The root key.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::zenoh::KeyMap::default().root(), "evlatch");
    /// ```
    #[must_use]
    pub fn root(&self) -> &keyexpr {
        &self.root
    }

    /// The key of `topic`: the root, then each segment as one chunk.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidTopic`] if `topic` is not a valid topic.
    ///
    /// # Examples
    ///
    /// ```
    /// let keys = evlatch_std::zenoh::KeyMap::default();
    /// assert_eq!(keys.topic_key("a.b-c.d_1")?.as_str(), "evlatch/a/b-c/d_1");
    /// assert!(keys.topic_key("a.*").is_err());
    /// # Ok::<(), evlatch_std::zenoh::KeyError>(())
    /// ```
    pub fn topic_key(&self, topic: &str) -> Result<OwnedKeyExpr, KeyError> {
        let topic = Topic::new(topic).map_err(KeyError::InvalidTopic)?;
        self.key_of(&topic)
    }

    /// The key of a validated topic.
    pub(crate) fn key_of(&self, topic: &Topic<'_>) -> Result<OwnedKeyExpr, KeyError> {
        let mut text = self.text_with_capacity(topic.as_str().len());
        for segment in topic.segments() {
            text.push('/');
            text.push_str(segment);
        }
        OwnedKeyExpr::new(text).map_err(|e| KeyError::Engine(e.to_string()))
    }

    /// The key expression of `pattern`, canonical: `?` becomes `*`, `*`
    /// becomes `*/**`.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPattern`] if `pattern` is not a valid pattern.
    ///
    /// # Examples
    ///
    /// ```
    /// let keys = evlatch_std::zenoh::KeyMap::default();
    /// assert_eq!(keys.pattern_key("a.?")?.as_str(), "evlatch/a/*");
    /// assert_eq!(keys.pattern_key("a.*")?.as_str(), "evlatch/a/*/**");
    /// assert_eq!(keys.pattern_key("*.*")?.as_str(), "evlatch/*/*/**");
    /// # Ok::<(), evlatch_std::zenoh::KeyError>(())
    /// ```
    pub fn pattern_key(&self, pattern: &str) -> Result<OwnedKeyExpr, KeyError> {
        let pattern = Pattern::new(pattern).map_err(KeyError::InvalidPattern)?;
        self.key_of_pattern(&pattern)
    }

    /// The key expression of a validated pattern.
    pub(crate) fn key_of_pattern(&self, pattern: &Pattern<'_>) -> Result<OwnedKeyExpr, KeyError> {
        let mut text = self.text_with_capacity(pattern.as_str().len() * 2);
        for segment in pattern.segments() {
            text.push('/');
            text.push_str(match segment {
                PatternSegment::Literal(l) => l,
                PatternSegment::One => "*",
                PatternSegment::OneOrMore => "*/**",
            });
        }
        OwnedKeyExpr::autocanonize(text).map_err(|e| KeyError::Engine(e.to_string()))
    }

    /// The topic that `key` is the key of.
    ///
    /// # Errors
    ///
    /// [`KeyError::OutsideRoot`] if `key` is not strictly under the root;
    /// [`KeyError::NotATopic`] if the rest is not a topic's key (a
    /// wildcard, a chunk with `.` or another byte a topic segment cannot
    /// hold, too long, too many chunks).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::{KeyError, KeyMap};
    /// let keys = KeyMap::default();
    /// let key = |k: &str| evlatch_std::zenoh::engine::key_expr::OwnedKeyExpr::new(k).unwrap();
    /// assert_eq!(keys.topic_of(&key("evlatch/a/b"))?, "a.b");
    /// assert!(matches!(keys.topic_of(&key("evlatch")), Err(KeyError::OutsideRoot { .. })));
    /// assert!(matches!(keys.topic_of(&key("evlatch/a.b")), Err(KeyError::NotATopic { .. })));
    /// assert!(matches!(keys.topic_of(&key("evlatch/a/*")), Err(KeyError::NotATopic { .. })));
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn topic_of(&self, key: &keyexpr) -> Result<String, KeyError> {
        let text = key.as_str();
        let rest = text
            .strip_prefix(self.root.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| KeyError::OutsideRoot {
                key: text.to_owned(),
                root: self.root.as_str().to_owned(),
            })?;
        let not_a_topic = |reason: String| KeyError::NotATopic {
            key: text.to_owned(),
            reason,
        };
        if rest.contains('.') {
            return Err(not_a_topic(
                "a chunk holds `.`, which no topic segment can".to_owned(),
            ));
        }
        let topic = rest.replace('/', ".");
        match Topic::new(&topic) {
            Ok(_) => Ok(topic),
            Err(e) => Err(not_a_topic(e.to_string())),
        }
    }

    fn text_with_capacity(&self, extra: usize) -> String {
        let mut text = String::with_capacity(self.root.len() + extra + 8);
        text.push_str(self.root.as_str());
        text
    }
}

impl Default for KeyMap {
    /// The map under [`KeyMap::DEFAULT_ROOT`].
    fn default() -> Self {
        KeyMap {
            root: OwnedKeyExpr::new(Self::DEFAULT_ROOT).unwrap_or_else(|_| unreachable_root()),
        }
    }
}

#[cold]
fn unreachable_root() -> ! {
    unreachable!("`evlatch` is a valid zenoh key")
}

impl fmt::Debug for KeyMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMap")
            .field("root", &self.root.as_str())
            .finish()
    }
}
