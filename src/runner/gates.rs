//! Running one quality gate under supervision, with the tail of its output for the fix prompt,
//! inside kmilestone's own sandbox unless the user turned it off for that gate.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use crate::config::{GateSandboxSettings, Settings};
use crate::events::{GateRecord, GateSandbox};
use crate::process::sandbox::{self, Sandbox, SandboxError, SandboxPolicy, SandboxReport, Support};
use crate::process::{self, Cancel, EndedBy, Limits, LineVerdict, ProcessSpec, StdinSource};

/// How the run's gates are confined: what this machine can do, probed once per run, and the
/// policy the configuration makes (writes in the repository, the tool caches, the configured
/// writable paths and a private temporary directory; the secret paths unreadable; no network).
pub(crate) struct GateSandboxing {
    /// `None` when no gate runs sandboxed: nothing was probed.
    support: Option<Support>,
    policy: SandboxPolicy,
    settings: GateSandboxSettings,
}

impl GateSandboxing {
    /// Probes the machine when a gate of `settings` runs sandboxed.
    pub(crate) fn new(settings: &Settings, root: &Path) -> GateSandboxing {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(std::path::PathBuf::from);
        let mut policy =
            SandboxPolicy::for_gates(root, home.as_deref(), &|name| std::env::var_os(name));
        // The gates get a private temporary directory of their own: `$TMPDIR` is not opened.
        let writable: Vec<String> = settings
            .sandbox
            .writable_paths
            .iter()
            .filter(|p| p.as_str() != "$TMPDIR")
            .cloned()
            .collect();
        if let Err(why) =
            policy.add_paths(&writable, &settings.sandbox.secret_paths, home.as_deref())
        {
            // The configuration's paths were checked when it was read.
            tracing::warn!(%why, "configured sandbox paths left out of the gates' policy");
        }
        let sandboxed = settings
            .gates
            .iter()
            .any(|gate| settings.gate_sandbox.is_sandboxed(gate));
        GateSandboxing {
            support: sandboxed.then(sandbox::probe),
            policy,
            settings: settings.gate_sandbox.clone(),
        }
    }

    /// What confines the gates, for the run header.
    pub(crate) fn header(&self, gates: &[String]) -> GateSandbox {
        let report = match &self.support {
            Some(support) => support.report(self.policy.network),
            None => SandboxReport::disabled(),
        };
        GateSandbox {
            description: report.to_string(),
            unsandboxed: gates
                .iter()
                .filter(|gate| !self.settings.is_sandboxed(gate))
                .cloned()
                .collect(),
        }
    }

    /// The sandbox `command` runs in, made ready for one run; `None` when it runs unsandboxed.
    pub(crate) fn sandbox_for(&self, command: &str) -> Option<Result<Sandbox, SandboxError>> {
        let support = self.support.as_ref()?;
        self.settings
            .is_sandboxed(command)
            .then(|| Sandbox::prepare(&self.policy, support))
    }
}

/// The result of one gate run, with the tail of its output for the fix prompt.
#[derive(Debug, Clone)]
pub(crate) struct GateRun {
    pub record: GateRecord,
    pub output_tail: String,
    /// What the gate left running when it ended, killed.
    pub left_running: Vec<process::Survivor>,
}

/// How many lines of a failed gate's output go back to the agent.
const TAIL_LINES: usize = 40;
/// The most of one output line kept in the tail: its end, where the failure usually is.
const TAIL_LINE_CHARS: usize = 2000;

/// The last `max` characters of `line`, marked when cut.
fn line_end(line: &str, max: usize) -> String {
    let count = line.chars().count();
    if count <= max {
        return line.to_string();
    }
    let kept: String = line.chars().skip(count - max).collect();
    format!("[… {} characters cut] {kept}", count - max)
}

/// How a gate's command runs: its words directly when it is a plain command line (one process
/// fewer), then `sh -c` if that could not start, so that a missing program or a script without
/// a `#!` line is reported by `sh` exactly as before; `sh -c` alone for anything else.
fn gate_specs(command: &str, root: &Path) -> (Option<ProcessSpec>, ProcessSpec) {
    let spec = |program: OsString, args: Vec<OsString>| ProcessSpec {
        program,
        args,
        cwd: root.to_path_buf(),
        env_set: Vec::new(),
        env_remove: Vec::new(),
        stdin: StdinSource::Null,
    };
    let direct = process::plain_words(command).map(|mut words| {
        let program = OsString::from(words.remove(0));
        spec(program, words.into_iter().map(OsString::from).collect())
    });
    let shell = spec(
        OsString::from("sh"),
        vec![OsString::from("-c"), OsString::from(command)],
    );
    (direct, shell)
}

/// Runs `command` in `root`, stdin closed, in its own process group, with `timeout`, inside
/// `sandbox` when given.
pub(crate) async fn run_gate(
    command: &str,
    root: &Path,
    timeout: Duration,
    kill_grace: Duration,
    cancel: &Cancel,
    sandbox: Option<&Sandbox>,
) -> Result<GateRun, process::SpawnError> {
    let (direct, shell) = gate_specs(command, root);
    let how = GateRunning {
        timeout,
        kill_grace,
        sandbox,
    };
    supervise_gate(command, direct.as_ref(), &shell, &how, cancel).await
}

/// How long a gate may run, how it is stopped, and what confines it.
struct GateRunning<'a> {
    timeout: Duration,
    kill_grace: Duration,
    sandbox: Option<&'a Sandbox>,
}

/// Runs `spec`, inside the sandbox when there is one.
async fn run_spec(
    spec: &ProcessSpec,
    how: &GateRunning<'_>,
    limits: &Limits,
    cancel: &Cancel,
    on_line: &mut (dyn FnMut(process::Stream, &str) -> LineVerdict + Send),
) -> Result<process::Outcome, process::SpawnError> {
    match how.sandbox {
        Some(sandbox) => process::run_sandboxed(spec, sandbox, limits, cancel, on_line).await,
        None => process::run(spec, limits, cancel, on_line).await,
    }
}

async fn supervise_gate(
    command: &str,
    direct: Option<&ProcessSpec>,
    shell: &ProcessSpec,
    how: &GateRunning<'_>,
    cancel: &Cancel,
) -> Result<GateRun, process::SpawnError> {
    let (timeout, kill_grace) = (how.timeout, how.kill_grace);
    let limits = Limits {
        idle_timeout: None,
        wall_timeout: Some(timeout),
        after_final_grace: Duration::ZERO,
        kill_grace,
    };
    let mut combined: Vec<String> = Vec::new();
    let mut on_line = |_: process::Stream, line: &str| {
        if combined.len() == TAIL_LINES * 4 {
            combined.drain(..TAIL_LINES * 3);
        }
        combined.push(line_end(line, TAIL_LINE_CHARS));
        LineVerdict::Continue
    };
    let mut outcome = None;
    if let Some(direct) = direct {
        match run_spec(direct, how, &limits, cancel, &mut on_line).await {
            Ok(ran) => outcome = Some(ran),
            // Nothing ran: the same command through sh gives sh's own report of it.
            Err(error) => tracing::debug!(%error, "gate not started directly; through sh"),
        }
    }
    let direct_ran = outcome.is_some();
    let outcome = match outcome {
        Some(outcome) => outcome,
        None => run_spec(shell, how, &limits, cancel, &mut on_line).await?,
    };
    let timed_out = outcome.ended_by == EndedBy::WallTimeout;
    let start = combined.len().saturating_sub(TAIL_LINES);
    let mut output_tail = combined[start..].join("\n");
    if timed_out {
        output_tail.push_str(&format!(
            "\n(killed after the gate timeout of {})",
            humantime::format_duration(timeout)
        ));
    }
    let exit_code = match outcome.exit {
        process::ExitKind::Code(code) => Some(code),
        // What `sh` reports for a command that a signal killed, so both ways give one record;
        // a gate kmilestone stopped (timeout, Ctrl-C) has no exit code either way.
        process::ExitKind::Signal(signal) if direct_ran && outcome.ended_by == EndedBy::Exited => {
            Some(128 + signal)
        }
        process::ExitKind::Signal(_) => None,
    };
    Ok(GateRun {
        record: GateRecord {
            command: command.to_string(),
            passed: outcome.ended_by == EndedBy::Exited && outcome.exit.success(),
            exit_code,
            timed_out,
            duration_ms: crate::events::millis(outcome.duration),
        },
        output_tail,
        left_running: outcome.survivors_killed,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::events::GateRecord;

    #[tokio::test(flavor = "current_thread")]
    async fn gate_results_and_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::new();
        let pass = run_gate(
            "echo ok",
            dir.path(),
            Duration::from_secs(10),
            Duration::from_secs(1),
            &cancel,
            None,
        )
        .await
        .unwrap();
        assert!(pass.record.passed);
        let fail = run_gate(
            "echo broken test; exit 3",
            dir.path(),
            Duration::from_secs(10),
            Duration::from_secs(1),
            &cancel,
            None,
        )
        .await
        .unwrap();
        assert!(!fail.record.passed);
        assert_eq!(fail.record.exit_code, Some(3));
        assert!(fail.output_tail.contains("broken test"));
        // One huge line (a minified bundle, a JSON dump) must not flood the fix prompt.
        let long = run_gate(
            "head -c 3000000 /dev/zero | tr '\\0' x; echo END; exit 1",
            dir.path(),
            Duration::from_secs(10),
            Duration::from_secs(1),
            &cancel,
            None,
        )
        .await
        .unwrap();
        assert!(
            long.output_tail.len() < 10_000,
            "{}",
            long.output_tail.len()
        );
        assert!(
            long.output_tail.ends_with("xxxxEND"),
            "the end of the line is kept"
        );
        assert!(long.output_tail.contains("characters cut]"));
        let hung = run_gate(
            "sleep 30",
            dir.path(),
            Duration::from_millis(300),
            Duration::from_millis(200),
            &cancel,
            None,
        )
        .await
        .unwrap();
        assert!(hung.record.timed_out);
        assert!(!hung.record.passed);
    }

    /// A TCP server on the machine's 127.0.0.1 that counts the connections it accepts.
    fn counting_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        (port, hits)
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "current_thread")]
    async fn gates_run_sandboxed_unless_the_user_turns_it_off_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let (port, hits) = counting_server();
        let gate = format!(
            "touch {}/marker; echo made > in-repo.txt; curl -s -m 5 -o /dev/null http://127.0.0.1:{port}/; echo curl=$?",
            outside.display()
        );
        let mut settings = Settings {
            gates: vec![gate.clone()],
            ..Settings::default()
        };
        let cancel = Cancel::new();
        let run = |sandboxing: &GateSandboxing| {
            let sandbox = sandboxing.sandbox_for(&gate).transpose().unwrap();
            let (gate, root, cancel) = (gate.clone(), root.clone(), cancel.clone());
            async move {
                let ten = Duration::from_secs(10);
                run_gate(&gate, &root, ten, ten, &cancel, sandbox.as_ref())
                    .await
                    .unwrap()
            }
        };

        let sandboxed = GateSandboxing::new(&settings, &root);
        let header = sandboxed.header(&settings.gates);
        assert!(header.unsandboxed.is_empty());
        assert!(
            header.description.starts_with("sandbox: Landlock ABI "),
            "{}",
            header.description
        );
        let confined = run(&sandboxed).await;
        assert!(confined.record.passed, "{}", confined.output_tail);
        assert_eq!(
            std::fs::read_to_string(root.join("in-repo.txt")).unwrap(),
            "made\n"
        );
        assert!(!outside.join("marker").exists(), "{}", confined.output_tail);
        assert!(
            confined.output_tail.contains("curl=7"),
            "could not connect: {}",
            confined.output_tail
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        // A plain command line runs without sh, and still inside the sandbox.
        let plain = format!("touch {}/plain-marker", outside.display());
        assert!(gate_specs(&plain, &root).0.is_some());
        let sandbox = sandboxed.sandbox_for(&plain).transpose().unwrap();
        let ten = Duration::from_secs(10);
        let refused = run_gate(&plain, &root, ten, ten, &cancel, sandbox.as_ref())
            .await
            .unwrap();
        assert!(!refused.record.passed, "{}", refused.output_tail);
        assert!(!outside.join("plain-marker").exists());

        settings.gate_sandbox.unsandboxed = vec![gate.clone()];
        let opted_out = GateSandboxing::new(&settings, &root);
        assert!(opted_out.sandbox_for(&gate).is_none());
        assert_eq!(
            opted_out.header(&settings.gates),
            GateSandbox {
                description: "sandbox: off by configuration".to_string(),
                unsandboxed: vec![gate.clone()],
            },
            "nothing is probed when no gate is sandboxed"
        );
        run(&opted_out).await;
        assert!(outside.join("marker").exists());
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    fn executable(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The record without its duration, which no two runs share.
    fn comparable(record: &GateRecord) -> (String, bool, Option<i32>, bool) {
        (
            record.command.clone(),
            record.passed,
            record.exit_code,
            record.timed_out,
        )
    }

    #[tokio::test(flavor = "current_thread")]
    async fn plain_gates_give_what_sh_gave() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data"), "a b\nb c\nc d\n").unwrap();
        std::fs::write(dir.path().join("with space"), "spaced\n").unwrap();
        // No `#!` line: exec refuses it, the C library and sh both run it with sh.
        executable(
            &dir.path().join("no-shebang"),
            "echo from the script; exit 4\n",
        );
        executable(&dir.path().join("crash"), "#!/bin/sh\nkill -s SEGV $$\n");
        let cancel = Cancel::new();
        let gate = |command: &'static str, timeout: Duration| {
            let root = dir.path().to_path_buf();
            let cancel = cancel.clone();
            async move {
                let (direct, shell) = gate_specs(command, &root);
                let direct = direct.unwrap_or_else(|| panic!("{command:?} is plain"));
                let grace = Duration::from_millis(200);
                let how = GateRunning {
                    timeout,
                    kill_grace: grace,
                    sandbox: None,
                };
                let plain = supervise_gate(command, Some(&direct), &shell, &how, &cancel);
                let plain = plain.await.unwrap();
                let through_sh = supervise_gate(command, None, &shell, &how, &cancel);
                (plain, through_sh.await.unwrap())
            }
        };
        let long = Duration::from_secs(10);
        for command in [
            "grep -n 'b c' data",
            "grep -q missing data",
            "cat 'with space' \"with space\"",
            "ls /kmilestone-no-such-directory",
            "kmilestone-no-such-program --flag",
            "./no-shebang",
            "sh -c 'exit 7'",
        ] {
            let (plain, through_sh) = gate(command, long).await;
            assert_eq!(
                comparable(&plain.record),
                comparable(&through_sh.record),
                "{command}"
            );
            assert_eq!(plain.output_tail, through_sh.output_tail, "{command}");
        }
        let (plain, _) = gate("grep -n 'b c' data", long).await;
        assert_eq!(
            (plain.record.exit_code, plain.output_tail.as_str()),
            (Some(0), "2:b c")
        );
        let (plain, _) = gate("kmilestone-no-such-program --flag", long).await;
        assert_eq!(plain.record.exit_code, Some(127));

        // Killed by a signal: the exit code sh reported; sh also names the signal in its output.
        let (plain, through_sh) = gate("./crash", long).await;
        assert_eq!(plain.record.exit_code, Some(128 + 11));
        assert_eq!(comparable(&plain.record), comparable(&through_sh.record));
        let (plain, through_sh) = gate("sleep 5", Duration::from_millis(300)).await;
        assert!(plain.record.timed_out && plain.record.exit_code.is_none());
        assert_eq!(comparable(&plain.record), comparable(&through_sh.record));
    }

    /// Runs `spec` (which prints its own `/proc/self/stat`) and returns the leader's pid with the
    /// printed pid and parent pid.
    async fn who_printed(spec: &ProcessSpec) -> (u32, u32, u32) {
        let limits = Limits {
            idle_timeout: None,
            wall_timeout: Some(Duration::from_secs(10)),
            after_final_grace: Duration::ZERO,
            kill_grace: Duration::from_secs(1),
        };
        let mut stat = String::new();
        let outcome = process::run(spec, &limits, &Cancel::new(), &mut |_, line| {
            stat = line.to_owned();
            LineVerdict::Continue
        })
        .await
        .unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let pid: u32 = stat.split(' ').next().unwrap().parse().unwrap();
        (outcome.pid, pid, fields[1].parse().unwrap())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_plain_gate_starts_one_process_fewer() {
        let dir = tempfile::tempdir().unwrap();
        let (direct, shell) = gate_specs("cat /proc/self/stat", dir.path());
        let me = std::process::id();
        // Directly, `cat` is the supervised leader itself, a child of this process.
        let (leader, cat, parent) = who_printed(&direct.unwrap()).await;
        assert_eq!((cat, parent), (leader, me));
        // Through sh, `cat` is a child of the shell that leads.
        let (leader, cat, parent) = who_printed(&shell).await;
        assert_ne!(cat, leader);
        assert_eq!(parent, leader);
        assert!(
            gate_specs("cat /proc/self/stat | head", dir.path())
                .0
                .is_none()
        );
    }
}
