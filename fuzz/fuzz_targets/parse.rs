//! Any bytes, read as a plan and as a handoff against it: nothing may panic.

#![no_main]

use std::path::Path;

use kmilestone::plan::handoff::Handoff;
use kmilestone::plan::Plan;
use kmilestone::plan::progress::Progress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first half is the plan, the rest the handoff, so both readers see related text.
    let split = text
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| i >= text.len() / 2)
        .unwrap_or(text.len());
    let (plan_text, handoff_text) = text.split_at(split);
    let diagnosis = Plan::diagnose(Path::new("M4_workers.md"), plan_text);
    let handoff = Handoff::parse(handoff_text, &diagnosis.plan);
    let progress = Progress::compute(&diagnosis.plan, &handoff);
    let _ = progress.gap_note();
    let _ = progress.unmarked_note();
    if let Some(err) = diagnosis.plan.hidden_tasks_error() {
        let _ = (err.to_string(), err.detail(), err.line());
    }
    let _ = Handoff::parse(text, &diagnosis.plan);
});
