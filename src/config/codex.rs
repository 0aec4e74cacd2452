//! `[agent.codex]`: how to run Codex CLI, and the prices its tokens are charged at (Codex reports
//! tokens but no cost). The adapter (`agent::codex`) reads these settings; they live here so that
//! the configuration does not depend on the adapters.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::events::Usage;

/// Where the agent's commands and edits may reach (`permission` in `[agent.codex]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Sandbox {
    /// `--sandbox workspace-write`: writes inside the working directory (and the temp dirs), no
    /// network, `.git` read-only, so the runner commits.
    #[default]
    #[serde(rename = "sandbox")]
    WorkspaceWrite,
    /// `--dangerously-bypass-approvals-and-sandbox`: no sandbox at all; the user's explicit choice.
    #[serde(rename = "bypass")]
    Bypass,
}

/// How to run Codex.
#[derive(Debug, Clone)]
pub struct CodexSettings {
    pub binary: PathBuf,
    /// `--model`; `None` leaves Codex's own default (then no price is known).
    pub model: Option<String>,
    pub sandbox: Sandbox,
    /// `-c key=value` overrides, passed verbatim after kmilestone's own.
    pub config: Vec<String>,
    /// More `exec` options, verbatim (before `resume`: the subcommand refuses most of them).
    pub extra_args: Vec<String>,
    pub prices: PriceTable,
}

impl Default for CodexSettings {
    fn default() -> CodexSettings {
        CodexSettings {
            binary: PathBuf::from("codex"),
            model: None,
            sandbox: Sandbox::default(),
            config: Vec::new(),
            extra_args: Vec::new(),
            prices: PriceTable::default(),
        }
    }
}

/// Dollars per million tokens of one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
}

impl Price {
    /// The cost of `usage`: cache writes at the input price, reasoning inside output.
    pub fn cost_usd(&self, usage: &Usage) -> f64 {
        let input = (usage.input_tokens + usage.cache_creation_input_tokens) as f64;
        (input * self.input
            + usage.cache_read_input_tokens as f64 * self.cached_input
            + usage.output_tokens as f64 * self.output)
            / 1_000_000.0
    }
}

/// Prices per model, as the user configures them: Codex reports tokens but no cost, and prices
/// change too often for kmilestone to ship its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceTable {
    models: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new() -> PriceTable {
        PriceTable::default()
    }

    pub fn insert(&mut self, model: impl Into<String>, price: Price) {
        self.models.insert(model.into(), price);
    }

    /// The price of `model`, or of the model it is a dated snapshot of (`gpt-5.5-2026-10-01` is
    /// priced as `gpt-5.5`). No other prefix matching: `gpt-5.5-mini` is not `gpt-5.5`.
    pub fn price(&self, model: &str) -> Option<&Price> {
        static DATED: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^(.+)-\d{4}-\d{2}-\d{2}$").expect("dated model pattern"));
        self.models.get(model).or_else(|| {
            let base = DATED.captures(model)?.get(1)?.as_str();
            self.models.get(base)
        })
    }

    /// The cost of `usage` with `model`, `None` when its price is unknown.
    pub fn cost_usd(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.price(model).map(|price| price.cost_usd(usage))
    }
}
