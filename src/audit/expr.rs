//! The condition language of workflow rules: small, safe, compiled once.
//!
//! ```text
//! code_color == "红" && service_type in ["养老护理", "母婴护理"]
//! A.worker_id == T.worker_id
//! time <= appointment_start - 12h
//! not exists(per_order_policy) || amount >= 500000
//! ```
//!
//! There is no `eval` and nothing to call but a fixed list of pure functions: a rule
//! file cannot do anything but compute a verdict. Names are resolved to attribute
//! slots at compile time, string literals to interned value ids, so evaluation per
//! event is a walk over a small tree with integer compares.
//!
//! Logic is three-valued (Kleene): a comparison involving an absent attribute, or
//! values that cannot be compared (a text with `<`), is *unknown*, `not unknown` is
//! unknown, and only *true* satisfies a condition. So an absent attribute never
//! satisfies a condition or a correlation, not even `x != "红"` or `not (x == "红")`;
//! ask `exists(x)` / `not exists(x)` explicitly.

use std::fmt;

use super::time::{self, Micros};

/// Which event a name refers to: the one the condition belongs to, or — in a
/// correlation — the activation (`A.`) or the target (`T.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Cur,
    A,
    T,
}

/// What the expression may refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// An activation or target condition: bare names only.
    Local,
    /// A correlation between activation and target: `A.x` / `T.x` only.
    Pair,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// Text with its id in the value table.
    Str(String, u32),
    Num(f64),
    Bool(bool),
    Dur(Micros),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Lit),
    Attr(Scope, u16),
    Time(Scope),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Lit>),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Exists(Box<Expr>),
    Contains(Box<Expr>, Box<Expr>),
    StartsWith(Box<Expr>, Box<Expr>),
}

/// A compile error: what and at which character of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// 0-based character offset into the expression text.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

/// Interned attribute values. Id 0 is "absent". Each text is parsed once, when it is
/// interned, as a number, a boolean and an instant, so comparisons never re-parse.
pub trait Values {
    fn text(&self, id: u32) -> &str;
    fn num(&self, id: u32) -> Option<f64>;
    fn time(&self, id: u32) -> Option<Micros>;
    fn boolean(&self, id: u32) -> Option<bool>;
}

/// What an expression reads from an event.
pub trait Event {
    /// Value id of attribute `slot` (0 = absent).
    fn attr(&self, slot: u16) -> u32;
    fn time(&self) -> Micros;
}

/// Attribute names referenced by a rule set, in slot order.
#[derive(Debug, Default, Clone)]
pub struct Slots {
    pub names: Vec<String>,
}

impl Slots {
    pub fn slot(&mut self, name: &str) -> u16 {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return i as u16;
        }
        self.names.push(name.to_string());
        (self.names.len() - 1) as u16
    }
}

// ---------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Dur(Micros),
    Op(&'static str),
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |offset: usize, message: String| ExprError { offset, message };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' || c == '“' || c == '‘' {
            let close = match c {
                '“' => '”',
                '‘' => '’',
                other => other,
            };
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(err(start, "unterminated string".into())),
                    Some('\\') if close == c => {
                        match chars.get(i + 1) {
                            Some(&e @ ('"' | '\'' | '\\')) => s.push(e),
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            _ => {
                                return Err(err(
                                    i,
                                    "unknown escape (use \\\" \\' \\\\ \\n \\t)".into(),
                                ));
                            }
                        }
                        i += 2;
                    }
                    Some(&ch) if ch == close => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Str(s), start));
            continue;
        }
        if c == '`' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(err(start, "unterminated `name`".into())),
                    Some('`') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Ident(s), start));
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let num: String = chars[start..i].iter().collect();
            // A unit glued to the number makes a duration: 20m, 1h30m, 24h, 7d.
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j > i {
                let text: String = chars[start..j].iter().collect();
                let d = time::parse_duration(&text).ok_or_else(|| {
                    err(
                        start,
                        format!("`{text}` is not a duration (write e.g. 20m, 1h30m, 48h, 7d)"),
                    )
                })?;
                out.push((Tok::Dur(d), start));
                i = j;
            } else {
                let v: f64 = num
                    .parse()
                    .map_err(|_| err(start, format!("`{num}` is not a number")))?;
                out.push((Tok::Num(v), start));
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), start));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op: &'static str = match two.as_str() {
            "==" => "==",
            "!=" => "!=",
            "<=" => "<=",
            ">=" => ">=",
            "&&" => "&&",
            "||" => "||",
            _ => match c {
                '<' => "<",
                '>' => ">",
                '!' => "!",
                '+' => "+",
                '-' => "-",
                '(' => "(",
                ')' => ")",
                '[' => "[",
                ']' => "]",
                ',' => ",",
                '.' => ".",
                '=' => {
                    return Err(err(
                        start,
                        "`=` is not an operator; compare with `==`".into(),
                    ));
                }
                _ => return Err(err(start, format!("unexpected character `{c}`"))),
            },
        };
        i += op.chars().count();
        out.push((Tok::Op(op), start));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    at: usize,
    end: usize,
    slots: &'a mut Slots,
    intern: &'a mut dyn FnMut(&str) -> u32,
    context: Context,
}

/// Compiles `src`, registering attribute names in `slots` and string literals with
/// `intern` (the value table the log's values will be interned in).
pub fn compile(
    src: &str,
    context: Context,
    slots: &mut Slots,
    intern: &mut dyn FnMut(&str) -> u32,
) -> Result<Expr, ExprError> {
    let e = parse(src, context, slots, intern)?;
    check_boolean(&e, 0)?;
    Ok(e)
}

/// Compiles a value expression (a number, a duration or an instant, e.g.
/// `first_response_at - received_at`), for measured quantities.
pub fn compile_value(
    src: &str,
    slots: &mut Slots,
    intern: &mut dyn FnMut(&str) -> u32,
) -> Result<Expr, ExprError> {
    parse(src, Context::Local, slots, intern)
}

fn parse(
    src: &str,
    context: Context,
    slots: &mut Slots,
    intern: &mut dyn FnMut(&str) -> u32,
) -> Result<Expr, ExprError> {
    let toks = lex(src)?;
    let end = src.chars().count();
    if toks.is_empty() {
        return Err(ExprError {
            offset: 0,
            message: "empty expression".into(),
        });
    }
    let mut p = Parser {
        toks,
        at: 0,
        end,
        slots,
        intern,
        context,
    };
    let e = p.or()?;
    if let Some((t, off)) = p.toks.get(p.at) {
        return Err(ExprError {
            offset: *off,
            message: format!("unexpected {} after a complete expression", describe(t)),
        });
    }
    Ok(e)
}

/// A measured quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    Num(f64),
    Dur(Micros),
}

/// Evaluates a value expression; `None` when an operand is absent or the
/// expression does not yield a number or a duration.
pub fn quantity<E: Event, V: Values>(e: &Expr, env: &Env<'_, E>, vals: &V) -> Option<Quantity> {
    match value(e, env, vals) {
        Val::Num(n) => Some(Quantity::Num(n)),
        Val::Dur(d) => Some(Quantity::Dur(d)),
        Val::Id(id) => vals.num(id).map(Quantity::Num),
        _ => None,
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("name `{s}`"),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Num(n) => format!("number {n}"),
        Tok::Dur(d) => format!("duration {}", time::format_duration(*d)),
        Tok::Op(o) => format!("`{o}`"),
    }
}

/// A condition must yield a truth value: `code_color` alone is fine when the
/// attribute holds true/false, `20m` or `1 + 2` is not.
fn check_boolean(e: &Expr, offset: usize) -> Result<(), ExprError> {
    match e {
        Expr::Lit(Lit::Num(_) | Lit::Dur(_) | Lit::Str(..))
        | Expr::Add(..)
        | Expr::Sub(..)
        | Expr::Time(_) => Err(ExprError {
            offset,
            message: "a condition must be true or false (compare the value with ==, <, …)".into(),
        }),
        _ => Ok(()),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.at).map(|(_, o)| *o).unwrap_or(self.end)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError {
            offset: self.offset(),
            message: message.into(),
        })
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == kw)
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ExprError> {
        if self.is_op(op) {
            self.at += 1;
            Ok(())
        } else {
            let found = self
                .peek()
                .map(describe)
                .unwrap_or_else(|| "the end".into());
            self.err(format!("expected `{op}`, found {found}"))
        }
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut l = self.and()?;
        while self.is_op("||") || self.is_kw("or") {
            self.at += 1;
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut l = self.not()?;
        while self.is_op("&&") || self.is_kw("and") {
            self.at += 1;
            let r = self.not()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.is_op("!") || self.is_kw("not") {
            self.at += 1;
            let off = self.offset();
            let e = self.not()?;
            check_boolean(&e, off)?;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ExprError> {
        let l = self.sum()?;
        let op = match self.peek() {
            Some(Tok::Op("==")) => Some(CmpOp::Eq),
            Some(Tok::Op("!=")) => Some(CmpOp::Ne),
            Some(Tok::Op("<")) => Some(CmpOp::Lt),
            Some(Tok::Op("<=")) => Some(CmpOp::Le),
            Some(Tok::Op(">")) => Some(CmpOp::Gt),
            Some(Tok::Op(">=")) => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.at += 1;
            let r = self.sum()?;
            return Ok(Expr::Cmp(op, Box::new(l), Box::new(r)));
        }
        let negated = if self.is_kw("not")
            && matches!(self.toks.get(self.at + 1), Some((Tok::Ident(s), _)) if s == "in")
        {
            self.at += 1;
            true
        } else {
            false
        };
        if self.is_kw("in") {
            self.at += 1;
            self.expect_op("[")?;
            let mut items = Vec::new();
            if !self.is_op("]") {
                loop {
                    items.push(self.literal()?);
                    if self.is_op(",") {
                        self.at += 1;
                        continue;
                    }
                    break;
                }
            }
            self.expect_op("]")?;
            let e = Expr::In(Box::new(l), items);
            return Ok(if negated { Expr::Not(Box::new(e)) } else { e });
        }
        if negated {
            return self.err("expected `in` after `not`");
        }
        Ok(l)
    }

    fn literal(&mut self) -> Result<Lit, ExprError> {
        let neg = if self.is_op("-") {
            self.at += 1;
            true
        } else {
            false
        };
        let lit = match self.peek().cloned() {
            Some(Tok::Str(s)) if !neg => {
                let id = (self.intern)(&s);
                Lit::Str(s, id)
            }
            Some(Tok::Num(n)) => Lit::Num(if neg { -n } else { n }),
            Some(Tok::Dur(d)) => Lit::Dur(if neg { -d } else { d }),
            Some(Tok::Ident(s)) if !neg && (s == "true" || s == "false") => Lit::Bool(s == "true"),
            _ => return self.err("expected a literal (\"text\", number, duration, true/false)"),
        };
        self.at += 1;
        Ok(lit)
    }

    fn sum(&mut self) -> Result<Expr, ExprError> {
        let mut l = self.unary()?;
        loop {
            if self.is_op("+") {
                self.at += 1;
                let r = self.unary()?;
                l = Expr::Add(Box::new(l), Box::new(r));
            } else if self.is_op("-") {
                self.at += 1;
                let r = self.unary()?;
                l = Expr::Sub(Box::new(l), Box::new(r));
            } else {
                return Ok(l);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.is_op("-") {
            return Ok(Expr::Lit(self.literal()?));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        let off = self.offset();
        match self.peek().cloned() {
            None => self.err("expression ends too early"),
            Some(Tok::Op("(")) => {
                self.at += 1;
                let e = self.or()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Some(Tok::Str(_) | Tok::Num(_) | Tok::Dur(_)) => Ok(Expr::Lit(self.literal()?)),
            Some(Tok::Ident(name)) => {
                self.at += 1;
                match name.as_str() {
                    "true" | "false" => return Ok(Expr::Lit(Lit::Bool(name == "true"))),
                    "exists" | "contains" | "starts_with" if self.is_op("(") => {
                        return self.call(&name, off);
                    }
                    _ => {}
                }
                let scope = match name.as_str() {
                    "A" | "T" if self.is_op(".") => {
                        self.at += 1;
                        if name == "A" { Scope::A } else { Scope::T }
                    }
                    _ => Scope::Cur,
                };
                let attr = if scope == Scope::Cur {
                    name
                } else {
                    match self.peek().cloned() {
                        Some(Tok::Ident(a)) => {
                            self.at += 1;
                            a
                        }
                        _ => return self.err("expected an attribute name after `A.`/`T.`"),
                    }
                };
                match (self.context, scope) {
                    (Context::Local, Scope::A | Scope::T) => {
                        return Err(ExprError {
                            offset: off,
                            message: "a condition sees only its own event: write the bare \
                                      name, and compare two events in `correlation`"
                                .into(),
                        });
                    }
                    (Context::Pair, Scope::Cur) => {
                        return Err(ExprError {
                            offset: off,
                            message: format!(
                                "in a correlation say which event: A.{attr} (activation) or \
                                 T.{attr} (target)"
                            ),
                        });
                    }
                    _ => {}
                }
                Ok(match attr.as_str() {
                    "time" | "timestamp" => Expr::Time(scope),
                    "activity" | "case_id" | "case" => {
                        return Err(ExprError {
                            offset: off,
                            message: format!(
                                "`{attr}` is not an attribute: name activities in the rule's \
                                 `activity:` list"
                            ),
                        });
                    }
                    _ => Expr::Attr(scope, self.slots.slot(&attr)),
                })
            }
            Some(t) => self.err(format!("unexpected {}", describe(&t))),
        }
    }

    fn call(&mut self, name: &str, off: usize) -> Result<Expr, ExprError> {
        self.expect_op("(")?;
        let mut args = vec![self.sum()?];
        while self.is_op(",") {
            self.at += 1;
            args.push(self.sum()?);
        }
        self.expect_op(")")?;
        let arity = if name == "exists" { 1 } else { 2 };
        if args.len() != arity {
            return Err(ExprError {
                offset: off,
                message: format!("{name}() takes {arity} argument(s), got {}", args.len()),
            });
        }
        let mut it = args.into_iter();
        let a = Box::new(it.next().unwrap_or(Expr::Lit(Lit::Bool(false))));
        Ok(match name {
            "exists" => {
                if !matches!(*a, Expr::Attr(..)) {
                    return Err(ExprError {
                        offset: off,
                        message: "exists() takes an attribute name".into(),
                    });
                }
                Expr::Exists(a)
            }
            "contains" => Expr::Contains(
                a,
                Box::new(it.next().unwrap_or(Expr::Lit(Lit::Bool(false)))),
            ),
            _ => Expr::StartsWith(
                a,
                Box::new(it.next().unwrap_or(Expr::Lit(Lit::Bool(false)))),
            ),
        })
    }
}

// ---------------------------------------------------------------------------------
// Evaluation

/// A value during evaluation. `Id` is an interned attribute value whose meaning
/// (text, number, instant, boolean) is decided by what it is compared with.
#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    Missing,
    Id(u32),
    Str(&'a str, u32),
    Num(f64),
    Bool(bool),
    Time(Micros),
    Dur(Micros),
}

/// The events an expression is evaluated against.
pub struct Env<'e, E: Event> {
    pub cur: &'e E,
    pub a: &'e E,
    pub t: &'e E,
}

impl<'e, E: Event> Env<'e, E> {
    /// For a local condition on one event.
    pub fn local(e: &'e E) -> Self {
        Env { cur: e, a: e, t: e }
    }

    /// For a correlation between an activation and a target.
    pub fn pair(a: &'e E, t: &'e E) -> Self {
        Env { cur: a, a, t }
    }

    fn ev(&self, s: Scope) -> &'e E {
        match s {
            Scope::Cur => self.cur,
            Scope::A => self.a,
            Scope::T => self.t,
        }
    }
}

/// True only when the condition is definitely true (unknown counts as false).
pub fn holds<E: Event, V: Values>(e: &Expr, env: &Env<'_, E>, values: &V) -> bool {
    truth(e, env, values) == Some(true)
}

fn truth<E: Event, V: Values>(e: &Expr, env: &Env<'_, E>, vals: &V) -> Option<bool> {
    match e {
        Expr::And(l, r) => match truth(l, env, vals) {
            Some(false) => Some(false),
            lv => match (lv, truth(r, env, vals)) {
                (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
        },
        Expr::Or(l, r) => match truth(l, env, vals) {
            Some(true) => Some(true),
            lv => match (lv, truth(r, env, vals)) {
                (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
        },
        Expr::Not(x) => truth(x, env, vals).map(|b| !b),
        Expr::Cmp(op, l, r) => {
            let l = value(l, env, vals);
            let r = value(r, env, vals);
            compare(*op, l, r, vals)
        }
        Expr::In(x, items) => {
            let v = value(x, env, vals);
            if matches!(v, Val::Missing) {
                return None;
            }
            let mut unknown = false;
            for it in items {
                match compare(CmpOp::Eq, v, lit_val(it), vals) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            if unknown { None } else { Some(false) }
        }
        Expr::Exists(x) => Some(!matches!(value(x, env, vals), Val::Missing)),
        Expr::Contains(a, b) | Expr::StartsWith(a, b) => {
            let (Some(a), Some(b)) = (
                text(value(a, env, vals), vals),
                text(value(b, env, vals), vals),
            ) else {
                return None;
            };
            Some(if matches!(e, Expr::Contains(..)) {
                a.contains(b)
            } else {
                a.starts_with(b)
            })
        }
        other => match value(other, env, vals) {
            Val::Bool(b) => Some(b),
            Val::Id(id) => vals.boolean(id),
            _ => None,
        },
    }
}

fn text<'a, V: Values>(v: Val<'a>, vals: &'a V) -> Option<&'a str> {
    match v {
        Val::Id(id) => Some(vals.text(id)),
        Val::Str(s, _) => Some(s),
        _ => None,
    }
}

fn lit_val(l: &Lit) -> Val<'_> {
    match l {
        Lit::Str(s, id) => Val::Str(s, *id),
        Lit::Num(n) => Val::Num(*n),
        Lit::Bool(b) => Val::Bool(*b),
        Lit::Dur(d) => Val::Dur(*d),
    }
}

fn value<'a, E: Event, V: Values>(e: &'a Expr, env: &Env<'_, E>, vals: &V) -> Val<'a> {
    match e {
        Expr::Lit(l) => lit_val(l),
        Expr::Attr(s, slot) => match env.ev(*s).attr(*slot) {
            0 => Val::Missing,
            id => Val::Id(id),
        },
        Expr::Time(s) => Val::Time(env.ev(*s).time()),
        Expr::Add(l, r) => arith(true, value(l, env, vals), value(r, env, vals), vals),
        Expr::Sub(l, r) => arith(false, value(l, env, vals), value(r, env, vals), vals),
        other => match truth(other, env, vals) {
            Some(b) => Val::Bool(b),
            None => Val::Missing,
        },
    }
}

/// `+`/`-` over instants, durations and numbers; an interned value takes the type the
/// other operand asks for.
fn arith<'a, V: Values>(add: bool, l: Val<'a>, r: Val<'a>, vals: &V) -> Val<'a> {
    let as_time = |v: Val<'a>| match v {
        Val::Time(t) => Some(t),
        Val::Id(id) => vals.time(id),
        _ => None,
    };
    let as_num = |v: Val<'a>| match v {
        Val::Num(n) => Some(n),
        Val::Id(id) => vals.num(id),
        _ => None,
    };
    match (l, r) {
        (_, Val::Dur(d)) => match l {
            Val::Dur(a) => Val::Dur(if add { a + d } else { a - d }),
            _ => match as_time(l) {
                Some(t) => Val::Time(if add { t + d } else { t - d }),
                None => Val::Missing,
            },
        },
        (Val::Dur(d), _) if add => match as_time(r) {
            Some(t) => Val::Time(t + d),
            None => Val::Missing,
        },
        (Val::Num(_), _) | (_, Val::Num(_)) => match (as_num(l), as_num(r)) {
            (Some(a), Some(b)) => Val::Num(if add { a + b } else { a - b }),
            _ => Val::Missing,
        },
        _ if !add => match (as_time(l), as_time(r)) {
            (Some(a), Some(b)) => Val::Dur(a - b),
            _ => match (as_num(l), as_num(r)) {
                (Some(a), Some(b)) => Val::Num(a - b),
                _ => Val::Missing,
            },
        },
        _ => match (as_num(l), as_num(r)) {
            (Some(a), Some(b)) => Val::Num(a + b),
            _ => Val::Missing,
        },
    }
}

fn ord<T: PartialOrd>(op: CmpOp, a: T, b: T) -> Option<bool> {
    let o = a.partial_cmp(&b)?;
    Some(match op {
        CmpOp::Eq => o.is_eq(),
        CmpOp::Ne => o.is_ne(),
        CmpOp::Lt => o.is_lt(),
        CmpOp::Le => o.is_le(),
        CmpOp::Gt => o.is_gt(),
        CmpOp::Ge => o.is_ge(),
    })
}

fn compare<V: Values>(op: CmpOp, l: Val<'_>, r: Val<'_>, vals: &V) -> Option<bool> {
    use Val::*;
    let eq_only = |b: bool| match op {
        CmpOp::Eq => Some(b),
        CmpOp::Ne => Some(!b),
        _ => None,
    };
    match (l, r) {
        (Missing, _) | (_, Missing) => None,
        (Id(a), Id(b)) => {
            if a == b {
                return eq_only(true).or(ord(op, 0, 0));
            }
            match op {
                CmpOp::Eq | CmpOp::Ne => {
                    // Exact values: two texts are equal only if identical, except that
                    // instants compare as instants (`+08:00` vs `Z`).
                    match (vals.time(a), vals.time(b)) {
                        (Some(x), Some(y)) => ord(op, x, y),
                        _ => eq_only(false),
                    }
                }
                _ => match (vals.time(a), vals.time(b)) {
                    (Some(x), Some(y)) => ord(op, x, y),
                    _ => ord(op, vals.num(a)?, vals.num(b)?),
                },
            }
        }
        (Id(a), Str(_, b)) | (Str(_, b), Id(a)) => {
            if a == b {
                eq_only(true)
            } else {
                eq_only(false)
            }
        }
        (Str(a, _), Str(b, _)) => eq_only(a == b),
        (Id(a), Num(n)) => ord(op, vals.num(a)?, n),
        (Num(n), Id(a)) => ord(op, n, vals.num(a)?),
        (Id(a), Bool(b)) | (Bool(b), Id(a)) => eq_only(vals.boolean(a)? == b),
        (Id(a), Time(t)) => ord(op, vals.time(a)?, t),
        (Time(t), Id(a)) => ord(op, t, vals.time(a)?),
        (Num(a), Num(b)) => ord(op, a, b),
        (Bool(a), Bool(b)) => eq_only(a == b),
        (Time(a), Time(b)) | (Dur(a), Dur(b)) => ord(op, a, b),
        _ => None,
    }
}

/// Calls `f` on `e` and every subexpression, depth first.
pub fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Not(x) | Expr::Exists(x) | Expr::In(x, _) => walk(x, f),
        Expr::And(a, b)
        | Expr::Or(a, b)
        | Expr::Cmp(_, a, b)
        | Expr::Add(a, b)
        | Expr::Sub(a, b)
        | Expr::Contains(a, b)
        | Expr::StartsWith(a, b) => {
            walk(a, f);
            walk(b, f);
        }
        Expr::Lit(_) | Expr::Attr(..) | Expr::Time(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use test_case::test_case;

    #[derive(Default)]
    struct Table {
        texts: Vec<String>,
        ids: HashMap<String, u32>,
    }

    impl Values for Table {
        fn text(&self, id: u32) -> &str {
            &self.texts[id as usize - 1]
        }
        fn num(&self, id: u32) -> Option<f64> {
            self.text(id).parse().ok()
        }
        fn time(&self, id: u32) -> Option<Micros> {
            time::parse_instant(self.text(id), None).ok().map(|t| t.0)
        }
        fn boolean(&self, id: u32) -> Option<bool> {
            self.text(id).parse().ok()
        }
    }

    impl Table {
        fn intern(&mut self, text: &str) -> u32 {
            if let Some(&id) = self.ids.get(text) {
                return id;
            }
            self.texts.push(text.to_string());
            let id = self.texts.len() as u32;
            self.ids.insert(text.to_string(), id);
            id
        }
    }

    struct Ev {
        attrs: Vec<u32>,
        t: Micros,
    }

    impl Event for Ev {
        fn attr(&self, slot: u16) -> u32 {
            self.attrs.get(slot as usize).copied().unwrap_or(0)
        }
        fn time(&self) -> Micros {
            self.t
        }
    }

    fn event(slots: &mut Slots, vals: &mut Table, kv: &[(&str, &str)]) -> Ev {
        let mut attrs = vec![0; 16];
        for (k, v) in kv {
            let s = slots.slot(k) as usize;
            attrs[s] = vals.intern(v);
        }
        Ev {
            attrs,
            t: time::parse_instant("2023-10-09T09:00:00+08:00", None)
                .unwrap()
                .0,
        }
    }

    fn eval(src: &str, kv: &[(&str, &str)]) -> bool {
        let mut slots = Slots::default();
        let mut vals = Table::default();
        let e = compile(src, Context::Local, &mut slots, &mut |t| vals.intern(t)).unwrap();
        let ev = event(&mut slots, &mut vals, kv);
        holds(&e, &Env::local(&ev), &vals)
    }

    #[test_case(r#"code_color == "红""#, &[("code_color", "红")], true)]
    #[test_case(r#"code_color == "红""#, &[("code_color", "绿")], false)]
    #[test_case(r#"code_color == "红""#, &[], false; "absent never equals")]
    #[test_case(r#"code_color != "红""#, &[], false; "absent never differs either")]
    #[test_case(r#"not (code_color == "红")"#, &[], false; "negated unknown stays unknown")]
    #[test_case(r#"not exists(code_color)"#, &[], true)]
    #[test_case(r#"code_color in ["黄", "红"]"#, &[("code_color", "黄")], true)]
    #[test_case(r#"code_color not in ["黄", "红"]"#, &[("code_color", "绿")], true)]
    #[test_case(r#"code_color not in ["黄", "红"]"#, &[], false)]
    #[test_case("amount >= 500000", &[("amount", "500000")], true)]
    #[test_case("amount >= 500000", &[("amount", "499999.5")], false)]
    #[test_case("amount >= 500000", &[("amount", "五十万")], false; "text is not a number")]
    #[test_case("first_order", &[("first_order", "true")], true)]
    #[test_case("first_order == false", &[("first_order", "false")], true)]
    #[test_case("x == \"1\" || y == \"2\"", &[("y", "2")], true; "or with unknown left")]
    #[test_case("x == \"1\" && y == \"2\"", &[("y", "2")], false)]
    #[test_case("time <= start - 12h", &[("start", "2023-10-09T21:00:00+08:00")], true; "exactly twelve hours")]
    #[test_case("time <= start - 12h", &[("start", "2023-10-09T20:59:59+08:00")], false)]
    #[test_case("start - time >= 24h", &[("start", "2023-10-10T01:00:00Z")], true; "offsets compare as instants")]
    #[test_case("ends < start", &[("ends", "2023-10-09T12:00:00+08:00"), ("start", "2023-10-09T05:00:00Z")], true)]
    #[test_case(r#"contains(note, "红码")"#, &[("note", "显示红码")], true)]
    #[test_case(r#"starts_with(worker_id, "W")"#, &[("worker_id", "W2046")], true)]
    #[test_case("`安心码颜色` == '红'", &[("安心码颜色", "红")], true)]
    #[test_case("安心码颜色 == “红”", &[("安心码颜色", "红")], true)]
    fn conditions(src: &str, kv: &[(&str, &str)], expected: bool) {
        assert_eq!(eval(src, kv), expected, "{src}");
    }

    #[test_case("code_color = \"红\"", "`=` is not an operator")]
    #[test_case("code_color ==", "ends too early")]
    #[test_case("code_color == \"红", "unterminated string")]
    #[test_case("A.worker_id == \"W1\"", "sees only its own event")]
    #[test_case("20m", "must be true or false")]
    #[test_case("x == 20q", "not a duration")]
    #[test_case("(x == 1", "expected `)`")]
    #[test_case("x == 1 y", "unexpected name `y`")]
    #[test_case("x in [y]", "expected a literal")]
    #[test_case("exists(\"x\")", "takes an attribute name")]
    #[test_case("x # 1", "unexpected character `#`")]
    fn compile_errors_say_what(src: &str, needle: &str) {
        let mut slots = Slots::default();
        let mut vals = Table::default();
        let err = compile(src, Context::Local, &mut slots, &mut |t| vals.intern(t)).unwrap_err();
        assert!(err.message.contains(needle), "{src}: {}", err.message);
    }

    #[test]
    fn correlation_compares_two_events() {
        let mut slots = Slots::default();
        let mut vals = Table::default();
        let e = compile(
            "A.worker_id == T.worker_id",
            Context::Pair,
            &mut slots,
            &mut |t| vals.intern(t),
        )
        .unwrap();
        let a = event(&mut slots, &mut vals, &[("worker_id", "W1")]);
        let t1 = event(&mut slots, &mut vals, &[("worker_id", "W1")]);
        let t2 = event(&mut slots, &mut vals, &[("worker_id", "W2")]);
        let t3 = event(&mut slots, &mut vals, &[]);
        assert!(holds(&e, &Env::pair(&a, &t1), &vals));
        assert!(!holds(&e, &Env::pair(&a, &t2), &vals));
        assert!(
            !holds(&e, &Env::pair(&a, &t3), &vals),
            "absent never correlates"
        );
        let err = compile(
            "worker_id == T.worker_id",
            Context::Pair,
            &mut slots,
            &mut |t| vals.intern(t),
        )
        .unwrap_err();
        assert!(err.message.contains("A.worker_id"), "{}", err.message);
    }
}
