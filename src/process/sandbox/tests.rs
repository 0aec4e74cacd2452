//! The sandbox on this machine's kernel, with real processes: each test checks what a sandboxed
//! child can and cannot do, and where it matters that an unsandboxed one can, so a sandbox that
//! does nothing fails.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use super::*;
use crate::process::test_support::{HELPER_ENV, bounded, dies, limits, sh};
use crate::process::{Cancel, LineVerdict, Outcome, ProcessSpec, run, run_sandboxed};

fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(probe)
}

/// A scratch world: a repository, a fake home with secrets, a folder outside both.
struct World {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    home: PathBuf,
    outside: PathBuf,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("scratch dir");
        let root = dir.path().canonicalize().expect("canonical scratch dir");
        let repo = root.join("repo");
        let home = root.join("home");
        let outside = root.join("outside");
        for path in [
            &repo,
            &outside,
            &home.join(".ssh"),
            &home.join(".config/gh"),
            &home.join(".config/git"),
            &root.join("tmp"),
        ] {
            std::fs::create_dir_all(path).expect("mkdir");
        }
        let files = [
            (home.join(".ssh/id_ed25519"), "PRIVATE KEY"),
            (home.join(".config/gh/hosts.yml"), "oauth_token: gho_x"),
            (home.join(".config/git/config"), "[user]"),
            (home.join(".claude.json"), "{\"key\": 1}"),
            (home.join("notes.txt"), "just notes"),
            (outside.join("existing"), "keep me"),
        ];
        for (path, text) in files {
            std::fs::write(path, text).expect("write");
        }
        std::os::unix::fs::symlink(home.join(".ssh/id_ed25519"), home.join("key-link"))
            .expect("symlink");
        Self {
            _dir: dir,
            root,
            repo,
            home,
            outside,
        }
    }

    /// The gates' policy with this world's repository and home, no tool caches.
    fn policy(&self) -> SandboxPolicy {
        let mut policy = SandboxPolicy::for_gates(&self.repo, Some(&self.home), &|_| None);
        policy.temp_parent = self.root.join("tmp");
        policy
    }

    fn sh(&self, script: &str) -> ProcessSpec {
        let mut spec = sh(script);
        spec.cwd = self.repo.clone();
        spec.env_set = vec![
            ("HOME".into(), self.home.clone().into()),
            ("OUT".into(), self.outside.clone().into()),
        ];
        spec
    }
}

/// Runs `spec` (sandboxed when `sandbox` is given) and returns its outcome and every line of
/// stdout and stderr, in order of arrival.
async fn run_lines(spec: &ProcessSpec, sandbox: Option<&Sandbox>) -> (Outcome, Vec<String>) {
    let mut lines = Vec::new();
    let mut on_line = |_, line: &str| {
        lines.push(line.to_string());
        LineVerdict::Continue
    };
    let cancel = Cancel::new();
    let outcome = bounded(async {
        match sandbox {
            Some(sandbox) => run_sandboxed(spec, sandbox, &limits(), &cancel, &mut on_line).await,
            None => run(spec, &limits(), &cancel, &mut on_line).await,
        }
    })
    .await
    .expect("spawn");
    (outcome, lines)
}

fn prepare(policy: &SandboxPolicy) -> Sandbox {
    Sandbox::prepare(policy, support()).expect("prepare the sandbox")
}

#[test]
fn probe_reports_landlock_and_a_network_namespace() {
    let support = support();
    println!("probe: {support:?}");
    let abi = *support.landlock.as_ref().expect("Landlock on this kernel");
    assert!(abi >= LANDLOCK_TCP_ABI, "ABI {abi}");
    let expected = if nix::unistd::geteuid().is_root() {
        NetnsMode::Plain
    } else {
        NetnsMode::WithUserNamespace
    };
    assert_eq!(support.netns, Ok(expected));
    let report = support.report(false);
    assert_eq!(
        report.kind,
        SandboxKind::Landlock {
            abi,
            network: NetworkCut::Namespace(expected)
        }
    );
    println!("{report}");
}

#[tokio::test]
async fn writes_land_only_in_the_repository_and_the_private_temp_dir() {
    let world = World::new();
    let sandbox = prepare(&world.policy());
    let script = r#"
        echo inside > in.txt && echo wrote-inside
        mkdir -p target/debug && echo made-dirs
        { echo x > "$OUT/new"; } 2>/dev/null && echo wrote-outside || echo outside-refused
        rm -f "$OUT/existing" 2>/dev/null && echo removed-outside || echo remove-refused
        mv in.txt "$OUT/moved" 2>/dev/null && echo moved-out || echo move-refused
        touch "$HOME/new" 2>/dev/null && echo wrote-home || echo home-refused
        echo x > "$TMPDIR/t" && echo wrote-temp
        echo x > /dev/null && (echo x > /dev/stderr) 2>&1 && echo devices-ok
    "#;
    let (outcome, lines) = run_lines(&world.sh(script), Some(&sandbox)).await;
    assert!(outcome.exit.success(), "{lines:?}");
    assert_eq!(
        lines,
        [
            "wrote-inside",
            "made-dirs",
            "outside-refused",
            "remove-refused",
            "move-refused",
            "home-refused",
            "wrote-temp",
            "x",
            "devices-ok",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(world.repo.join("in.txt")).unwrap(),
        "inside\n"
    );
    assert!(!world.outside.join("new").exists());
    assert!(world.outside.join("existing").exists());
    assert!(!world.home.join("new").exists());

    // The same sandbox serves a second child, and the script is honest: unsandboxed, it
    // writes outside.
    let again = world.sh("{ echo x > \"$OUT/new\"; } 2>/dev/null || echo refused");
    assert_eq!(run_lines(&again, Some(&sandbox)).await.1, ["refused"]);
    let (_, lines) = run_lines(&world.sh(script), None).await;
    assert!(lines.contains(&"wrote-outside".to_string()), "{lines:?}");
    assert!(world.outside.join("new").exists());
}

#[tokio::test]
async fn secret_paths_are_unreadable_and_other_home_files_readable() {
    let world = World::new();
    let sandbox = prepare(&world.policy());
    let script = r#"
        for f in .ssh/id_ed25519 key-link .config/gh/hosts.yml .claude.json notes.txt .config/git/config; do
            if content=$(cat "$HOME/$f" 2>/dev/null); then echo "$f: $content"; else echo "$f: refused"; fi
        done
        ls "$HOME" >/dev/null && echo listed-home
        cat /etc/passwd >/dev/null && echo read-etc
    "#;
    let (_, lines) = run_lines(&world.sh(script), Some(&sandbox)).await;
    assert_eq!(
        lines,
        [
            ".ssh/id_ed25519: refused",
            "key-link: refused",
            ".config/gh/hosts.yml: refused",
            ".claude.json: refused",
            "notes.txt: just notes",
            ".config/git/config: [user]",
            "listed-home",
            "read-etc",
        ]
    );
    let (_, lines) = run_lines(&world.sh(script), None).await;
    assert_eq!(
        lines[0], ".ssh/id_ed25519: PRIVATE KEY",
        "the control reads it"
    );
}

/// Helper for the network tests: `connect ADDR` connects to a server, `own-loopback` serves on
/// 127.0.0.1 and connects to itself. Prints `net: connected` or `net: failed: …`.
#[test]
#[ignore = "helper process for the network tests"]
fn net_helper() {
    let Some(mode) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let mode = mode.to_string_lossy().into_owned();
    let result = if let Some(addr) = mode.strip_prefix("connect ") {
        let addr = addr.parse().expect("address");
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map(drop)
    } else if mode == "own-loopback" {
        TcpListener::bind("127.0.0.1:0").and_then(|listener| {
            let addr = listener.local_addr()?;
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map(drop)
        })
    } else {
        return;
    };
    match result {
        Ok(()) => println!("net: connected"),
        Err(error) => println!("net: failed: {}", error.kind()),
    }
}

fn net_helper_spec(world: &World, mode: &str) -> ProcessSpec {
    let mut spec = world.sh("");
    spec.program = std::env::current_exe().expect("test binary").into();
    spec.args = [
        "process::sandbox::tests::net_helper",
        "--exact",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ]
    .map(OsString::from)
    .to_vec();
    spec.env_set.push((HELPER_ENV.into(), mode.into()));
    spec
}

fn net_result(lines: &[String]) -> String {
    lines
        .iter()
        // libtest prints the test's name on the same line, before the helper's output.
        .find_map(|line| line.split_once("net: ").map(|(_, result)| result))
        .unwrap_or_else(|| panic!("no result from the helper: {lines:?}"))
        .to_string()
}

/// A server on the machine's 127.0.0.1 that accepts in the background for as long as the test.
fn local_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || for _ in listener.incoming() {});
    addr
}

#[tokio::test]
async fn tcp_to_the_machine_loopback_fails_inside_and_works_outside() {
    let world = World::new();
    let addr = local_server();
    let sandbox = prepare(&world.policy());
    let spec = net_helper_spec(&world, &format!("connect {addr}"));
    assert_eq!(net_result(&run_lines(&spec, None).await.1), "connected");
    // Refused by the namespace's own loopback, where nothing listens.
    assert_eq!(
        net_result(&run_lines(&spec, Some(&sandbox)).await.1),
        "failed: connection refused"
    );
    // The namespace has a loopback of its own: a test may still talk to itself.
    let own = net_helper_spec(&world, "own-loopback");
    assert_eq!(
        net_result(&run_lines(&own, Some(&sandbox)).await.1),
        "connected"
    );
}

#[tokio::test]
async fn without_a_namespace_landlock_refuses_tcp() {
    let world = World::new();
    let addr = local_server();
    let no_namespace = Support {
        netns: Err("pretend there is none".to_string()),
        ..support().clone()
    };
    let sandbox = Sandbox::prepare(&world.policy(), &no_namespace).expect("prepare");
    assert!(matches!(
        sandbox.report().kind,
        SandboxKind::Landlock {
            network: NetworkCut::LandlockTcp { .. },
            ..
        }
    ));
    let spec = net_helper_spec(&world, &format!("connect {addr}"));
    assert_eq!(
        net_result(&run_lines(&spec, Some(&sandbox)).await.1),
        "failed: permission denied"
    );
    let own = net_helper_spec(&world, "own-loopback");
    assert_eq!(
        net_result(&run_lines(&own, Some(&sandbox)).await.1),
        "failed: permission denied",
        "without a namespace even the child's own loopback is refused"
    );
}

#[tokio::test]
async fn the_temporary_directory_is_private_and_removed() {
    let world = World::new();
    let first = prepare(&world.policy());
    let second = prepare(&world.policy());
    assert_ne!(first.temp_dir(), second.temp_dir());
    let script = format!(
        r#"echo "$TMPDIR $TMP $TEMP"; echo x > "$TMPDIR/f" && echo wrote
        {{ echo x > {other}/g; }} 2>/dev/null && echo wrote-other || echo other-refused
        {{ echo x > {parent}/h; }} 2>/dev/null && echo wrote-parent || echo parent-refused"#,
        other = second.temp_dir().display(),
        parent = world.root.join("tmp").display(),
    );
    let (_, lines) = run_lines(&world.sh(&script), Some(&first)).await;
    let dir = first.temp_dir().display().to_string();
    assert_eq!(
        lines,
        [
            format!("{dir} {dir} {dir}"),
            "wrote".to_string(),
            "other-refused".to_string(),
            "parent-refused".to_string(),
        ]
    );
    let temp = first.temp_dir().to_path_buf();
    assert!(temp.join("f").exists());
    drop(first);
    assert!(
        !temp.exists(),
        "the private temp dir is removed with its sandbox"
    );
}

#[tokio::test]
async fn secret_variables_set_by_the_caller_are_absent_inside() {
    let world = World::new();
    let sandbox = prepare(&world.policy());
    let mut spec =
        world.sh(r#"echo "token=${FAKE_SERVICE_TOKEN-unset} key=${MY_API_KEY-unset} lang=$LANG""#);
    spec.env_set.extend([
        ("FAKE_SERVICE_TOKEN".into(), "s3cret".into()),
        ("MY_API_KEY".into(), "k3y".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ]);
    assert_eq!(
        run_lines(&spec, Some(&sandbox)).await.1,
        ["token=unset key=unset lang=C.UTF-8"]
    );
    assert_eq!(
        run_lines(&spec, None).await.1,
        ["token=s3cret key=k3y lang=C.UTF-8"]
    );
}

/// Helper: runs with a secret in its own environment and reports whether a sandboxed child sees
/// it.
#[test]
#[ignore = "helper process for inherited_secret_variables_are_absent_inside"]
fn inherited_secret_helper() {
    if std::env::var_os(HELPER_ENV).is_none_or(|mode| mode != "inherited-secret") {
        return;
    }
    let world = World::new();
    let sandbox = prepare(&world.policy());
    let spec = world.sh(r#"echo "var=${FAKE_SERVICE_TOKEN-unset} lang=${LANG-unset}""#);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (label, sandbox) in [("inside", Some(&sandbox)), ("outside", None)] {
        let (_, lines) = runtime.block_on(run_lines(&spec, sandbox));
        println!("secret {label}: {}", lines.join(" "));
    }
}

#[test]
fn inherited_secret_variables_are_absent_inside() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "process::sandbox::tests::inherited_secret_helper",
            "--exact",
            "--include-ignored",
            "--nocapture",
        ])
        .env(HELPER_ENV, "inherited-secret")
        .env("FAKE_SERVICE_TOKEN", "s3cret")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("run the helper");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let results: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("secret "))
        .collect();
    assert_eq!(
        results,
        [
            "secret inside: var=unset lang=C.UTF-8",
            "secret outside: var=s3cret lang=C.UTF-8",
        ],
        "{stdout}"
    );
}

#[tokio::test]
async fn a_sandboxed_child_cannot_signal_the_runner() {
    let world = World::new();
    let sandbox = prepare(&world.policy());
    let spec = world.sh("kill -0 $PPID 2>/dev/null && echo may-signal || echo refused");
    assert_eq!(run_lines(&spec, Some(&sandbox)).await.1, ["refused"]);
    assert_eq!(run_lines(&spec, None).await.1, ["may-signal"]);
}

#[tokio::test]
async fn descendants_of_a_sandboxed_child_do_not_survive() {
    let world = World::new();
    let sandbox = prepare(&world.policy());
    let spec = world.sh("sleep 1000 & echo $!");
    let (outcome, lines) = run_lines(&spec, Some(&sandbox)).await;
    assert!(outcome.exit.success());
    let pid: i32 = lines[0].parse().expect("pid");
    assert!(
        dies(pid),
        "background process {pid} outlived its sandboxed leader"
    );
}

/// Helper: as an unprivileged user, probes and runs the file and network checks, printing one
/// `unprivileged …` line per result.
#[test]
#[ignore = "helper process for an_unprivileged_user_gets_the_same_sandbox"]
fn unprivileged_helper() {
    if std::env::var_os(HELPER_ENV).is_none_or(|mode| mode != "unprivileged") {
        return;
    }
    let support = probe();
    println!(
        "unprivileged probe: root={} netns={:?}",
        nix::unistd::geteuid().is_root(),
        support.netns
    );
    let world = World::new();
    let sandbox = Sandbox::prepare(&world.policy(), &support).expect("prepare");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let script = r#"echo x > in.txt && echo wrote-inside
        { echo x > "$OUT/new"; } 2>/dev/null && echo wrote-outside || echo outside-refused
        cat "$HOME/.ssh/id_ed25519" 2>/dev/null || echo secret-refused
        cat "$HOME/notes.txt""#;
    let (_, lines) = runtime.block_on(run_lines(&world.sh(script), Some(&sandbox)));
    println!("unprivileged files: {}", lines.join(" "));
    let addr = local_server();
    let spec = net_helper_spec(&world, &format!("connect {addr}"));
    let (_, lines) = runtime.block_on(run_lines(&spec, Some(&sandbox)));
    println!("unprivileged machine loopback: {}", net_result(&lines));
    let (_, lines) = runtime.block_on(run_lines(&spec, None));
    println!("unprivileged unsandboxed: {}", net_result(&lines));
}

/// The non-root path: a user namespace holds the network namespace. As root, the helper drops to
/// `nobody`; as anyone else it already is unprivileged.
#[test]
fn an_unprivileged_user_gets_the_same_sandbox() {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "process::sandbox::tests::unprivileged_helper",
        "--exact",
        "--include-ignored",
        "--nocapture",
    ])
    .env(HELPER_ENV, "unprivileged")
    .current_dir("/");
    if nix::unistd::geteuid().is_root() {
        // nobody:nogroup; std also clears the supplementary groups.
        cmd.uid(65534).gid(65534);
    }
    let output = cmd.output().expect("run the helper");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let results: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.find("unprivileged ").map(|at| &line[at..]))
        .collect();
    assert_eq!(
        results,
        [
            "unprivileged probe: root=false netns=Ok(WithUserNamespace)",
            "unprivileged files: wrote-inside outside-refused secret-refused just notes",
            "unprivileged machine loopback: failed: connection refused",
            "unprivileged unsandboxed: connected",
        ],
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn without_landlock_the_child_runs_unconfined_but_without_secrets() {
    let world = World::new();
    let none = Support {
        landlock: Err("this kernel has no Landlock".to_string()),
        ..support().clone()
    };
    let sandbox = Sandbox::prepare(&world.policy(), &none).expect("prepare");
    assert_eq!(
        sandbox.report().to_string(),
        "sandbox: none (this kernel has no Landlock): gates run unconfined, secret variables removed"
    );
    let mut spec = world.sh(
        r#"{ echo x > "$OUT/new"; } 2>/dev/null && echo wrote-outside
        echo "token=${FAKE_SERVICE_TOKEN-unset}"; test "$TMPDIR" != "${TMPDIR#*kmilestone-gate-}" && echo private-temp"#,
    );
    spec.env_set
        .push(("FAKE_SERVICE_TOKEN".into(), "s3cret".into()));
    assert_eq!(
        run_lines(&spec, Some(&sandbox)).await.1,
        ["wrote-outside", "token=unset", "private-temp"]
    );
}
