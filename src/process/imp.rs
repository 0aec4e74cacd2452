//! Running one supervised child: spawn, feed stdin, drain both pipes line by line, enforce the
//! timeouts and cancellation, and make sure the whole process group, and what the child left
//! elsewhere, is gone before returning.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::{Instant, sleep_until};

use super::cancel::{Cancel, Level};
use super::lines::{LineSplitter, Tail};
use super::reaper::{self, Leader, Survivor};
use super::sandbox::Sandbox;
use super::unix;

/// What to run.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// Applied after `env_remove`, so a variable in both lists ends up set.
    pub env_set: Vec<(OsString, OsString)>,
    pub env_remove: Vec<OsString>,
    pub stdin: StdinSource,
}

/// What the child reads on stdin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StdinSource {
    /// `/dev/null`.
    Null,
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
}

/// Time limits for one run. `None` means no limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// No output on either pipe for this long: the child is considered hung.
    pub idle_timeout: Option<Duration>,
    /// Total time from spawn.
    pub wall_timeout: Option<Duration>,
    /// How long the child may keep running after `on_line` returned [`LineVerdict::Final`].
    pub after_final_grace: Duration,
    /// Time between SIGTERM and SIGKILL when terminating.
    pub kill_grace: Duration,
}

/// Which pipe a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The caller's judgement of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineVerdict {
    Continue,
    /// The child has said its last word (an agent's `result` line); from now on it only has
    /// `after_final_grace` to exit.
    Final,
}

/// How the child's leader ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Exited with this status code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

impl ExitKind {
    pub fn success(self) -> bool {
        self == ExitKind::Code(0)
    }

    fn from_status(status: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitKind::Code(code),
            (None, Some(signal)) => ExitKind::Signal(signal),
            // A reaped child either exited or was killed; stop/continue states are never
            // collected here.
            (None, None) => ExitKind::Code(status.into_raw()),
        }
    }
}

/// Why the supervision ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndedBy {
    /// The child exited on its own.
    Exited,
    IdleTimeout,
    WallTimeout,
    /// The child did not exit within `after_final_grace` of its final line.
    AfterFinal,
    Cancelled,
}

/// The result of a supervised run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub exit: ExitKind,
    pub ended_by: EndedBy,
    pub duration: Duration,
    /// The last few KiB of stdout, for reports.
    pub stdout_tail: String,
    /// The last few KiB of stderr, for reports.
    pub stderr_tail: String,
    pub pid: u32,
    /// What the child left running when its leader ended (a server started in the background, a
    /// daemon that called `setsid`), killed before this returned. Members of the child's group
    /// that were sent SIGKILL with it (a timeout past its grace, a second Ctrl-C) are not listed:
    /// they were stopped with the child, not left behind.
    pub survivors_killed: Vec<Survivor>,
}

/// The child could not be started, or could no longer be supervised.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("`{}` was not found", program.to_string_lossy())]
    NotFound { program: OsString },
    #[error("permission denied running `{}`", program.to_string_lossy())]
    PermissionDenied { program: OsString },
    #[error("could not run `{}`: {source}", program.to_string_lossy())]
    Io {
        program: OsString,
        #[source]
        source: io::Error,
    },
}

/// How long to keep reading the pipes after the group was killed. Only a process that left the
/// group (setsid) can still hold them open then; its output is not worth hanging for.
const PIPE_DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Exit is detected through SIGCHLD; this poll only bounds the delay if a notification is lost.
const EXIT_POLL: Duration = Duration::from_secs(1);

/// How often orphans adopted during a run are looked for, to arm the watchdog with them.
const WATCH_EVERY: Duration = Duration::from_millis(500);

const READ_CHUNK: usize = 64 * 1024;

/// Runs the child to completion under `limits` and `cancel`, calling `on_line` for every line of
/// stdout and stderr as it arrives.
///
/// When this returns, or when its future is dropped, the child's whole process group has been
/// sent SIGKILL and the child has been reaped: nothing it started inside its group survives, nor,
/// after [`become_subreaper`](super::become_subreaper), anything it started outside it.
pub async fn run(
    spec: &ProcessSpec,
    limits: &Limits,
    cancel: &Cancel,
    on_line: &mut dyn FnMut(Stream, &str) -> LineVerdict,
) -> Result<Outcome, SpawnError> {
    supervise(spec, None, limits, cancel, on_line).await
}

/// [`run`] inside `sandbox`: the child enters it between fork and exec (or through
/// `sandbox-exec` on macOS), without the secret variables, with `TMPDIR` private. Supervision is
/// the same; a child that cannot enter the sandbox fails to spawn rather than run unconfined.
pub async fn run_sandboxed(
    spec: &ProcessSpec,
    sandbox: &Sandbox,
    limits: &Limits,
    cancel: &Cancel,
    on_line: &mut dyn FnMut(Stream, &str) -> LineVerdict,
) -> Result<Outcome, SpawnError> {
    supervise(spec, Some(sandbox), limits, cancel, on_line).await
}

async fn supervise(
    spec: &ProcessSpec,
    sandbox: Option<&Sandbox>,
    limits: &Limits,
    cancel: &Cancel,
    on_line: &mut dyn FnMut(Stream, &str) -> LineVerdict,
) -> Result<Outcome, SpawnError> {
    let io_error = |source: io::Error| SpawnError::Io {
        program: spec.program.clone(),
        source,
    };
    if !spec.cwd.is_dir() {
        return Err(io_error(io::Error::new(
            io::ErrorKind::NotFound,
            format!("working directory {} does not exist", spec.cwd.display()),
        )));
    }
    // Listening before the spawn means no exit can slip between the spawn and the first wait.
    let mut sigchld = signal(SignalKind::child()).map_err(io_error)?;

    let mut cmd = command(spec, sandbox);

    let start = Instant::now();
    // std's spawn returns only after the exec succeeded, so from here on signals reach the new
    // program, never the forked copy of this one.
    let (child, leader) = reaper::spawn(&mut cmd).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => SpawnError::NotFound {
            program: spec.program.clone(),
        },
        io::ErrorKind::PermissionDenied => SpawnError::PermissionDenied {
            program: spec.program.clone(),
        },
        _ => io_error(source),
    })?;
    let mut group = Group::new(child, leader, cancel);
    tracing::debug!(pid = group.pid, program = ?spec.program, "spawned");

    let (stdin, stdout, stderr) = group.pipes().map_err(io_error)?;
    let mut supervisor = Supervisor {
        limits,
        start,
        last_output: start,
        final_at: None,
        phase: Phase::Running,
        ended_by: None,
    };
    let mut out = Pipe::new(stdout, Stream::Stdout);
    let mut err = Pipe::new(stderr, Stream::Stderr);

    let stdin_bytes: &[u8] = match &spec.stdin {
        StdinSource::Bytes(bytes) => bytes,
        StdinSource::Null => &[],
    };
    let mut stdin_pending = stdin.is_some();
    let stdin_write = feed_stdin(stdin, stdin_bytes);
    tokio::pin!(stdin_write);

    let mut cancel_rx = cancel.subscribe();
    let mut exit: Option<ExitStatus> = None;
    let mut survivors_killed = Vec::new();
    let mut drain_until = None;
    let mut watch_at = start + WATCH_EVERY;

    let status = loop {
        let now = Instant::now();
        if exit.is_none() && group.has_exited().map_err(io_error)? {
            let group_killed = supervisor.phase == Phase::Killed || cancel.is_killed();
            let (status, survivors) = group.finish(group_killed).map_err(io_error)?;
            exit = Some(status);
            survivors_killed = survivors;
            drain_until = Some(now + PIPE_DRAIN_GRACE);
            // Whatever still holds stdin lost its reader; stop writing to it.
            stdin_pending = false;
            stdin_write.set(feed_stdin(None, &[]));
        }
        if exit.is_none() {
            supervisor.check(now, cancel.level(), &group);
            if now >= watch_at {
                reaper::watch();
                watch_at = now + WATCH_EVERY;
            }
        }
        if let Some(status) = exit {
            if !out.open && !err.open {
                break status;
            }
            if drain_until.is_some_and(|until| now >= until) {
                tracing::debug!(
                    pid = group.pid,
                    "output pipes still open after the group was killed"
                );
                break status;
            }
        }

        let wake = match drain_until {
            Some(until) => until,
            None => supervisor
                .next_deadline()
                .map_or(now + EXIT_POLL, |deadline| deadline.min(now + EXIT_POLL)),
        };
        let event = tokio::select! {
            read = out.reader.read(&mut out.buf), if out.open => Event::Read(Stream::Stdout, read),
            read = err.reader.read(&mut err.buf), if err.open => Event::Read(Stream::Stderr, read),
            written = &mut stdin_write, if stdin_pending => Event::StdinDone(written),
            Some(()) = sigchld.recv(), if exit.is_none() => Event::Wake,
            Ok(()) = cancel_rx.changed(), if exit.is_none() => Event::Wake,
            () = sleep_until(wake) => Event::Wake,
        };
        match event {
            Event::Read(stream, read) => {
                let final_seen = match stream {
                    Stream::Stdout => out.take(read, on_line),
                    Stream::Stderr => err.take(read, on_line),
                };
                if exit.is_none() {
                    supervisor.output(Instant::now(), final_seen);
                }
            }
            Event::StdinDone(written) => {
                stdin_pending = false;
                if let Err(error) = written {
                    // Usually a child that exits or closes stdin without reading all of it.
                    tracing::debug!(pid = group.pid, %error, "stdin not fully written");
                }
            }
            Event::Wake => {}
        }
    };

    Ok(Outcome {
        exit: ExitKind::from_status(status),
        ended_by: supervisor.ended_by.unwrap_or(EndedBy::Exited),
        duration: start.elapsed(),
        stdout_tail: out.tail.into_string(),
        stderr_tail: err.tail.into_string(),
        pid: group.pid as u32,
        survivors_killed,
    })
}

/// The command for `spec`: its own process group, piped output, the environment as asked, and
/// the sandbox (if any) entered before exec.
fn command(spec: &ProcessSpec, sandbox: Option<&Sandbox>) -> std::process::Command {
    let mut cmd = match sandbox {
        Some(sandbox) => sandbox.command(&spec.program, &spec.args),
        None => {
            let mut cmd = std::process::Command::new(&spec.program);
            cmd.args(&spec.args);
            cmd
        }
    };
    cmd.current_dir(&spec.cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(match spec.stdin {
            StdinSource::Null => Stdio::null(),
            StdinSource::Bytes(_) => Stdio::piped(),
        });
    for key in &spec.env_remove {
        cmd.env_remove(key);
    }
    for (key, value) in &spec.env_set {
        cmd.env(key, value);
    }
    unix::configure(&mut cmd);
    if let Some(sandbox) = sandbox {
        sandbox.configure(
            &mut cmd,
            spec.env_set.iter().map(|(key, _)| key.as_os_str()),
        );
    }
    cmd
}

enum Event {
    Read(Stream, io::Result<usize>),
    StdinDone(io::Result<()>),
    Wake,
}

async fn feed_stdin(stdin: Option<ChildStdin>, bytes: &[u8]) -> io::Result<()> {
    if let Some(mut stdin) = stdin {
        stdin.write_all(bytes).await?;
        stdin.shutdown().await?;
        // Dropping closes the pipe: the child sees end of file.
    }
    Ok(())
}

/// One output pipe with its line splitter and tail.
struct Pipe<R> {
    reader: R,
    stream: Stream,
    open: bool,
    buf: Vec<u8>,
    lines: LineSplitter,
    tail: Tail,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    fn new(reader: R, stream: Stream) -> Self {
        Self {
            reader,
            stream,
            open: true,
            buf: vec![0; READ_CHUNK],
            lines: LineSplitter::new(),
            tail: Tail::default(),
        }
    }

    /// Handles the result of one read. Returns whether `on_line` called a line final.
    fn take(
        &mut self,
        read: io::Result<usize>,
        on_line: &mut dyn FnMut(Stream, &str) -> LineVerdict,
    ) -> bool {
        let stream = self.stream;
        let mut final_seen = false;
        let mut emit = |line: &[u8]| {
            if on_line(stream, &String::from_utf8_lossy(line)) == LineVerdict::Final {
                final_seen = true;
            }
        };
        match read {
            Ok(0) => {
                self.open = false;
                self.lines.finish(&mut emit);
            }
            Ok(n) => {
                self.tail.push(&self.buf[..n]);
                self.lines.push(&self.buf[..n], &mut emit);
            }
            Err(error) => {
                tracing::debug!(?stream, %error, "reading child output failed; treating as end");
                self.open = false;
                self.lines.finish(&mut emit);
            }
        }
        final_seen
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    /// SIGTERM sent; SIGKILL at this instant.
    Terminating {
        kill_at: Instant,
    },
    Killed,
}

/// The timers and the termination state machine of one run.
struct Supervisor<'a> {
    limits: &'a Limits,
    start: Instant,
    last_output: Instant,
    final_at: Option<Instant>,
    phase: Phase,
    /// The first reason to stop wins; later ones do not overwrite it.
    ended_by: Option<EndedBy>,
}

impl Supervisor<'_> {
    fn output(&mut self, now: Instant, final_seen: bool) {
        self.last_output = now;
        if final_seen && self.final_at.is_none() {
            self.final_at = Some(now);
        }
    }

    fn wall_at(&self) -> Option<Instant> {
        self.limits.wall_timeout.map(|limit| self.start + limit)
    }

    fn final_deadline(&self) -> Option<Instant> {
        self.final_at.map(|at| at + self.limits.after_final_grace)
    }

    /// After the final line only the final grace counts; an idle agent is then simply waiting
    /// to exit.
    fn idle_at(&self) -> Option<Instant> {
        if self.final_at.is_some() {
            return None;
        }
        self.limits
            .idle_timeout
            .map(|limit| self.last_output + limit)
    }

    fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Running => [self.wall_at(), self.final_deadline(), self.idle_at()]
                .into_iter()
                .flatten()
                .min(),
            Phase::Terminating { kill_at } => Some(kill_at),
            Phase::Killed => None,
        }
    }

    fn check(&mut self, now: Instant, cancel: Level, group: &Group<'_>) {
        match cancel {
            Level::KillNow => {
                self.ended_by.get_or_insert(EndedBy::Cancelled);
                self.kill(group);
            }
            Level::Graceful => self.terminate(now, EndedBy::Cancelled, group),
            Level::Running => {}
        }
        if self.phase == Phase::Running {
            let due = |deadline: Option<Instant>| deadline.is_some_and(|at| now >= at);
            if due(self.wall_at()) {
                self.terminate(now, EndedBy::WallTimeout, group);
            } else if due(self.final_deadline()) {
                self.terminate(now, EndedBy::AfterFinal, group);
            } else if due(self.idle_at()) {
                self.terminate(now, EndedBy::IdleTimeout, group);
            }
        }
        if let Phase::Terminating { kill_at } = self.phase
            && now >= kill_at
        {
            tracing::debug!(pid = group.pid, "still running after the kill grace");
            self.kill(group);
        }
    }

    fn terminate(&mut self, now: Instant, reason: EndedBy, group: &Group<'_>) {
        if self.phase != Phase::Running {
            return;
        }
        self.ended_by.get_or_insert(reason);
        tracing::debug!(pid = group.pid, ?reason, "terminating process group");
        if self.limits.kill_grace.is_zero() {
            self.kill(group);
            return;
        }
        group.signal(Signal::SIGTERM);
        // A stopped process would not act on SIGTERM until continued.
        group.signal(Signal::SIGCONT);
        self.phase = Phase::Terminating {
            kill_at: now + self.limits.kill_grace,
        };
    }

    fn kill(&mut self, group: &Group<'_>) {
        if self.phase == Phase::Killed {
            return;
        }
        group.signal(Signal::SIGKILL);
        self.phase = Phase::Killed;
    }
}

/// The spawned child and its process group, registered with the cancellation token while the
/// leader is unreaped. Dropping it without [`Group::finish`] (an error, or the caller dropping
/// the future of [`run`]) kills the group and what it left, and reaps the leader, so no path
/// leaves an orphan.
struct Group<'a> {
    child: Child,
    pid: i32,
    leader: Leader,
    cancel: &'a Cancel,
    reaped: bool,
}

impl<'a> Group<'a> {
    fn new(child: Child, leader: Leader, cancel: &'a Cancel) -> Self {
        // The child called setpgid(0, 0) before exec, so its pid is its group id.
        cancel.register(leader.pid);
        Self {
            child,
            pid: leader.pid,
            leader,
            cancel,
            reaped: false,
        }
    }

    #[allow(clippy::type_complexity)]
    fn pipes(&mut self) -> io::Result<(Option<ChildStdin>, ChildStdout, ChildStderr)> {
        let missing = || io::Error::other("child pipe was not created");
        let stdin = self
            .child
            .stdin
            .take()
            .map(ChildStdin::from_std)
            .transpose()?;
        let stdout = ChildStdout::from_std(self.child.stdout.take().ok_or_else(missing)?)?;
        let stderr = ChildStderr::from_std(self.child.stderr.take().ok_or_else(missing)?)?;
        Ok((stdin, stdout, stderr))
    }

    fn signal(&self, signal: Signal) {
        if !self.reaped {
            unix::signal_group(self.pid, signal);
        }
    }

    fn has_exited(&self) -> io::Result<bool> {
        unix::has_exited(self.pid)
    }

    /// Kills what the leader (which has exited) left, then reaps it. The leader stays a zombie
    /// until the end, so its group id cannot be reused while the group is signalled.
    fn finish(&mut self, group_killed: bool) -> io::Result<(ExitStatus, Vec<Survivor>)> {
        let survivors = reaper::end_run(self.leader, group_killed);
        self.cancel.release(self.pid);
        self.reaped = true;
        let status = reaper::reap_leader(&mut self.child, self.leader)?;
        Ok((status, survivors))
    }
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        if !self.reaped {
            self.cancel.release(self.pid);
            self.reaped = true;
            // SIGKILL cannot be ignored, so this wait is short; the leader must have exited for
            // its orphans to be this process's.
            if let Err(error) = unix::wait_exited(self.pid) {
                tracing::debug!(pid = self.pid, %error, "could not wait for the child");
            }
            reaper::end_run(self.leader, true);
            if let Err(error) = reaper::reap_leader(&mut self.child, self.leader) {
                tracing::debug!(pid = self.pid, %error, "could not reap child");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::process::is_alive;
    use crate::process::test_support::{
        HELPER_ENV, Helper, bounded, dies, group_dies, limits, sh, wait_dead,
    };

    const SIGTERM: i32 = Signal::SIGTERM as i32;
    const SIGKILL: i32 = Signal::SIGKILL as i32;

    /// Runs `spec` and collects every line.
    async fn collect(
        spec: &ProcessSpec,
        limits: &Limits,
        cancel: &Cancel,
    ) -> (Outcome, Vec<(Stream, String)>) {
        let mut lines = Vec::new();
        let outcome = bounded(run(spec, limits, cancel, &mut |stream, line| {
            lines.push((stream, line.to_owned()));
            LineVerdict::Continue
        }))
        .await
        .expect("spawn");
        (outcome, lines)
    }

    fn first_pid(lines: &[(Stream, String)]) -> i32 {
        lines[0].1.parse().expect("a pid on the first line")
    }

    #[tokio::test]
    async fn exit_code_lines_and_tails() {
        let spec = sh("printf 'a\\nb\\n'; printf 'e\\n' >&2; printf 'no newline'; exit 3");
        let (outcome, lines) = collect(&spec, &limits(), &Cancel::new()).await;
        assert_eq!(outcome.exit, ExitKind::Code(3));
        assert_eq!(outcome.ended_by, EndedBy::Exited);
        let stdout: Vec<&str> = lines
            .iter()
            .filter(|(stream, _)| *stream == Stream::Stdout)
            .map(|(_, line)| line.as_str())
            .collect();
        assert_eq!(stdout, ["a", "b", "no newline"]);
        assert!(lines.contains(&(Stream::Stderr, "e".to_owned())));
        assert_eq!(outcome.stdout_tail, "a\nb\nno newline");
        assert_eq!(outcome.stderr_tail, "e\n");
    }

    #[tokio::test]
    async fn stdin_bytes_are_delivered_then_closed() {
        let mut spec = sh("cat");
        spec.stdin = StdinSource::Bytes(b"hello\nworld".to_vec());
        let (outcome, lines) = collect(&spec, &limits(), &Cancel::new()).await;
        // cat exits only when it reads end of file.
        assert_eq!(outcome.exit, ExitKind::Code(0));
        let got: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
        assert_eq!(got, ["hello", "world"]);
    }

    #[tokio::test]
    async fn null_stdin_reads_end_of_file() {
        let (outcome, lines) = collect(&sh("cat; echo done"), &limits(), &Cancel::new()).await;
        assert_eq!(outcome.exit, ExitKind::Code(0));
        assert_eq!(lines, [(Stream::Stdout, "done".to_owned())]);
    }

    #[tokio::test]
    async fn large_stdin_while_output_flows() {
        // The child echoes its input as it reads it, so writing stdin and draining stdout must
        // happen together.
        let mut spec = sh("cat");
        let input = "0123456789abcdef\n".repeat(256 * 1024);
        spec.stdin = StdinSource::Bytes(input.clone().into_bytes());
        let mut bytes = 0;
        let outcome = bounded(run(&spec, &limits(), &Cancel::new(), &mut |_, line| {
            bytes += line.len() + 1;
            LineVerdict::Continue
        }))
        .await
        .expect("spawn");
        assert_eq!(outcome.exit, ExitKind::Code(0));
        assert_eq!(bytes, input.len());
    }

    #[tokio::test]
    async fn ten_megabytes_on_each_pipe_without_deadlock() {
        // All of stderr first: a reader that waited for stdout's end before reading stderr
        // would block forever once the stderr pipe filled.
        let spec = sh(
            "head -c 10000000 /dev/zero | tr '\\0' e | fold -w 100 >&2; \
             head -c 10000000 /dev/zero | tr '\\0' o | fold -w 100",
        );
        let mut counts = [(0usize, 0usize); 2];
        let outcome = bounded(run(
            &spec,
            &limits(),
            &Cancel::new(),
            &mut |stream, line| {
                let count = &mut counts[stream as usize];
                count.0 += 1;
                count.1 += line.len();
                LineVerdict::Continue
            },
        ))
        .await
        .expect("spawn");
        assert_eq!(outcome.exit, ExitKind::Code(0));
        assert_eq!(counts, [(100_000, 10_000_000); 2]);
        // fold keeps the missing newline at the very end.
        let last_line = format!("\n{}", "o".repeat(100));
        assert!(outcome.stdout_tail.ends_with(&last_line));
        assert!(outcome.stdout_tail.len() <= 8 * 1024);
    }

    #[tokio::test]
    async fn five_megabyte_line() {
        let spec = sh("head -c 5000000 /dev/zero | tr '\\0' x; echo; printf tail");
        let (outcome, lines) = collect(&spec, &limits(), &Cancel::new()).await;
        assert_eq!(outcome.exit, ExitKind::Code(0));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].1.len(), 5_000_000);
        assert!(lines[0].1.bytes().all(|b| b == b'x'));
        assert_eq!(lines[1].1, "tail");
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced() {
        let (_, lines) = collect(&sh("printf '\\377ok\\n'"), &limits(), &Cancel::new()).await;
        assert_eq!(lines[0].1, "\u{FFFD}ok");
    }

    #[tokio::test]
    async fn environment_and_working_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        // HOME is inherited from this process (where it is set), so removing it shows that
        // removal applies to the inherited environment; a variable both removed and set ends up
        // set.
        let mut spec = sh("echo \"$KM_SET-${HOME:-unset}-$KM_BOTH\"; pwd -P");
        spec.cwd = dir.path().to_owned();
        spec.env_set = vec![
            ("KM_SET".into(), "yes".into()),
            ("KM_BOTH".into(), "set".into()),
        ];
        spec.env_remove = vec!["HOME".into(), "KM_BOTH".into()];
        let (_, lines) = collect(&spec, &limits(), &Cancel::new()).await;
        assert_eq!(lines[0].1, "yes-unset-set");
        let cwd = dir.path().canonicalize().expect("canonical temp dir");
        assert_eq!(lines[1].1, cwd.to_string_lossy());
    }

    #[tokio::test]
    async fn spawn_errors_are_typed() {
        let cancel = Cancel::new();
        let mut spec = sh("");
        spec.program = "kmilestone-test-no-such-program".into();
        let error = run(&spec, &limits(), &cancel, &mut |_, _| LineVerdict::Continue)
            .await
            .expect_err("must not spawn");
        assert!(matches!(error, SpawnError::NotFound { .. }), "{error:?}");

        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("not-executable");
        std::fs::write(&script, "#!/bin/sh\n").expect("write script");
        spec.program = script.into();
        let error = run(&spec, &limits(), &cancel, &mut |_, _| LineVerdict::Continue)
            .await
            .expect_err("must not spawn");
        assert!(
            matches!(error, SpawnError::PermissionDenied { .. }),
            "{error:?}"
        );

        let mut spec = sh("true");
        spec.cwd = dir.path().join("missing");
        let error = run(&spec, &limits(), &cancel, &mut |_, _| LineVerdict::Continue)
            .await
            .expect_err("must not spawn");
        assert!(matches!(error, SpawnError::Io { .. }), "{error:?}");
        assert!(cancel.live_groups().is_empty());
    }

    #[tokio::test]
    async fn idle_child_is_terminated() {
        let limits = Limits {
            idle_timeout: Some(Duration::from_millis(300)),
            kill_grace: Duration::from_millis(500),
            ..limits()
        };
        let (outcome, lines) =
            collect(&sh("sleep 1000 & echo $!; wait"), &limits, &Cancel::new()).await;
        assert_eq!(outcome.ended_by, EndedBy::IdleTimeout);
        assert_eq!(outcome.exit, ExitKind::Signal(SIGTERM));
        assert!(outcome.duration >= Duration::from_millis(300));
        assert!(
            outcome.duration < Duration::from_millis(300 + 500 + 700),
            "{outcome:?}"
        );
        assert!(dies(first_pid(&lines)));
        assert!(group_dies(outcome.pid));
    }

    #[tokio::test]
    async fn steady_output_is_not_idle() {
        let limits = Limits {
            idle_timeout: Some(Duration::from_millis(400)),
            ..limits()
        };
        let spec = sh("for i in 1 2 3 4 5 6; do echo $i; sleep 0.1; done");
        let (outcome, lines) = collect(&spec, &limits, &Cancel::new()).await;
        assert_eq!(outcome.ended_by, EndedBy::Exited);
        assert_eq!(lines.len(), 6);
    }

    #[tokio::test]
    async fn child_that_never_exits_after_its_final_line() {
        let limits = Limits {
            after_final_grace: Duration::from_millis(300),
            kill_grace: Duration::from_millis(500),
            ..limits()
        };
        let spec = sh("echo '{\"type\":\"result\"}'; exec sleep 1000");
        let mut finals = 0;
        let outcome = bounded(run(&spec, &limits, &Cancel::new(), &mut |_, line| {
            if line.contains("result") {
                finals += 1;
                LineVerdict::Final
            } else {
                LineVerdict::Continue
            }
        }))
        .await
        .expect("spawn");
        assert_eq!(finals, 1);
        assert_eq!(outcome.ended_by, EndedBy::AfterFinal);
        assert_eq!(outcome.exit, ExitKind::Signal(SIGTERM));
        assert!(outcome.duration >= Duration::from_millis(300));
        assert!(
            outcome.duration < Duration::from_millis(1500),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn child_exiting_within_the_final_grace_just_exits() {
        let limits = Limits {
            after_final_grace: Duration::from_secs(5),
            ..limits()
        };
        let spec = sh("echo result; sleep 0.1; echo bye");
        let outcome = bounded(run(&spec, &limits, &Cancel::new(), &mut |_, line| {
            if line == "result" {
                LineVerdict::Final
            } else {
                LineVerdict::Continue
            }
        }))
        .await
        .expect("spawn");
        assert_eq!(outcome.ended_by, EndedBy::Exited);
        assert_eq!(outcome.exit, ExitKind::Code(0));
    }

    #[tokio::test]
    async fn wall_timeout_despite_steady_output() {
        let limits = Limits {
            idle_timeout: Some(Duration::from_secs(10)),
            wall_timeout: Some(Duration::from_millis(500)),
            ..limits()
        };
        let spec = sh("while :; do echo tick; sleep 0.05; done");
        let (outcome, _) = collect(&spec, &limits, &Cancel::new()).await;
        assert_eq!(outcome.ended_by, EndedBy::WallTimeout);
        assert_eq!(outcome.exit, ExitKind::Signal(SIGTERM));
        assert!(outcome.duration >= Duration::from_millis(500));
        assert!(
            outcome.duration < Duration::from_millis(1500),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn sigterm_ignored_means_sigkill_after_the_grace() {
        let limits = Limits {
            wall_timeout: Some(Duration::from_millis(300)),
            kill_grace: Duration::from_millis(400),
            ..limits()
        };
        // The ignored disposition is inherited by sleep, so the whole group ignores SIGTERM.
        let spec = sh("trap '' TERM; sleep 1000 & echo $!; while :; do sleep 0.05; done");
        let (outcome, lines) = collect(&spec, &limits, &Cancel::new()).await;
        assert_eq!(outcome.ended_by, EndedBy::WallTimeout);
        assert_eq!(outcome.exit, ExitKind::Signal(SIGKILL));
        assert!(
            outcome.duration >= Duration::from_millis(700),
            "{outcome:?}"
        );
        assert!(
            outcome.duration < Duration::from_millis(2000),
            "{outcome:?}"
        );
        assert!(dies(first_pid(&lines)));
        // Killed with the group, not left behind.
        assert_eq!(outcome.survivors_killed, []);
    }

    #[tokio::test]
    async fn stopped_child_is_continued_so_it_can_act_on_sigterm() {
        let limits = Limits {
            idle_timeout: Some(Duration::from_millis(200)),
            kill_grace: Duration::from_secs(10),
            ..limits()
        };
        let (outcome, _) = collect(&sh("echo $$; kill -STOP $$"), &limits, &Cancel::new()).await;
        assert_eq!(outcome.ended_by, EndedBy::IdleTimeout);
        // SIGTERM, not the SIGKILL that would follow the ten-second grace.
        assert_eq!(outcome.exit, ExitKind::Signal(SIGTERM));
        assert!(outcome.duration < Duration::from_secs(2), "{outcome:?}");
    }

    #[tokio::test]
    async fn grandchild_holding_the_pipes_is_killed_when_the_leader_exits() {
        // The leader exits once the grandchild runs `sleep`, so that is the command it leaves.
        let spec = sh("sleep 1000 & p=$!; echo $p; \
             while read -r c < /proc/$p/comm && [ \"$c\" != sleep ]; do :; done; exit 0");
        let (outcome, lines) = collect(&spec, &limits(), &Cancel::new()).await;
        assert_eq!(outcome.ended_by, EndedBy::Exited);
        assert_eq!(outcome.exit, ExitKind::Code(0));
        // Well under the pipe drain bound: the group kill closes the pipes at once.
        assert!(
            outcome.duration < Duration::from_millis(1500),
            "{outcome:?}"
        );
        let grandchild = first_pid(&lines);
        assert!(dies(grandchild), "grandchild {grandchild} survived");
        assert!(group_dies(outcome.pid));
        // Without the subreaper, what is left of the group is what can be seen and said.
        assert_eq!(
            outcome.survivors_killed,
            [Survivor {
                pid: grandchild as u32,
                command: "sleep 1000".to_owned()
            }]
        );
    }

    #[tokio::test]
    async fn cancel_terminates_the_whole_group() {
        let cancel = Cancel::new();
        let spec = sh("sleep 1000 & echo $!; wait");
        let limits = limits();
        let mut lines = Vec::new();
        let mut on_line = |_: Stream, line: &str| {
            lines.push(line.to_owned());
            LineVerdict::Continue
        };
        let supervised = run(&spec, &limits, &cancel, &mut on_line);
        let canceller = async {
            // No output follows the first line, so only the token can wake the supervisor.
            tokio::time::sleep(Duration::from_millis(200)).await;
            cancel.cancel();
        };
        let (outcome, ()) = bounded(async { tokio::join!(supervised, canceller) }).await;
        let outcome = outcome.expect("spawn");
        assert_eq!(outcome.ended_by, EndedBy::Cancelled);
        assert_eq!(outcome.exit, ExitKind::Signal(SIGTERM));
        assert!(outcome.duration < Duration::from_millis(900), "{outcome:?}");
        let grandchild: i32 = lines[0].parse().expect("pid");
        assert!(dies(grandchild));
        assert!(group_dies(outcome.pid));
        assert!(cancel.live_groups().is_empty());
    }

    #[tokio::test]
    async fn kill_now_skips_the_grace() {
        let cancel = Cancel::new();
        let limits = Limits {
            kill_grace: Duration::from_secs(60),
            ..limits()
        };
        let spec = sh("trap '' TERM; echo $$; while :; do sleep 0.05; done");
        // The second Ctrl-C comes from another thread (the signal listener), while the graceful
        // stop is stuck on a child that ignores SIGTERM.
        let escalate = cancel.clone();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            escalate.kill_now();
        });
        let mut registered = false;
        let outcome = bounded(run(&spec, &limits, &cancel, &mut |_, line| {
            registered = cancel.live_groups() == [line.parse::<i32>().expect("pid")];
            cancel.cancel();
            LineVerdict::Continue
        }))
        .await
        .expect("spawn");
        killer.join().expect("killer thread");
        assert!(
            registered,
            "the running group was not registered under its pid"
        );
        assert_eq!(outcome.ended_by, EndedBy::Cancelled);
        assert_eq!(outcome.exit, ExitKind::Signal(SIGKILL));
        assert!(outcome.duration < Duration::from_secs(2), "{outcome:?}");
        assert!(group_dies(outcome.pid));
    }

    #[tokio::test]
    async fn dropping_the_run_kills_the_group() {
        let cancel = Cancel::new();
        let spec = sh("sleep 1000 & echo $!; wait");
        let limits = limits();
        let mut grandchild = None;
        let mut on_line = |_: Stream, line: &str| {
            grandchild = line.parse::<i32>().ok();
            LineVerdict::Continue
        };
        let supervised = run(&spec, &limits, &cancel, &mut on_line);
        let result = tokio::time::timeout(Duration::from_millis(300), supervised).await;
        assert!(result.is_err(), "the child should still have been running");
        let grandchild = grandchild.expect("pid line");
        assert!(wait_dead(grandchild, Duration::from_secs(5)));
        assert!(cancel.live_groups().is_empty());
    }

    #[test]
    #[ignore = "helper process for child_dies_with_its_parent"]
    fn pdeathsig_helper() {
        if std::env::var_os(HELPER_ENV).is_none_or(|mode| mode != "pdeathsig") {
            return;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let spec = sh("sleep 1000 & echo member $!; echo leader $$; exec sleep 1000");
            // Runs until the parent test kills this process.
            let _ = run(&spec, &limits(), &Cancel::new(), &mut |_, line| {
                println!("child {line}");
                LineVerdict::Continue
            })
            .await;
        });
    }

    #[test]
    fn child_dies_with_its_parent() {
        let mut helper = Helper::spawn("process::imp::tests::pdeathsig_helper", "pdeathsig");
        let member: i32 = helper.expect_line("child member ").parse().expect("pid");
        let child: i32 = helper.expect_line("child leader ").parse().expect("pid");
        helper.also_kill(member);
        helper.also_kill(child);
        assert!(is_alive(child) && is_alive(member));
        helper.signal(Signal::SIGKILL);
        helper.wait();
        assert!(
            wait_dead(child, Duration::from_secs(5)),
            "child {child} outlived its SIGKILLed parent"
        );
        // The parent-death signal reaches the leader only; the watchdog kills the group.
        assert!(
            wait_dead(member, Duration::from_secs(5)),
            "group member {member} outlived the SIGKILLed parent"
        );
    }
}
