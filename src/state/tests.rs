//! The state folder: round trips, the log of saves, refused versions, the lock, the snapshot's hash, moving an old
//! in-tree folder, private modes.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn state_round_trips_and_newer_or_broken_files_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let mut dir = StateDir::at_path(root.path());
    assert_eq!(dir.load("M1").unwrap(), State::new("M1"));
    let mut state = State::new("M1");
    state.task_mut("1.1").attempts = 2;
    dir.save(&mut state).unwrap();
    assert_eq!(dir.load("M1").unwrap(), state);
    assert_eq!(mode(&dir.state_file()), 0o600);
    std::fs::write(dir.state_file(), r#"{"version": 99, "milestone": "M1"}"#).unwrap();
    assert!(matches!(
        dir.load("M1"),
        Err(StateError::TooNew { found: 99, .. })
    ));
    std::fs::write(dir.state_file(), "{not json").unwrap();
    assert!(matches!(dir.load("M1"), Err(StateError::Corrupt { .. })));
    std::fs::remove_file(dir.state_file()).unwrap();
    nix::unistd::mkfifo(&dir.state_file(), nix::sys::stat::Mode::S_IRWXU).unwrap();
    assert!(
        matches!(dir.load("M1"), Err(StateError::Read(_))),
        "a FIFO never blocks"
    );
}

#[test]
fn the_lock_is_held_on_the_folder_so_removing_its_file_breaks_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = StateDir::at_path(root.path());
    let held = dir.lock().unwrap();
    match dir.lock() {
        Err(StateError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
        other => panic!("expected Locked, got {other:?}"),
    }
    std::fs::remove_file(root.path().join("lock")).unwrap();
    assert!(matches!(dir.lock(), Err(StateError::Locked { .. })));
    drop(held);
    dir.lock().unwrap();
}

#[test]
fn a_snapshot_changed_behind_the_runner_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = StateDir::at_path(root.path());
    let hash = dir.write_snapshot(Some(b"## Task 1.1 Complete\n")).unwrap();
    assert_eq!(
        dir.read_snapshot(hash.as_deref()).unwrap().as_deref(),
        Some(&b"## Task 1.1 Complete\n"[..])
    );
    std::fs::write(dir.handoff_snapshot_path(), "forged\n").unwrap();
    assert!(matches!(
        dir.read_snapshot(hash.as_deref()),
        Err(StateError::SnapshotChanged { .. })
    ));
    assert_eq!(dir.write_snapshot(None).unwrap(), None);
    assert_eq!(dir.read_snapshot(None).unwrap(), None);
    std::fs::write(dir.handoff_snapshot_path(), "planted\n").unwrap();
    assert!(matches!(
        dir.read_snapshot(None),
        Err(StateError::SnapshotChanged { .. })
    ));
}

#[test]
fn an_old_in_tree_state_folder_is_moved_once_and_private() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("repo");
    std::fs::create_dir_all(repo.join(".kmilestone/M1/runs/20261101T000000")).unwrap();
    std::fs::write(repo.join(".kmilestone/.gitignore"), "*\n").unwrap();
    std::fs::write(
        repo.join(".kmilestone/M1/state.json"),
        r#"{"version":1,"milestone":"M1"}"#,
    )
    .unwrap();
    std::fs::write(repo.join(".kmilestone/M1/lock"), "123").unwrap();
    let target = home.path().join("state/M1");
    let dir = StateDir::at_path(&target);
    super::dir::create_private_dir_for_test(&target);
    let moved = dir
        .migrate_from_for_test(&repo.join(".kmilestone/M1"))
        .unwrap();
    assert_eq!(moved, Some(repo.join(".kmilestone/M1")));
    assert!(!repo.join(".kmilestone").exists(), "the old folder is gone");
    assert!(target.join("runs/20261101T000000").is_dir());
    assert_eq!(dir.load("M1").unwrap().milestone, "M1");
    assert_eq!(mode(&target), 0o700);
    // Once there is a state, an old folder is left alone.
    std::fs::create_dir_all(repo.join(".kmilestone/M1")).unwrap();
    std::fs::write(repo.join(".kmilestone/M1/state.json"), "{}").unwrap();
    assert_eq!(
        dir.migrate_from_for_test(&repo.join(".kmilestone/M1"))
            .unwrap(),
        None
    );
}

fn log_lines(dir: &StateDir) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.log_file())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn saves_after_the_first_append_only_the_changed_tasks() {
    let root = tempfile::tempdir().unwrap();
    let mut dir = StateDir::at_path(root.path());
    let mut state = State::new("M1");
    for n in 0..200 {
        state.task_mut(&format!("1.{n}")).attempts = 1;
    }
    dir.save(&mut state).unwrap();
    assert_eq!(
        log_lines(&dir).len(),
        0,
        "the first save writes state.json whole"
    );
    let whole = std::fs::read_to_string(dir.state_file()).unwrap();
    state.task_mut("1.7").attempts = 2;
    dir.save(&mut state).unwrap();
    state.in_progress = None;
    dir.save(&mut state).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.state_file()).unwrap(),
        whole,
        "state.json is not rewritten"
    );
    let lines = log_lines(&dir);
    let tasks: Vec<Vec<&String>> = lines
        .iter()
        .map(|line| line["tasks"].as_object().unwrap().keys().collect())
        .collect();
    assert_eq!(tasks, vec![vec!["1.7"], vec![]]);
    assert_eq!(dir.load("M1").unwrap(), state);
    // A run's last save writes the whole state again and empties the log.
    dir.compact(&mut state).unwrap();
    assert_eq!(log_lines(&dir).len(), 0);
    assert_eq!(dir.load("M1").unwrap(), state);
}

#[test]
fn a_torn_last_line_is_no_save_and_a_damaged_earlier_one_is_refused_by_line() {
    let root = tempfile::tempdir().unwrap();
    let mut dir = StateDir::at_path(root.path());
    let mut state = State::new("M1");
    dir.save(&mut state).unwrap();
    state.task_mut("1.1").attempts = 1;
    dir.save(&mut state).unwrap();
    let saved = state.clone();
    state.task_mut("1.1").attempts = 2;
    dir.save(&mut state).unwrap();
    let log = std::fs::read(dir.log_file()).unwrap();
    let torn = &log[..log.len() - 10];
    std::fs::write(dir.log_file(), torn).unwrap();
    assert_eq!(dir.load("M1").unwrap(), saved, "the cut append is dropped");
    let first_end = log.iter().position(|&b| b == b'\n').unwrap();
    let mut damaged = log.clone();
    damaged[first_end - 3] = b'#';
    std::fs::write(dir.log_file(), &damaged).unwrap();
    match dir.load("M1") {
        Err(StateError::Corrupt { path, message }) => {
            assert_eq!(path, dir.log_file());
            assert!(message.starts_with("line 1: "), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn lines_of_an_older_generation_are_ignored() {
    let root = tempfile::tempdir().unwrap();
    let mut dir = StateDir::at_path(root.path());
    let mut state = State::new("M1");
    dir.save(&mut state).unwrap();
    state.task_mut("1.1").attempts = 5;
    dir.save(&mut state).unwrap();
    let old_log = std::fs::read(dir.log_file()).unwrap();
    state.task_mut("1.1").attempts = 6;
    dir.compact(&mut state).unwrap();
    // As if the compaction were cut short after `state.json` was replaced, before the log was
    // emptied: the old generation's lines would set the task back to 5 attempts.
    std::fs::write(dir.log_file(), old_log).unwrap();
    assert_eq!(dir.load("M1").unwrap().tasks["1.1"].attempts, 6);
}

#[test]
fn a_new_process_compacts_on_its_first_save() {
    let root = tempfile::tempdir().unwrap();
    let mut state = State::new("M1");
    let mut first = StateDir::at_path(root.path());
    first.save(&mut state).unwrap();
    state.task_mut("1.1").attempts = 1;
    first.save(&mut state).unwrap();
    drop(first);
    let mut second = StateDir::at_path(root.path());
    let mut loaded = second.load("M1").unwrap();
    assert_eq!(loaded, state);
    loaded.task_mut("1.2").attempts = 1;
    second.save(&mut loaded).unwrap();
    assert_eq!(log_lines(&second).len(), 0);
    assert_eq!(second.load("M1").unwrap(), loaded);
}
