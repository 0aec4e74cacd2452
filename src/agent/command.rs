//! Any program that takes the prompt on stdin; its output is shown as text and success is judged
//! by verification alone.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Adapter, AgentCommand};
use crate::events::{AgentEvent, Permission};

pub struct CommandAgent {
    argv: Vec<String>,
}

impl CommandAgent {
    pub fn new(argv: Vec<String>) -> CommandAgent {
        CommandAgent { argv }
    }
}

impl Adapter for CommandAgent {
    fn name(&self) -> &str {
        "command"
    }

    fn can_resume(&self) -> bool {
        false
    }

    fn permission(&self) -> Permission {
        Permission::ByCommand
    }

    fn command(&self, prompt: &str, _session: Option<&str>, _cwd: &Path) -> AgentCommand {
        let mut parts = self.argv.iter();
        AgentCommand {
            program: PathBuf::from(parts.next().map_or("false", String::as_str)),
            args: parts.map(OsString::from).collect(),
            stdin: prompt.as_bytes().to_vec(),
        }
    }

    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        vec![AgentEvent::Text {
            text: line.to_string(),
        }]
    }
}
