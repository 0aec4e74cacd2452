//! The human at the terminal: questions are shown by the terminal view (stdout), the prompt and
//! the typed answer go through stderr and stdin. Ctrl-C while asked stops at once.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::Duration;

use crate::events::Question;
use crate::process::Cancel;
use crate::runner::{Answer, Human};

/// How often a wait for the typed line looks at the cancellation token.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Asks on the terminal.
pub(super) struct TerminalHuman {
    /// Lines typed at the terminal, read on a thread of their own so that a Ctrl-C can stop
    /// the wait (a blocked read cannot be interrupted from here).
    lines: Option<mpsc::Receiver<Option<String>>>,
}

impl TerminalHuman {
    pub(super) fn new() -> TerminalHuman {
        TerminalHuman { lines: None }
    }

    /// One line from the terminal, trimmed; `Later` at end of input, `Interrupted` on Ctrl-C.
    fn read_line(&mut self, prompt: &str, cancel: &Cancel) -> Result<String, Answer> {
        let mut stderr = std::io::stderr();
        write!(stderr, "{prompt}").ok();
        stderr.flush().ok();
        let lines = self.lines.get_or_insert_with(|| {
            let (send, receive) = mpsc::channel();
            std::thread::spawn(move || {
                let stdin = std::io::stdin();
                loop {
                    let mut line = String::new();
                    let read = match stdin.lock().read_line(&mut line) {
                        Ok(0) | Err(_) => None,
                        Ok(_) => Some(line),
                    };
                    let done = read.is_none();
                    if send.send(read).is_err() || done {
                        return;
                    }
                }
            });
            receive
        });
        loop {
            if cancel.is_cancelled() {
                writeln!(stderr).ok();
                return Err(Answer::Interrupted);
            }
            match lines.recv_timeout(CANCEL_POLL) {
                Ok(Some(line)) => return Ok(line.trim().to_string()),
                Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => return Err(Answer::Later),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

impl Default for TerminalHuman {
    fn default() -> Self {
        Self::new()
    }
}

impl Human for TerminalHuman {
    fn ask(&mut self, question: &Question, cancel: &Cancel) -> Answer {
        let hint = if question.options.is_empty() {
            ""
        } else {
            " (a number picks an option)"
        };
        match self.read_line(
            &format!("Your answer{hint}, empty to stop and answer later: "),
            cancel,
        ) {
            Ok(answer) if answer.is_empty() => Answer::Later,
            Ok(answer) => Answer::Given(question.resolve_answer(&answer)),
            Err(answer) => answer,
        }
    }

    fn decide(&mut self, question: &Question, cancel: &Cancel) -> Answer {
        let count = question.options.len();
        loop {
            let prompt = format!(
                "Instructions for the agent, or 1-{count} for an option; empty or \"stop\" stops: "
            );
            let answer = match self.read_line(&prompt, cancel) {
                Ok(answer) => answer,
                Err(answer) => return answer,
            };
            if answer.is_empty() || answer.eq_ignore_ascii_case("stop") {
                return Answer::Later;
            }
            match answer.parse::<usize>() {
                Ok(n) if n >= 1 && n <= count => {
                    return Answer::Given(question.options[n - 1].clone());
                }
                // A bare number that is no option is a slip, not instructions for the agent.
                Ok(_) => continue,
                Err(_) => return Answer::Given(answer),
            }
        }
    }
}
