//! A plan read together with its handoff: what `status`, `lint` and `run` all start from.

use std::path::{Path, PathBuf};

use crate::plan::handoff::{self, Handoff};
use crate::plan::input::InputError;
use crate::plan::progress::Progress;
use crate::plan::{Plan, PlanError};

#[derive(Debug, Clone)]
pub struct Milestone {
    pub plan: Plan,
    /// Where the handoff is, or will be created.
    pub handoff_path: PathBuf,
    /// Whether the handoff file exists.
    pub handoff_exists: bool,
    pub handoff: Handoff,
    pub progress: Progress,
}

#[derive(Debug, thiserror::Error)]
pub enum MilestoneError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("handoff {0}")]
    Handoff(#[source] InputError),
}

impl Milestone {
    pub fn load(
        plan_path: &Path,
        handoff_override: Option<&Path>,
    ) -> Result<Milestone, MilestoneError> {
        let plan = Plan::load(plan_path)?;
        let handoff_path = match handoff_override {
            Some(path) => path.to_path_buf(),
            None => handoff::locate(plan_path, &plan.id),
        };
        let handoff_exists = match std::fs::metadata(&handoff_path) {
            Ok(_) => true,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(MilestoneError::Handoff(InputError::Io {
                    path: handoff_path,
                    source,
                }));
            }
        };
        let handoff = if handoff_exists {
            Handoff::load(&handoff_path, &plan).map_err(MilestoneError::Handoff)?
        } else {
            Handoff::default()
        };
        let progress = Progress::compute(&plan, &handoff);
        Ok(Milestone {
            plan,
            handoff_path,
            handoff_exists,
            handoff,
            progress,
        })
    }

    /// Re-reads the handoff (after an agent changed it) and recomputes progress.
    pub fn reload_handoff(&mut self) -> Result<(), InputError> {
        self.handoff_exists = self.handoff_path.is_file();
        self.handoff = if self.handoff_exists {
            Handoff::load(&self.handoff_path, &self.plan)?
        } else {
            Handoff::default()
        };
        self.progress = Progress::compute(&self.plan, &self.handoff);
        Ok(())
    }
}
