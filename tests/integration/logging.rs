//! `-v` and `-vv`: debug (and trace) lines on stderr, naming what kmilestone does; stdout keeps
//! only the command's own output.

use regex::Regex;

use crate::support::project::{PLAN_3, Project};

/// The messages of the log lines in `stderr` at `level`, with their fields.
fn log_lines(stderr: &str, level: &str) -> Vec<String> {
    let line = Regex::new(&format!(r"^\d{{4}}-\d\d-\d\dT[\d:.]+Z {level} (.*)$")).unwrap();
    stderr
        .lines()
        .filter_map(|l| line.captures(l).map(|c| c[1].to_string()))
        .collect()
}

#[test]
fn status_with_v_logs_what_it_read_on_stderr_and_nothing_without() {
    let project = Project::new(PLAN_3);
    let quiet = project.run(&["status", "M1_greeter.md"]);
    assert_eq!(quiet.code(), Some(0), "{}", quiet.describe());
    assert_eq!(quiet.stderr, "", "no logs without -v");

    let run = project.run(&["-v", "status", "M1_greeter.md"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(run.stdout, quiet.stdout, "logs never go to stdout");
    let debug = log_lines(&run.stderr, "DEBUG");
    let read = debug
        .iter()
        .find(|l| l.starts_with("plan and handoff read "))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    let fields = Regex::new(
        r"^plan and handoff read plan=M1_greeter.md tasks=3 handoff=HANDOFF_M1.md marks=0 ms=\d+$",
    )
    .unwrap();
    assert!(fields.is_match(read), "{read}");
}

#[test]
fn run_with_v_names_the_git_calls_the_spawned_agent_and_the_state_writes() {
    let project = Project::new(PLAN_3);
    let run = project.kmilestone_run(&["-v", "--json", "--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    for line in run.stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("{e}: stdout holds only the JSON events: {line}"));
    }
    let debug = log_lines(&run.stderr, "DEBUG");
    let has = |prefix: &str| debug.iter().any(|l| l.starts_with(prefix));
    assert!(has("settings resolved "), "{}", run.stderr);
    assert!(has("git args=status --porcelain=v2"), "{}", run.stderr);
    assert!(has("spawned "), "{}", run.stderr);
    assert!(has("saving state "), "{}", run.stderr);
    assert!(
        has("task ended task=1.1 result=Ok(Completed) ms="),
        "{}",
        run.stderr
    );

    let trace = project.kmilestone_run(&["-vv", "--to", "1.2"]);
    assert_eq!(trace.code(), Some(0), "{}", trace.describe());
    assert!(
        !log_lines(&trace.stderr, "DEBUG").is_empty(),
        "{}",
        trace.stderr
    );
}
