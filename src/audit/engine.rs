//! Evaluating the rules on one case: the Declare semantics, in one place.
//!
//! A case arrives as its events sorted by (instant, input line) — ties keep input
//! order — each with the attribute values the rules read. For every rule the checker
//! marks activation and target events once (activity + local condition), then walks
//! the case as the template says. Everything here is per case and allocation-free
//! after warm-up (buffers live in [`Scratch`]); the reader parallelises over cases.
//!
//! Semantics (documented for users in `docs/audit-rules.md`):
//! - A binary rule is *violated* iff some activation is unfulfilled (positive
//!   templates) or the forbidden pattern occurs (negative templates); a case with no
//!   activation is *vacuous*. Audit mode: the log is complete, so an activation still
//!   waiting at the end of the case is unfulfilled.
//! - A target fulfils activation `i` iff it matches the target activity and
//!   condition, the correlation holds (A = the activation, T = the target) and the
//!   elapsed time is inside the window: t(T) − t(A) for response-like and unordered
//!   templates, t(A) − t(T) for precedence-like ones; bounds inclusive.
//! - "Later"/"earlier" are positions in the sorted case, so two events at the same
//!   instant are ordered by input line. An event is never its own target.

use super::expr::{self, Event, Values};
use super::rules::{Rule, Template};
use super::time::Micros;
use super::values::ValueTable;

/// One event, compact: 16 bytes. Attribute values live beside it (see [`Case`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ev {
    pub t: Micros,
    /// 1-based line (or record number) in the input: the tie-breaker and the pointer
    /// an auditor follows back into the file.
    pub line: u32,
    pub act: u16,
    /// UTC offset the timestamp was written with, in minutes (display only).
    pub off: i16,
}

/// A case ready to check: events sorted, and for each event the start of its
/// attribute values in `attrs` (one value per slot its activity stores).
pub struct Case<'a> {
    pub evs: &'a [Ev],
    pub attrs: &'a [u32],
    pub attr_at: &'a [u32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Vacuous,
    Fulfilled,
    Violated,
}

/// One rule on one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Activation events in the case.
    pub activations: u32,
    /// Unfulfilled activations, or occurrences of the forbidden pattern.
    pub violations: u32,
    /// The first offending event (index into the sorted case) and, for a forbidden
    /// pattern, the event that completed it.
    pub evidence: Option<(usize, Option<usize>)>,
}

/// Per-thread buffers.
#[derive(Default)]
pub struct Scratch {
    is_a: Vec<bool>,
    is_t: Vec<bool>,
    acts: Vec<usize>,
    /// After [`Checker::check`]: every offending event (unfulfilled activation, the
    /// activation of a forbidden occurrence, or — for succession and co-existence — a
    /// target lacking its activation, flagged `false`), in scan order. Live
    /// monitoring reads it to tell a violation from an obligation still pending.
    pub bad: Vec<(usize, bool)>,
}

impl Scratch {
    /// Whether event `i` of the last checked case was an activation.
    pub fn is_activation(&self, i: usize) -> bool {
        self.is_a.get(i).copied().unwrap_or(false)
    }
}

/// The rules, prepared for fast per-event tests.
pub struct Checker<'r> {
    pub rules: &'r [Rule],
    pub values: &'r ValueTable,
    /// `pos[act][slot]`: where slot's value sits among an event's values (255 = not
    /// stored for this activity).
    pos: Vec<Vec<u8>>,
    /// Values stored per event of each activity.
    stored: Vec<usize>,
    act_masks: Vec<(Vec<bool>, Vec<bool>)>,
}

struct EvRef<'a> {
    ev: &'a Ev,
    vals: &'a [u32],
    pos: &'a [u8],
}

impl Event for EvRef<'_> {
    fn attr(&self, slot: u16) -> u32 {
        match self.pos.get(slot as usize) {
            Some(&p) if p != u8::MAX => self.vals.get(p as usize).copied().unwrap_or(0),
            _ => 0,
        }
    }
    fn time(&self) -> Micros {
        self.ev.t
    }
}

impl<'r> Checker<'r> {
    /// `slots_by_act[act]` lists the slots stored for events of `act`, in storage
    /// order (see `RuleSet::slots_by_activity`).
    pub fn new(
        rules: &'r [Rule],
        values: &'r ValueTable,
        slots_by_act: &[Vec<u16>],
        n_slots: usize,
    ) -> Self {
        let pos = slots_by_act
            .iter()
            .map(|slots| {
                let mut p = vec![u8::MAX; n_slots];
                for (i, &s) in slots.iter().enumerate() {
                    p[s as usize] = i as u8;
                }
                p
            })
            .collect();
        let n_acts = slots_by_act.len();
        let mask = |acts: &[u16]| {
            let mut m = vec![false; n_acts];
            for &a in acts {
                if let Some(x) = m.get_mut(a as usize) {
                    *x = true;
                }
            }
            m
        };
        let act_masks = rules
            .iter()
            .map(|r| {
                (
                    mask(&r.activation.acts),
                    r.target.as_ref().map(|t| mask(&t.acts)).unwrap_or_default(),
                )
            })
            .collect();
        Checker {
            rules,
            values,
            pos,
            stored: slots_by_act.iter().map(Vec::len).collect(),
            act_masks,
        }
    }

    /// How many attribute values an event of `act` carries.
    pub fn stored(&self, act: u16) -> usize {
        self.stored.get(act as usize).copied().unwrap_or(0)
    }

    fn ev<'a>(&'a self, case: &'a Case<'a>, i: usize) -> EvRef<'a> {
        let ev = &case.evs[i];
        let start = case.attr_at[i] as usize;
        let pos: &[u8] = self
            .pos
            .get(ev.act as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let n = self.stored.get(ev.act as usize).copied().unwrap_or(0);
        EvRef {
            ev,
            vals: case.attrs.get(start..start + n).unwrap_or(&[]),
            pos,
        }
    }

    /// Checks rule `r` on `case`.
    pub fn check(&self, r: usize, case: &Case<'_>, s: &mut Scratch) -> Outcome {
        self.check_in(self.values, r, case, s)
    }

    /// [`Checker::check`] with the attribute values of `case` looked up in `values`
    /// (live monitoring keeps one small table per case on top of the rules'
    /// literals).
    pub fn check_in<V: Values>(
        &self,
        values: &V,
        r: usize,
        case: &Case<'_>,
        s: &mut Scratch,
    ) -> Outcome {
        let bad = std::cell::RefCell::new(std::mem::take(&mut s.bad));
        bad.borrow_mut().clear();
        let out = self.check_inner(values, r, case, s, &bad);
        s.bad = bad.into_inner();
        out
    }

    fn check_inner<V: Values>(
        &self,
        values: &V,
        r: usize,
        case: &Case<'_>,
        s: &mut Scratch,
        bad_out: &std::cell::RefCell<Vec<(usize, bool)>>,
    ) -> Outcome {
        let rule = &self.rules[r];
        let (am, tm) = &self.act_masks[r];
        let n = case.evs.len();
        s.is_a.clear();
        s.is_t.clear();
        for i in 0..n {
            let act = case.evs[i].act as usize;
            let a = am.get(act).copied().unwrap_or(false)
                && rule.activation.when.as_ref().is_none_or(|w| {
                    let e = self.ev(case, i);
                    expr::holds(w, &expr::Env::local(&e), values)
                });
            s.is_a.push(a);
            let t = match &rule.target {
                Some(spec) => {
                    tm.get(act).copied().unwrap_or(false)
                        && spec.when.as_ref().is_none_or(|w| {
                            let e = self.ev(case, i);
                            expr::holds(w, &expr::Env::local(&e), values)
                        })
                }
                None => false,
            };
            s.is_t.push(t);
        }
        s.acts.clear();
        s.acts.extend((0..n).filter(|&i| s.is_a[i]));
        let is_a = &s.is_a;
        let is_t = &s.is_t;
        let acts = &s.acts;
        let count = acts.len() as u32;
        // Does event j fulfil activation i (A = i, T = j)?
        let fulfils = |i: usize, j: usize| -> bool {
            i != j && is_t[j] && self.pair_ok(values, rule, case, i, j)
        };
        // Positive templates: `unfulfilled(i)` says whether activation i lacks a target.
        let positive = |unfulfilled: &dyn Fn(usize) -> bool| -> Outcome {
            if count == 0 {
                return Outcome::vacuous();
            }
            let mut bad = 0;
            let mut first = None;
            for &i in acts {
                if unfulfilled(i) {
                    bad += 1;
                    first.get_or_insert(i);
                    bad_out.borrow_mut().push((i, true));
                }
            }
            match first {
                None => Outcome::fulfilled(count),
                Some(f) => Outcome::violated(count, bad, (f, None)),
            }
        };
        // Negative templates: `forbidden(i)` finds a target completing the pattern.
        let negative = |forbidden: &dyn Fn(usize) -> Option<usize>, activations: u32| -> Outcome {
            if activations == 0 {
                return Outcome::vacuous();
            }
            let mut bad = 0;
            let mut first = None;
            for &i in acts {
                if let Some(j) = forbidden(i) {
                    bad += 1;
                    first.get_or_insert((i, Some(j)));
                    bad_out.borrow_mut().push((i, true));
                }
            }
            match first {
                None => Outcome::fulfilled(activations),
                Some(e) => Outcome::violated(activations, bad, e),
            }
        };
        match rule.template {
            Template::Existence => Outcome::counted(count >= rule.n, count, None),
            Template::Exactly => Outcome::counted(
                count == rule.n,
                count,
                acts.get(rule.n as usize).map(|&i| (i, None)),
            ),
            Template::Absence => {
                if count == 0 {
                    Outcome::vacuous()
                } else {
                    Outcome::counted(
                        count < rule.n,
                        count,
                        acts.get(rule.n.saturating_sub(1) as usize)
                            .map(|&i| (i, None)),
                    )
                }
            }
            Template::Init => match n {
                0 => Outcome::vacuous(),
                _ => Outcome::counted(is_a[0], count, Some((0, None))),
            },
            Template::End => match n {
                0 => Outcome::vacuous(),
                _ => Outcome::counted(is_a[n - 1], count, Some((n - 1, None))),
            },
            Template::RespondedExistence => positive(&|i| !(0..n).any(|j| fulfils(i, j))),
            Template::Response => positive(&|i| !(i + 1..n).any(|j| fulfils(i, j))),
            Template::AlternateResponse => positive(&|i| {
                // Scan forward; the next activation closes the search (it may itself
                // be the fulfilling target).
                for (j, &is_act) in is_a.iter().enumerate().skip(i + 1) {
                    if fulfils(i, j) {
                        return false;
                    }
                    if is_act {
                        return true;
                    }
                }
                true
            }),
            Template::ChainResponse => positive(&|i| !(i + 1 < n && fulfils(i, i + 1))),
            Template::Precedence => positive(&|i| !(0..i).any(|j| fulfils(i, j))),
            Template::AlternatePrecedence => positive(&|i| {
                for j in (0..i).rev() {
                    if fulfils(i, j) {
                        return false;
                    }
                    if is_a[j] {
                        return true;
                    }
                }
                true
            }),
            Template::ChainPrecedence => positive(&|i| !(i >= 1 && fulfils(i, i - 1))),
            Template::Succession | Template::CoExistence => {
                let forward_only = rule.template == Template::Succession;
                let n_targets = is_t.iter().filter(|&&t| t).count() as u32;
                let total = count + n_targets;
                if total == 0 {
                    return Outcome::vacuous();
                }
                let mut bad = 0;
                let mut first: Option<usize> = None;
                // Every activation needs a target (later, for succession) …
                for &i in acts {
                    let lo = if forward_only { i + 1 } else { 0 };
                    if !(lo..n).any(|j| fulfils(i, j)) {
                        bad += 1;
                        first = Some(first.map_or(i, |f| f.min(i)));
                        bad_out.borrow_mut().push((i, true));
                    }
                }
                // … and every target an activation (earlier, for succession).
                for j in (0..n).filter(|&j| is_t[j]) {
                    let hi = if forward_only { j } else { n };
                    if !(0..hi).any(|i| i != j && is_a[i] && self.pair_ok(values, rule, case, i, j))
                    {
                        bad += 1;
                        first = Some(first.map_or(j, |f| f.min(j)));
                        bad_out.borrow_mut().push((j, false));
                    }
                }
                match first {
                    None => Outcome::fulfilled(total),
                    Some(f) => Outcome::violated(total, bad, (f, None)),
                }
            }
            Template::NotCoExistence => {
                let total = count + is_t.iter().filter(|&&t| t).count() as u32;
                negative(&|i| (0..n).find(|&j| fulfils(i, j)), total)
            }
            Template::NotRespondedExistence => {
                negative(&|i| (0..n).find(|&j| fulfils(i, j)), count)
            }
            Template::NotResponse | Template::NotSuccession => {
                negative(&|i| (i + 1..n).find(|&j| fulfils(i, j)), count)
            }
            Template::NotPrecedence => negative(&|i| (0..i).rev().find(|&j| fulfils(i, j)), count),
            Template::NotChainResponse => negative(
                &|i| (i + 1 < n && fulfils(i, i + 1)).then_some(i + 1),
                count,
            ),
            Template::NotChainPrecedence => {
                negative(&|i| (i >= 1 && fulfils(i, i - 1)).then(|| i - 1), count)
            }
        }
    }

    /// Correlation and window between activation `i` and target `j` (target activity
    /// and condition already checked by the caller).
    fn pair_ok<V: Values>(
        &self,
        values: &V,
        rule: &Rule,
        case: &Case<'_>,
        i: usize,
        j: usize,
    ) -> bool {
        if let Some(w) = &rule.window {
            let (ti, tj) = (case.evs[i].t, case.evs[j].t);
            let d = if rule.template.target_before() {
                ti.saturating_sub(tj)
            } else {
                tj.saturating_sub(ti)
            };
            if !w.contains(d) {
                return false;
            }
        }
        match &rule.correlation {
            None => true,
            Some(c) => {
                let a = self.ev(case, i);
                let t = self.ev(case, j);
                expr::holds(c, &expr::Env::pair(&a, &t), values)
            }
        }
    }

    /// Text of attribute `slot` on event `i` (for evidence), if stored.
    pub fn attr_text(&self, case: &Case<'_>, i: usize, slot: u16) -> Option<&str> {
        match self.ev(case, i).attr(slot) {
            0 => None,
            id => Some(self.values.text(id)),
        }
    }
}

impl Outcome {
    fn vacuous() -> Outcome {
        Outcome {
            verdict: Verdict::Vacuous,
            activations: 0,
            violations: 0,
            evidence: None,
        }
    }

    fn fulfilled(activations: u32) -> Outcome {
        Outcome {
            verdict: Verdict::Fulfilled,
            activations,
            violations: 0,
            evidence: None,
        }
    }

    fn violated(activations: u32, violations: u32, evidence: (usize, Option<usize>)) -> Outcome {
        Outcome {
            verdict: Verdict::Violated,
            activations,
            violations,
            evidence: Some(evidence),
        }
    }

    fn counted(ok: bool, activations: u32, evidence: Option<(usize, Option<usize>)>) -> Outcome {
        if ok {
            Outcome::fulfilled(activations)
        } else {
            Outcome {
                verdict: Verdict::Violated,
                activations,
                violations: 1,
                evidence,
            }
        }
    }
}
