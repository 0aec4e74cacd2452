//! Confining a child (a quality gate) to what it needs: writes in the repository, the tool
//! caches and a private temporary directory; no reading of secret paths; no secret environment
//! variables; no network.
//!
//! Use: [`probe`] once per run, print its [`Support::report`] in the header; for each gate,
//! [`Sandbox::prepare`] a [`SandboxPolicy`] and run the child with
//! [`run_sandboxed`](crate::process::run_sandboxed).
//!
//! Linux: Landlock (ABI 2 or later) and, where one can be made, a network namespace of the
//! child's own (as root directly, otherwise inside an unprivileged user namespace).
//! - Files: every path is readable except the denied ones (`~/.ssh`, …); only the writable
//!   hierarchies, the private temporary directory and `/dev/null`-like devices can be written,
//!   created, renamed into or removed. Rules are built from the tree as it is when the sandbox is
//!   prepared: an entry created later in a folder that holds a denied path (a new file in the
//!   home directory) is unreadable until the next sandbox. Directory listings are allowed
//!   everywhere, so the names of files in a denied folder can be seen, not their contents. A
//!   denied folder reached through another mount (a bind mount of the home directory) is
//!   readable.
//! - Processes: no ptrace of a process outside the sandbox; from ABI 6 no signal to one either.
//!   What Landlock does not stop on this kernel: reading `/proc/<pid>/environ` (and `maps`) of
//!   other processes of the same user. The secret variables removed from the child are still in
//!   the environment of kmilestone, of the shell that started it, of any unsandboxed process of
//!   the user, and can be read there. Removing them keeps them out of what a test prints or a
//!   tool uploads; it is no barrier to code that looks for them. Hiding other processes needs a
//!   PID namespace with a /proc of its own, not done yet.
//! - Network with a namespace: no interface but a private loopback; the machine's own
//!   127.0.0.1 (a database, the runner's servers) is out of reach; abstract unix sockets are per
//!   namespace. Without one, Landlock (ABI 4) refuses every TCP connect and bind; UDP, so DNS,
//!   still works. Either way, unix sockets with a path (`/var/run/docker.sock`, an ssh agent)
//!   can still be connected to: Landlock cannot refuse that before ABI 9.
//! - `no_new_privs` is set: set-user-ID programs (`sudo`) gain nothing.
//!
//! macOS: `sandbox-exec` with a generated profile: the same file rules, all network denied except
//! unix sockets.
//!
//! Everywhere: the writable caches can be changed, so a gate can leave a poisoned package in
//! `~/.cargo/registry` for an unsandboxed build to compile later; `.git` and kmilestone's own
//! state inside the repository are writable like the rest of it.

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
mod grants;
mod imp;
#[cfg(target_os = "linux")]
mod linux;
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
mod macos;
mod policy;
mod report;
#[cfg(all(test, target_os = "linux"))]
mod tests;
#[cfg(all(test, target_os = "linux"))]
mod toolchain_tests;

pub use imp::{Sandbox, SandboxError, probe, probe_in_background};
pub use policy::{
    DEFAULT_DENIED_IN_HOME, DEFAULT_WRITABLE_IN_HOME, DEFAULT_WRITABLE_SYSTEM, SandboxPolicy,
    expand_home,
};
pub use report::{
    LANDLOCK_TCP_ABI, MIN_LANDLOCK_ABI, NetnsMode, NetworkCut, SandboxKind, SandboxReport, Support,
};
