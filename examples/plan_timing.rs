use std::time::Instant;
use weave::matching::{
    engine,
    generate::{self, Scale},
};
fn main() {
    let needs: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let f = needs as f64 / 120_000.0;
    let scale = Scale {
        needs,
        goods: (50_000.0 * f) as usize,
        money: (1000.0 * f) as usize + 1,
        offers: (2000.0 * f) as usize + 1,
        communities: (6000.0 * f) as usize + 1,
        ..Scale::CITY
    };
    let instance = generate::instance(2020, scale);
    let problem = instance.check().unwrap();
    let t = Instant::now();
    let plan = engine::solve(&problem);
    eprintln!(
        "needs {needs}: {:?} allocated {} of {}",
        t.elapsed(),
        plan.summary.allocated,
        plan.summary.asked
    );
}
