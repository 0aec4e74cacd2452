//! What this machine can confine ([`Support`], found by [`probe`](super::probe)) and what is in
//! force for a run ([`SandboxReport`]), in a form the run header can print in one line.

use std::fmt;

/// How a network namespace can be made on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetnsMode {
    /// `unshare(CLONE_NEWNET)` directly: the process has `CAP_SYS_ADMIN` (root).
    Plain,
    /// Inside a new user namespace that maps the user to itself: unprivileged user namespaces
    /// are allowed here.
    WithUserNamespace,
}

/// The lowest Landlock ABI worth using: ABI 1 forbids moving a file to another directory
/// (`rename`, `link`) even inside writable folders, which breaks build tools.
pub const MIN_LANDLOCK_ABI: u32 = 2;

/// The lowest Landlock ABI that can refuse TCP `connect` and `bind`.
pub const LANDLOCK_TCP_ABI: u32 = 4;

/// What this machine offers, found once per run by [`probe`](super::probe).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Support {
    /// The Landlock ABI of the running kernel, or why there is none (not Linux, not built in,
    /// not enabled at boot).
    pub landlock: Result<u32, String>,
    /// How a network namespace can be made, or why it cannot (the error of the attempt).
    pub netns: Result<NetnsMode, String>,
    /// macOS: `/usr/bin/sandbox-exec`, or why it cannot be used.
    pub sandbox_exec: Result<(), String>,
}

/// How the network is cut off for a sandboxed child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkCut {
    /// A network namespace of its own: a private loopback and nothing else. Servers on the
    /// machine's 127.0.0.1 are out of reach; a test may still serve and connect on its own
    /// loopback.
    Namespace(NetnsMode),
    /// No namespace could be made (the reason); Landlock refuses every TCP connect and bind,
    /// loopback included. UDP (DNS included) and unix sockets stay open.
    LandlockTcp { no_namespace: String },
    /// sandbox-exec's profile denies network access except unix sockets.
    Profile,
    /// The policy allows the network.
    Allowed,
    /// Nothing here can cut it (the reason).
    NotCut { why: String },
}

/// What confines a sandboxed child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SandboxKind {
    /// Linux Landlock with this ABI: writes only where the policy allows, secret paths
    /// unreadable, no signals or ptrace to processes outside the sandbox.
    Landlock { abi: u32, network: NetworkCut },
    /// macOS `sandbox-exec` with a profile generated from the policy.
    SandboxExec { network: NetworkCut },
    /// Nothing confines the child (the reason); only secret environment variables are removed
    /// and the temporary directory is private.
    Unavailable { why: String },
    /// The user turned the sandbox off; the child runs as any unsandboxed one.
    Disabled,
}

/// What is in force, for the run header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxReport {
    pub kind: SandboxKind,
}

impl SandboxReport {
    /// The report for a gate the user runs unsandboxed.
    pub fn disabled() -> Self {
        Self {
            kind: SandboxKind::Disabled,
        }
    }

    /// Whether anything confines the child beyond the environment.
    pub fn is_confined(&self) -> bool {
        matches!(
            self.kind,
            SandboxKind::Landlock { .. } | SandboxKind::SandboxExec { .. }
        )
    }
}

impl Support {
    /// What a sandbox built from a policy with `network_allowed` would put in force here.
    pub fn report(&self, network_allowed: bool) -> SandboxReport {
        let kind = if cfg!(target_os = "macos") {
            match &self.sandbox_exec {
                Ok(()) => SandboxKind::SandboxExec {
                    network: if network_allowed {
                        NetworkCut::Allowed
                    } else {
                        NetworkCut::Profile
                    },
                },
                Err(why) => SandboxKind::Unavailable { why: why.clone() },
            }
        } else {
            match &self.landlock {
                Ok(abi) if *abi >= MIN_LANDLOCK_ABI => SandboxKind::Landlock {
                    abi: *abi,
                    network: self.network_cut(*abi, network_allowed),
                },
                Ok(abi) => SandboxKind::Unavailable {
                    why: format!(
                        "Landlock ABI {abi} is too old (at least {MIN_LANDLOCK_ABI} is needed)"
                    ),
                },
                Err(why) => SandboxKind::Unavailable { why: why.clone() },
            }
        };
        SandboxReport { kind }
    }

    fn network_cut(&self, abi: u32, network_allowed: bool) -> NetworkCut {
        if network_allowed {
            return NetworkCut::Allowed;
        }
        match &self.netns {
            Ok(mode) => NetworkCut::Namespace(*mode),
            Err(why) if abi >= LANDLOCK_TCP_ABI => NetworkCut::LandlockTcp {
                no_namespace: why.clone(),
            },
            Err(why) => NetworkCut::NotCut {
                why: format!(
                    "no network namespace ({why}) and Landlock ABI {abi} has no TCP rules \
                     (ABI {LANDLOCK_TCP_ABI})"
                ),
            },
        }
    }
}

impl fmt::Display for NetworkCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkCut::Namespace(NetnsMode::Plain) => write!(f, "no network (own namespace)"),
            NetworkCut::Namespace(NetnsMode::WithUserNamespace) => {
                write!(f, "no network (own user and network namespace)")
            }
            NetworkCut::LandlockTcp { no_namespace } => write!(
                f,
                "no TCP (Landlock; UDP and unix sockets open; no network namespace: {no_namespace})"
            ),
            NetworkCut::Profile => write!(f, "no network"),
            NetworkCut::Allowed => write!(f, "network allowed"),
            NetworkCut::NotCut { why } => write!(f, "network NOT cut: {why}"),
        }
    }
}

/// One line: `sandbox: …`.
impl fmt::Display for SandboxReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CONFINED: &str = "writes in the repository, caches and a private temp dir only, \
                                secret paths and variables hidden";
        match &self.kind {
            SandboxKind::Landlock { abi, network } => {
                write!(f, "sandbox: Landlock ABI {abi}: {CONFINED}; {network}")
            }
            SandboxKind::SandboxExec { network } => {
                write!(f, "sandbox: sandbox-exec: {CONFINED}; {network}")
            }
            SandboxKind::Unavailable { why } => write!(
                f,
                "sandbox: none ({why}): gates run unconfined, secret variables removed"
            ),
            SandboxKind::Disabled => write!(f, "sandbox: off by configuration"),
        }
    }
}

#[cfg(all(test, not(target_os = "macos")))]
mod tests {
    use super::*;

    fn support(landlock: Result<u32, &str>, netns: Result<NetnsMode, &str>) -> Support {
        Support {
            landlock: landlock.map_err(str::to_string),
            netns: netns.map_err(str::to_string),
            sandbox_exec: Err("not macOS".to_string()),
        }
    }

    #[test]
    fn landlock_and_a_namespace() {
        let report = support(Ok(7), Ok(NetnsMode::Plain)).report(false);
        assert_eq!(
            report.kind,
            SandboxKind::Landlock {
                abi: 7,
                network: NetworkCut::Namespace(NetnsMode::Plain)
            }
        );
        assert!(report.is_confined());
        assert_eq!(
            report.to_string(),
            "sandbox: Landlock ABI 7: writes in the repository, caches and a private temp dir \
             only, secret paths and variables hidden; no network (own namespace)"
        );
    }

    #[test]
    fn without_a_namespace_tcp_rules_need_abi_4() {
        let no_ns = Err("unshare: EPERM");
        let with_tcp = support(Ok(4), no_ns).report(false);
        assert_eq!(
            with_tcp.kind,
            SandboxKind::Landlock {
                abi: 4,
                network: NetworkCut::LandlockTcp {
                    no_namespace: "unshare: EPERM".to_string()
                }
            }
        );
        let without = support(Ok(3), no_ns).report(false);
        let SandboxKind::Landlock {
            network: NetworkCut::NotCut { why },
            ..
        } = &without.kind
        else {
            panic!("ABI 3 cannot cut TCP: {without:?}");
        };
        assert_eq!(
            why,
            "no network namespace (unshare: EPERM) and Landlock ABI 3 has no TCP rules (ABI 4)"
        );
        assert!(
            without
                .to_string()
                .ends_with(&format!("network NOT cut: {why}"))
        );
    }

    #[test]
    fn network_allowed_by_policy() {
        let report = support(Ok(7), Err("no")).report(true);
        assert_eq!(
            report.kind,
            SandboxKind::Landlock {
                abi: 7,
                network: NetworkCut::Allowed
            }
        );
    }

    #[test]
    fn no_usable_landlock() {
        let report = support(
            Err("Landlock is not enabled in this kernel"),
            Ok(NetnsMode::Plain),
        )
        .report(false);
        assert!(!report.is_confined());
        assert_eq!(
            report.to_string(),
            "sandbox: none (Landlock is not enabled in this kernel): gates run unconfined, \
             secret variables removed"
        );
        let old = support(Ok(1), Ok(NetnsMode::Plain)).report(false);
        assert_eq!(
            old.kind,
            SandboxKind::Unavailable {
                why: "Landlock ABI 1 is too old (at least 2 is needed)".to_string()
            }
        );
    }

    #[test]
    fn disabled() {
        let report = SandboxReport::disabled();
        assert!(!report.is_confined());
        assert_eq!(report.to_string(), "sandbox: off by configuration");
    }
}
