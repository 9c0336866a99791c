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
}

/// The rules, prepared for fast per-event tests.
pub struct Checker<'r> {
    pub rules: &'r [Rule],
    pub values: &'r ValueTable,
    /// `pos[act][slot]`: where slot's value sits among an event's values (255 = not
    /// stored for this activity).
    pos: Vec<Vec<u8>>,
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
            act_masks,
        }
    }

    fn ev<'a>(&'a self, case: &'a Case<'a>, i: usize) -> EvRef<'a> {
        let ev = &case.evs[i];
        let start = case.attr_at[i] as usize;
        let pos: &[u8] = self
            .pos
            .get(ev.act as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let n = pos.iter().filter(|&&p| p != u8::MAX).count();
        EvRef {
            ev,
            vals: case.attrs.get(start..start + n).unwrap_or(&[]),
            pos,
        }
    }

    /// Checks rule `r` on `case`.
    pub fn check(&self, r: usize, case: &Case<'_>, s: &mut Scratch) -> Outcome {
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
                    expr::holds(w, &expr::Env::local(&e), self.values)
                });
            s.is_a.push(a);
            let t = match &rule.target {
                Some(spec) => {
                    tm.get(act).copied().unwrap_or(false)
                        && spec.when.as_ref().is_none_or(|w| {
                            let e = self.ev(case, i);
                            expr::holds(w, &expr::Env::local(&e), self.values)
                        })
                }
                None => false,
            };
            s.is_t.push(t);
        }
        let is_a = &s.is_a;
        let is_t = &s.is_t;
        let acts: Vec<usize> = (0..n).filter(|&i| is_a[i]).collect();
        let count = acts.len() as u32;
        // Does event j fulfil activation i (A = i, T = j)?
        let fulfils = |i: usize, j: usize| -> bool {
            if i == j || !is_t[j] {
                return false;
            }
            self.pair_ok(rule, case, i, j)
        };
        let positive = |unfulfilled: Vec<usize>| -> Outcome {
            if count == 0 {
                return Outcome::vacuous();
            }
            match unfulfilled.first() {
                None => Outcome::fulfilled(count),
                Some(&f) => Outcome {
                    verdict: Verdict::Violated,
                    activations: count,
                    violations: unfulfilled.len() as u32,
                    evidence: Some((f, None)),
                },
            }
        };
        let negative = |pairs: Vec<(usize, usize)>, activations: u32| -> Outcome {
            if activations == 0 {
                return Outcome::vacuous();
            }
            match pairs.first() {
                None => Outcome::fulfilled(activations),
                Some(&(i, j)) => Outcome {
                    verdict: Verdict::Violated,
                    activations,
                    violations: pairs.len() as u32,
                    evidence: Some((i, Some(j))),
                },
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
            Template::RespondedExistence => positive(
                acts.iter()
                    .copied()
                    .filter(|&i| !(0..n).any(|j| fulfils(i, j)))
                    .collect(),
            ),
            Template::Response => positive(
                acts.iter()
                    .copied()
                    .filter(|&i| !(i + 1..n).any(|j| fulfils(i, j)))
                    .collect(),
            ),
            Template::AlternateResponse => positive(
                acts.iter()
                    .copied()
                    .filter(|&i| {
                        // Scan forward; the next activation closes the search (it may
                        // itself be the fulfilling target).
                        for j in i + 1..n {
                            if fulfils(i, j) {
                                return false;
                            }
                            if is_a[j] {
                                return true;
                            }
                        }
                        true
                    })
                    .collect(),
            ),
            Template::ChainResponse => positive(
                acts.iter()
                    .copied()
                    .filter(|&i| !(i + 1 < n && fulfils(i, i + 1)))
                    .collect(),
            ),
            Template::Precedence => positive(
                acts.iter()
                    .copied()
                    .filter(|&i| !(0..i).any(|j| fulfils(i, j)))
                    .collect(),
            ),
            Template::AlternatePrecedence => positive(
                acts.iter()
                    .copied()
                    .filter(|&i| {
                        for j in (0..i).rev() {
                            if fulfils(i, j) {
                                return false;
                            }
                            if is_a[j] {
                                return true;
                            }
                        }
                        true
                    })
                    .collect(),
            ),
            Template::ChainPrecedence => positive(
                acts.iter()
                    .copied()
                    .filter(|&i| !(i >= 1 && fulfils(i, i - 1)))
                    .collect(),
            ),
            Template::Succession | Template::CoExistence => {
                let forward_only = rule.template == Template::Succession;
                let targets: Vec<usize> = (0..n).filter(|&j| is_t[j]).collect();
                let total = count + targets.len() as u32;
                if total == 0 {
                    return Outcome::vacuous();
                }
                // Every activation needs a target (later, for succession) …
                let mut bad: Vec<usize> = acts
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let range = if forward_only { i + 1..n } else { 0..n };
                        !range.into_iter().any(|j| fulfils(i, j))
                    })
                    .collect();
                // … and every target an activation (earlier, for succession).
                bad.extend(targets.iter().copied().filter(|&j| {
                    let range = if forward_only { 0..j } else { 0..n };
                    !range
                        .into_iter()
                        .any(|i| i != j && is_a[i] && self.pair_ok(rule, case, i, j))
                }));
                bad.sort_unstable();
                match bad.first() {
                    None => Outcome::fulfilled(total),
                    Some(&f) => Outcome {
                        verdict: Verdict::Violated,
                        activations: total,
                        violations: bad.len() as u32,
                        evidence: Some((f, None)),
                    },
                }
            }
            Template::NotCoExistence => {
                let total = count + is_t.iter().filter(|&&t| t).count() as u32;
                let pairs: Vec<(usize, usize)> = acts
                    .iter()
                    .flat_map(|&i| (0..n).filter(move |&j| fulfils(i, j)).map(move |j| (i, j)))
                    .collect();
                negative(pairs, total)
            }
            Template::NotRespondedExistence => negative(
                acts.iter()
                    .flat_map(|&i| (0..n).filter(move |&j| fulfils(i, j)).map(move |j| (i, j)))
                    .collect(),
                count,
            ),
            Template::NotResponse | Template::NotSuccession => negative(
                acts.iter()
                    .flat_map(|&i| {
                        (i + 1..n)
                            .filter(move |&j| fulfils(i, j))
                            .map(move |j| (i, j))
                    })
                    .collect(),
                count,
            ),
            Template::NotPrecedence => negative(
                acts.iter()
                    .flat_map(|&i| (0..i).filter(move |&j| fulfils(i, j)).map(move |j| (i, j)))
                    .collect(),
                count,
            ),
            Template::NotChainResponse => negative(
                acts.iter()
                    .filter(|&&i| i + 1 < n && fulfils(i, i + 1))
                    .map(|&i| (i, i + 1))
                    .collect(),
                count,
            ),
            Template::NotChainPrecedence => negative(
                acts.iter()
                    .filter(|&&i| i >= 1 && fulfils(i, i - 1))
                    .map(|&i| (i, i - 1))
                    .collect(),
                count,
            ),
        }
    }

    /// Correlation and window between activation `i` and target `j` (target activity
    /// and condition already checked by the caller).
    fn pair_ok(&self, rule: &Rule, case: &Case<'_>, i: usize, j: usize) -> bool {
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
                expr::holds(c, &expr::Env::pair(&a, &t), self.values)
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
