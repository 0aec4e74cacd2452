//! The state a run left, as kmilestone reads it back: `state.json` with the saves `state.log`
//! appended after it (those of the same generation; a torn last line is no save).

use serde_json::Value;

/// `state.json` with the lines of `state.log` applied, from their texts.
pub fn folded(state_json: &str, state_log: &str) -> Value {
    let Ok(mut state) = serde_json::from_str::<Value>(state_json) else {
        return Value::Null;
    };
    let generation = state["journal"].clone();
    for line in state_log.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if entry["journal"] != generation {
            continue;
        }
        for key in [
            "plan",
            "in_progress",
            "pending_question",
            "last_run",
            "trusted_supervision",
        ] {
            state[key] = entry[key].clone();
        }
        if let Some(tasks) = entry["tasks"].as_object() {
            for (id, task) in tasks {
                state["tasks"][id] = task.clone();
            }
        }
    }
    state
}
