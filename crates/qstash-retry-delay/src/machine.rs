//! The evaluator: a flat program run by an accumulator machine with a fixed-size stack.
//!
//! The value being computed lives in an accumulator; a binary instruction combines it with an
//! immediate constant (`…K`), with `retried` (`…V`) or with the value on top of the stack
//! (`…S`, which pops it). The `R…` forms take the accumulator as their *right* operand, so that
//! `1000 - retried` needs no stack at all. The stack is only used when both operands of an
//! operator are computed (`retried * 2 + sqrt(retried)`), and its size is known at compile
//! time, so the machine runs without allocation and without recursion, one step per
//! instruction.
//!
//! The compiler works with [`Op`]s; the finished program is a list of [`Step`]s, each the
//! function that carries out its instruction and the instruction's constant. Running a program
//! is then one indirect call per instruction in a plain loop: the accumulator stays in a
//! floating-point register from step to step, and no step but the stack ones touches memory.

use crate::math::{self, Bin, Un};

/// One instruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    /// `acc = k`.
    LoadK(f64),
    /// `acc = retried`.
    LoadV,
    /// Push `acc`.
    Push,

    AddK(f64),
    AddV,
    AddS,

    SubK(f64),
    SubV,
    SubS,
    /// `acc = k - acc`.
    RSubK(f64),
    /// `acc = retried - acc`.
    RSubV,

    MulK(f64),
    MulV,
    MulS,

    DivK(f64),
    DivV,
    DivS,
    RDivK(f64),
    RDivV,

    RemK(f64),
    RemV,
    RemS,
    RRemK(f64),
    RRemV,

    PowK(f64),
    PowV,
    PowS,
    RPowK(f64),
    RPowV,
    /// `acc = pow(2, acc)`.
    Pow2,
    /// `acc = pow(2, retried)`.
    Pow2V,

    MinK(f64),
    MinV,
    MinS,

    MaxK(f64),
    MaxV,
    MaxS,

    Neg,
    Exp,
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Round,

    /// `acc = retried op k`: `LoadV` and a `…K` instruction in one.
    RetriedOpConst(Bin, f64),
    /// `acc = k op retried`: `LoadV` and an `R…K` instruction in one.
    ConstOpRetried(Bin, f64),
    /// `acc = pow(2, retried) op k`: `Pow2V` and a `…K` instruction in one.
    Pow2RetriedOpConst(Bin, f64),
}

/// Where the other operand of a binary instruction comes from; the accumulator is the first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Operand {
    /// A constant on the right: `acc op k` (the `…K` instructions).
    Const(f64),
    /// `retried` on the right: `acc op retried` (the `…V` instructions).
    Retried,
    /// The value popped from the stack, on the left: `pop op acc` (the `…S` instructions).
    Popped,
    /// A constant on the left: `k op acc` (the `R…K` instructions).
    ConstOnLeft(f64),
    /// `retried` on the left: `retried op acc` (the `R…V` instructions).
    RetriedOnLeft,
}

impl Op {
    /// The instruction for `op` with the operand `b`; `None` when a reversed operand is asked
    /// for an operator that commutes (the caller swaps instead).
    pub(crate) fn binary(op: Bin, b: Operand) -> Option<Op> {
        use Operand::{Const, ConstOnLeft, Popped, Retried, RetriedOnLeft};
        Some(match (op, b) {
            (Bin::Add, Const(k)) => Op::AddK(k),
            (Bin::Add, Retried) => Op::AddV,
            (Bin::Add, Popped) => Op::AddS,
            (Bin::Sub, Const(k)) => Op::SubK(k),
            (Bin::Sub, Retried) => Op::SubV,
            (Bin::Sub, Popped) => Op::SubS,
            (Bin::Sub, ConstOnLeft(k)) => Op::RSubK(k),
            (Bin::Sub, RetriedOnLeft) => Op::RSubV,
            (Bin::Mul, Const(k)) => Op::MulK(k),
            (Bin::Mul, Retried) => Op::MulV,
            (Bin::Mul, Popped) => Op::MulS,
            (Bin::Div, Const(k)) => Op::DivK(k),
            (Bin::Div, Retried) => Op::DivV,
            (Bin::Div, Popped) => Op::DivS,
            (Bin::Div, ConstOnLeft(k)) => Op::RDivK(k),
            (Bin::Div, RetriedOnLeft) => Op::RDivV,
            (Bin::Rem, Const(k)) => Op::RemK(k),
            (Bin::Rem, Retried) => Op::RemV,
            (Bin::Rem, Popped) => Op::RemS,
            (Bin::Rem, ConstOnLeft(k)) => Op::RRemK(k),
            (Bin::Rem, RetriedOnLeft) => Op::RRemV,
            (Bin::Pow, Const(k)) => Op::PowK(k),
            (Bin::Pow, Retried) => Op::PowV,
            (Bin::Pow, Popped) => Op::PowS,
            // `pow(2, acc)`: exact powers of two need no library call.
            (Bin::Pow, ConstOnLeft(k)) if k.to_bits() == 2.0f64.to_bits() => Op::Pow2,
            (Bin::Pow, ConstOnLeft(k)) => Op::RPowK(k),
            (Bin::Pow, RetriedOnLeft) => Op::RPowV,
            (Bin::Min, Const(k)) => Op::MinK(k),
            (Bin::Min, Retried) => Op::MinV,
            (Bin::Min, Popped) => Op::MinS,
            (Bin::Max, Const(k)) => Op::MaxK(k),
            (Bin::Max, Retried) => Op::MaxV,
            (Bin::Max, Popped) => Op::MaxS,
            (Bin::Add | Bin::Mul | Bin::Min | Bin::Max, ConstOnLeft(_) | RetriedOnLeft) => {
                return None;
            }
        })
    }

    /// The instruction that applies `f` to the accumulator.
    pub(crate) fn unary(f: Un) -> Op {
        match f {
            Un::Neg => Op::Neg,
            Un::Exp => Op::Exp,
            Un::Sqrt => Op::Sqrt,
            Un::Abs => Op::Abs,
            Un::Floor => Op::Floor,
            Un::Ceil => Op::Ceil,
            Un::Round => Op::Round,
        }
    }

    /// How the instruction changes the stack height: +1, 0 or -1.
    pub(crate) fn stack_effect(self) -> isize {
        match self {
            Op::Push => 1,
            Op::AddS
            | Op::SubS
            | Op::MulS
            | Op::DivS
            | Op::RemS
            | Op::PowS
            | Op::MinS
            | Op::MaxS => -1,
            _ => 0,
        }
    }
}

/// The stack sizes the machine comes in; a program runs on the smallest that holds it, so
/// that the common case clears no stack at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StackSize {
    /// The program never pushes.
    None,
    /// Up to [`SMALL`] values.
    Small,
    /// Up to [`LARGE`] values.
    Large,
}

const SMALL: usize = 16;
/// Enough for any program within [`Limits::MAX_DEPTH`](crate::Limits::MAX_DEPTH): each level
/// of parentheses holds at most three pending values (a call argument, a sum, a product).
pub(crate) const LARGE: usize = 1024;

impl StackSize {
    /// The smallest stack for `height` values, if any.
    pub(crate) fn for_height(height: usize) -> Option<StackSize> {
        match height {
            0 => Some(StackSize::None),
            1..=SMALL => Some(StackSize::Small),
            _ if height <= LARGE => Some(StackSize::Large),
            _ => None,
        }
    }
}

/// The machine's stack (`slots[..sp]` are in use), and `retried` as an integer.
pub(crate) struct Stack<'a> {
    slots: &'a mut [f64],
    sp: usize,
    retried: u32,
}

impl Stack<'_> {
    #[inline(always)]
    fn push(&mut self, value: f64) {
        // The compiler sized the stack for the program (`StackSize`), so a push always has a
        // slot; checked in debug builds, the tests and the fuzz targets.
        debug_assert!(
            self.sp < self.slots.len(),
            "push beyond a stack of {}",
            self.slots.len()
        );
        if let Some(slot) = self.slots.get_mut(self.sp) {
            *slot = value;
        }
        self.sp += 1;
    }

    #[inline(always)]
    fn pop(&mut self) -> f64 {
        // Every pop follows its push in a compiled program; checked as `push` is.
        debug_assert!(
            self.sp > 0 && self.sp <= self.slots.len(),
            "pop from a stack at height {}",
            self.sp
        );
        self.sp = self.sp.wrapping_sub(1);
        self.slots.get(self.sp).copied().unwrap_or(f64::NAN)
    }
}

/// What carries out one instruction: `(acc, k, retried, stack) -> acc`.
type Exec = fn(f64, f64, f64, &mut Stack<'_>) -> f64;

/// One instruction, ready to run.
#[derive(Clone, Copy)]
pub(crate) struct Step {
    exec: Exec,
    k: f64,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("k", &self.k)
            .finish_non_exhaustive()
    }
}

impl From<Op> for Step {
    fn from(op: Op) -> Step {
        // Each function is the instruction's meaning, with the arithmetic of `math`, so that
        // running a step gives the bits that folding the same operation gives.
        let (exec, k): (Exec, f64) = match op {
            Op::LoadK(k) => (|_, k, _, _| k, k),
            Op::LoadV => (|_, _, x, _| x, 0.0),
            Op::Push => (
                |a, _, _, s| {
                    s.push(a);
                    a
                },
                0.0,
            ),

            Op::AddK(k) => (|a, k, _, _| a + k, k),
            Op::AddV => (|a, _, x, _| a + x, 0.0),
            Op::AddS => (|a, _, _, s| s.pop() + a, 0.0),

            Op::SubK(k) => (|a, k, _, _| a - k, k),
            Op::SubV => (|a, _, x, _| a - x, 0.0),
            Op::SubS => (|a, _, _, s| s.pop() - a, 0.0),
            Op::RSubK(k) => (|a, k, _, _| k - a, k),
            Op::RSubV => (|a, _, x, _| x - a, 0.0),

            Op::MulK(k) => (|a, k, _, _| a * k, k),
            Op::MulV => (|a, _, x, _| a * x, 0.0),
            Op::MulS => (|a, _, _, s| s.pop() * a, 0.0),

            Op::DivK(k) => (|a, k, _, _| a / k, k),
            Op::DivV => (|a, _, x, _| a / x, 0.0),
            Op::DivS => (|a, _, _, s| s.pop() / a, 0.0),
            Op::RDivK(k) => (|a, k, _, _| k / a, k),
            Op::RDivV => (|a, _, x, _| x / a, 0.0),

            Op::RemK(k) => (|a, k, _, _| a % k, k),
            Op::RemV => (|a, _, x, _| a % x, 0.0),
            Op::RemS => (|a, _, _, s| s.pop() % a, 0.0),
            Op::RRemK(k) => (|a, k, _, _| k % a, k),
            Op::RRemV => (|a, _, x, _| x % a, 0.0),

            Op::PowK(k) => (|a, k, _, _| math::pow(a, k), k),
            Op::PowV => (|a, _, x, _| math::pow(a, x), 0.0),
            Op::PowS => (|a, _, _, s| math::pow(s.pop(), a), 0.0),
            Op::RPowK(k) => (|a, k, _, _| math::pow(k, a), k),
            Op::RPowV => (|a, _, x, _| math::pow(x, a), 0.0),
            Op::Pow2 => (|a, _, _, _| math::pow2(a), 0.0),
            // `retried` is a `u32`, so the conversion back is exact.
            Op::Pow2V => (|_, _, _, s| math::pow2_u32(s.retried), 0.0),

            Op::MinK(k) => (|a, k, _, _| math::min(a, k), k),
            Op::MinV => (|a, _, x, _| math::min(a, x), 0.0),
            Op::MinS => (|a, _, _, s| math::min(s.pop(), a), 0.0),

            Op::MaxK(k) => (|a, k, _, _| math::max(a, k), k),
            Op::MaxV => (|a, _, x, _| math::max(a, x), 0.0),
            Op::MaxS => (|a, _, _, s| math::max(s.pop(), a), 0.0),

            Op::Neg => (|a, _, _, _| -a, 0.0),
            Op::Exp => (|a, _, _, _| a.exp(), 0.0),
            Op::Sqrt => (|a, _, _, _| a.sqrt(), 0.0),
            Op::Abs => (|a, _, _, _| a.abs(), 0.0),
            Op::Floor => (|a, _, _, _| a.floor(), 0.0),
            Op::Ceil => (|a, _, _, _| a.ceil(), 0.0),
            Op::Round => (|a, _, _, _| a.round(), 0.0),

            Op::RetriedOpConst(op, k) => (fused!(op, |x, _s| x), k),
            Op::ConstOpRetried(op, k) => (fused_reversed!(op, |x, _s| x), k),
            Op::Pow2RetriedOpConst(op, k) => (fused!(op, |_x, s| math::pow2_u32(s.retried)), k),
        };
        Step { exec, k }
    }
}

/// The function for `first(retried) op k`, one closure per operator.
macro_rules! fused {
    ($op:expr, |$x:ident, $s:ident| $first:expr) => {
        match $op {
            Bin::Add => |_, k, $x, $s| $first + k,
            Bin::Sub => |_, k, $x, $s| $first - k,
            Bin::Mul => |_, k, $x, $s| $first * k,
            Bin::Div => |_, k, $x, $s| $first / k,
            Bin::Rem => |_, k, $x, $s| $first % k,
            Bin::Pow => |_, k, $x, $s| math::pow($first, k),
            Bin::Min => |_, k, $x, $s| math::min($first, k),
            Bin::Max => |_, k, $x, $s| math::max($first, k),
        }
    };
}
use fused;

/// The function for `k op first(retried)`, one closure per operator.
macro_rules! fused_reversed {
    ($op:expr, |$x:ident, $s:ident| $first:expr) => {
        match $op {
            Bin::Add => |_, k, $x, $s| k + $first,
            Bin::Sub => |_, k, $x, $s| k - $first,
            Bin::Mul => |_, k, $x, $s| k * $first,
            Bin::Div => |_, k, $x, $s| k / $first,
            Bin::Rem => |_, k, $x, $s| k % $first,
            Bin::Pow => |_, k, $x, $s| math::pow(k, $first),
            Bin::Min => |_, k, $x, $s| math::min(k, $first),
            Bin::Max => |_, k, $x, $s| math::max(k, $first),
        }
    };
}
use fused_reversed;

/// Fuses the program's first two instructions when they are a load of `retried` (or of
/// `pow(2, retried)`) and an instruction with a constant: the most common expressions
/// (`pow(2, retried) * 1000`, `1000 * (1 + retried)`) then take one step less.
pub(crate) fn fuse_head(code: &mut Vec<Op>) {
    let fused = match (code.first(), code.get(1)) {
        (Some(Op::LoadV), Some(&second)) => match constant_operand(second) {
            Some((op, k, false)) => Op::RetriedOpConst(op, k),
            Some((op, k, true)) => Op::ConstOpRetried(op, k),
            None => return,
        },
        (Some(Op::Pow2V), Some(&second)) => match constant_operand(second) {
            Some((op, k, false)) => Op::Pow2RetriedOpConst(op, k),
            _ => return,
        },
        _ => return,
    };
    // Two instructions become one: shift the rest down by one.
    code.copy_within(2.., 1);
    code.truncate(code.len() - 1);
    if let Some(first) = code.first_mut() {
        *first = fused;
    }
}

/// The operator and constant of a `…K` (`false`) or `R…K` (`true`) instruction.
fn constant_operand(op: Op) -> Option<(Bin, f64, bool)> {
    Some(match op {
        Op::AddK(k) => (Bin::Add, k, false),
        Op::SubK(k) => (Bin::Sub, k, false),
        Op::RSubK(k) => (Bin::Sub, k, true),
        Op::MulK(k) => (Bin::Mul, k, false),
        Op::DivK(k) => (Bin::Div, k, false),
        Op::RDivK(k) => (Bin::Div, k, true),
        Op::RemK(k) => (Bin::Rem, k, false),
        Op::RRemK(k) => (Bin::Rem, k, true),
        Op::PowK(k) => (Bin::Pow, k, false),
        Op::RPowK(k) => (Bin::Pow, k, true),
        Op::MinK(k) => (Bin::Min, k, false),
        Op::MaxK(k) => (Bin::Max, k, false),
        _ => return None,
    })
}

/// Runs `steps` for `retried` on a stack of the given size.
#[inline]
pub(crate) fn run(steps: &[Step], size: StackSize, retried: u32) -> f64 {
    match size {
        StackSize::None => execute(steps, retried, &mut []),
        StackSize::Small => run_small(steps, retried),
        StackSize::Large => run_large(steps, retried),
    }
}

#[inline(never)]
fn run_small(steps: &[Step], retried: u32) -> f64 {
    execute(steps, retried, &mut [0.0; SMALL])
}

#[cold]
#[inline(never)]
fn run_large(steps: &[Step], retried: u32) -> f64 {
    execute(steps, retried, &mut [0.0; LARGE])
}

/// The machine: one call per step, no allocation, no recursion.
#[inline(always)]
fn execute(steps: &[Step], retried: u32, slots: &mut [f64]) -> f64 {
    let x = f64::from(retried);
    let mut stack = Stack {
        slots,
        sp: 0,
        retried,
    };
    let mut acc = 0.0;
    for step in steps {
        acc = (step.exec)(acc, step.k, x, &mut stack);
    }
    acc
}
