//! A seeded generator of realistic order event logs — with the ground truth.
//!
//! Orders are simulated along T/ZTAC 001.2's flow (下单 → 受理 → 核验安心码 → 确认保险 →
//! 派单 → 接单 → 到达签到 → 扫码核验 → 开始服务 → 完成服务 → 验收确认 → 发送评价邀请 → 评价 →
//! 回访, with cancellations, declines and re-dispatch, red-code reassignment, rework
//! after a disputed acceptance, complaints). A normal order keeps every rule with a
//! margin; a small share of orders gets one *fault* — a deliberate deviation — and the
//! generator records which rules that fault breaks. Other orders sit exactly on a
//! window edge (20 min, 1 h, 24 h, 48 h …) and must pass. The log also has ties in
//! timestamps, three UTC offsets for the same clock, and interleaved cases.
//!
//! The truth is written from the generator's intent (fault → rules), never by running
//! the checker; only the `end` rule's truth is derived from the order's own event list
//! (the last event), which the generator knows exactly.

use std::collections::{BTreeMap, BinaryHeap};
use std::io::Write;

use super::time::{self, MICROS_PER_SEC, Micros};

const MIN: Micros = 60 * MICROS_PER_SEC;
const HOUR: Micros = 60 * MIN;
const DAY: Micros = 24 * HOUR;
const SEC: Micros = MICROS_PER_SEC;

/// Columns of the generated log, in order.
pub const COLUMNS: [&str; 16] = [
    "case_id",
    "activity",
    "timestamp",
    "resource",
    "role",
    "worker_id",
    "service_type",
    "code_color",
    "first_order",
    "appointment_start",
    "appointment_end",
    "insurance_end",
    "per_order_insurance",
    "stars",
    "complaint_id",
    "safety",
];

/// Activities whose appearance as an order's last event is fine (for the `end` rule
/// of the template test set).
pub const SETTLED: [&str; 7] = [
    "验收确认",
    "发送评价邀请",
    "评价",
    "回访",
    "取消订单",
    "投诉办结",
    "投诉响应",
];

/// SplitMix64: small, seeded, good enough for simulation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next_u64() % xs.len() as u64) as usize]
    }
}

/// Deliberate deviations, one per faulty order, each with the rules it breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    LateFirstResponse,
    UnansweredAutoCancel,
    NoCodeCheck,
    StaleCodeCheck,
    RedDispatch,
    YellowCare,
    NoInsuranceCheck,
    InsuranceAfterDispatch,
    InsuranceExpired,
    LateDispatchLong,
    LateDispatchShort,
    SlowWorkerAnswer,
    SlowRedispatch,
    RedispatchWithoutRecheck,
    LateArrival,
    NoScan,
    ScanAfterStart,
    MissingCompletion,
    UnansweredCompletion,
    LateInvitation,
    RatingBeforeConfirmation,
    NoFirstOrderFollowUp,
    NoBadRatingFollowUp,
    LateComplaintResponse,
    LateComplaintClose,
    SlowSafetyResponse,
    CloseBeforeResponse,
    UnclosedComplaint,
    DoubleCancel,
    DisputeAfterConfirmation,
    CancelAfterStart,
    MissingCreation,
    DuplicateCreation,
}

impl Fault {
    pub const ALL: [Fault; 33] = [
        Fault::LateFirstResponse,
        Fault::UnansweredAutoCancel,
        Fault::NoCodeCheck,
        Fault::StaleCodeCheck,
        Fault::RedDispatch,
        Fault::YellowCare,
        Fault::NoInsuranceCheck,
        Fault::InsuranceAfterDispatch,
        Fault::InsuranceExpired,
        Fault::LateDispatchLong,
        Fault::LateDispatchShort,
        Fault::SlowWorkerAnswer,
        Fault::SlowRedispatch,
        Fault::RedispatchWithoutRecheck,
        Fault::LateArrival,
        Fault::NoScan,
        Fault::ScanAfterStart,
        Fault::MissingCompletion,
        Fault::UnansweredCompletion,
        Fault::LateInvitation,
        Fault::RatingBeforeConfirmation,
        Fault::NoFirstOrderFollowUp,
        Fault::NoBadRatingFollowUp,
        Fault::LateComplaintResponse,
        Fault::LateComplaintClose,
        Fault::SlowSafetyResponse,
        Fault::CloseBeforeResponse,
        Fault::UnclosedComplaint,
        Fault::DoubleCancel,
        Fault::DisputeAfterConfirmation,
        Fault::CancelAfterStart,
        Fault::MissingCreation,
        Fault::DuplicateCreation,
    ];

    /// Rule ids (of `audits/` and of `tests/data/workflow/templates.yaml`) this fault
    /// breaks.
    pub fn breaks(self) -> &'static [&'static str] {
        match self {
            Fault::LateFirstResponse => &["first-response-20min"],
            Fault::UnansweredAutoCancel => &["first-response-20min"],
            Fault::NoCodeCheck => &[
                "dispatch-after-code-check",
                "code-check-within-1h",
                "t-alternate-precedence",
            ],
            Fault::StaleCodeCheck => &["code-check-within-1h"],
            Fault::RedDispatch => &[
                "no-red-code-dispatch",
                "red-code-no-accept",
                "t-not-responded-existence",
                "t-not-chain-response",
            ],
            Fault::YellowCare => &["no-yellow-code-care"],
            Fault::NoInsuranceCheck => &["dispatch-after-insurance-check", "t-chain-precedence"],
            Fault::InsuranceAfterDispatch => &[
                "dispatch-after-insurance-check",
                "t-chain-precedence",
                "t-chain-response",
            ],
            Fault::InsuranceExpired => &["insurance-covers-service"],
            Fault::LateDispatchLong => &["dispatch-deadline-long"],
            Fault::LateDispatchShort => &["dispatch-deadline-short"],
            Fault::SlowWorkerAnswer => &["worker-answers-30min"],
            Fault::SlowRedispatch => &["redispatch-30min"],
            Fault::RedispatchWithoutRecheck => &[
                "t-alternate-precedence",
                "t-chain-precedence",
                "t-not-chain-precedence",
            ],
            Fault::LateArrival => &["arrival-on-time"],
            Fault::NoScan => &["start-after-scan", "t-responded-existence"],
            Fault::ScanAfterStart => &["start-after-scan"],
            Fault::MissingCompletion => &["start-and-completion-recorded"],
            Fault::UnansweredCompletion => &["completion-answered"],
            Fault::LateInvitation => &["rating-invitation-24h"],
            Fault::RatingBeforeConfirmation => &["rating-after-confirmation"],
            Fault::NoFirstOrderFollowUp => &["first-order-follow-up-3d"],
            Fault::NoBadRatingFollowUp => &["bad-rating-follow-up-24h"],
            Fault::LateComplaintResponse => &["complaint-response-24h"],
            Fault::LateComplaintClose => &["complaint-closed-48h"],
            Fault::SlowSafetyResponse => &["safety-complaint-response-1h"],
            Fault::CloseBeforeResponse => &["complaint-close-after-response"],
            Fault::UnclosedComplaint => &["complaint-closed-48h", "t-succession"],
            Fault::DoubleCancel => &["closed-order-frozen", "t-not-precedence"],
            Fault::DisputeAfterConfirmation => &["closed-order-frozen", "t-not-succession"],
            Fault::CancelAfterStart => &["start-and-completion-recorded", "t-not-co-existence"],
            Fault::MissingCreation => &[
                "order-starts-with-creation",
                "acceptance-after-creation",
                "t-existence",
                "t-exactly-one-creation",
            ],
            Fault::DuplicateCreation => &["t-exactly-one-creation"],
        }
    }

    pub fn name(self) -> String {
        format!("{self:?}")
    }
}

/// Output format of the generated log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    Csv,
    Jsonl,
    Xes,
}

/// Generator settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub orders: u64,
    pub seed: u64,
    /// First order's creation instant.
    pub start: Micros,
    /// Orders are spread over this many days.
    pub days: i64,
    /// Share of orders with a fault.
    pub fault_rate: f64,
    /// Share of orders placed exactly on a window edge (must pass).
    pub edge_rate: f64,
}

impl Settings {
    pub fn new(orders: u64, seed: u64) -> Settings {
        Settings {
            orders,
            seed,
            start: time::parse_instant("2023-01-01T08:00:00+08:00", None)
                .map(|t| t.0)
                .unwrap_or(0),
            days: 365,
            fault_rate: 0.2,
            edge_rate: 0.05,
        }
    }
}

/// What the generator knows about what it wrote.
#[derive(Debug, Default, serde::Serialize)]
pub struct Truth {
    pub orders: u64,
    pub events: u64,
    pub seed: u64,
    /// Rule id → violating case ids, sorted.
    pub rules: BTreeMap<String, Vec<String>>,
    pub faults: BTreeMap<String, u64>,
    pub edge_cases: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GenEvent {
    t: Micros,
    seq: u64,
    case: u64,
    act: &'static str,
    off: i32,
    attrs: Vec<(usize, String)>,
}

// Min-heap order by (t, seq).
impl Ord for GenEvent {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.t, o.seq).cmp(&(self.t, self.seq))
    }
}
impl PartialOrd for GenEvent {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

fn col(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap_or(0)
}

/// An event under construction: instant, activity, (column, value) pairs.
type Draft = (Micros, &'static str, Vec<(usize, String)>);

/// One order's events under construction.
struct Order {
    case: u64,
    events: Vec<Draft>,
}

impl Order {
    fn push(&mut self, t: Micros, act: &'static str, attrs: &[(&str, String)]) {
        self.events.push((
            t,
            act,
            attrs.iter().map(|(k, v)| (col(k), v.clone())).collect(),
        ));
    }
}

fn ts(t: Micros) -> String {
    time::format_instant(t, 480)
}

/// Writes the log to `out` and returns the truth.
pub fn generate(
    settings: &Settings,
    format: OutFormat,
    out: &mut dyn Write,
) -> std::io::Result<Truth> {
    let mut rng = Rng::new(settings.seed);
    let mut truth = Truth {
        orders: settings.orders,
        seed: settings.seed,
        ..Default::default()
    };
    let mut writer = Writer::new(format, out)?;
    let mut heap: BinaryHeap<GenEvent> = BinaryHeap::new();
    let mut seq = 0u64;
    let span = settings.days.max(1) * DAY;
    let step = span / settings.orders.max(1) as i64;
    for n in 0..settings.orders {
        // Platform clocks record whole seconds (T/ZTAC 001.2, 4.4).
        let t0 = (settings.start + n as i64 * step + rng.range(0, step.max(1) - 1)) / SEC * SEC;
        // Everything earlier than this order's creation is final: flush it.
        while heap.peek().is_some_and(|e| e.t < t0) {
            if let Some(e) = heap.pop() {
                writer.event(&e)?;
            }
        }
        let fault = if rng.chance(settings.fault_rate) {
            Some(*rng.pick(&Fault::ALL))
        } else {
            None
        };
        let edge = fault.is_none() && rng.chance(settings.edge_rate);
        if edge {
            truth.edge_cases += 1;
        }
        let order = simulate(n, t0, fault, edge, &mut rng);
        let case_id = case_name(n);
        if let Some(f) = fault {
            *truth.faults.entry(f.name()).or_default() += 1;
            for r in f.breaks() {
                truth
                    .rules
                    .entry(r.to_string())
                    .or_default()
                    .push(case_id.clone());
            }
        }
        // The `end` rule: the last event (by instant, then order of writing).
        let mut sorted: Vec<&(Micros, &str, _)> = order.events.iter().collect();
        sorted.sort_by_key(|e| e.0);
        if let Some(last) = sorted.last()
            && !SETTLED.contains(&last.1)
        {
            truth
                .rules
                .entry("t-end-settled".into())
                .or_default()
                .push(case_id.clone());
        }
        for (t, act, attrs) in order.events {
            seq += 1;
            // The same clock written three ways: +08:00, Z, +09:00.
            let off = match rng.range(0, 9) {
                0..=6 => 480,
                7 | 8 => 0,
                _ => 540,
            };
            heap.push(GenEvent {
                t,
                seq,
                case: order.case,
                act,
                off,
                attrs,
            });
            truth.events += 1;
        }
    }
    while let Some(e) = heap.pop() {
        writer.event(&e)?;
    }
    writer.finish()?;
    for v in truth.rules.values_mut() {
        v.sort();
        v.dedup();
    }
    Ok(truth)
}

pub fn case_name(n: u64) -> String {
    format!("O{:08}", n + 1)
}

const TYPES: [&str; 4] = ["日常保洁", "家电清洗", "养老护理", "母婴护理"];

#[allow(clippy::too_many_lines)]
fn simulate(n: u64, t0: Micros, fault: Option<Fault>, edge: bool, rng: &mut Rng) -> Order {
    use Fault::*;
    let f = |x: Fault| fault == Some(x);
    let mut o = Order {
        case: n,
        events: Vec::new(),
    };
    let customer = format!("C{:06}", rng.range(1, 400_000));
    let staff = format!("S{:03}", rng.range(1, 60));
    let sys = || ("resource", "系统".to_string());
    let role = |r: &str| ("role", r.to_string());
    let service = match fault {
        Some(YellowCare) => TYPES[rng.range(2, 3) as usize],
        _ => {
            let r = rng.range(0, 99);
            TYPES[if r < 60 {
                0
            } else if r < 75 {
                1
            } else if r < 90 {
                2
            } else {
                3
            }]
        }
    };
    let care = service == "养老护理" || service == "母婴护理";
    let first_order = rng.chance(0.2) || f(NoFirstOrderFollowUp);
    let first_order = first_order && !f(NoBadRatingFollowUp);
    // Appointment: long notice (≥ 24 h after acceptance) or short notice.
    let long = match fault {
        Some(LateDispatchLong) | Some(StaleCodeCheck) => true,
        Some(LateDispatchShort) => false,
        _ => rng.chance(0.6),
    };
    let appt = if long {
        t0 + rng.range(26, 96) * HOUR
    } else {
        t0 + rng.range(5 * 60, 20 * 60) * MIN
    };
    let appt_end = appt + rng.range(2, 4) * HOUR;
    let a_start = ("appointment_start", ts(appt));
    let st = ("service_type", service.to_string());
    let fo = ("first_order", first_order.to_string());
    // 下单
    if !f(MissingCreation) {
        o.push(
            t0,
            "下单",
            &[
                ("resource", customer.clone()),
                role("客户"),
                st.clone(),
                fo.clone(),
            ],
        );
    }
    if f(DuplicateCreation) {
        o.push(
            t0 + SEC,
            "下单",
            &[
                ("resource", customer.clone()),
                role("客户"),
                st.clone(),
                fo.clone(),
            ],
        );
    }
    if f(UnansweredAutoCancel) {
        o.push(
            t0 + 115 * MIN,
            "取消订单",
            &[sys(), role("系统"), a_start.clone()],
        );
        return o;
    }
    // 受理
    let t_acc = if f(LateFirstResponse) {
        t0 + 20 * MIN + rng.range(1, 60 * 60) * SEC
    } else if edge && rng.chance(0.3) {
        t0 + 20 * MIN
    } else {
        t0 + rng.range(30, 15 * 60) * SEC
    };
    o.push(
        t_acc,
        "受理",
        &[
            ("resource", staff.clone()),
            role("客服人员"),
            a_start.clone(),
        ],
    );
    // Customer cancels before dispatch.
    if f(DoubleCancel) || (fault.is_none() && rng.chance(0.06)) {
        let tc = t_acc + rng.range(5, 50) * MIN;
        o.push(
            tc,
            "取消订单",
            &[
                ("resource", customer.clone()),
                role("客户"),
                a_start.clone(),
            ],
        );
        if f(DoubleCancel) {
            o.push(
                tc + rng.range(1, 30) * MIN,
                "取消订单",
                &[sys(), role("系统"), a_start.clone()],
            );
        }
        return o;
    }
    // A worker id, different from `not` (a reassignment goes to someone else).
    let worker = |rng: &mut Rng, not: &str| loop {
        let w = format!("W{:05}", rng.range(1, 3500));
        if w != not {
            break w;
        }
    };
    let mut w = worker(rng, "");
    // When to dispatch.
    let t_dispatch_target = if long {
        if f(LateDispatchLong) {
            appt - 12 * HOUR + rng.range(1, 2 * 3600) * SEC
        } else if edge && rng.chance(0.3) {
            appt - 12 * HOUR
        } else if f(StaleCodeCheck) {
            t_acc + rng.range(2, 5) * HOUR
        } else {
            t_acc + rng.range(5, 180) * MIN
        }
    } else if f(LateDispatchShort) {
        t_acc + HOUR + rng.range(1, 30 * 60) * SEC
    } else {
        t_acc + rng.range(3, 40) * MIN
    };
    // Red-code reassignment (normal): the first candidate shows red and is not sent.
    let mut t = t_dispatch_target - rng.range(60, 120) * SEC;
    if fault.is_none() && !edge && rng.chance(0.03) {
        o.push(
            t - 30 * SEC,
            "核验安心码",
            &[
                sys(),
                role("系统"),
                ("worker_id", w.clone()),
                ("code_color", "红".into()),
                st.clone(),
            ],
        );
        w = worker(rng, &w);
    }
    let color = match fault {
        Some(RedDispatch) => "红",
        Some(YellowCare) => "黄",
        _ if !care && rng.chance(0.05) => "黄",
        _ => "绿",
    };
    let t_verify = if f(StaleCodeCheck) {
        t_dispatch_target - HOUR - rng.range(1, 30 * 60) * SEC
    } else if long && edge && t_dispatch_target - HOUR > t_acc + MIN && rng.chance(0.5) {
        // Exactly 1 h before dispatch — but never before the order was accepted.
        t_dispatch_target - HOUR
    } else {
        t
    };
    if !f(NoCodeCheck) {
        o.push(
            t_verify,
            "核验安心码",
            &[
                sys(),
                role("系统"),
                ("worker_id", w.clone()),
                ("code_color", color.into()),
                st.clone(),
            ],
        );
    }
    let insurance = |rng: &mut Rng, expired: bool| {
        let end = if expired {
            appt_end - rng.range(1, 10) * DAY
        } else {
            appt_end + rng.range(30, 300) * DAY
        };
        vec![
            sys(),
            role("系统"),
            ("insurance_end", ts(end)),
            ("appointment_end", ts(appt_end)),
        ]
    };
    let expired = f(InsuranceExpired) || (fault.is_none() && rng.chance(0.02));
    // A normal expired policy is covered by a per-order policy: no violation.
    let per_order = if f(InsuranceExpired) {
        "false"
    } else if expired {
        "true"
    } else {
        "false"
    };
    let mut ins = insurance(rng, expired);
    ins.push(("worker_id", w.clone()));
    ins.push(("per_order_insurance", per_order.into()));
    t = t_verify.max(t);
    let t_ins = if rng.chance(0.1) {
        t_verify
    } else {
        t_verify + rng.range(0, 5) * SEC
    };
    let ins_after = f(InsuranceAfterDispatch);
    if !f(NoInsuranceCheck) && !ins_after {
        o.push(t_ins, "确认保险", &ins);
    }
    let t_disp =
        if f(StaleCodeCheck) || (long && edge) || f(LateDispatchLong) || f(LateDispatchShort) {
            t_dispatch_target.max(t_ins)
        } else if rng.chance(0.1) {
            t_ins
        } else {
            t_ins + rng.range(1, 60) * SEC
        };
    let _ = t;
    let disp = |w: &str| {
        vec![
            sys(),
            role("系统"),
            ("worker_id", w.to_string()),
            a_start.clone(),
        ]
    };
    o.push(t_disp, "派单", &disp(&w));
    if ins_after {
        o.push(t_disp + 30 * SEC, "确认保险", &ins);
    }
    let mut t_last = t_disp + if ins_after { 30 * SEC } else { 0 };
    // Decline and re-dispatch.
    let decline =
        f(SlowRedispatch) || f(RedispatchWithoutRecheck) || (fault.is_none() && rng.chance(0.08));
    if decline {
        let t_dec = t_last + rng.range(1, 25) * MIN;
        o.push(
            t_dec,
            "拒单",
            &[
                ("resource", w.clone()),
                role("家政服务人员"),
                ("worker_id", w.clone()),
            ],
        );
        if f(RedispatchWithoutRecheck) {
            let t2 = t_dec + rng.range(1, 5) * MIN;
            o.push(t2, "派单", &disp(&w));
            t_last = t2;
        } else {
            w = worker(rng, &w);
            let t2 = if f(SlowRedispatch) {
                t_dec + 30 * MIN + rng.range(1, 30 * 60) * SEC
            } else {
                t_dec + rng.range(5, 28) * MIN
            };
            let tv = t2 - rng.range(30, 90) * SEC;
            o.push(
                tv,
                "核验安心码",
                &[
                    sys(),
                    role("系统"),
                    ("worker_id", w.clone()),
                    ("code_color", "绿".into()),
                    st.clone(),
                ],
            );
            let mut ins2 = insurance(rng, false);
            ins2.push(("worker_id", w.clone()));
            ins2.push(("per_order_insurance", "false".into()));
            o.push(tv + 2 * SEC, "确认保险", &ins2);
            o.push(t2, "派单", &disp(&w));
            t_last = t2;
        }
    }
    // 接单
    let t_ack = if f(SlowWorkerAnswer) {
        t_last + 30 * MIN + rng.range(1, 20 * 60) * SEC
    } else if edge && rng.chance(0.3) {
        t_last + 30 * MIN
    } else {
        t_last + rng.range(1, 25) * MIN
    };
    let wk = || {
        vec![
            ("resource", w.clone()),
            role("家政服务人员"),
            ("worker_id", w.clone()),
        ]
    };
    o.push(t_ack, "接单", &wk());
    // 到达签到
    let t_arr = if f(LateArrival) {
        appt + 15 * MIN + rng.range(1, 40 * 60) * SEC
    } else if edge && rng.chance(0.3) {
        appt + 15 * MIN
    } else {
        appt - rng.range(0, 30 * 60) * SEC
    }
    .max(t_ack + MIN);
    let mut arr = wk();
    arr.push(a_start.clone());
    o.push(t_arr, "到达签到", &arr);
    // 扫码核验 and 开始服务
    let t_scan = t_arr + rng.range(30, 180) * SEC;
    let t_start = t_scan + rng.range(30, 300) * SEC;
    let scan = |o: &mut Order, t: Micros| {
        o.push(
            t,
            "扫码核验",
            &[
                ("resource", customer.clone()),
                role("客户"),
                ("worker_id", w.clone()),
                ("code_color", color.into()),
            ],
        );
    };
    if !f(NoScan) && !f(ScanAfterStart) {
        scan(&mut o, t_scan);
    }
    o.push(t_start, "开始服务", &wk());
    if f(ScanAfterStart) {
        scan(&mut o, t_start + 2 * MIN);
    }
    if f(CancelAfterStart) {
        o.push(
            t_start + rng.range(10, 60) * MIN,
            "取消订单",
            &[
                ("resource", customer.clone()),
                role("客户"),
                a_start.clone(),
            ],
        );
        return o;
    }
    if f(MissingCompletion) {
        return o;
    }
    let done = |o: &mut Order, t: Micros| {
        let mut v = wk();
        v.push(fo.clone());
        o.push(t, "完成服务", &v);
    };
    let t_done1 = t_start + (appt_end - appt);
    done(&mut o, t_done1);
    let mut t_done = t_done1;
    // Rework after a disputed acceptance.
    if fault.is_none() && rng.chance(0.05) {
        let t_dis = t_done + rng.range(10, 120) * MIN;
        o.push(
            t_dis,
            "验收异议",
            &[("resource", customer.clone()), role("客户")],
        );
        let t_re = t_dis + rng.range(60, 180) * MIN;
        o.push(t_re, "开始服务", &wk());
        t_done = t_re + rng.range(60, 120) * MIN;
        done(&mut o, t_done);
    }
    // 验收确认
    let auto = rng.chance(0.1);
    let t_conf = if f(RatingBeforeConfirmation) {
        t_done + 6 * HOUR
    } else if auto {
        t_done + 72 * HOUR
    } else {
        t_done + rng.range(5, 360) * MIN
    };
    if !f(UnansweredCompletion) {
        if auto && !f(RatingBeforeConfirmation) {
            o.push(t_conf, "验收确认", &[sys(), role("系统")]);
        } else {
            o.push(
                t_conf,
                "验收确认",
                &[("resource", customer.clone()), role("客户")],
            );
        }
    }
    if f(DisputeAfterConfirmation) {
        o.push(
            t_conf + rng.range(1, 60) * MIN,
            "验收异议",
            &[("resource", customer.clone()), role("客户")],
        );
    }
    // 发送评价邀请: within 24 h of every completion.
    let t_inv = if f(LateInvitation) {
        t_done1.max(t_done) + 24 * HOUR + rng.range(1, 10 * 3600) * SEC
    } else if f(RatingBeforeConfirmation) {
        t_done + 5 * MIN
    } else if edge && t_done == t_done1 && rng.chance(0.5) {
        t_done + 24 * HOUR
    } else if t_done != t_done1 {
        t_done + rng.range(1, 12 * 60) * MIN
    } else {
        t_done + rng.range(1, 20 * 60) * MIN
    };
    o.push(t_inv, "发送评价邀请", &[sys(), role("系统")]);
    // 评价
    let bad = f(NoBadRatingFollowUp) || (fault.is_none() && !first_order && rng.chance(0.08));
    let rated = bad || f(RatingBeforeConfirmation) || (!f(UnansweredCompletion) && rng.chance(0.7));
    if rated && !f(UnansweredCompletion) {
        let tr = if f(RatingBeforeConfirmation) {
            t_done + HOUR
        } else {
            t_conf.max(t_inv) + rng.range(10, 3 * 24 * 60) * MIN
        };
        let stars = if bad {
            rng.range(1, 2)
        } else {
            rng.range(4, 5)
        };
        o.push(
            tr,
            "评价",
            &[
                ("resource", customer.clone()),
                role("客户"),
                ("stars", stars.to_string()),
            ],
        );
        if bad {
            let tf = if f(NoBadRatingFollowUp) {
                tr + 24 * HOUR + rng.range(1, 24 * 3600) * SEC
            } else {
                tr + rng.range(60, 20 * 60) * MIN
            };
            o.push(tf, "回访", &[("resource", staff.clone()), role("客服人员")]);
        }
    }
    // 回访 of a first order: within 3 days of every completion.
    if first_order {
        let tf = if f(NoFirstOrderFollowUp) {
            t_done1 + 3 * DAY + rng.range(1, 2 * 24 * 3600) * SEC
        } else {
            t_done + rng.range(2 * 60, 60 * 60) * MIN
        };
        o.push(tf, "回访", &[("resource", staff.clone()), role("客服人员")]);
    }
    // Complaints.
    let complaint_fault = matches!(
        fault,
        Some(
            LateComplaintResponse
                | LateComplaintClose
                | SlowSafetyResponse
                | CloseBeforeResponse
                | UnclosedComplaint
        )
    );
    if complaint_fault || (fault.is_none() && rng.chance(0.06)) {
        let k = format!("K{:08}", n + 1);
        let safety = f(SlowSafetyResponse) || (fault.is_none() && rng.chance(0.1));
        let tk = t_done + rng.range(60, 48 * 60) * MIN;
        let kv = |safety: bool| {
            vec![
                ("resource", staff.clone()),
                role("客服人员"),
                ("complaint_id", k.clone()),
                ("safety", safety.to_string()),
            ]
        };
        o.push(
            tk,
            "投诉",
            &[
                ("resource", customer.clone()),
                role("客户"),
                ("complaint_id", k.clone()),
                ("safety", safety.to_string()),
            ],
        );
        let t_resp = if f(LateComplaintResponse) {
            tk + 24 * HOUR + rng.range(1, 10 * 3600) * SEC
        } else if f(SlowSafetyResponse) {
            tk + HOUR + rng.range(1, 5 * 3600) * SEC
        } else if f(CloseBeforeResponse) {
            tk + 2 * HOUR
        } else if safety {
            tk + rng.range(5, 50) * MIN
        } else if edge {
            tk + 24 * HOUR
        } else {
            tk + rng.range(10, 20 * 60) * MIN
        };
        o.push(t_resp, "投诉响应", &kv(safety));
        let t_close = if f(LateComplaintClose) {
            tk + 48 * HOUR + rng.range(1, 24 * 3600) * SEC
        } else if f(CloseBeforeResponse) {
            tk + HOUR
        } else if edge {
            tk + 48 * HOUR
        } else {
            t_resp + rng.range(60, (tk + 47 * HOUR - t_resp) / MIN) * MIN
        };
        if !f(UnclosedComplaint) {
            o.push(t_close, "投诉办结", &kv(safety));
        }
    }
    o
}

// ---------------------------------------------------------------------------------
// Writers

struct Writer<'a> {
    format: OutFormat,
    out: std::io::BufWriter<&'a mut dyn Write>,
    /// XES: traces are written whole, so events are grouped per case in memory.
    traces: BTreeMap<u64, Vec<GenEvent>>,
}

impl<'a> Writer<'a> {
    fn new(format: OutFormat, out: &'a mut dyn Write) -> std::io::Result<Writer<'a>> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
        match format {
            OutFormat::Csv => writeln!(out, "{}", COLUMNS.join(","))?,
            OutFormat::Jsonl => {}
            OutFormat::Xes => {
                writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
                writeln!(
                    out,
                    r#"<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">"#
                )?;
                writeln!(
                    out,
                    r#"  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>"#
                )?;
                writeln!(
                    out,
                    r#"  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>"#
                )?;
                writeln!(
                    out,
                    r#"  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>"#
                )?;
            }
        }
        Ok(Writer {
            format,
            out,
            traces: BTreeMap::new(),
        })
    }

    fn event(&mut self, e: &GenEvent) -> std::io::Result<()> {
        let stamp = time::format_instant(e.t, e.off);
        match self.format {
            OutFormat::Csv => {
                let mut row = vec![String::new(); COLUMNS.len()];
                row[0] = case_name(e.case);
                row[1] = e.act.to_string();
                row[2] = stamp;
                for (c, v) in &e.attrs {
                    row[*c] = v.clone();
                }
                writeln!(self.out, "{}", row.join(","))
            }
            OutFormat::Jsonl => {
                let mut m = serde_json::Map::new();
                m.insert("case_id".into(), case_name(e.case).into());
                m.insert("activity".into(), e.act.into());
                m.insert("timestamp".into(), stamp.into());
                for (c, v) in &e.attrs {
                    let val = match COLUMNS[*c] {
                        "stars" => v
                            .parse::<i64>()
                            .map(Into::into)
                            .unwrap_or_else(|_| v.clone().into()),
                        "first_order" | "safety" | "per_order_insurance" => (v == "true").into(),
                        _ => serde_json::Value::from(v.clone()),
                    };
                    m.insert(COLUMNS[*c].into(), val);
                }
                writeln!(self.out, "{}", serde_json::Value::Object(m))
            }
            OutFormat::Xes => {
                self.traces.entry(e.case).or_default().push(e.clone());
                Ok(())
            }
        }
    }

    fn finish(mut self) -> std::io::Result<()> {
        if self.format == OutFormat::Xes {
            for (case, events) in std::mem::take(&mut self.traces) {
                writeln!(self.out, "  <trace>")?;
                writeln!(
                    self.out,
                    r#"    <string key="concept:name" value="{}"/>"#,
                    case_name(case)
                )?;
                for e in events {
                    writeln!(self.out, "    <event>")?;
                    writeln!(
                        self.out,
                        r#"      <string key="concept:name" value="{}"/>"#,
                        e.act
                    )?;
                    writeln!(
                        self.out,
                        r#"      <date key="time:timestamp" value="{}"/>"#,
                        time::format_instant(e.t, e.off)
                    )?;
                    for (c, v) in &e.attrs {
                        let key = match COLUMNS[*c] {
                            "resource" => "org:resource",
                            "role" => "org:role",
                            k => k,
                        };
                        let tag = match COLUMNS[*c] {
                            "stars" => "int",
                            "first_order" | "safety" | "per_order_insurance" => "boolean",
                            "appointment_start" | "appointment_end" | "insurance_end" => "date",
                            _ => "string",
                        };
                        writeln!(
                            self.out,
                            r#"      <{tag} key="{key}" value="{}"/>"#,
                            xml_escape(v)
                        )?;
                    }
                    writeln!(self.out, "    </event>")?;
                }
                writeln!(self.out, "  </trace>")?;
            }
            writeln!(self.out, "</log>")?;
        }
        self.out.flush()
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
