//! `kmilestone` on a pseudo-terminal (through `script`), driven step by step like a person at
//! the keyboard: wait until the screen shows something, then type (Ctrl-C included).

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use super::project::Project;

/// One interactive session.
pub struct Terminal {
    child: Child,
    keyboard: ChildStdin,
    screen: Receiver<Vec<u8>>,
    /// Everything shown so far, `\r\n` read as `\n`.
    pub shown: String,
}

impl Terminal {
    /// Starts `kmilestone <args>` in `project` on a terminal, with the project's environment and
    /// no CI markers (someone is at the keyboard).
    pub fn start(project: &Project, args: &[&str]) -> Terminal {
        let base = project.command(&[]);
        let mut line = env!("CARGO_BIN_EXE_kmilestone").to_string();
        for arg in args {
            line.push_str(&format!(" '{}'", arg.replace('\'', "'\\''")));
        }
        let mut script = Command::new("script");
        script
            .args(["-q", "-e", "-c", &line, "/dev/null"])
            .current_dir(project.root());
        for (key, value) in base.get_envs() {
            match value {
                Some(value) => script.env(key, value),
                None => script.env_remove(key),
            };
        }
        for name in kmilestone::env_vars::CI_MARKERS {
            script.env_remove(name);
        }
        script.env("TERM", "xterm");
        let mut child = script
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script(1) runs");
        let keyboard = child.stdin.take().unwrap();
        let mut out = child.stdout.take().unwrap();
        let (send, screen) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || send.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            keyboard,
            screen,
            shown: String::new(),
        }
    }

    /// Waits until the screen shows `text` (panics after 30 s with what it showed).
    pub fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.shown.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(bytes) => self
                    .shown
                    .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
                Err(_) => panic!("the terminal never showed {text:?}:\n{}", self.shown),
            }
        }
    }

    /// Types `keys` (`\x03` is Ctrl-C).
    pub fn type_keys(&mut self, keys: &str) {
        self.keyboard.write_all(keys.as_bytes()).unwrap();
        self.keyboard.flush().unwrap();
    }

    /// Waits for the program to end (at most 30 s); returns its exit code and the whole screen.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill().ok();
                panic!("still running after 30 s:\n{}", self.shown);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(bytes) = self.screen.recv_timeout(Duration::from_millis(200)) {
            self.shown
                .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n"));
        }
        (status.code(), self.shown)
    }
}
