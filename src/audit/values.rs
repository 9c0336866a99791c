//! Interned attribute values, shared by the reader threads.
//!
//! Reading interns every attribute value the rules look at (worker ids, colours,
//! service types, appointment times …) so an event stores 4-byte ids and a
//! correlation is an integer compare. A log can hold millions of distinct values
//! (one appointment time per order), so texts live in one arena per shard — no
//! allocation per value — and are hashed once. The interner is sharded (one lock per
//! shard) and each reader keeps a small private cache in front of it, since
//! low-cardinality values (colours, worker ids) repeat on every row. After reading,
//! the interner is frozen into a [`ValueTable`] in which every text has been parsed
//! once as a number, an instant and a boolean.

use std::hash::BuildHasher;
use std::sync::Mutex;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::expr::Values;
use super::time::{self, Micros};

const SHARDS: usize = 16;

/// Texts in one string; text `i` ends at `ends[i]`.
#[derive(Default)]
struct Arena {
    text: String,
    ends: Vec<u32>,
}

impl Arena {
    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

#[derive(Default)]
struct Shard {
    table: HashTable<u32>,
    arena: Arena,
}

fn hash(text: &str) -> u64 {
    FxBuildHasher.hash_one(text)
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

impl Interner {
    pub fn intern(&self, text: &str) -> u32 {
        self.intern_hashed(text, hash(text))
    }

    fn intern_hashed(&self, text: &str, h: u64) -> u32 {
        let s = (h >> 40) as usize % SHARDS;
        let mut guard = match self.shards[s].lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let Shard { table, arena } = &mut *guard;
        let local = match table.find(h, |&i| arena.get(i) == text) {
            Some(&i) => i,
            None => {
                let i = arena.len() as u32;
                arena.text.push_str(text);
                arena.ends.push(arena.text.len() as u32);
                let arena = &*arena;
                table.insert_unique(h, i, |&j| hash(arena.get(j)));
                i
            }
        };
        local * SHARDS as u32 + s as u32 + 1
    }

    /// Freezes into a table indexed by id, parsing each text once.
    pub fn freeze(self, default_offset: Option<i32>) -> ValueTable {
        let arenas: Vec<Arena> = self
            .shards
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()).arena)
            .collect();
        let max = arenas
            .iter()
            .enumerate()
            .map(|(s, a)| a.len() * SHARDS + s + 1)
            .max()
            .unwrap_or(0);
        let mut meta = vec![Meta::default(); max + 1];
        for (s, a) in arenas.iter().enumerate() {
            for i in 0..a.len() {
                meta[i * SHARDS + s + 1] = Meta::new(a.get(i as u32), default_offset);
            }
        }
        ValueTable { arenas, meta }
    }
}

/// What a text parses as: `NUM`/`TIME`/`TRUE`/`FALSE` bits and the value — the bits
/// of the number or the instant (no text is both: an instant is not a float).
/// 16 bytes, since there can be millions.
#[derive(Debug, Default, Clone, Copy)]
struct Meta {
    kinds: u8,
    value: i64,
}

const NUM: u8 = 1;
const TIME: u8 = 2;
const TRUE: u8 = 4;
const FALSE: u8 = 8;

impl Meta {
    fn new(text: &str, default_offset: Option<i32>) -> Meta {
        let t = text.trim_ascii();
        let mut m = Meta::default();
        if let Some(n) = t.parse::<f64>().ok().filter(|n| n.is_finite()) {
            m.kinds |= NUM;
            m.value = n.to_bits() as i64;
        } else if t.len() >= 16
            && t.as_bytes()[4] == b'-'
            && let Ok((x, _)) = time::parse_instant(t, default_offset)
        {
            m.kinds |= TIME;
            m.value = x;
        }
        m.kinds |= match t {
            "true" | "TRUE" | "True" | "是" => TRUE,
            "false" | "FALSE" | "False" | "否" => FALSE,
            _ => 0,
        };
        m
    }
}

/// The frozen value table the engine evaluates against.
#[derive(Default)]
pub struct ValueTable {
    arenas: Vec<Arena>,
    meta: Vec<Meta>,
}

impl ValueTable {
    pub fn len(&self) -> usize {
        self.meta.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Values for ValueTable {
    fn text(&self, id: u32) -> &str {
        if id == 0 {
            return "";
        }
        let k = id as usize - 1;
        match self.arenas.get(k % SHARDS) {
            Some(a) if k / SHARDS < a.len() => a.get((k / SHARDS) as u32),
            _ => "",
        }
    }
    fn num(&self, id: u32) -> Option<f64> {
        let m = self.meta.get(id as usize)?;
        (m.kinds & NUM != 0).then(|| f64::from_bits(m.value as u64))
    }
    fn time(&self, id: u32) -> Option<Micros> {
        let m = self.meta.get(id as usize)?;
        (m.kinds & TIME != 0).then_some(m.value)
    }
    fn boolean(&self, id: u32) -> Option<bool> {
        let m = self.meta.get(id as usize)?;
        match m.kinds & (TRUE | FALSE) {
            TRUE => Some(true),
            FALSE => Some(false),
            _ => None,
        }
    }
}

/// Live monitoring's value table: the rule set's literals, frozen once, plus the
/// values of the case being checked. [`LiveValues::reset`] drops the case's values,
/// so memory follows one case, not every value ever seen; a value equal to a literal
/// gets the literal's id, since conditions compare ids.
pub struct LiveValues {
    base: ValueTable,
    base_index: rustc_hash::FxHashMap<String, u32>,
    first: u32,
    ext: Arena,
    ext_meta: Vec<Meta>,
    ext_index: HashTable<u32>,
    default_offset: Option<i32>,
}

impl LiveValues {
    pub fn new(literals: Interner, default_offset: Option<i32>) -> LiveValues {
        let base = literals.freeze(default_offset);
        let first = base.meta.len().max(1) as u32;
        let mut base_index = rustc_hash::FxHashMap::default();
        for id in 1..first {
            let text = base.text(id);
            if !text.is_empty() {
                base_index.insert(text.to_string(), id);
            }
        }
        LiveValues {
            base,
            base_index,
            first,
            ext: Arena::default(),
            ext_meta: Vec::new(),
            ext_index: HashTable::new(),
            default_offset,
        }
    }

    /// Forgets every value added since the last reset (the literals stay).
    pub fn reset(&mut self) {
        self.ext.text.clear();
        self.ext.ends.clear();
        self.ext_meta.clear();
        self.ext_index.clear();
    }

    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.base_index.get(text) {
            return id;
        }
        let h = hash(text);
        let arena = &self.ext;
        if let Some(&i) = self.ext_index.find(h, |&i| arena.get(i) == text) {
            return self.first + i;
        }
        let i = self.ext.len() as u32;
        self.ext.text.push_str(text);
        self.ext.ends.push(self.ext.text.len() as u32);
        self.ext_meta.push(Meta::new(text, self.default_offset));
        let arena = &self.ext;
        self.ext_index.insert_unique(h, i, |&j| hash(arena.get(j)));
        self.first + i
    }

    fn meta(&self, id: u32) -> Option<&Meta> {
        if id < self.first {
            self.base.meta.get(id as usize)
        } else {
            self.ext_meta.get((id - self.first) as usize)
        }
    }
}

impl Values for LiveValues {
    fn text(&self, id: u32) -> &str {
        if id < self.first {
            self.base.text(id)
        } else if ((id - self.first) as usize) < self.ext.len() {
            self.ext.get(id - self.first)
        } else {
            ""
        }
    }
    fn num(&self, id: u32) -> Option<f64> {
        let m = self.meta(id)?;
        (m.kinds & NUM != 0).then(|| f64::from_bits(m.value as u64))
    }
    fn time(&self, id: u32) -> Option<Micros> {
        let m = self.meta(id)?;
        (m.kinds & TIME != 0).then_some(m.value)
    }
    fn boolean(&self, id: u32) -> Option<bool> {
        match self.meta(id)?.kinds & (TRUE | FALSE) {
            TRUE => Some(true),
            FALSE => Some(false),
            _ => None,
        }
    }
}

/// A reader thread's private cache in front of the shared interner.
pub struct LocalInterner<'a> {
    shared: &'a Interner,
    cache: HashTable<(u32, u32)>,
    arena: Arena,
}

/// Values cached per reader thread. High-cardinality values (timestamps, policy
/// numbers) would make the cache as large as the table; past this bound new values
/// go straight to the shared interner.
const CACHE: usize = 4096;

impl<'a> LocalInterner<'a> {
    pub fn new(shared: &'a Interner) -> Self {
        LocalInterner {
            shared,
            cache: HashTable::new(),
            arena: Arena::default(),
        }
    }

    pub fn intern(&mut self, text: &str) -> u32 {
        let h = hash(text);
        let arena = &self.arena;
        if let Some(&(_, id)) = self.cache.find(h, |&(i, _)| arena.get(i) == text) {
            return id;
        }
        let id = self.shared.intern_hashed(text, h);
        if self.arena.len() < CACHE {
            let i = self.arena.len() as u32;
            self.arena.text.push_str(text);
            self.arena.ends.push(self.arena.text.len() as u32);
            let arena = &self.arena;
            self.cache
                .insert_unique(h, (i, id), |&(j, _)| hash(arena.get(j)));
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
        let d = {
            let mut local = LocalInterner::new(&i);
            assert_eq!(local.intern("红"), a);
            assert_eq!(local.intern("红"), a);
            local.intern("true")
        };
        assert_eq!(i.intern("红"), a);
        assert_ne!(a, 0);
        let t = i.freeze(None);
        assert_eq!(t.text(a), "红");
        assert_eq!(t.text(b), "2023-10-09T09:00:00+08:00");
        assert_eq!(t.num(c), Some(500000.0));
        assert!(t.time(b).is_some());
        assert_eq!(t.time(a), None);
        assert_eq!(t.boolean(d), Some(true));
        assert_eq!(t.text(0), "");
        assert_eq!(t.text(u32::MAX), "");
    }

    #[test]
    fn live_values_share_literal_ids_and_reset() {
        let lit = Interner::default();
        let red = lit.intern("红");
        let mut v = LiveValues::new(lit, Some(480));
        assert_eq!(v.intern("红"), red);
        let a = v.intern("W00001");
        let b = v.intern("2024-05-01T10:00:00");
        assert!(a > red && b > a);
        assert_eq!(v.intern("W00001"), a);
        assert_eq!(v.text(a), "W00001");
        assert_eq!(v.text(red), "红");
        assert!(v.time(b).is_some(), "default offset applies");
        v.reset();
        assert_eq!(v.text(a), "");
        assert_eq!(v.intern("X"), a, "ids are reused after a reset");
        assert_eq!(v.intern("红"), red);
    }

    #[test]
    fn many_values_keep_distinct_ids() {
        let i = Interner::default();
        let ids: Vec<u32> = (0..10_000).map(|n| i.intern(&format!("v{n}"))).collect();
        let again: Vec<u32> = (0..10_000).map(|n| i.intern(&format!("v{n}"))).collect();
        assert_eq!(ids, again);
        let t = i.freeze(None);
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(t.text(*id), format!("v{n}"));
        }
    }
}
