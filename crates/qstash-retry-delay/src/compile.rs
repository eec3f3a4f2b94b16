//! The compiler: source bytes to a flat program in one pass (the grammar and limits of the crate docs).
//!
//! ```text
//! expr    = sum
//! sum     = product { ("+" | "-") product }
//! product = unary { ("*" | "/" | "%") unary }
//! unary   = { "-" | "+" } atom
//! atom    = number | "retried" | call | "(" expr ")"
//! call    = name "(" expr { "," expr } ")"
//! ```
//!
//! A recursive-descent parser follows the grammar; `nom` lexes number literals in their
//! general form, while the hot paths (whitespace, names, short integers) are plain byte scans,
//! since lexing is where compilation spends its time. The parse tree is never stored: each sub-expression reports what it turned out to
//! be, either a constant (every sub-expression that does not read `retried` is folded on the
//! spot, with the very arithmetic the machine uses), `retried` itself, or code already emitted
//! that leaves the value in the accumulator. An operator then emits one instruction that takes
//! its other operand as an immediate constant, as `retried`, or from the stack, so most
//! expressions need no stack at all.
//!
//! Only `(` makes the parser recurse: `sum` and `product` share one loop, signs are counted,
//! and each `(` (of a group or a call) is checked against the depth limit before the parser
//! goes into it, so no input can exhaust the call stack.

use std::cell::Cell;

use nom::bytes::complete::tag;
use nom::character::complete::{digit0, one_of};
use nom::combinator::opt;
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::Limits;
use crate::error::{CompileError, Detail, ErrorKind, Expected};
use crate::machine::{Op, Operand, StackSize};
use crate::math::{Bin, Un};

/// A compiled expression, before it is wrapped for sharing.
pub(crate) struct Compiled<T> {
    pub(crate) code: T,
    pub(crate) stack: StackSize,
    pub(crate) constant: bool,
}

/// What a sub-expression turned out to be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SubExpr {
    /// A constant: nothing was emitted.
    Const(f64),
    /// `retried`: nothing was emitted.
    Retried,
    /// Code was emitted; it leaves the value in the accumulator.
    Code,
}

/// A compile error before it is given the source to quote.
#[derive(Debug, Clone, Copy)]
struct PendingError {
    kind: ErrorKind,
    offset: usize,
    len: usize,
    detail: Detail,
}

/// Compilation stopped; the reason is in [`Compiler::error`].
struct Abort;

type Outcome<T> = Result<T, Abort>;

/// A function of the language.
#[derive(Debug, Clone, Copy)]
enum Func {
    One(Un),
    Two(Bin),
}

/// Parts of a number literal, as lexed: `int` `.frac` `e sign exp`, each possibly empty.
struct NumberParts<'a> {
    int: &'a [u8],
    frac: Option<&'a [u8]>,
    exp: Option<&'a [u8]>,
}

fn number_parts(input: &[u8]) -> IResult<&[u8], NumberParts<'_>, ()> {
    (
        digit0,
        opt(preceded(tag(&b"."[..]), digit0)),
        opt(preceded((one_of("eE"), opt(one_of("+-"))), digit0)),
    )
        .map(|(int, frac, exp)| NumberParts { int, frac, exp })
        .parse(input)
}

/// The bytes a name is made of: ASCII letters, digits and `_`.
// Indexing in a constant initializer: a mistake would fail the build, never panic at run time.
#[allow(clippy::indexing_slicing)]
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_');
        b += 1;
    }
    table
};

/// Whether `b` can be part of a name.
fn is_name_byte(b: u8) -> bool {
    NAME_BYTES.get(usize::from(b)) == Some(&true)
}

/// Splits a name off the front of `input` (which the caller has seen start with a letter or
/// `_`).
fn identifier(input: &[u8]) -> (&[u8], &[u8]) {
    let len = input
        .iter()
        .position(|&b| !is_name_byte(b))
        .unwrap_or(input.len());
    input.split_at_checked(len).unwrap_or((input, &[]))
}

/// The function called `name`, with its canonical spelling.
fn function(name: &[u8]) -> Option<(&'static str, Func)> {
    Some(match name {
        b"pow" => ("pow", Func::Two(Bin::Pow)),
        b"exp" => ("exp", Func::One(Un::Exp)),
        b"sqrt" => ("sqrt", Func::One(Un::Sqrt)),
        b"abs" => ("abs", Func::One(Un::Abs)),
        b"floor" => ("floor", Func::One(Un::Floor)),
        b"ceil" => ("ceil", Func::One(Un::Ceil)),
        b"round" => ("round", Func::One(Un::Round)),
        b"min" => ("min", Func::Two(Bin::Min)),
        b"max" => ("max", Func::Two(Bin::Max)),
        _ => return None,
    })
}

/// Length of the UTF-8 character starting `rest` (1 for a stray byte).
fn char_len(rest: &[u8]) -> usize {
    let n = match rest.first() {
        Some(&b) if b >= 0xF0 => 4,
        Some(&b) if b >= 0xE0 => 3,
        Some(&b) if b >= 0xC0 => 2,
        _ => 1,
    };
    if rest
        .get(..n)
        .is_some_and(|c| std::str::from_utf8(c).is_ok())
    {
        n
    } else {
        1
    }
}

/// The largest number of decimal digits whose value always fits exactly in an `f64`.
const EXACT_DIGITS: usize = 15;

/// A scratch buffer kept above this many instructions is given back after use.
const SCRATCH_KEEP: usize = 1024;

thread_local! {
    /// The instructions being emitted, reused from one compilation to the next on a thread.
    static SCRATCH: Cell<Vec<Op>> = const { Cell::new(Vec::new()) };
}

/// Whether `begin_rhs` pushed the left operand before the right operand was compiled.
#[derive(Clone, Copy)]
struct Mark {
    pushed: bool,
}

struct Compiler<'a, 'c> {
    input: &'a [u8],
    /// Always at a token or at the end: whitespace is skipped after each token.
    pos: usize,
    code: &'c mut Vec<Op>,
    depth: usize,
    max_depth: usize,
    error: Option<PendingError>,
}

/// Compiles `input` within `limits`, and hands the program to `finish` (which copies it out
/// of the scratch buffer).
pub(crate) fn compile<R>(
    input: &[u8],
    limits: Limits,
    finish: impl FnOnce(Compiled<&[Op]>) -> R,
) -> Result<R, CompileError> {
    let error = |f: PendingError| CompileError::new(f.kind, input, f.offset, f.len, f.detail);
    if input.len() > limits.max_len() {
        return Err(error(PendingError {
            kind: ErrorKind::TooLong,
            offset: limits.max_len(),
            len: input.len() - limits.max_len(),
            detail: Detail::Limit {
                limit: limits.max_len(),
                actual: input.len(),
            },
        }));
    }
    // The instructions are emitted into a buffer kept by the thread, so that compiling
    // allocates only the program it returns.
    let mut code = SCRATCH.try_with(Cell::take).unwrap_or_default();
    code.clear();
    let result = compile_into(input, limits, &mut code).map(|compiled| {
        finish(Compiled {
            code: code.as_slice(),
            stack: compiled.stack,
            constant: compiled.constant,
        })
    });
    if code.capacity() <= SCRATCH_KEEP {
        // Fails only while the thread is being torn down, and then the buffer just goes.
        let _ = SCRATCH.try_with(|scratch| scratch.set(code));
    }
    result.map_err(error)
}

/// Compiles `input` into `code`, which is empty.
fn compile_into(
    input: &[u8],
    limits: Limits,
    code: &mut Vec<Op>,
) -> Result<Compiled<()>, PendingError> {
    let mut c = Compiler {
        input,
        pos: 0,
        code,
        depth: 0,
        max_depth: limits.max_depth(),
        error: None,
    };
    c.skip_ws();
    if c.at_end() {
        return Err(PendingError {
            kind: ErrorKind::Empty,
            offset: 0,
            len: input.len(),
            detail: Detail::None,
        });
    }
    let value = match c.expr() {
        Ok(value) => value,
        Err(Abort) => return Err(c.pending_error()),
    };
    if !c.at_end() {
        c.fail_here(ErrorKind::TrailingInput, Expected::OperatorOrEnd);
        return Err(c.pending_error());
    }
    let constant = match value {
        SubExpr::Const(k) => {
            c.emit(Op::LoadK(k));
            true
        }
        SubExpr::Retried => {
            c.emit(Op::LoadV);
            false
        }
        SubExpr::Code => false,
    };
    crate::machine::fuse_head(c.code);
    let Some(stack) = stack_height(c.code).and_then(StackSize::for_height) else {
        // Unreachable: within `Limits::MAX_DEPTH` the stack fits, and the compiler balances
        // every push. Refused rather than trusted.
        return Err(PendingError {
            kind: ErrorKind::TooDeep,
            offset: 0,
            len: input.len(),
            detail: Detail::Limit {
                limit: limits.max_depth(),
                actual: limits.max_depth(),
            },
        });
    };
    Ok(Compiled {
        code: (),
        stack,
        constant,
    })
}

/// The most values `code` ever holds on the stack, or `None` when it would pop an empty
/// stack or end with values left on it.
fn stack_height(code: &[Op]) -> Option<usize> {
    let mut height = 0usize;
    let mut max = 0;
    for op in code {
        height = height.checked_add_signed(op.stack_effect())?;
        max = max.max(height);
    }
    (height == 0).then_some(max)
}

impl<'a> Compiler<'a, '_> {
    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.input.get(self.pos + ahead).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// Moves to the start of `rest`, a suffix of the input.
    fn advance_to(&mut self, rest: &[u8]) {
        self.pos = self.input.len() - rest.len();
    }

    #[inline]
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Consumes a one-byte token and the whitespace after it.
    #[inline]
    fn bump(&mut self) {
        self.pos += 1;
        self.skip_ws();
    }

    /// The error recorded when compilation stopped. Every [`Abort`] is made by
    /// [`abort`](Self::abort), which records one; the fallback is for release builds only.
    #[cold]
    fn pending_error(&self) -> PendingError {
        debug_assert!(self.error.is_some(), "compilation stopped without an error");
        self.error.unwrap_or(PendingError {
            kind: ErrorKind::UnexpectedCharacter,
            offset: self.pos,
            len: 0,
            detail: Detail::None,
        })
    }

    /// Records `error` and stops.
    #[cold]
    fn abort(&mut self, error: PendingError) -> Abort {
        self.error = Some(error);
        Abort
    }

    /// Stops on what stands at the current position: `kind` for a character, or an
    /// unexpected end.
    #[cold]
    fn fail_here(&mut self, kind: ErrorKind, expected: Expected) -> Abort {
        let rest = self.rest();
        let (kind, len) = if rest.is_empty() {
            (ErrorKind::UnexpectedEnd, 0)
        } else {
            (kind, char_len(rest))
        };
        self.abort(PendingError {
            kind,
            offset: self.pos,
            len,
            detail: Detail::Expected(expected),
        })
    }

    #[cold]
    fn unexpected(&mut self, expected: Expected) -> Abort {
        self.fail_here(ErrorKind::UnexpectedCharacter, expected)
    }

    #[cold]
    fn power(&mut self, len: usize) -> Abort {
        let offset = self.pos;
        self.abort(PendingError {
            kind: ErrorKind::PowerOperator,
            offset,
            len,
            detail: Detail::None,
        })
    }

    /// Consumes a `(`, one level deeper, after checking the depth limit.
    fn open(&mut self) -> Outcome<()> {
        if self.depth >= self.max_depth {
            let fail = PendingError {
                kind: ErrorKind::TooDeep,
                offset: self.pos,
                len: 1,
                detail: Detail::Limit {
                    limit: self.max_depth,
                    actual: self.depth + 1,
                },
            };
            return Err(self.abort(fail));
        }
        self.depth += 1;
        self.bump();
        Ok(())
    }

    /// Consumes the `)` that closes a level.
    fn close(&mut self) -> Outcome<()> {
        if self.peek() == Some(b')') {
            self.depth = self.depth.saturating_sub(1);
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(Expected::CloseParen))
        }
    }

    fn emit(&mut self, op: Op) {
        self.code.push(op);
    }

    /// `sum = product { ("+" | "-") product }` and
    /// `product = unary { ("*" | "/" | "%") unary }` in one loop: `pending` is the sum so far
    /// and its operator, waiting for the product being built in `product`.
    fn expr(&mut self) -> Outcome<SubExpr> {
        let mut pending: Option<(SubExpr, Bin, Mark)> = None;
        let mut product = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(b'*') if self.peek_at(1) == Some(b'*') => return Err(self.power(2)),
                Some(b'*') => Bin::Mul,
                Some(b'/') => Bin::Div,
                Some(b'%') => Bin::Rem,
                Some(b'^') => return Err(self.power(1)),
                Some(b'+') => Bin::Add,
                Some(b'-') => Bin::Sub,
                _ => break,
            };
            self.bump();
            if matches!(op, Bin::Add | Bin::Sub) {
                // The product is complete: add it to the sum, which becomes the left operand.
                let sum = match pending {
                    Some((left, op, mark)) => self.binary(op, left, product, mark),
                    None => product,
                };
                pending = Some((sum, op, self.begin_rhs(sum)));
                product = self.unary()?;
            } else {
                let mark = self.begin_rhs(product);
                let right = self.unary()?;
                product = self.binary(op, product, right, mark);
            }
        }
        Ok(match pending {
            Some((left, op, mark)) => self.binary(op, left, product, mark),
            None => product,
        })
    }

    /// `unary = { "-" | "+" } atom`: signs are counted, not recursed on.
    fn unary(&mut self) -> Outcome<SubExpr> {
        let mut negate = false;
        loop {
            match self.peek() {
                Some(b'-') => negate = !negate,
                Some(b'+') => {}
                _ => break,
            }
            self.bump();
        }
        let value = self.atom()?;
        Ok(if negate {
            self.apply_unary(Un::Neg, value)
        } else {
            value
        })
    }

    /// `atom = number | "retried" | call | "(" expr ")"`
    fn atom(&mut self) -> Outcome<SubExpr> {
        match self.peek() {
            Some(b'0'..=b'9' | b'.') => self.number(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => self.name(),
            Some(b'(') => {
                self.open()?;
                let value = self.expr()?;
                self.close()?;
                Ok(value)
            }
            Some(b'^') => Err(self.power(1)),
            Some(b'*') if self.peek_at(1) == Some(b'*') => Err(self.power(2)),
            _ => Err(self.unexpected(Expected::Operand)),
        }
    }

    fn number(&mut self) -> Outcome<SubExpr> {
        let start = self.pos;
        // The common case first: a short integer, which converts exactly.
        let mut end = start;
        let mut n = 0u64;
        while let Some(&b) = self.input.get(end)
            && b.is_ascii_digit()
        {
            n = n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            end += 1;
        }
        if (1..=EXACT_DIGITS).contains(&(end - start))
            && !matches!(self.input.get(end), Some(b'.' | b'e' | b'E'))
        {
            self.pos = end;
            self.skip_ws();
            // Below 10^15 < 2^53: exact.
            return Ok(SubExpr::Const(n as f64));
        }
        let Ok((rest, parts)) = number_parts(self.rest()) else {
            // `number_parts` accepts every input; this arm is unreachable but must not panic.
            return Err(self.unexpected(Expected::Digit));
        };
        if parts.int.is_empty() && parts.frac.is_none_or(<[u8]>::is_empty) {
            // A lone `.`: a digit must follow it.
            self.pos = start + 1;
            return Err(self.unexpected(Expected::Digit));
        }
        self.advance_to(rest);
        if parts.exp.is_some_and(<[u8]>::is_empty) {
            // `e` (and a sign) without digits.
            return Err(self.unexpected(Expected::ExponentDigit));
        }
        let value = self
            .input
            .get(start..self.pos)
            .and_then(|literal| std::str::from_utf8(literal).ok())
            .and_then(|literal| literal.parse::<f64>().ok())
            .unwrap_or(f64::INFINITY);
        if !value.is_finite() {
            let len = self.pos - start;
            return Err(self.abort(PendingError {
                kind: ErrorKind::LiteralOutOfRange,
                offset: start,
                len,
                detail: Detail::None,
            }));
        }
        self.skip_ws();
        Ok(SubExpr::Const(value))
    }

    /// `retried` or a call.
    fn name(&mut self) -> Outcome<SubExpr> {
        let start = self.pos;
        let (name, rest) = identifier(self.rest());
        if name == b"retried" {
            self.advance_to(rest);
            self.skip_ws();
            return Ok(SubExpr::Retried);
        }
        let Some((spelling, func)) = function(name) else {
            return Err(self.abort(PendingError {
                kind: ErrorKind::UnknownName,
                offset: start,
                len: name.len(),
                detail: Detail::None,
            }));
        };
        self.advance_to(rest);
        self.skip_ws();
        self.call(start, spelling, func)
    }

    /// `name "(" expr { "," expr } ")"`, after the name.
    fn call(&mut self, start: usize, name: &'static str, func: Func) -> Outcome<SubExpr> {
        if self.peek() != Some(b'(') {
            return Err(self.unexpected(Expected::OpenParen));
        }
        self.open()?;
        let expected = match func {
            Func::One(_) => 1,
            Func::Two(_) => 2,
        };
        if self.peek() == Some(b')') {
            return Err(self.arity(start, name, expected, 0));
        }
        let first = self.expr()?;
        let value = match func {
            Func::One(f) => self.apply_unary(f, first),
            Func::Two(op) => {
                match self.peek() {
                    Some(b',') => self.bump(),
                    Some(b')') => return Err(self.arity(start, name, expected, 1)),
                    _ => return Err(self.unexpected(Expected::Comma)),
                }
                let mark = self.begin_rhs(first);
                let second = self.expr()?;
                self.binary(op, first, second, mark)
            }
        };
        // Extra arguments are parsed, so that the error can count them.
        let mut got = expected;
        loop {
            match self.peek() {
                Some(b',') => {
                    self.bump();
                    self.expr()?;
                    got += 1;
                }
                _ if got == expected => {
                    self.close()?;
                    return Ok(value);
                }
                Some(b')') => return Err(self.arity(start, name, expected, got)),
                _ => return Err(self.unexpected(Expected::CommaOrCloseParen)),
            }
        }
    }

    /// Stops on a wrong arity for the call starting at `start`, whose `)` is at the current
    /// position.
    #[cold]
    fn arity(&mut self, start: usize, name: &'static str, expected: usize, got: usize) -> Abort {
        let len = self.pos + 1 - start;
        self.abort(PendingError {
            kind: ErrorKind::WrongArity,
            offset: start,
            len,
            detail: Detail::Arity {
                name,
                expected,
                got,
            },
        })
    }

    /// Before compiling the right operand of an operator whose left operand is `left`: when
    /// the left value is in the accumulator, it is pushed, in case the right operand needs
    /// the accumulator too. [`binary`](Self::binary) takes the push back if it did not.
    fn begin_rhs(&mut self, left: SubExpr) -> Mark {
        let pushed = left == SubExpr::Code;
        if pushed {
            self.emit(Op::Push);
        }
        Mark { pushed }
    }

    /// `left op right`, folded when both are constant.
    fn binary(&mut self, op: Bin, left: SubExpr, right: SubExpr, mark: Mark) -> SubExpr {
        if mark.pushed && right != SubExpr::Code {
            // The right operand emitted nothing, so the push is the last instruction.
            self.code.pop();
        }
        match (left, right) {
            (SubExpr::Const(a), SubExpr::Const(b)) => return SubExpr::Const(op.apply(a, b)),
            (SubExpr::Code, SubExpr::Code) => self.emit_binary(op, Operand::Popped),
            (SubExpr::Code, SubExpr::Const(b)) => self.emit_binary(op, Operand::Const(b)),
            (SubExpr::Code, SubExpr::Retried) => self.emit_binary(op, Operand::Retried),
            (SubExpr::Const(a), SubExpr::Code) => self.emit_binary(op, Operand::ConstOnLeft(a)),
            (SubExpr::Retried, SubExpr::Code) => self.emit_binary(op, Operand::RetriedOnLeft),
            (SubExpr::Const(a), SubExpr::Retried)
                if op == Bin::Pow && a.to_bits() == 2.0f64.to_bits() =>
            {
                self.emit(Op::Pow2V);
            }
            (SubExpr::Const(a), SubExpr::Retried) => {
                self.emit(Op::LoadV);
                self.emit_binary(op, Operand::ConstOnLeft(a));
            }
            (SubExpr::Retried, SubExpr::Const(b)) => {
                self.emit(Op::LoadV);
                self.emit_binary(op, Operand::Const(b));
            }
            (SubExpr::Retried, SubExpr::Retried) => {
                self.emit(Op::LoadV);
                self.emit_binary(op, Operand::Retried);
            }
        }
        SubExpr::Code
    }

    /// Emits `acc = acc op b` (or `b op acc` for a reversed operand, swapped to the forward
    /// form when the operator commutes).
    fn emit_binary(&mut self, op: Bin, b: Operand) {
        let forward = match b {
            Operand::ConstOnLeft(k) if op.commutes() => Operand::Const(k),
            Operand::RetriedOnLeft if op.commutes() => Operand::Retried,
            other => other,
        };
        if let Some(instruction) = Op::binary(op, forward) {
            self.emit(instruction);
        }
    }

    /// `f(value)`, folded when the value is constant.
    fn apply_unary(&mut self, f: Un, value: SubExpr) -> SubExpr {
        match value {
            SubExpr::Const(a) => return SubExpr::Const(f.apply(a)),
            SubExpr::Retried => {
                self.emit(Op::LoadV);
                self.emit(Op::unary(f));
            }
            // `-(-x)` is `x`, bit for bit.
            SubExpr::Code if f == Un::Neg && self.code.last() == Some(&Op::Neg) => {
                self.code.pop();
            }
            SubExpr::Code => self.emit(Op::unary(f)),
        }
        SubExpr::Code
    }
}
