//! Simulated responses for `serve --demo`: a year's customer-satisfaction survey
//! shaped like the pilot's (128 phone interviews, 203 online answers, mostly
//! 非常满意), with a few invalid ones so the page shows what validity rules do.

use std::collections::BTreeMap;

use super::{Answer, Channel, Kind, Response, Survey};
use crate::audit::generate::Rng;

/// Answer index of a satisfied customer: 非常满意 88%, 满意 9%, 一般 2%, 不满意 1%.
fn likert(rng: &mut Rng) -> usize {
    let x = rng.range(0, 999);
    match x {
        0..=879 => 0,
        880..=969 => 1,
        970..=989 => 2,
        _ => 3,
    }
}

/// `phone` interviews and `online` answers from `start` (Unix seconds) on, plus
/// a handful of invalid ones (too fast online, a duplicate, one incomplete).
pub fn responses(
    survey: &Survey,
    phone: usize,
    online: usize,
    start: i64,
    seed: u64,
) -> Vec<Response> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut t = start;
    for i in 0..phone + online {
        // Exactly `phone` interviews, spread evenly among the answers.
        let n = phone + online;
        let channel = if (i * phone) / n != ((i + 1) * phone) / n {
            Channel::Phone
        } else {
            Channel::Online
        };
        t += rng.range(600, 4 * 3600);
        let mut answers = BTreeMap::new();
        // One customer's answers hang together (Cronbach's α is high in real data).
        let mood = likert(&mut rng);
        for q in &survey.questions {
            if !q.required && rng.chance(0.4) {
                continue;
            }
            let a = match q.kind {
                Kind::Likert | Kind::Matrix => Answer::Choice(if rng.chance(0.8) {
                    mood
                } else {
                    likert(&mut rng)
                }),
                Kind::Single => Answer::Choice(if rng.chance(0.8) {
                    0
                } else {
                    rng.range(0, q.options.len() as i64 - 1) as usize
                }),
                Kind::Multiple => {
                    Answer::Choices(vec![rng.range(0, q.options.len() as i64 - 1) as usize])
                }
                Kind::Text => {
                    if !rng.chance(0.3) {
                        continue;
                    }
                    Answer::Text(
                        rng.pick(&[
                            "阿姨做事细致，很满意",
                            "希望周末也能预约",
                            "上门很准时",
                            "价格可以再透明一些",
                        ])
                        .to_string(),
                    )
                }
            };
            answers.insert(q.id.clone(), a);
        }
        out.push(Response {
            source: format!("演示 {}", i + 1),
            channel,
            submitted_at: Some(t),
            duration_s: Some(match channel {
                Channel::Phone => rng.range(120, 420) as u32,
                _ => rng.range(70, 600) as u32,
            }),
            contact: Some(match channel {
                Channel::Phone => format!("13{}****{:04}", rng.range(3, 9), rng.range(0, 9999)),
                _ => format!("115.192.{}.{}", rng.range(0, 255), rng.range(1, 254)),
            }),
            answers,
        });
    }
    // What the validity rules catch.
    for k in 0..6 {
        let mut r = out[k * 7].clone();
        r.source = format!("演示 无效 {}", k + 1);
        r.channel = Channel::Online;
        r.submitted_at = r.submitted_at.map(|t| t + 60);
        match k {
            0..=2 => r.duration_s = Some(25 + k as u32 * 5),
            3 | 4 => {}
            _ => {
                if let Some(o) = &survey.overall {
                    r.answers.remove(o);
                }
            }
        }
        if k != 3 && k != 4 {
            r.contact = Some(format!("115.193.0.{k}"));
        }
        out.push(r);
    }
    out.sort_by_key(|r| r.submitted_at);
    out
}
