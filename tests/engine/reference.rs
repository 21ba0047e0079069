//! The exact reference for rules 2-4: max-min fair progressive filling, class by class, solved
//! as a sequence of linear programs (microlp) over every need × source pair, with no
//! aggregation and nothing shared with the engine. Goods first, then money for what goods
//! left short (rule 5), as the engine reads the contract.

use microlp::{ComparisonOp, OptimizationDirection, Problem, Variable};
use weave::matching::engine::Instance;

use super::check::{class, eligible, fen, offer_fits};

const EPS: f64 = 1e-6;

/// A linear model: bounded variables, `≤` rows, and the variables that add up to each need.
#[derive(Default)]
struct Model {
    vars: usize,
    /// Whole units only (money pays each unit from one source).
    integer: bool,
    rows: Vec<(Vec<(usize, f64)>, f64)>,
    terms: Vec<Vec<usize>>,
}

impl Model {
    fn var(&mut self) -> usize {
        self.vars += 1;
        self.vars - 1
    }

    fn build(
        &self,
        direction: OptimizationDirection,
        objective: &dyn Fn(usize) -> f64,
    ) -> (Problem, Vec<Variable>) {
        let mut lp = Problem::new(direction);
        let vars: Vec<Variable> = (0..self.vars)
            .map(|v| match self.integer {
                true => lp.add_integer_var(objective(v), (0, 1_000_000)),
                false => lp.add_var(objective(v), (0.0, f64::INFINITY)),
            })
            .collect();
        for (row, limit) in &self.rows {
            let terms: Vec<(Variable, f64)> = row.iter().map(|&(v, c)| (vars[v], c)).collect();
            lp.add_constraint(&terms[..], ComparisonOp::Le, *limit);
        }
        (lp, vars)
    }
}

/// Progressive filling over `model`: per need (class, asked, already has). Returns what each
/// need gets from the model's variables.
fn leximin(model: &Model, needs: &[(usize, f64, f64)]) -> Vec<f64> {
    let n = needs.len();
    let mut fixed: Vec<Option<f64>> = (0..n)
        .map(|i| model.terms[i].is_empty().then_some(0.0))
        .collect();
    for current in 0..6 {
        loop {
            let active: Vec<usize> = (0..n)
                .filter(|&i| needs[i].0 == current && fixed[i].is_none())
                .collect();
            if active.is_empty() {
                break;
            }
            // Highest common level t.
            let t_var = model.vars;
            let (mut lp, vars) = model.build(OptimizationDirection::Maximize, &|_| 0.0);
            let t = lp.add_var(1.0, (0.0, 1.0));
            let _ = t_var;
            constrain(&mut lp, &vars, model, needs, &fixed, &active, Some(t), 0.0);
            let solution = lp
                .solve_with(plain())
                .expect("level LP solves")
                .into_solution()
                .expect("a level");
            let level = solution.var_value(t);
            // Needs that cannot rise above it are frozen there.
            let mut frozen = Vec::new();
            for &i in &active {
                let (mut lp, vars) = model.build(OptimizationDirection::Maximize, &|v| {
                    if model.terms[i].contains(&v) {
                        1.0
                    } else {
                        0.0
                    }
                });
                constrain(&mut lp, &vars, model, needs, &fixed, &active, None, level);
                let best = lp
                    .solve()
                    .expect("rise LP solves")
                    .into_solution()
                    .expect("a rise")
                    .objective();
                let (_, asked, base) = needs[i];
                if base + best <= (level * asked).max(base) + EPS {
                    frozen.push(i);
                }
            }
            if frozen.is_empty() {
                frozen = active.clone();
            }
            for i in frozen {
                let (_, asked, base) = needs[i];
                fixed[i] = Some((level * asked - base).max(0.0));
            }
        }
    }
    fixed.into_iter().map(|f| f.unwrap_or(0.0)).collect()
}

fn plain() -> microlp::SolveOptions {
    let mut options = microlp::SolveOptions::default();
    options.presolve = false;
    options
}

#[allow(clippy::too_many_arguments)]
fn constrain(
    lp: &mut Problem,
    vars: &[Variable],
    model: &Model,
    needs: &[(usize, f64, f64)],
    fixed: &[Option<f64>],
    active: &[usize],
    t: Option<Variable>,
    level: f64,
) {
    for (i, &(_, asked, base)) in needs.iter().enumerate() {
        let sum: Vec<(Variable, f64)> = model.terms[i].iter().map(|&v| (vars[v], 1.0)).collect();
        if sum.is_empty() {
            continue;
        }
        lp.add_constraint(&sum[..], ComparisonOp::Le, asked - base);
        if let Some(amount) = fixed[i] {
            lp.add_constraint(&sum[..], ComparisonOp::Ge, amount - EPS);
        } else if active.contains(&i) {
            match t {
                // base + Σ ≥ t·asked
                Some(t) => {
                    let mut row = sum.clone();
                    row.push((t, -asked));
                    lp.add_constraint(&row[..], ComparisonOp::Ge, 0.0 - base);
                }
                None => lp.add_constraint(&sum[..], ComparisonOp::Ge, level * asked - base - EPS),
            }
        }
    }
}

/// The exact max-min fair goods amounts per need.
pub fn goods(instance: &Instance) -> Vec<f64> {
    let mut model = Model {
        terms: vec![Vec::new(); instance.needs.len()],
        ..Model::default()
    };
    for source in instance.sources.iter().filter(|s| s.kind != "money") {
        let mut row = Vec::new();
        for (i, need) in instance.needs.iter().enumerate() {
            if eligible(instance, source, need) {
                let v = model.var();
                model.terms[i].push(v);
                row.push((v, 1.0));
            }
        }
        model.rows.push((row, source.quantity.unwrap_or(0) as f64));
    }
    let needs: Vec<(usize, f64, f64)> = instance
        .needs
        .iter()
        .map(|n| (class(instance, n), n.quantity as f64, 0.0))
        .collect();
    leximin(&model, &needs)
}

/// The exact max-min fair money amounts (units, continuous) per need, given what each already
/// has.
pub fn money(instance: &Instance, has: &[i64]) -> Vec<f64> {
    let mut model = Model {
        terms: vec![Vec::new(); instance.needs.len()],
        ..Model::default()
    };
    let mut through: Vec<Vec<(usize, f64)>> = vec![Vec::new(); instance.offers.len()];
    for source in instance.sources.iter().filter(|s| s.kind == "money") {
        let mut row = Vec::new();
        for (i, need) in instance.needs.iter().enumerate() {
            if !eligible(instance, source, need) {
                continue;
            }
            if let Some(rate) = &need.rate {
                let v = model.var();
                model.terms[i].push(v);
                row.push((v, fen(rate) as f64 / 100.0));
                continue;
            }
            for (o, offer) in instance.offers.iter().enumerate() {
                if offer_fits(instance, offer, need) {
                    let v = model.var();
                    model.terms[i].push(v);
                    row.push((v, fen(&offer.unit_price) as f64 / 100.0));
                    through[o].push((v, 1.0));
                }
            }
        }
        model.rows.push((
            row,
            fen(source.amount.as_deref().unwrap_or("0")) as f64 / 100.0,
        ));
    }
    for (o, row) in through.into_iter().enumerate() {
        model.rows.push((row, instance.offers[o].capacity as f64));
    }
    let needs: Vec<(usize, f64, f64)> = instance
        .needs
        .iter()
        .zip(has)
        .map(|(n, &h)| (class(instance, n), n.quantity as f64, h as f64))
        .collect();
    leximin(&model, &needs)
}
