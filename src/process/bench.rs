//! What supervision itself costs: `true` (or another command) run many times through [`run`], timed, with the
//! processes the kernel created meanwhile. Run by `scripts/bench-supervision.sh`; ignored in the
//! normal test run because it measures, it does not check.

use std::time::{Duration, Instant};

use super::test_support::{limits, sh};
use super::{Cancel, LineVerdict, ProcessSpec, run};

/// Processes (and threads) the kernel has created since boot: the `processes` line of
/// `/proc/stat`.
fn forks_since_boot() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .find_map(|line| line.strip_prefix("processes "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of this process and of its reaped children.
fn cpu_time() -> (Duration, Duration) {
    let usage = |who| {
        // SAFETY: rusage is plain integers, so all zeroes is a valid value; getrusage fills it.
        let usage = unsafe {
            let mut usage: nix::libc::rusage = std::mem::zeroed();
            nix::libc::getrusage(who, &mut usage);
            usage
        };
        let time = |tv: nix::libc::timeval| {
            Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
        };
        time(usage.ru_utime) + time(usage.ru_stime)
    };
    (
        usage(nix::libc::RUSAGE_SELF),
        usage(nix::libc::RUSAGE_CHILDREN),
    )
}

async fn run_once(spec: &ProcessSpec, cancel: &Cancel) {
    let outcome = run(spec, &limits(), cancel, &mut |_, _| LineVerdict::Continue)
        .await
        .expect("spawn true");
    assert!(outcome.exit.success(), "{outcome:?}");
}

#[test]
#[ignore = "a measurement, run by scripts/bench-supervision.sh"]
fn supervision_overhead() {
    let runs: u32 = std::env::var("KMILESTONE_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Only when asked: a subreaper test process would take other tests' children for orphans.
    let subreaper = std::env::var_os("KMILESTONE_BENCH_SUBREAPER").is_some_and(|on| on == "1")
        && super::become_subreaper().expect("prctl");
    // The words of the command to run, `true` unless told (`sh -c /bin/true`: a gate through sh).
    let command = std::env::var("KMILESTONE_BENCH_COMMAND").unwrap_or_else(|_| "true".into());
    let mut words = command.split_whitespace();
    let mut spec = sh("");
    spec.program = words.next().expect("a program").into();
    spec.args = words.map(Into::into).collect();
    let cancel = Cancel::new();
    runtime.block_on(async {
        // Warm up: the first run also starts whatever is started once per process.
        for _ in 0..5 {
            run_once(&spec, &cancel).await;
        }
        let forks = forks_since_boot();
        let (own, children) = cpu_time();
        let start = Instant::now();
        for _ in 0..runs {
            run_once(&spec, &cancel).await;
        }
        let wall = start.elapsed();
        let forks = forks_since_boot() - forks;
        let (own_after, children_after) = cpu_time();
        let per = |total: Duration| total / runs;
        println!(
            "supervision{}: {runs} runs of `{command}`: wall {:.1} ms total, {:.0} µs per run; \
             this process's CPU {:.0} µs per run, children's CPU {:.0} µs per run; \
             {:.2} processes created per run (machine-wide)",
            if subreaper { " (subreaper)" } else { "" },
            wall.as_secs_f64() * 1e3,
            per(wall).as_secs_f64() * 1e6,
            per(own_after - own).as_secs_f64() * 1e6,
            per(children_after - children).as_secs_f64() * 1e6,
            forks as f64 / f64::from(runs),
        );
    });
}
