//! Interned attribute values, shared by the reader threads.
//!
//! Reading interns every attribute value the rules look at (worker ids, colours,
//! service types …) so an event stores 4-byte ids and a correlation is an integer
//! compare. The interner is sharded (one lock per shard) and each reader keeps a small
//! private cache in front of it, since most values repeat. After reading, the
//! interner is frozen into a [`ValueTable`] in which every text has been parsed once
//! as a number, a boolean and an instant.

use std::sync::Mutex;

use rustc_hash::{FxBuildHasher, FxHashMap};

use super::expr::Values;
use super::time::{self, Micros};

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// Text → id; the texts are recovered from the keys when freezing, so each
    /// value is allocated once.
    map: FxHashMap<Box<str>, u32>,
}

/// Text → id, safe to use from many threads. Id 0 means "absent".
pub struct Interner {
    shards: Vec<Mutex<Shard>>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }
}

fn shard_of(text: &str) -> usize {
    use std::hash::BuildHasher;
    (FxBuildHasher.hash_one(text) as usize >> 7) % SHARDS
}

impl Interner {
    pub fn intern(&self, text: &str) -> u32 {
        let s = shard_of(text);
        let mut shard = match self.shards[s].lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(&id) = shard.map.get(text) {
            return id;
        }
        let local = shard.map.len() as u32;
        let id = local * SHARDS as u32 + s as u32 + 1;
        shard.map.insert(text.into(), id);
        id
    }

    /// Freezes into a table indexed by id, parsing each text once.
    pub fn freeze(self, default_offset: Option<i32>) -> ValueTable {
        let shards: Vec<Shard> = self
            .shards
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .collect();
        let max = shards
            .iter()
            .enumerate()
            .map(|(s, sh)| sh.map.len() * SHARDS + s + 1)
            .max()
            .unwrap_or(0);
        let mut entries: Vec<Entry> = (0..=max).map(|_| Entry::default()).collect();
        for sh in shards {
            for (text, id) in sh.map {
                entries[id as usize] = Entry::new(text, default_offset);
            }
        }
        ValueTable { entries }
    }
}

/// A value's text and what it parses as: 32 bytes, since a log can hold millions of
/// distinct values (timestamps, policy numbers).
#[derive(Debug, Default)]
struct Entry {
    text: Box<str>,
    /// `NUM`/`TIME`/`TRUE`/`FALSE` bits saying which readings exist.
    kinds: u8,
    /// Bits of the number (f64) …
    num: u64,
    /// … and the instant, when the text is one.
    time: i64,
}

const NUM: u8 = 1;
const TIME: u8 = 2;
const TRUE: u8 = 4;
const FALSE: u8 = 8;

impl Entry {
    fn new(text: Box<str>, default_offset: Option<i32>) -> Entry {
        let t = text.trim_ascii();
        let mut kinds = 0;
        let mut num = 0;
        let mut time = 0;
        if let Some(n) = t.parse::<f64>().ok().filter(|n| n.is_finite()) {
            kinds |= NUM;
            num = n.to_bits();
        }
        if t.len() >= 16
            && t.as_bytes()[4] == b'-'
            && let Ok((x, _)) = time::parse_instant(t, default_offset)
        {
            kinds |= TIME;
            time = x;
        }
        kinds |= match t {
            "true" | "TRUE" | "True" | "是" => TRUE,
            "false" | "FALSE" | "False" | "否" => FALSE,
            _ => 0,
        };
        Entry {
            text,
            kinds,
            num,
            time,
        }
    }
}

/// The frozen value table the engine evaluates against.
#[derive(Debug, Default)]
pub struct ValueTable {
    entries: Vec<Entry>,
}

impl ValueTable {
    pub fn len(&self) -> usize {
        self.entries.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Values for ValueTable {
    fn text(&self, id: u32) -> &str {
        self.entries
            .get(id as usize)
            .map(|e| &*e.text)
            .unwrap_or("")
    }
    fn num(&self, id: u32) -> Option<f64> {
        let e = self.entries.get(id as usize)?;
        (e.kinds & NUM != 0).then(|| f64::from_bits(e.num))
    }
    fn time(&self, id: u32) -> Option<Micros> {
        let e = self.entries.get(id as usize)?;
        (e.kinds & TIME != 0).then_some(e.time)
    }
    fn boolean(&self, id: u32) -> Option<bool> {
        let e = self.entries.get(id as usize)?;
        match e.kinds & (TRUE | FALSE) {
            TRUE => Some(true),
            FALSE => Some(false),
            _ => None,
        }
    }
}

/// A reader thread's private cache in front of the shared interner.
pub struct LocalInterner<'a> {
    shared: &'a Interner,
    cache: FxHashMap<Box<[u8]>, u32>,
}

impl<'a> LocalInterner<'a> {
    pub fn new(shared: &'a Interner) -> Self {
        LocalInterner {
            shared,
            cache: FxHashMap::default(),
        }
    }

    /// Interns `text` (already valid UTF-8 by construction of the caller).
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.cache.get(text.as_bytes()) {
            return id;
        }
        let id = self.shared.intern(text);
        // High-cardinality values (policy numbers, timestamps) would make the cache
        // as large as the table; stop caching past a bound.
        if self.cache.len() < 1 << 12 {
            self.cache.insert(text.as_bytes().into(), id);
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_parsed_once() {
        let i = Interner::default();
        let a = i.intern("红");
        let b = i.intern("2023-10-09T09:00:00+08:00");
        let c = i.intern("500000");
        assert_eq!(i.intern("红"), a);
        assert_ne!(a, 0);
        let t = i.freeze(None);
        assert_eq!(t.text(a), "红");
        assert_eq!(t.num(c), Some(500000.0));
        assert!(t.time(b).is_some());
        assert_eq!(t.time(a), None);
        assert_eq!(t.text(0), "");
    }
}
