//! Department standard submissions: the states and who may move a submission
//! between them. Pure rules, no I/O — the database layer applies them atomically and
//! the web layer shows the actions they allow.
//!
//! ```text
//! draft ──submit──▶ submitted ──start review──▶ in_review ──approve──▶ approved ──publish──▶ published
//!   │                   │                        │   │
//!   │                   │                        │   └─request changes──▶ changes_requested ──resubmit──▶ resubmitted ──start review──▶ in_review
//!   └──withdraw─────────┴──withdraw              └─reject──▶ rejected
//! ```

use serde::Serialize;

use crate::db::accounts::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    Submitted,
    InReview,
    ChangesRequested,
    Resubmitted,
    Approved,
    Published,
    Withdrawn,
    Rejected,
}

impl State {
    pub const ALL: [State; 9] = [
        State::Draft,
        State::Submitted,
        State::InReview,
        State::ChangesRequested,
        State::Resubmitted,
        State::Approved,
        State::Published,
        State::Withdrawn,
        State::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::InReview => "in_review",
            State::ChangesRequested => "changes_requested",
            State::Resubmitted => "resubmitted",
            State::Approved => "approved",
            State::Published => "published",
            State::Withdrawn => "withdrawn",
            State::Rejected => "rejected",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Draft => "草稿",
            State::Submitted => "已提交",
            State::InReview => "审核中",
            State::ChangesRequested => "需修改",
            State::Resubmitted => "已重新提交",
            State::Approved => "已批准",
            State::Published => "已发布",
            State::Withdrawn => "已撤回",
            State::Rejected => "未通过",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The author may edit the text only in these states.
    pub fn editable(self) -> bool {
        matches!(self, State::Draft | State::ChangesRequested)
    }

    /// Waiting for a reviewer to pick it up.
    pub fn awaits_review(self) -> bool {
        matches!(self, State::Submitted | State::Resubmitted)
    }
}

/// What someone can do to a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Submit,
    StartReview,
    RequestChanges,
    Resubmit,
    Approve,
    Reject,
    Withdraw,
    /// Done by the system after a successful library publish.
    Publish,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Submit,
        Action::StartReview,
        Action::RequestChanges,
        Action::Resubmit,
        Action::Approve,
        Action::Reject,
        Action::Withdraw,
        Action::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::StartReview => "start_review",
            Action::RequestChanges => "request_changes",
            Action::Resubmit => "resubmit",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Withdraw => "withdraw",
            Action::Publish => "publish",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Submit => "提交审核",
            Action::StartReview => "开始审核",
            Action::RequestChanges => "退回修改",
            Action::Resubmit => "重新提交",
            Action::Approve => "批准发布",
            Action::Reject => "不予通过",
            Action::Withdraw => "撤回",
            Action::Publish => "发布",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Actions a reviewer must explain.
    pub fn needs_comment(self) -> bool {
        matches!(self, Action::RequestChanges | Action::Reject)
    }

    /// Actions that send the text for review: lint errors block them.
    pub fn needs_clean_lint(self) -> bool {
        matches!(self, Action::Submit | Action::Resubmit)
    }
}

/// Who is acting, relative to the submission.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub role: Role,
    pub is_author: bool,
}

fn is_reviewer(role: Role) -> bool {
    matches!(role, Role::Reviewer | Role::Admin)
}

/// Why an action is not possible, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("当前状态（{0}）不能执行“{1}”")]
    WrongState(&'static str, &'static str),
    #[error("只有提交人可以执行“{0}”")]
    NotAuthor(&'static str),
    #[error("只有标准化审核员可以执行“{0}”")]
    NotReviewer(&'static str),
    #[error("提交人不能审核或批准自己的提交")]
    OwnSubmission,
    #[error("“{0}”需要填写意见")]
    CommentRequired(&'static str),
}

/// The state `action` leads to from `from`, if `actor` may take it.
pub fn next(from: State, action: Action, actor: Actor, comment: &str) -> Result<State, Refusal> {
    use Action as A;
    use State as S;
    let to = match (from, action) {
        (S::Draft, A::Submit) => S::Submitted,
        (S::Submitted | S::Resubmitted, A::StartReview) => S::InReview,
        (S::InReview, A::RequestChanges) => S::ChangesRequested,
        (S::ChangesRequested, A::Resubmit) => S::Resubmitted,
        (S::InReview, A::Approve) => S::Approved,
        (S::InReview, A::Reject) => S::Rejected,
        (S::Draft | S::Submitted | S::ChangesRequested | S::Resubmitted, A::Withdraw) => {
            S::Withdrawn
        }
        (S::Approved, A::Publish) => S::Published,
        _ => return Err(Refusal::WrongState(from.label(), action.label())),
    };
    match action {
        A::Submit | A::Resubmit | A::Withdraw if !actor.is_author => {
            return Err(Refusal::NotAuthor(action.label()));
        }
        A::StartReview | A::RequestChanges | A::Approve | A::Reject | A::Publish => {
            if !is_reviewer(actor.role) {
                return Err(Refusal::NotReviewer(action.label()));
            }
            if actor.is_author {
                return Err(Refusal::OwnSubmission);
            }
        }
        _ => {}
    }
    if action.needs_comment() && comment.trim().is_empty() {
        return Err(Refusal::CommentRequired(action.label()));
    }
    Ok(to)
}

/// The actions `actor` can take from `state` (for buttons).
pub fn available(state: State, actor: Actor) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|&a| a != Action::Publish)
        .filter(|&a| next(state, a, actor, "x").is_ok())
        .collect()
}

/// The next enterprise standard code from a pattern such as `Q/BZ {n:03}—{year}`,
/// after the highest number already used by `existing` codes of the same prefix.
pub fn next_code(pattern: &str, year: i32, existing: &[String]) -> String {
    let (head, tail) = pattern.split_once("{n").unwrap_or((pattern, "}"));
    let (spec, rest) = tail.split_once('}').unwrap_or(("", tail));
    let width: usize = spec
        .trim_start_matches(':')
        .trim_start_matches('0')
        .parse()
        .unwrap_or(0);
    let highest = existing
        .iter()
        .filter_map(|c| c.strip_prefix(head))
        .filter_map(|r| {
            let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0);
    let n = format!("{:0width$}", highest + 1, width = width);
    format!("{head}{n}{}", rest.replace("{year}", &year.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    const AUTHOR: Actor = Actor {
        role: Role::Employee,
        is_author: true,
    };
    const REVIEWER: Actor = Actor {
        role: Role::Reviewer,
        is_author: false,
    };
    const REVIEWER_AUTHOR: Actor = Actor {
        role: Role::Reviewer,
        is_author: true,
    };
    const OTHER_EMPLOYEE: Actor = Actor {
        role: Role::Employee,
        is_author: false,
    };

    #[test]
    fn the_whole_path() {
        let mut s = State::Draft;
        for (action, actor, comment) in [
            (Action::Submit, AUTHOR, ""),
            (Action::StartReview, REVIEWER, ""),
            (Action::RequestChanges, REVIEWER, "5.2 应写明时限"),
            (Action::Resubmit, AUTHOR, ""),
            (Action::StartReview, REVIEWER, ""),
            (Action::Approve, REVIEWER, ""),
            (Action::Publish, REVIEWER, ""),
        ] {
            s = next(s, action, actor, comment).unwrap();
        }
        assert_eq!(s, State::Published);
    }

    #[test_case(
        State::Draft,
        Action::Submit,
        OTHER_EMPLOYEE,
        "",
        Refusal::NotAuthor("提交审核")
    )]
    #[test_case(
        State::Submitted,
        Action::StartReview,
        OTHER_EMPLOYEE,
        "",
        Refusal::NotReviewer("开始审核")
    )]
    #[test_case(
        State::InReview,
        Action::Approve,
        REVIEWER_AUTHOR,
        "",
        Refusal::OwnSubmission
    )]
    #[test_case(
        State::InReview,
        Action::RequestChanges,
        REVIEWER,
        " ",
        Refusal::CommentRequired("退回修改")
    )]
    #[test_case(
        State::Published,
        Action::Withdraw,
        AUTHOR,
        "",
        Refusal::WrongState("已发布", "撤回")
    )]
    #[test_case(
        State::Draft,
        Action::Approve,
        REVIEWER,
        "",
        Refusal::WrongState("草稿", "批准发布")
    )]
    fn refusals_say_why(
        from: State,
        action: Action,
        actor: Actor,
        comment: &str,
        expected: Refusal,
    ) {
        assert_eq!(next(from, action, actor, comment), Err(expected));
    }

    #[test]
    fn buttons_follow_the_rules() {
        assert_eq!(
            available(State::Draft, AUTHOR),
            [Action::Submit, Action::Withdraw]
        );
        assert_eq!(
            available(State::InReview, REVIEWER),
            [Action::RequestChanges, Action::Approve, Action::Reject]
        );
        assert!(available(State::InReview, REVIEWER_AUTHOR).is_empty());
        assert!(
            State::ALL
                .iter()
                .all(|s| available(*s, OTHER_EMPLOYEE).is_empty())
        );
    }

    #[test_case("Q/BZ {n:03}—{year}", &[], "Q/BZ 001—2026")]
    #[test_case("Q/BZ {n:03}—{year}", &["Q/BZ 010—2023".into(), "Q/BZ 007—2025".into(), "T/ZTAC 002—2023".into()], "Q/BZ 011—2026")]
    #[test_case("Q/YLX 0{n:02}—{year}", &["Q/YLX 012—2024".into()], "Q/YLX 013—2026"; "fixed digits before the number")]
    fn codes_continue_the_sequence(pattern: &str, existing: &[String], expected: &str) {
        assert_eq!(next_code(pattern, 2026, existing), expected);
    }
}
