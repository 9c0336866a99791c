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
    map: FxHashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
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
        let local = shard.texts.len() as u32;
        let id = local * SHARDS as u32 + s as u32 + 1;
        shard.texts.push(text.into());
        shard.map.insert(text.into(), id);
        id
    }

    /// Freezes into a table indexed by id, parsing each text once.
    pub fn freeze(self, default_offset: Option<i32>) -> ValueTable {
        let mut shards: Vec<Shard> = self
            .shards
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .collect();
        let max = shards
            .iter()
            .enumerate()
            .map(|(s, sh)| sh.texts.len() * SHARDS + s + 1)
            .max()
            .unwrap_or(0);
        let mut entries: Vec<Entry> = (0..=max).map(|_| Entry::default()).collect();
        for (s, sh) in shards.iter_mut().enumerate() {
            for (i, text) in std::mem::take(&mut sh.texts).into_iter().enumerate() {
                entries[i * SHARDS + s + 1] = Entry::new(text, default_offset);
            }
        }
        ValueTable { entries }
    }
}

#[derive(Debug, Default)]
struct Entry {
    text: Box<str>,
    num: Option<f64>,
    time: Option<Micros>,
    boolean: Option<bool>,
}

impl Entry {
    fn new(text: Box<str>, default_offset: Option<i32>) -> Entry {
        let t = text.trim();
        let num = t.parse::<f64>().ok().filter(|n| n.is_finite());
        let time = if t.len() >= 16 && t.as_bytes()[4] == b'-' {
            time::parse_instant(t, default_offset).ok().map(|x| x.0)
        } else {
            None
        };
        let boolean = match t {
            "true" | "TRUE" | "True" | "是" => Some(true),
            "false" | "FALSE" | "False" | "否" => Some(false),
            _ => None,
        };
        Entry {
            text,
            num,
            time,
            boolean,
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
        self.entries.get(id as usize).and_then(|e| e.num)
    }
    fn time(&self, id: u32) -> Option<Micros> {
        self.entries.get(id as usize).and_then(|e| e.time)
    }
    fn boolean(&self, id: u32) -> Option<bool> {
        self.entries.get(id as usize).and_then(|e| e.boolean)
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
        if self.cache.len() < 1 << 16 {
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
