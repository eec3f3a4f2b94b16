//! Property tests: random expression trees, printed with random spacing and redundant
//! parentheses, compile and evaluate to the same bits as a tree-walking reference evaluator
//! written here; the display compiles back to the same program; no input panics.

use std::hint::black_box;
use std::time::Duration;

use proptest::prelude::*;
use qstash_retry_delay::{EvalError, Limits, RetryDelay};

/// Literals in the forms the grammar allows; `2` is frequent, for `pow(2, …)`.
const LITERALS: &[&str] = &[
    "0",
    "1",
    "2",
    "2",
    "2",
    "3",
    "10",
    "100",
    "1000",
    "2.5",
    ".5",
    "0.1",
    "1e3",
    "1E-3",
    "7.25",
    "1.",
    "86400",
    "0.000001",
    "123456789012345678",
    "4.9e-324",
    "1.7976931348623157e308",
];

#[derive(Debug, Clone)]
enum Expr {
    Num(&'static str),
    Var,
    Neg(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
    Call1(&'static str, Box<Expr>),
    Call2(&'static str, Box<Expr>, Box<Expr>),
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        prop::sample::select(LITERALS).prop_map(Expr::Num),
        Just(Expr::Var),
        Just(Expr::Var),
    ];
    leaf.prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
            (
                prop::sample::select(&['+', '-', '*', '/', '%'][..]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| Expr::Bin(op, Box::new(a), Box::new(b))),
            (
                prop::sample::select(&["exp", "sqrt", "abs", "floor", "ceil", "round"][..]),
                inner.clone()
            )
                .prop_map(|(f, a)| Expr::Call1(f, Box::new(a))),
            (
                prop::sample::select(&["pow", "min", "max"][..]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(f, a, b)| Expr::Call2(f, Box::new(a), Box::new(b))),
            // `pow(2, x)`, which the machine computes without a library call when it can.
            inner.prop_map(|b| Expr::Call2("pow", Box::new(Expr::Num("2")), Box::new(b))),
        ]
    })
}

/// The reference: a plain tree walk with `f64` arithmetic, written from the rules in the crate docs.
fn reference(e: &Expr, retried: f64) -> f64 {
    match e {
        Expr::Num(s) => s.parse().unwrap(),
        Expr::Var => retried,
        Expr::Neg(a) => -reference(a, retried),
        Expr::Bin(op, a, b) => {
            let (a, b) = (reference(a, retried), reference(b, retried));
            match op {
                '+' => a + b,
                '-' => a - b,
                '*' => a * b,
                '/' => a / b,
                '%' => a % b,
                _ => unreachable!(),
            }
        }
        Expr::Call1(f, a) => {
            let a = reference(a, retried);
            match *f {
                "exp" => a.exp(),
                "sqrt" => a.sqrt(),
                "abs" => a.abs(),
                "floor" => a.floor(),
                "ceil" => a.ceil(),
                "round" => a.round(),
                _ => unreachable!(),
            }
        }
        Expr::Call2(f, a, b) => {
            let (a, b) = (reference(a, retried), reference(b, retried));
            match *f {
                // The C library's `pow`, never rewritten by the optimizer.
                "pow" => black_box(a).powf(black_box(b)),
                "min" if a.is_nan() || b.is_nan() => f64::NAN,
                "max" if a.is_nan() || b.is_nan() => f64::NAN,
                "min" if a == b => {
                    if a.is_sign_negative() {
                        a
                    } else {
                        b
                    }
                }
                "max" if a == b => {
                    if a.is_sign_positive() {
                        a
                    } else {
                        b
                    }
                }
                "min" => {
                    if a < b {
                        a
                    } else {
                        b
                    }
                }
                "max" => {
                    if a > b {
                        a
                    } else {
                        b
                    }
                }
                _ => unreachable!(),
            }
        }
    }
}

/// Binding strength: 1 for sums, 2 for products, 3 for everything tighter.
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Bin('+' | '-', ..) => 1,
        Expr::Bin(..) => 2,
        _ => 3,
    }
}

/// Prints `e`, with spacing and redundant parentheses chosen by `noise`.
struct Printer<'a> {
    noise: std::iter::Cycle<std::slice::Iter<'a, u8>>,
    out: String,
}

impl Printer<'_> {
    fn next(&mut self) -> u8 {
        self.noise.next().copied().unwrap_or(0)
    }

    fn space(&mut self) {
        match self.next() % 8 {
            0 => self.out.push(' '),
            1 => self.out.push_str("  "),
            2 => self.out.push('\t'),
            3 => self.out.push_str(" \n "),
            _ => {}
        }
    }

    fn print(&mut self, e: &Expr) {
        let redundant = self.next().is_multiple_of(6);
        if redundant {
            self.out.push('(');
            self.space();
        }
        match e {
            Expr::Num(s) => self.out.push_str(s),
            Expr::Var => self.out.push_str("retried"),
            Expr::Neg(a) => {
                self.out.push('-');
                self.space();
                self.child(a, precedence(a) < 3);
            }
            Expr::Bin(op, a, b) => {
                let p = precedence(e);
                self.child(a, precedence(a) < p);
                self.space();
                self.out.push(*op);
                self.space();
                // Left-associative: a right operand of the same strength needs parentheses.
                self.child(b, precedence(b) <= p);
            }
            Expr::Call1(f, a) => {
                self.out.push_str(f);
                self.space();
                self.out.push('(');
                self.space();
                self.print(a);
                self.space();
                self.out.push(')');
            }
            Expr::Call2(f, a, b) => {
                self.out.push_str(f);
                self.space();
                self.out.push('(');
                self.space();
                self.print(a);
                self.space();
                self.out.push(',');
                self.space();
                self.print(b);
                self.space();
                self.out.push(')');
            }
        }
        if redundant {
            self.space();
            self.out.push(')');
        }
    }

    fn child(&mut self, e: &Expr, parens: bool) {
        if parens {
            self.out.push('(');
            self.space();
        }
        self.print(e);
        if parens {
            self.space();
            self.out.push(')');
        }
    }
}

fn print(e: &Expr, noise: &[u8]) -> String {
    let mut p = Printer {
        noise: noise.iter().cycle(),
        out: String::new(),
    };
    p.space();
    p.print(e);
    p.space();
    p.out
}

/// Roomy limits, so that a large random tree is never refused for its size.
fn roomy() -> Limits {
    Limits::default().with_max_len(1 << 16)
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn uses_var(e: &Expr) -> bool {
    match e {
        Expr::Num(_) => false,
        Expr::Var => true,
        Expr::Neg(a) | Expr::Call1(_, a) => uses_var(a),
        Expr::Bin(_, a, b) | Expr::Call2(_, a, b) => uses_var(a) || uses_var(b),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn agrees_with_the_reference(e in expr(), noise in prop::collection::vec(any::<u8>(), 1..64)) {
        let text = print(&e, &noise);
        let program = RetryDelay::compile_with(&text, roomy())
            .unwrap_or_else(|err| panic!("{text:?} should compile: {err}"));
        prop_assert_eq!(program.is_constant(), !uses_var(&e), "{:?}", text);
        for n in 0..=30u32 {
            let ours = program.eval(n);
            let theirs = reference(&e, f64::from(n));
            prop_assert!(same(ours, theirs), "{:?} at retried = {}: {} vs {}", text, n, ours, theirs);
            let delay = program.delay(n);
            if ours.is_nan() {
                prop_assert_eq!(delay, Err(EvalError::NotANumber { retried: n }));
            } else {
                prop_assert!(delay.unwrap() <= RetryDelay::DEFAULT_CAP);
            }
        }
    }

    #[test]
    fn display_compiles_back_to_the_same_program(e in expr(), noise in prop::collection::vec(any::<u8>(), 1..64)) {
        let text = print(&e, &noise);
        let program = RetryDelay::compile_with(&text, roomy()).unwrap();
        let shown = program.to_string();
        prop_assert_eq!(&shown, &text);
        let again = RetryDelay::compile_with(&shown, roomy()).unwrap();
        prop_assert_eq!(&again, &program);
        for n in [0, 1, 2, 7, 30, 1000, u32::MAX] {
            prop_assert!(same(again.eval(n), program.eval(n)));
        }
    }

    #[test]
    fn pow2_is_bit_identical_to_powf(retried in any::<u32>(), shift in -1100i32..1100, scale in prop::sample::select(&[1.0, 0.5, 0.25, 3.0][..])) {
        // `pow(2, retried)`, and `pow(2, x)` for computed integers and fractions on both sides
        // of the exponent range, subnormals included.
        let program = RetryDelay::compile(&format!("pow(2, retried) + pow(2, retried * {scale} + {shift}) * 0 + pow(2, retried * {scale} - {})", -f64::from(shift))).unwrap();
        let x = f64::from(retried);
        let expected = black_box(2.0f64).powf(x)
            + black_box(2.0f64).powf(x * scale + f64::from(shift)) * 0.0
            + black_box(2.0f64).powf(x * scale - (-f64::from(shift)));
        prop_assert!(same(program.eval(retried), expected));
        let direct = RetryDelay::compile(&format!("pow(2, retried - {})", 1100 - shift)).unwrap();
        let expected = black_box(2.0f64).powf(x - f64::from(1100 - shift));
        prop_assert!(same(direct.eval(retried), expected));
        let small = RetryDelay::compile("pow(2, retried)").unwrap();
        let n = retried % 2100;
        prop_assert!(same(small.eval(n), black_box(2.0f64).powf(f64::from(n))));
    }

    #[test]
    fn delay_rounds_half_away_from_zero(v in 0.0f64..1e19, half in any::<bool>()) {
        // Exact halves too, where the rounding direction matters.
        let v = if half { (v / 1e6).floor() + 0.5 } else { v };
        let program = RetryDelay::compile(&format!("{v:?}")).unwrap();
        prop_assert_eq!(program.eval(0), v);
        let expected = Duration::from_millis(v.round() as u64);
        prop_assert_eq!(program.delay_with_cap(0, Duration::MAX), Ok(expected));
        prop_assert_eq!(program.delay(0), Ok(expected.min(RetryDelay::DEFAULT_CAP)));
        let negative = RetryDelay::compile(&format!("-{v:?}")).unwrap();
        prop_assert_eq!(negative.delay(0), Ok(Duration::ZERO));
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..200)) {
        check_any(&input);
    }

    #[test]
    fn near_misses_never_panic(input in "[0-9a-z.()+*/%^, \\-eE]{0,80}") {
        check_any(input.as_bytes());
    }
}

fn check_any(input: &[u8]) {
    match RetryDelay::compile_bytes(input) {
        Ok(program) => {
            assert_eq!(program.as_str().as_bytes(), input);
            for n in [0, 1, 5, 64, u32::MAX] {
                let value = program.eval(n);
                match program.delay(n) {
                    Ok(d) => assert!(d <= RetryDelay::DEFAULT_CAP),
                    Err(EvalError::NotANumber { retried }) => {
                        assert!(value.is_nan());
                        assert_eq!(retried, n);
                    }
                    Err(other) => panic!("unexpected {other}"),
                }
            }
        }
        Err(err) => {
            assert!(err.offset() <= input.len(), "{err}");
            assert!(err.span().end <= input.len(), "{err}");
            assert!(
                err.to_string()
                    .contains(&format!("at byte {}", err.offset()))
                    || err.to_string().ends_with("empty expression"),
                "{err}"
            );
        }
    }
}
