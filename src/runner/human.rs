//! The human the runner can ask: the agent's questions, and the runner's own decision when a task
//! still fails verification after its fix attempts (DESIGN 5.5, 6).

use crate::events::{Problem, Question};
use crate::process::Cancel;

/// What the human said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The answer (an option's text when they typed its number).
    Given(String),
    /// Nothing now: the question waits for `--answer`, or the run stops.
    Later,
    /// Ctrl-C while asked.
    Interrupted,
}

/// Someone who can answer now (a terminal), or nobody.
pub(crate) trait Human {
    /// Asks the agent's question. Returns at once with [`Answer::Interrupted`] once `cancel` is
    /// set.
    fn ask(&mut self, question: &Question, cancel: &Cancel) -> Answer;

    /// Asks for a decision of the runner's own: an option, or instructions; [`Answer::Later`]
    /// stops. Nothing is saved for later.
    fn decide(&mut self, question: &Question, cancel: &Cancel) -> Answer {
        self.ask(question, cancel)
    }

    /// Whether someone is there to be asked at all (a terminal). The agent's questions are saved
    /// for `--answer` either way; the runner's own decisions are only offered to someone present.
    fn is_present(&self) -> bool {
        true
    }
}

/// Nobody to ask (no terminal, CI, `--json`): questions are saved and the run exits 4.
pub(crate) struct NoHuman;

impl Human for NoHuman {
    fn ask(&mut self, _question: &Question, _cancel: &Cancel) -> Answer {
        Answer::Later
    }

    fn is_present(&self) -> bool {
        false
    }
}

/// What the human chose for a task that still fails verification after its fix attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Mark the task complete with its unit-test findings (offered only when nothing else failed).
    Accept,
    /// One more attempt in the same session, with these instructions.
    Guidance(String),
    Stop,
    Interrupted,
}

pub(crate) const ACCEPT_FINDINGS: &str = "Accept the task with these unit-test findings";
pub(crate) const STOP_RUN: &str = "Stop the run here";

/// The runner's question about a task that still fails after `attempts` attempts.
pub(crate) fn failure_question(id: &str, attempts: u32, problems: &[Problem]) -> Question {
    let only_test_quality = problems.iter().all(Problem::is_test_quality);
    let mut options = Vec::new();
    if only_test_quality {
        options.push(ACCEPT_FINDINGS.to_string());
    }
    options.push(STOP_RUN.to_string());
    let mut text = format!(
        "Task {id} still fails verification after {attempts} attempt{}:\n",
        crate::text::plural(attempts)
    );
    for problem in problems {
        let problem = problem.to_string();
        text.push_str(&format!(
            "- {}\n",
            problem.lines().next().unwrap_or_default()
        ));
    }
    text.push_str("Type instructions for one more attempt in the same session, or pick an option.");
    Question {
        text,
        options,
        recommendation: None,
    }
}

/// What the human's answer to [`failure_question`] means.
pub(crate) fn decision(answer: Answer, question: &Question) -> Decision {
    match answer {
        Answer::Interrupted => Decision::Interrupted,
        Answer::Later => Decision::Stop,
        Answer::Given(text) if text == STOP_RUN => Decision::Stop,
        Answer::Given(text) if text == ACCEPT_FINDINGS && question.options.contains(&text) => {
            Decision::Accept
        }
        Answer::Given(text) => Decision::Guidance(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::GateFailure;

    #[test]
    fn only_unit_test_findings_can_be_accepted() {
        let finding = crate::events::TestFinding {
            file: "t.py".into(),
            line: 3,
            rule: "slow-sleep".into(),
            severity: "HIGH".into(),
            test: "test_x".into(),
            message: "sleeps 5 s".into(),
            hint: "mock time".into(),
        };
        let question = failure_question("1.1", 3, &[Problem::TestQuality(finding.clone())]);
        assert_eq!(question.options, vec![ACCEPT_FINDINGS, STOP_RUN]);
        assert_eq!(
            decision(Answer::Given(ACCEPT_FINDINGS.into()), &question),
            Decision::Accept
        );
        let gate = Problem::GateFailed {
            command: "make test".into(),
            failure: GateFailure::Exited { code: 2 },
            output_tail: "boom".into(),
        };
        let question = failure_question("1.1", 1, &[gate, Problem::TestQuality(finding)]);
        assert_eq!(question.options, vec![STOP_RUN]);
        assert_eq!(
            question.text,
            "Task 1.1 still fails verification after 1 attempt:\n- gate `make test` failed (exited with 2). Last lines of its output:\n- unit-test quality, t.py:3 in `test_x` [slow-sleep]: sleeps 5 s. Instead: mock time\nType instructions for one more attempt in the same session, or pick an option."
        );
        assert_eq!(
            decision(Answer::Given(ACCEPT_FINDINGS.into()), &question),
            Decision::Guidance(ACCEPT_FINDINGS.into()),
            "not offered, so it is instructions"
        );
        assert_eq!(decision(Answer::Later, &question), Decision::Stop);
        assert_eq!(
            decision(Answer::Interrupted, &question),
            Decision::Interrupted
        );
    }
}
