//! The Linux sandbox: Landlock for files (and TCP when no namespace can be had), a network
//! namespace for the network.
//!
//! Everything is prepared in the parent: the Landlock ruleset is built and held as a file
//! descriptor, the user-namespace maps are formatted, the paths are C strings. Between fork and
//! exec the child only makes system calls on what was prepared ([`ChildSetup::apply`]): no
//! allocation, no lock, nothing that is not async-signal-safe.
//!
//! Order in the child: namespaces first (writing `/proc/self/uid_map` is a file write Landlock
//! would refuse afterwards), then `no_new_privs` (which Landlock requires of an unprivileged
//! process, and which also keeps set-user-ID programs such as `sudo` from gaining anything), then
//! `landlock_restrict_self`.

use std::ffi::CStr;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, PathBeneath, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope,
};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use super::grants::{RealTree, cover_except};
use super::report::{NetnsMode, NetworkCut};

/// The Landlock rights this code asks for are those of ABI 7, the newest it was tested with.
/// On an older kernel the crate keeps the subset the kernel knows (best effort); the report says
/// which ABI is in force. A newer ABI's rights are not asked for until they are tested here.
const TESTED_ABI: ABI = ABI::V7;

/// Device files every program expects to write (`> /dev/null`) and read.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// The Landlock ABI of the running kernel, or why there is none.
pub(crate) fn landlock_abi() -> Result<u32, String> {
    // SAFETY: the documented way to ask for the ABI version: no attribute, size 0, one flag.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if version >= 0 {
        return Ok(version as u32);
    }
    Err(match Errno::last() {
        Errno::EOPNOTSUPP => "Landlock is built into this kernel but not enabled".to_string(),
        Errno::ENOSYS => "this kernel has no Landlock".to_string(),
        errno => format!("Landlock could not be queried: {}", errno.desc()),
    })
}

/// How a network namespace can be made here: tried for real in a short-lived child, first
/// directly, then inside a user namespace.
pub(crate) fn netns_mode() -> Result<NetnsMode, String> {
    let mut errors = Vec::new();
    for mode in [NetnsMode::Plain, NetnsMode::WithUserNamespace] {
        match try_namespace(mode) {
            Ok(()) => return Ok(mode),
            Err(error) => errors.push(error),
        }
    }
    Err(errors.join("; "))
}

fn try_namespace(mode: NetnsMode) -> Result<(), String> {
    let what = match mode {
        NetnsMode::Plain => "network namespace",
        NetnsMode::WithUserNamespace => "user namespace",
    };
    let setup = ChildSetup {
        namespace: Some(Namespace::new(mode)),
        ruleset: None,
    };
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "exit 0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    setup.install(&mut cmd);
    match cmd.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{what}: probe exited with {status}")),
        Err(error) => Err(format!("{what}: {error}")),
    }
}

/// The namespaces to enter in the child.
#[derive(Debug)]
struct Namespace {
    flags: CloneFlags,
    /// `uid_map` and `gid_map` lines mapping the user to itself, for a user namespace.
    maps: Option<(Vec<u8>, Vec<u8>)>,
}

impl Namespace {
    fn new(mode: NetnsMode) -> Self {
        match mode {
            NetnsMode::Plain => Self {
                flags: CloneFlags::CLONE_NEWNET,
                maps: None,
            },
            NetnsMode::WithUserNamespace => {
                let uid = nix::unistd::geteuid();
                let gid = nix::unistd::getegid();
                Self {
                    flags: CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET,
                    maps: Some((
                        format!("{uid} {uid} 1\n").into_bytes(),
                        format!("{gid} {gid} 1\n").into_bytes(),
                    )),
                }
            }
        }
    }
}

/// What the child does between fork and exec.
#[derive(Debug)]
pub(crate) struct ChildSetup {
    namespace: Option<Namespace>,
    /// The Landlock ruleset, owned by the [`Prepared`] that outlives the spawn.
    ruleset: Option<RawFd>,
}

impl ChildSetup {
    /// Registers [`ChildSetup::apply`] to run in the child before exec.
    fn install(self, cmd: &mut Command) {
        use std::os::unix::process::CommandExt;
        // SAFETY: `apply` makes only async-signal-safe system calls on data prepared here.
        unsafe {
            cmd.pre_exec(move || {
                self.apply()
                    .map_err(|errno| io::Error::from_raw_os_error(errno as i32))
            });
        }
    }

    /// Runs in the forked child: no allocation, no locks.
    fn apply(&self) -> Result<(), Errno> {
        if let Some(namespace) = &self.namespace {
            nix::sched::unshare(namespace.flags)?;
            if let Some((uid_map, gid_map)) = &namespace.maps {
                // An unprivileged process may map only itself, and only once it has given up
                // setgroups(2) for the namespace.
                write_proc(c"/proc/self/setgroups", b"deny")?;
                write_proc(c"/proc/self/uid_map", uid_map)?;
                write_proc(c"/proc/self/gid_map", gid_map)?;
            }
            loopback_up()?;
        }
        if let Some(fd) = self.ruleset {
            nix::sys::prctl::set_no_new_privs()?;
            // SAFETY: a plain system call on a ruleset descriptor the parent keeps open.
            if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) } != 0 {
                return Err(Errno::last());
            }
        }
        Ok(())
    }
}

fn write_proc(path: &CStr, bytes: &[u8]) -> Result<(), Errno> {
    let fd = nix::fcntl::open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    // These files take one whole line in one write, or nothing.
    if nix::unistd::write(&fd, bytes)? != bytes.len() {
        return Err(Errno::EIO);
    }
    Ok(())
}

/// Brings the new namespace's loopback up: tests may serve and connect on their own 127.0.0.1,
/// which reaches nothing outside the namespace.
fn loopback_up() -> Result<(), Errno> {
    // SAFETY: socket(2) and ioctl(2) on a zeroed `ifreq` naming "lo"; the descriptor is owned.
    unsafe {
        let raw = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if raw < 0 {
            return Err(Errno::last());
        }
        let socket = OwnedFd::from_raw_fd(raw);
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(Errno::last());
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// A Landlock ruleset and namespace plan, ready to be applied to any number of children.
#[derive(Debug)]
pub(crate) struct Prepared {
    ruleset: OwnedFd,
    namespace: Option<NetnsMode>,
    /// How many rules the ruleset holds, for the debug log and the tests.
    pub(crate) rules: usize,
}

/// The paths a [`Prepared`] is built from, all canonical and existing.
#[derive(Debug, Default)]
pub(crate) struct Paths {
    pub(crate) writable: Vec<PathBuf>,
    pub(crate) denied: Vec<PathBuf>,
}

impl Prepared {
    /// Builds the ruleset: read everywhere except `paths.denied`, write in `paths.writable`
    /// (except `paths.denied`) and on the usual devices; TCP refused when `network` says the
    /// network is cut by Landlock.
    pub(crate) fn new(paths: &Paths, network: &NetworkCut) -> Result<Self, String> {
        let error = |error: landlock::RulesetError| error.to_string();
        let read = AccessFs::from_read(TESTED_ABI);
        let all = AccessFs::from_all(TESTED_ABI);
        let mut ruleset = Ruleset::default()
            .handle_access(all)
            .map_err(error)?
            // Signals and abstract unix sockets (ABI 6): nothing outside the sandbox can be
            // signalled or reached through them. Older kernels skip it.
            .scope(Scope::from_all(TESTED_ABI))
            .map_err(error)?;
        if matches!(network, NetworkCut::LandlockTcp { .. }) {
            // Handled and never allowed: every TCP connect and bind is refused.
            ruleset = ruleset
                .handle_access(AccessNet::from_all(TESTED_ABI))
                .map_err(error)?;
        }
        // Listing is allowed everywhere (names are not contents): Landlock cannot grant it on a
        // directory without granting it beneath, and `/` must be listable.
        let mut wanted: Vec<(PathBuf, BitFlags<AccessFs>, bool)> =
            vec![(PathBuf::from("/"), AccessFs::ReadDir.into(), true)];
        for grant in cover_except(Path::new("/"), true, &paths.denied, &RealTree) {
            wanted.push((grant.path, read, grant.is_dir));
        }
        for root in &paths.writable {
            for grant in cover_except(root, root.is_dir(), &paths.denied, &RealTree) {
                wanted.push((grant.path, all, grant.is_dir));
            }
        }
        let device =
            AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev;
        wanted.extend(
            DEVICES
                .iter()
                .map(|path| (PathBuf::from(path), device, false)),
        );

        let mut created = ruleset.create().map_err(error)?;
        let mut rules = 0;
        for (path, access, is_dir) in wanted {
            let Some(fd) = open_path(&path) else {
                continue;
            };
            let access = if is_dir {
                access
            } else {
                access & AccessFs::from_file(TESTED_ABI)
            };
            created = created
                .add_rule(PathBeneath::new(fd, access))
                .map_err(error)?;
            rules += 1;
        }
        let ruleset: Option<OwnedFd> = created.into();
        let ruleset = ruleset.ok_or("the kernel did not create a Landlock ruleset")?;
        let namespace = if let NetworkCut::Namespace(mode) = network {
            Some(*mode)
        } else {
            None
        };
        Ok(Self {
            ruleset,
            namespace,
            rules,
        })
    }

    /// Makes `cmd` enter the sandbox before it runs its program.
    pub(crate) fn install(&self, cmd: &mut Command) {
        ChildSetup {
            namespace: self.namespace.map(Namespace::new),
            ruleset: Some(self.ruleset.as_raw_fd()),
        }
        .install(cmd);
    }
}

/// An `O_PATH` descriptor for a rule, not following a last-component link, so an entry swapped
/// for a link after the walk grants nothing more. `None` for a path that is gone.
fn open_path(path: &Path) -> Option<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .inspect_err(|error| tracing::debug!(path = %path.display(), %error, "no sandbox rule"))
        .ok()
}
