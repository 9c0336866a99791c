//! Online conformance: the audit checker's rules, evaluated on open cases as their
//! events arrive and as time passes.
//!
//! There is no second implementation of the semantics. A case is re-checked with
//! [`Checker::check_in`] exactly as an audit checks a finished case, and the
//! offending events it reports are then read in the light of the clock: an
//! unfulfilled activation that a future event could still fulfil (the template looks
//! forward, the case is open and the window has not run out) is **pending** — or
//! **warned** once the rule's `warn:` threshold has passed — and anything else is
//! **violated**. A closed case is checked as the audit would check it, so replaying a
//! log and closing every case gives the audit's violations (tested).
//!
//! Every evaluation starts from the case's events, not from the previous state: an
//! event that arrives late (its time inside the window, its delivery after the
//! deadline fired) turns a violation back into a fulfilment instead of leaving the
//! live view and the audit disagreeing.

use std::collections::HashMap;

use crate::audit::engine::{Case, Checker, Ev, Scratch, Verdict};
use crate::audit::rules::{Rule, RuleSet, Template};
use crate::audit::time::{self, Micros};
use crate::audit::values::{LiveValues, ValueTable};

const HOUR: Micros = 3_600_000_000;
const DAY: Micros = 24 * HOUR;

/// An obligation's state. Fulfilled obligations are not listed: an obligation that
/// was open and no longer appears has been fulfilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Warned,
    Violated,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Warned => "warned",
            State::Violated => "violated",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        match s {
            "pending" => Some(State::Pending),
            "warned" => Some(State::Warned),
            "violated" => Some(State::Violated),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Pending => "待完成",
            State::Warned => "预警",
            State::Violated => "违规",
        }
    }
}

/// One open or broken obligation of a case under a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obligation {
    /// Index into the rule set.
    pub rule: usize,
    /// The event the obligation hangs on (the activation; for a succession target
    /// lacking its activation, the target); `None` for a case-level verdict (init,
    /// end, existence, absence, exactly).
    pub event: Option<String>,
    pub state: State,
    /// The event's activity as users call it (case-level: the rule's activation).
    pub activity: String,
    /// When the event happened (case-level: the case's first event).
    pub at: Micros,
    /// The deadline (window end), if the obligation has one.
    pub due: Option<Micros>,
    /// When it is (or was) warned about.
    pub warn_at: Option<Micros>,
}

impl Obligation {
    /// The stable key of the obligation inside its case.
    pub fn key(&self, rules: &[Rule]) -> String {
        let id = rules.get(self.rule).map(|r| r.id.as_str()).unwrap_or("");
        match &self.event {
            Some(e) => format!("{id}@{e}"),
            None => id.to_string(),
        }
    }
}

/// An event as live monitoring keeps it.
#[derive(Debug, Clone)]
struct LiveEvent {
    seq: i64,
    id: String,
    act: u16,
    t: Micros,
    off: i16,
    /// One value per slot the activity stores (`slots_by_act[act]`).
    vals: Vec<Option<Box<str>>>,
}

/// An open case.
#[derive(Debug, Clone, Default)]
pub struct LiveCase {
    events: Vec<LiveEvent>,
    /// Latest event instant.
    pub last_at: Micros,
    pub first_at: Micros,
    /// Attributes that place the case (outlet, town, worker), from its events.
    pub place: HashMap<String, String>,
}

impl LiveCase {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Attributes remembered to place a case on the dashboard.
pub const PLACE_KEYS: [&str; 4] = ["outlet_id", "town", "worker_id", "agency_id"];

/// The rule set prepared for live use, and the open cases.
pub struct Online {
    set: RuleSet,
    values: LiveValues,
    slots_by_act: Vec<Vec<u16>>,
    /// For each slot: event attribute keys that carry it, in preference order.
    slot_keys: Vec<Vec<String>>,
    keep_all: bool,
    scratch: Scratch,
    empty: ValueTable,
    pub cases: HashMap<String, LiveCase>,
    /// A case with no event for this long (by the clock) is closed and judged.
    /// Default: the longest window plus an hour, at least 7 days (an order booked
    /// days ahead is quiet until the appointment).
    pub close_after: Micros,
}

/// A case's evaluation at an instant.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub obligations: Vec<Obligation>,
    /// The next instant at which time alone changes the evaluation (a warning or a
    /// deadline), or the case closes.
    pub wake: Option<Micros>,
}

impl Online {
    pub fn new(mut set: RuleSet, default_offset: Option<i32>) -> Online {
        let literals = std::mem::take(&mut set.interner);
        let values = LiveValues::new(literals, default_offset);
        let slots_by_act = set.slots_by_activity();
        let slot_keys = set.slot_keys();
        let longest = set
            .rules
            .iter()
            .filter_map(|r| r.window.as_ref().map(|w| w.max))
            .filter(|m| *m != i64::MAX)
            .max()
            .unwrap_or(0);
        Online {
            keep_all: set.needs_all_events(),
            set,
            values,
            slots_by_act,
            slot_keys,
            scratch: Scratch::default(),
            empty: ValueTable::default(),
            cases: HashMap::new(),
            close_after: (longest + HOUR).max(7 * DAY),
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.set.rules
    }

    /// Adds an event to its case (kept sorted by instant, then arrival). Returns
    /// false when no rule looks at the event's activity (it is not kept).
    pub fn add(
        &mut self,
        seq: i64,
        id: &str,
        case_id: &str,
        activity: &str,
        timestamp: &str,
        attrs: &serde_json::Map<String, serde_json::Value>,
    ) -> bool {
        let Ok((t, off)) = time::parse_instant(timestamp, None) else {
            return false;
        };
        let act = self.set.activities.id(activity);
        let case = self.cases.entry(case_id.to_string()).or_default();
        for k in PLACE_KEYS {
            if let Some(v) = attrs.get(k).and_then(|v| v.as_str())
                && !v.trim().is_empty()
            {
                case.place.insert(k.to_string(), v.trim().to_string());
            }
        }
        if case.events.is_empty() {
            case.first_at = t;
            case.last_at = t;
        }
        case.first_at = case.first_at.min(t);
        case.last_at = case.last_at.max(t);
        if act == 0 && !self.keep_all {
            return false;
        }
        let vals = self.slots_by_act[act as usize]
            .iter()
            .map(|&slot| {
                self.slot_keys[slot as usize].iter().find_map(|k| {
                    attrs
                        .get(k)
                        .and_then(|v| match v {
                            serde_json::Value::String(s) => Some(s.trim().to_string()),
                            serde_json::Value::Number(n) => Some(n.to_string()),
                            serde_json::Value::Bool(b) => Some(b.to_string()),
                            _ => None,
                        })
                        .filter(|s| !s.is_empty())
                        .map(String::into_boxed_str)
                })
            })
            .collect();
        let ev = LiveEvent {
            seq,
            id: id.to_string(),
            act,
            t,
            off: off as i16,
            vals,
        };
        let at = case
            .events
            .partition_point(|e| (e.t, e.seq) <= (ev.t, ev.seq));
        case.events.insert(at, ev);
        true
    }

    /// Evaluates case `case_id` at `now`; `closed` judges it as finished (the audit's
    /// view: nothing more will come).
    pub fn evaluate(&mut self, case_id: &str, now: Micros, closed: bool) -> Evaluation {
        let Some(case) = self.cases.get(case_id) else {
            return Evaluation::default();
        };
        let n_slots = self.set.slots.names.len();
        let checker = Checker::new(&self.set.rules, &self.empty, &self.slots_by_act, n_slots);
        // The case in the engine's layout, its values interned on top of the literals.
        self.values.reset();
        let mut evs = Vec::with_capacity(case.events.len());
        let mut attrs: Vec<u32> = Vec::new();
        let mut attr_at = Vec::with_capacity(case.events.len());
        for (i, e) in case.events.iter().enumerate() {
            evs.push(Ev {
                t: e.t,
                line: i as u32 + 1,
                act: e.act,
                off: e.off,
            });
            attr_at.push(attrs.len() as u32);
            for v in &e.vals {
                attrs.push(v.as_deref().map(|s| self.values.intern(s)).unwrap_or(0));
            }
        }
        let c = Case {
            evs: &evs,
            attrs: &attrs,
            attr_at: &attr_at,
        };
        let n = evs.len();
        let mut out = Evaluation::default();
        let wake = |t: Micros, out: &mut Evaluation| {
            if t > now {
                out.wake = Some(out.wake.map_or(t, |w: Micros| w.min(t)));
            }
        };
        if !closed {
            wake(case.last_at.saturating_add(self.close_after), &mut out);
        }
        for (r, rule) in self.set.rules.iter().enumerate() {
            let outcome = checker.check_in(&self.values, r, &c, &mut self.scratch);
            if rule.template.is_unary() {
                if outcome.verdict != Verdict::Violated {
                    continue;
                }
                // Too few occurrences so far may still be made up while the case is
                // open; everything else (init, absence, too many) is final.
                let still = !closed
                    && match rule.template {
                        Template::Existence => true,
                        Template::Exactly => outcome.activations < rule.n,
                        Template::End => true,
                        _ => false,
                    };
                out.obligations.push(Obligation {
                    rule: r,
                    event: None,
                    state: if still {
                        State::Pending
                    } else {
                        State::Violated
                    },
                    activity: rule.activation.text.clone(),
                    at: case.first_at,
                    due: None,
                    warn_at: None,
                });
                continue;
            }
            for &(i, activation_side) in &self.scratch.bad {
                let e = &case.events[i];
                let forward = activation_side && can_follow(rule.template, &self.scratch, i, n);
                // A deadline only where a target is awaited (a precedence window
                // looks back).
                let due = rule
                    .window
                    .as_ref()
                    .map(|w| w.max)
                    .filter(|m| *m != i64::MAX)
                    .map(|m| e.t.saturating_add(m))
                    .filter(|_| forward_template(rule.template));
                let open = !closed && forward && due.is_none_or(|d| now <= d);
                let warn_at = rule.warn.and_then(|w| w.at(e.t, rule.window.as_ref()));
                let state = if !open {
                    State::Violated
                } else if warn_at.is_some_and(|w| now >= w) {
                    State::Warned
                } else {
                    State::Pending
                };
                if open {
                    if let Some(w) = warn_at {
                        wake(w, &mut out);
                    }
                    if let Some(d) = due {
                        // Violated just after the deadline (the bound is inclusive).
                        wake(d.saturating_add(1), &mut out);
                    }
                }
                out.obligations.push(Obligation {
                    rule: r,
                    event: Some(e.id.clone()),
                    state,
                    activity: self.set.activities.label(e.act).to_string(),
                    at: e.t,
                    due,
                    warn_at: warn_at.filter(|_| forward),
                });
            }
        }
        out
    }

    /// Forgets a case (after it was closed and judged).
    pub fn remove(&mut self, case_id: &str) -> Option<LiveCase> {
        self.cases.remove(case_id)
    }
}

/// Templates whose target comes after the activation in time (a window is then a
/// deadline).
fn forward_template(t: Template) -> bool {
    matches!(
        t,
        Template::Response
            | Template::RespondedExistence
            | Template::Succession
            | Template::CoExistence
            | Template::AlternateResponse
            | Template::ChainResponse
    )
}

/// Can a future event still fulfil activation `i` of a case of `n` events, given the
/// template? (Windows and closing are the caller's part.)
fn can_follow(t: Template, s: &Scratch, i: usize, n: usize) -> bool {
    match t {
        Template::Response
        | Template::RespondedExistence
        | Template::Succession
        | Template::CoExistence => true,
        // The next activation closes the search.
        Template::AlternateResponse => !(i + 1..n).any(|j| s.is_activation(j)),
        Template::ChainResponse => i + 1 == n,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r##"
standard: "T/ZTAC 001.2—2023"
activities:
  order_created: [下单]
  order_accepted: [受理]
  dispatched: [派单]
  code_verified: [核验安心码]
rules:
  - id: accept-2h
    clause: "#9.2"
    template: response
    activation: order_created
    target: order_accepted
    window: { max: 2h }
    warn: 75%
  - id: code-before-dispatch
    clause: "#10.1"
    template: precedence
    activation: dispatched
    target: code_verified
    correlation: [worker_id]
  - id: no-red
    clause: "#10.2"
    template: not_response
    activation: { activity: code_verified, when: code_color == "红" }
    target: dispatched
    correlation: [worker_id]
"##;

    fn online() -> Online {
        let set = RuleSet::from_sources(&[("t.yaml".into(), RULES.into())]).expect("rules");
        Online::new(set, None)
    }

    fn at(s: &str) -> Micros {
        time::parse_instant(s, None).expect("instant").0
    }

    fn add(o: &mut Online, seq: i64, case: &str, act: &str, ts: &str, attrs: serde_json::Value) {
        let serde_json::Value::Object(m) = attrs else {
            panic!("object")
        };
        o.add(seq, &format!("e{seq}"), case, act, ts, &m);
    }

    fn states(o: &mut Online, case: &str, now: &str, closed: bool) -> Vec<(String, State)> {
        let ev = o.evaluate(case, at(now), closed);
        let rules = o.rules().to_vec();
        let mut v: Vec<_> = ev
            .obligations
            .iter()
            .map(|x| (x.key(&rules), x.state))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn response_moves_pending_warned_violated_and_late_events_retract() {
        let mut o = online();
        let j = serde_json::json!({});
        add(
            &mut o,
            1,
            "C1",
            "下单",
            "2024-05-01T10:00:00+08:00",
            j.clone(),
        );
        let s = states(&mut o, "C1", "2024-05-01T10:30:00+08:00", false);
        assert_eq!(s, vec![("accept-2h@e1".into(), State::Pending)]);
        // 75% of 2 h = 1 h 30 min.
        let ev = o.evaluate("C1", at("2024-05-01T10:30:00+08:00"), false);
        assert_eq!(ev.wake, Some(at("2024-05-01T11:30:00+08:00")));
        let s = states(&mut o, "C1", "2024-05-01T11:30:00+08:00", false);
        assert_eq!(s, vec![("accept-2h@e1".into(), State::Warned)]);
        // The deadline is inclusive.
        let s = states(&mut o, "C1", "2024-05-01T12:00:00+08:00", false);
        assert_eq!(s[0].1, State::Warned);
        let s = states(&mut o, "C1", "2024-05-01T12:00:01+08:00", false);
        assert_eq!(s[0].1, State::Violated);
        // A late delivery of an in-time acceptance fulfils it after all.
        add(
            &mut o,
            2,
            "C1",
            "受理",
            "2024-05-01T11:59:00+08:00",
            j.clone(),
        );
        assert!(states(&mut o, "C1", "2024-05-01T12:05:00+08:00", false).is_empty());
        // A target outside the window does not.
        add(
            &mut o,
            3,
            "C2",
            "下单",
            "2024-05-01T10:00:00+08:00",
            j.clone(),
        );
        add(&mut o, 4, "C2", "受理", "2024-05-01T12:00:01+08:00", j);
        let s = states(&mut o, "C2", "2024-05-01T12:00:01+08:00", false);
        assert_eq!(s, vec![("accept-2h@e3".into(), State::Violated)]);
    }

    #[test]
    fn precedence_and_negative_rules_are_final_when_seen() {
        let mut o = online();
        add(
            &mut o,
            1,
            "C1",
            "核验安心码",
            "2024-05-01T10:00:00+08:00",
            serde_json::json!({"worker_id": "W1", "code_color": "红"}),
        );
        add(
            &mut o,
            2,
            "C1",
            "派单",
            "2024-05-01T10:10:00+08:00",
            serde_json::json!({"worker_id": "W2"}),
        );
        // W2 was never checked: precedence broken; W1 red but not dispatched: fine.
        let s = states(&mut o, "C1", "2024-05-01T10:10:00+08:00", false);
        assert_eq!(s, vec![("code-before-dispatch@e2".into(), State::Violated)]);
        add(
            &mut o,
            3,
            "C1",
            "派单",
            "2024-05-01T10:20:00+08:00",
            serde_json::json!({"worker_id": "W1"}),
        );
        let s = states(&mut o, "C1", "2024-05-01T10:20:00+08:00", false);
        assert_eq!(
            s,
            vec![
                ("code-before-dispatch@e2".into(), State::Violated),
                ("no-red@e1".into(), State::Violated)
            ]
        );
    }

    #[test]
    fn closing_a_case_judges_it_as_the_audit_does() {
        let mut o = online();
        add(
            &mut o,
            1,
            "C1",
            "下单",
            "2024-05-01T10:00:00+08:00",
            serde_json::json!({}),
        );
        let s = states(&mut o, "C1", "2024-05-01T10:01:00+08:00", true);
        assert_eq!(s, vec![("accept-2h@e1".into(), State::Violated)]);
        // Unknown activities are not kept (no positional rule), but place the case.
        let kept = o.add(
            2,
            "e2",
            "C1",
            "打电话",
            "2024-05-01T10:02:00+08:00",
            &serde_json::Map::from_iter([("outlet_id".to_string(), "O03".into())]),
        );
        assert!(!kept);
        assert_eq!(o.cases["C1"].place["outlet_id"], "O03");
        assert_eq!(o.cases["C1"].len(), 1);
    }
}
