//! The matching engine at city and national scale on seeded, realistic instances.
//! Prints one table: scale, needs, sources, wall ms, the first plan's ms, peak MB, allocated %,
//! classes fully served.
//!
//!     cargo bench --bench matching            # city and national
//!     cargo bench --bench matching -- city    # one scale
//!
//! Peak MB is the process's high-water mark of resident memory (`VmHWM`) measured in a child
//! process per scale, so one scale's instance does not count against the other. The instance as
//! written is dropped once checked (as `weave plan` does); the checked problem stays.

use std::{process::Command, time::Instant};

use weave::matching::{
    engine,
    generate::{self, Scale},
};

/// The same allocator as the `weave` binary, so the figures are the ones it would show.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEED: u64 = 2020;

fn peak_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// Runs one scale in this process and prints its row.
fn run(name: &str, scale: Scale) {
    let instance = generate::instance(SEED, scale);
    let problem = instance.check().expect("a valid instance");
    // As `weave plan` does: once checked, the instance as written is not needed.
    drop(instance);
    let sources = problem.sources.len();
    let before = peak_mb();
    let mut times = Vec::new();
    let mut plan = None;
    // The median of several runs: this machine is shared and one run can be a third slower.
    // The first plan of the process is shown apart and not in the median: the memory it takes
    // is new to the process, and here a first touch of it is slow (milliseconds per 2 MB
    // page); a service plans again and again in one process and sees the later ones.
    let runs = if scale.needs > 200_000 { 3 } else { 5 };
    for _ in 0..=runs {
        drop(plan.take()); // the last run's plan is not freed on this run's clock
        let started = Instant::now();
        let planned = engine::solve(&problem);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        plan = Some(planned);
    }
    let first = times.remove(0);
    times.sort_by(f64::total_cmp);
    let plan = plan.expect("planned");
    let mut short = [false; 6];
    let mut present = [false; 6];
    let unmet: std::collections::HashSet<&str> = plan.unmet.iter().map(|u| &*u.need).collect();
    for need in &problem.needs {
        present[need.class as usize] = true;
        if unmet.contains(&*need.id) {
            short[need.class as usize] = true;
        }
    }
    let full = (0..6).filter(|&c| present[c] && !short[c]).count();
    println!(
        "| {name} | {} | {} | {:.0} | {first:.0} | {} (instance {}) | {:.1} | {} of {} |",
        problem.needs.len(),
        sources,
        times[times.len() / 2],
        peak_mb(),
        before,
        plan.summary.allocated as f64 * 100.0 / plan.summary.asked as f64,
        full,
        present.iter().filter(|p| **p).count(),
    );
}

fn main() {
    weave::allocator::configure();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(name) = args.first().filter(|a| *a == "city" || *a == "national") {
        let scale = if name == "city" {
            Scale::CITY
        } else {
            Scale::NATIONAL
        };
        run(name, scale);
        return;
    }
    println!("| scale | needs | sources | wall ms (median) | first plan ms | peak MB | allocated % | classes fully served |");
    println!("|---|---|---|---|---|---|---|---|");
    let me = std::env::current_exe().expect("the bench binary");
    for name in ["city", "national"] {
        let status = Command::new(&me).arg(name).status().expect("a child run");
        assert!(status.success(), "{name} failed");
    }
}
