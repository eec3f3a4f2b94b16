//! `Upstash-Retry-Delay` compile and eval, beside `fasteval`, `meval`, `exmex` and `evalexpr`
//! on the same expressions in the same run.
//!
//! The peers spell `pow(x, y)` as `x^y`; everything else is common syntax. The 1 KiB input is
//! generated in each syntax from one template. Before timing, every peer's value is checked
//! against ours for `retried = 0..=10` (to within rounding), so a peer is only timed on
//! expressions it computes the same way.
//!
//! * compile: ours is `RetryDelay::compile`; `fasteval` parses and compiles into a `Slab` it
//!   reuses (cleared each time, its fastest mode); `meval` parses and binds `retried` into a
//!   closure; `exmex` parses (it compiles while parsing); `evalexpr` builds its operator tree.
//! * eval: ours is `RetryDelay::eval`; `fasteval` evaluates the compiled form with a closure
//!   namespace that answers `retried`; `meval` calls the bound closure; `exmex` evaluates the
//!   flat expression; `evalexpr` evaluates its tree in a context where `retried` is already set.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use evalexpr::{ContextWithMutableVariables, DefaultNumericTypes, HashMapContext};
use exmex::Express;
use fasteval::{Compiler, Evaler};
use qstash_retry_delay::RetryDelay;

/// The value of `retried` the eval benchmarks use.
const RETRIED: u32 = 5;

/// The upstream examples, as (name, ours).
const EXAMPLES: &[(&str, &str)] = &[
    ("constant", "1000"),
    ("linear", "1000 * (1 + retried)"),
    ("exponential", "pow(2, retried) * 1000"),
    ("exp-min-1s", "max(1000, pow(2, retried) * 100)"),
    ("exp-min-10ms", "max(10, pow(2, retried))"),
];

/// Our syntax, or the peers' (`x^y` for `pow(x, y)`).
#[derive(Clone, Copy, PartialEq)]
enum Syntax {
    Ours,
    Caret,
}

/// Rewrites `pow(a, b)` as `(a)^(b)` for the peers. The examples only ever call `pow` with a
/// literal and `retried`, and the generated input only with flat arguments.
fn caret(ours: &str) -> String {
    let mut out = String::new();
    let mut rest = ours;
    while let Some(at) = rest.find("pow(") {
        out.push_str(&rest[..at]);
        let args = &rest[at + 4..];
        let close = args.find(')').expect("pow has flat arguments");
        let (a, b) = args[..close]
            .split_once(',')
            .expect("pow has two arguments");
        out.push_str(&format!("({})^({})", a.trim(), b.trim()));
        rest = &args[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A 1 KiB expression in one syntax: a sum of terms that uses every operator and function.
fn long_input(syntax: Syntax) -> String {
    let mut s = String::from("1.0");
    let mut i = 1.0f64;
    while s.len() < 900 {
        let term = format!(
            " + max({i:.1}, retried * {a:.1}) - min({b:.1}, retried / {i:.1}) * 0.5 + pow(2.0, retried / {c:.1}) * {i:.1}",
            a = i + 0.5,
            b = 100.0 + i,
            c = i + 3.0,
        );
        s.push_str(&term);
        i += 1.0;
    }
    match syntax {
        Syntax::Ours => s,
        Syntax::Caret => caret(&s),
    }
}

/// Every input as (name, ours, peers' spelling).
fn inputs() -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = EXAMPLES
        .iter()
        .map(|&(name, ours)| (name.to_string(), ours.to_string(), caret(ours)))
        .collect();
    let long = long_input(Syntax::Ours);
    assert!(
        long.len() <= 1024,
        "the long input fits the limit: {}",
        long.len()
    );
    v.push((
        format!("long-{}B", long.len()),
        long,
        long_input(Syntax::Caret),
    ));
    v
}

struct Fasteval {
    slab: fasteval::Slab,
    compiled: fasteval::Instruction,
}

impl Fasteval {
    fn new(s: &str) -> Option<Fasteval> {
        let mut slab = fasteval::Slab::new();
        let compiled = fasteval::Parser::new()
            .parse(s, &mut slab.ps)
            .ok()?
            .from(&slab.ps)
            .compile(&slab.ps, &mut slab.cs);
        Some(Fasteval { slab, compiled })
    }

    fn eval(&self, retried: f64) -> Option<f64> {
        let mut ns = |name: &str, _args: Vec<f64>| (name == "retried").then_some(retried);
        self.compiled.eval(&self.slab, &mut ns).ok()
    }
}

fn meval_bind(s: &str) -> Option<impl Fn(f64) -> f64> {
    s.parse::<meval::Expr>().ok()?.bind("retried").ok()
}

fn exmex_parse(s: &str) -> Option<exmex::FlatEx<f64>> {
    exmex::parse::<f64>(s).ok()
}

fn exmex_eval(expr: &exmex::FlatEx<f64>, retried: f64) -> Option<f64> {
    // `exmex` orders variables alphabetically; ours has only `retried`.
    let vars: &[f64] = if expr.var_names().is_empty() {
        &[]
    } else {
        &[retried]
    };
    expr.eval(vars).ok()
}

fn evalexpr_parse(s: &str) -> Option<evalexpr::Node<DefaultNumericTypes>> {
    evalexpr::build_operator_tree::<DefaultNumericTypes>(s).ok()
}

fn evalexpr_context(retried: f64) -> HashMapContext<DefaultNumericTypes> {
    let mut context = HashMapContext::<DefaultNumericTypes>::new();
    context
        .set_value("retried".into(), evalexpr::Value::Float(retried))
        .expect("a fresh context takes a value");
    context
}

fn evalexpr_eval(node: &evalexpr::Node<DefaultNumericTypes>, retried: f64) -> Option<f64> {
    node.eval_number_with_context(&evalexpr_context(retried))
        .ok()
}

/// Whether `peer` computes the same values as `ours` for `retried = 0..=10`, to within
/// rounding (peers evaluate in other orders and use other `pow`s, so the last bits may differ).
fn agrees(name: &str, peer: &str, ours: &RetryDelay, f: impl Fn(f64) -> Option<f64>) -> bool {
    let ok = (0..=10u32).all(|n| {
        let mine = ours.eval(n);
        f(f64::from(n)).is_some_and(|theirs| (theirs - mine).abs() <= 1e-12 * mine.abs())
    });
    if !ok {
        eprintln!("note: {peer} does not compute {name} as we do; not timed");
    }
    ok
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("retry_delay/compile");
    for (name, ours, peers) in inputs() {
        let program = RetryDelay::compile(&ours).expect("our inputs compile");
        group.bench_with_input(
            BenchmarkId::new("qstash-retry-delay", &name),
            &ours,
            |b, s| b.iter(|| RetryDelay::compile(black_box(s))),
        );

        if let Some(fe) = Fasteval::new(&peers)
            && agrees(&name, "fasteval", &program, |x| fe.eval(x))
        {
            let parser = fasteval::Parser::new();
            let mut slab = fasteval::Slab::new();
            group.bench_with_input(BenchmarkId::new("fasteval", &name), &peers, |b, s| {
                b.iter(|| {
                    slab.clear();
                    let parsed = parser.parse(black_box(s), &mut slab.ps).expect("parses");
                    parsed.from(&slab.ps).compile(&slab.ps, &mut slab.cs)
                })
            });
        }
        if let Some(f) = meval_bind(&peers)
            && agrees(&name, "meval", &program, |x| Some(f(x)))
        {
            group.bench_with_input(BenchmarkId::new("meval", &name), &peers, |b, s| {
                b.iter(|| meval_bind(black_box(s)).is_some())
            });
        }
        if let Some(e) = exmex_parse(&peers)
            && agrees(&name, "exmex", &program, |x| exmex_eval(&e, x))
        {
            group.bench_with_input(BenchmarkId::new("exmex", &name), &peers, |b, s| {
                b.iter(|| exmex_parse(black_box(s)))
            });
        }
        if let Some(node) = evalexpr_parse(&peers)
            && agrees(&name, "evalexpr", &program, |x| evalexpr_eval(&node, x))
        {
            group.bench_with_input(BenchmarkId::new("evalexpr", &name), &peers, |b, s| {
                b.iter(|| evalexpr_parse(black_box(s)))
            });
        }
    }
    group.finish();
}

fn eval(c: &mut Criterion) {
    let mut group = c.benchmark_group("retry_delay/eval");
    let x = f64::from(RETRIED);
    for (name, ours, peers) in inputs() {
        let program = RetryDelay::compile(&ours).expect("our inputs compile");
        group.bench_with_input(
            BenchmarkId::new("qstash-retry-delay", &name),
            &program,
            |b, p| b.iter(|| black_box(p).eval(black_box(RETRIED))),
        );

        if let Some(fe) = Fasteval::new(&peers)
            && agrees(&name, "fasteval", &program, |x| fe.eval(x))
        {
            group.bench_with_input(BenchmarkId::new("fasteval", &name), &fe, |b, fe| {
                b.iter(|| {
                    let retried = black_box(x);
                    let mut ns =
                        |name: &str, _args: Vec<f64>| (name == "retried").then_some(retried);
                    // What `fasteval::eval_compiled_ref!` expands to.
                    match &fe.compiled {
                        fasteval::Instruction::IConst(c) => Ok(*c),
                        compiled => compiled.eval(&fe.slab, &mut ns),
                    }
                })
            });
        }
        if let Some(f) = meval_bind(&peers)
            && agrees(&name, "meval", &program, |x| Some(f(x)))
        {
            group.bench_function(BenchmarkId::new("meval", &name), |b| {
                b.iter(|| f(black_box(x)))
            });
        }
        if let Some(e) = exmex_parse(&peers)
            && agrees(&name, "exmex", &program, |x| exmex_eval(&e, x))
        {
            group.bench_with_input(BenchmarkId::new("exmex", &name), &e, |b, e| {
                b.iter(|| exmex_eval(e, black_box(x)))
            });
        }
        if let Some(node) = evalexpr_parse(&peers)
            && agrees(&name, "evalexpr", &program, |x| evalexpr_eval(&node, x))
        {
            let context = evalexpr_context(x);
            group.bench_with_input(BenchmarkId::new("evalexpr", &name), &node, |b, node| {
                b.iter(|| node.eval_number_with_context(black_box(&context)))
            });
        }
    }
    group.finish();
}

fn delay(c: &mut Criterion) {
    let mut group = c.benchmark_group("retry_delay/delay");
    for (name, ours, _) in inputs() {
        let program = RetryDelay::compile(&ours).expect("our inputs compile");
        group.bench_with_input(
            BenchmarkId::new("qstash-retry-delay", &name),
            &program,
            |b, p| b.iter(|| black_box(p).delay(black_box(RETRIED))),
        );
    }
    group.finish();
}

criterion_group!(benches, compile, eval, delay);
criterion_main!(benches);
