//! The return visit (回访) sample an audit draws: completed orders of the period,
//! stratified by outlet × service type, sized for a target margin of error with the
//! finite-population correction, drawn reproducibly from a seed.
//!
//! Formulas (also in `docs/surveys.md`): n₀ = z²·p(1 − p) ÷ e² with p = 0.5 (the
//! most cautious), n = ⌈n₀ ÷ (1 + (n₀ − 1) ÷ N)⌉; strata get n in proportion to
//! their size (largest remainders), at least one each while n allows, never more
//! than they hold.

use std::collections::BTreeMap;

use serde::Serialize;

use super::stats::Z95;
use crate::audit::generate::Rng;

/// A completed order that may be called.
#[derive(Debug, Clone)]
pub struct Order {
    pub order: String,
    pub outlet: String,
    pub service: String,
    pub customer: String,
    /// The customer's mobile number, when the log carries it (only ever shown
    /// masked).
    pub phone: Option<String>,
}

/// One line of the interview list.
#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    pub order: String,
    pub outlet: String,
    pub service: String,
    pub customer: String,
    /// `138****5678`, or empty.
    pub phone: String,
    pub interviewer: String,
}

/// The orders of an event log completed in `[from, to)` (µs), with the outlet and
/// service type they are stratified by and the customer to call. The outlet comes
/// from the order's attributes, else from `places` (the worker's agency's town).
pub fn completed_orders(
    events: &[crate::monitor::ingest::NewEvent],
    from: i64,
    to: i64,
    places: Option<&crate::monitor::service::Places>,
) -> Vec<Order> {
    #[derive(Default)]
    struct Case {
        completed: bool,
        attrs: std::collections::HashMap<String, String>,
        customer: Option<String>,
    }
    let mut cases: std::collections::BTreeMap<String, Case> = Default::default();
    for e in events {
        let c = cases.entry(e.case_id.clone()).or_default();
        let attrs: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&e.attrs).unwrap_or_default();
        for (k, v) in attrs {
            if let serde_json::Value::String(v) = v
                && !v.is_empty()
            {
                c.attrs.entry(k).or_insert(v);
            }
        }
        if matches!(e.activity.as_str(), "下单" | "order_created") {
            c.customer = c
                .customer
                .take()
                .or_else(|| c.attrs.get("resource").cloned());
        }
        if matches!(e.activity.as_str(), "完成服务" | "service_completed")
            && e.at_us >= from
            && e.at_us < to
        {
            c.completed = true;
        }
    }
    cases
        .into_iter()
        .filter(|(_, c)| c.completed)
        .map(|(id, c)| {
            let pick = |keys: &[&str]| keys.iter().find_map(|k| c.attrs.get(*k).cloned());
            let outlet = pick(&["outlet_id", "网点"])
                .or_else(|| places.as_ref().and_then(|p| p.place(&c.attrs).0))
                .unwrap_or_else(|| "未归属".into());
            Order {
                order: id,
                outlet,
                service: pick(&["service_type", "服务类别"]).unwrap_or_else(|| "未注明".into()),
                customer: c
                    .customer
                    .clone()
                    .or_else(|| pick(&["customer_id"]))
                    .unwrap_or_default(),
                phone: pick(&["customer_phone", "phone"]),
            }
        })
        .collect()
}

/// The sample size for a population of `n_pop` at margin `e` (0.05 = ±5 points).
pub fn sample_size(n_pop: usize, e: f64) -> usize {
    if n_pop == 0 || e <= 0.0 {
        return 0;
    }
    let n0 = Z95 * Z95 * 0.25 / (e * e);
    let n = n0 / (1.0 + (n0 - 1.0) / n_pop as f64);
    (n.ceil() as usize).min(n_pop)
}

/// Splits `n` over strata of the given sizes.
pub fn allocate(sizes: &[usize], n: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let n = n.min(total);
    if total == 0 {
        return vec![0; sizes.len()];
    }
    let nonempty = sizes.iter().filter(|s| **s > 0).count();
    let floor_one = n >= nonempty;
    let mut out: Vec<usize> = sizes
        .iter()
        .map(|&s| {
            let share = (n * s) / total;
            if floor_one && s > 0 {
                share.max(1)
            } else {
                share
            }
            .min(s)
        })
        .collect();
    // Largest remainders until the total is n (or taken back if the floors overshot).
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = (n * sizes[a]) % total;
        let rb = (n * sizes[b]) % total;
        rb.cmp(&ra).then(a.cmp(&b))
    });
    let mut sum: usize = out.iter().sum();
    while sum < n {
        let before = sum;
        for &i in &order {
            if sum < n && out[i] < sizes[i] {
                out[i] += 1;
                sum += 1;
            }
        }
        if sum == before {
            break;
        }
    }
    while sum > n {
        let before = sum;
        for &i in order.iter().rev() {
            let floor = usize::from(floor_one && sizes[i] > 0);
            if sum > n && out[i] > floor {
                out[i] -= 1;
                sum -= 1;
            }
        }
        if sum == before {
            break;
        }
    }
    out
}

/// One CSV line (with its newline): cells with a comma, quote or line break are
/// quoted, quotes doubled.
pub fn csv_line(cells: &[String]) -> String {
    let mut out = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    out
}

/// `138****5678`, or a note that the number is not a mobile number.
pub fn mask(phone: &str) -> String {
    match crate::platform::ids::validate_mobile(phone) {
        Some(m) => crate::platform::ids::mask_mobile(&m),
        None => "（号码无效）".into(),
    }
}

/// Draws the sample: `margin` sets the size, `seed` the choice; interviewers are
/// assigned in turn. Orders are taken in order-id order first, so the same log and
/// seed always give the same list.
pub fn draw(orders: &[Order], margin: f64, seed: u64, interviewers: &[String]) -> Vec<Pick> {
    let mut strata: BTreeMap<(String, String), Vec<&Order>> = BTreeMap::new();
    for o in orders {
        strata
            .entry((o.outlet.clone(), o.service.clone()))
            .or_default()
            .push(o);
    }
    for v in strata.values_mut() {
        v.sort_by(|a, b| a.order.cmp(&b.order));
    }
    let sizes: Vec<usize> = strata.values().map(Vec::len).collect();
    let counts = allocate(&sizes, sample_size(orders.len(), margin));
    let mut rng = Rng::new(seed);
    let mut picks = Vec::new();
    for (members, k) in strata.values().zip(counts) {
        // Partial Fisher–Yates: the first k of a seeded shuffle.
        let mut idx: Vec<usize> = (0..members.len()).collect();
        for i in 0..k {
            let j = rng.range(i as i64, idx.len() as i64 - 1) as usize;
            idx.swap(i, j);
        }
        for &i in idx.iter().take(k) {
            let o = members[i];
            picks.push(Pick {
                order: o.order.clone(),
                outlet: o.outlet.clone(),
                service: o.service.clone(),
                customer: o.customer.clone(),
                phone: o.phone.as_deref().map(mask).unwrap_or_default(),
                interviewer: String::new(),
            });
        }
    }
    for (i, p) in picks.iter_mut().enumerate() {
        if !interviewers.is_empty() {
            p.interviewer = interviewers[i % interviewers.len()].clone();
        }
    }
    picks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sizes_by_hand() {
        // n0 = 1.96² · 0.25 / 0.05² = 384.15; with N = 1,000: 384.15 / 1.38315 = 277.7.
        assert_eq!(sample_size(1_000, 0.05), 278);
        assert_eq!(sample_size(100_000, 0.05), 383);
        assert_eq!(sample_size(100, 0.05), 80);
        assert_eq!(sample_size(10, 0.05), 10);
        assert_eq!(sample_size(0, 0.05), 0);
    }

    #[test]
    fn allocation_is_proportional_and_sums_to_n() {
        assert_eq!(allocate(&[500, 300, 200], 100), vec![50, 30, 20]);
        // 7 × 10/27 = 2.59, 7 × 9/27 = 2.33, 7 × 8/27 = 2.07: remainders give 3, 2, 2.
        assert_eq!(allocate(&[10, 9, 8], 7), vec![3, 2, 2]);
        // Every stratum gets one while n allows.
        assert_eq!(allocate(&[1000, 1, 1], 10), vec![8, 1, 1]);
        // 30 × 2/52 = 1.15, 30 × 50/52 = 28.85: the larger remainder wins.
        assert_eq!(allocate(&[2, 50], 30), vec![1, 29]);
        // Never more than a stratum holds, nor more than there are.
        assert_eq!(allocate(&[1, 3], 4), vec![1, 3]);
        assert_eq!(allocate(&[1, 3], 9), vec![1, 3]);
        assert_eq!(allocate(&[], 5), Vec::<usize>::new());
    }
}
