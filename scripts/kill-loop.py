#!/usr/bin/env python3
"""kmilestone SIGKILLed at random moments while hostile agents wipe or truncate the handoff.

A plan of N tasks; each agent invocation (the scripted fake `claude` of the tests) first wipes or
cuts the handoff (alternating), commits that, appends its own task's Complete section and commits
again, with pauses between, so a kill lands before, between or after any of it. Each round starts
`kmilestone run` and SIGKILLs it after a random delay; after the last round one run is let finish.
Then every task's section must be in the handoff exactly once and whole: the bytes of the sections
that are missing or cut are counted as lost, sections that appear twice as duplicated, and an agent
sent back to a task the runner had already verified is counted as a redone task.

Usage: python3 scripts/kill-loop.py [--rounds 40] [--tasks 60] [--seed 1] [--binary PATH]
Exits 1 when anything was lost.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDOFF = "HANDOFF_M1.md"


def section(task):
    return (f"\n## Task {task} Complete: done\n\nNotes for the next task about {task}, "
            f"which it must still find after any kill.\n")


def make_project(work, tasks):
    repo = work / "repo"
    repo.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)
    git("init", "-q", "-b", "main")
    git("config", "user.email", "kill@example.com")
    git("config", "user.name", "kill")
    git("config", "commit.gpgsign", "false")
    plan = ["# Milestone 1: Kill loop"]
    for i in range(1, tasks + 1):
        plan.append(f"\n## Task 1.{i}: Step {i}\n\n**Type:** CODING\n\nStep {i}.\n\n"
                    "**Acceptance Criteria:**\n- [ ] done")
    (repo / "M1_kill.md").write_text("\n".join(plan) + "\n")
    (repo / "kmilestone.toml").write_text('[gates]\ncommands = ["true"]\n[run]\nretries = 3\n')
    git("add", "-A")
    git("commit", "-qm", "Plan")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").symlink_to(ROOT / "tests/fake_agent/fake_claude.py")
    fake = work / "fake"
    fake.mkdir()
    wipe = f"[ -f {HANDOFF} ] && : > {HANDOFF} && git commit -qam wipe || true"
    cut = (f"[ -f {HANDOFF} ] && head -c $(( $(wc -c < {HANDOFF}) / 2 )) {HANDOFF} > t "
           f"&& mv t {HANDOFF} && git commit -qam cut || true")
    text = section("{task}")
    scenario = {"default": {"actions": [
        {"sh": wipe}, {"sleep": 0.15}, {"sh": cut}, {"sleep": 0.15},
        {"append": HANDOFF, "text": text}, {"sleep": 0.1},
        {"sh": "git add -A && git commit -qm 'Task {task}'"}, {"sleep": 0.1},
    ]}}
    (fake / "scenario.json").write_text(json.dumps(scenario))
    return repo, bin_dir, fake


def environment(work, bin_dir, fake):
    env = dict(os.environ)
    env.update(PATH=f"{bin_dir}:{env.get('PATH', '')}", FAKE_CLAUDE_DIR=str(fake),
               FAKE_CLAUDE_SCENARIO=str(fake / "scenario.json"), NO_COLOR="1",
               KMILESTONE_STATE_DIR=str(work / "state"), KMILESTONE_KILL_GRACE="1s",
               KMILESTONE_RESULT_GRACE="2s")
    for name in ("KMILESTONE_CLAUDE_BIN", "KMILESTONE_AGENT", "KMILESTONE_RETRIES"):
        env.pop(name, None)
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--tasks", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--binary", type=Path, default=ROOT / "target/debug/kmilestone")
    args = ap.parse_args()
    args.binary = args.binary.resolve()
    if not args.binary.exists():
        sys.exit(f"{args.binary}: build it first (cargo build)")
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="kmilestone-kill-"))
    repo, bin_dir, fake = make_project(work, args.tasks)
    env = environment(work, bin_dir, fake)
    command = [str(args.binary), "run", "M1_kill.md"]
    killed = 0
    early_exits = []
    for _ in range(args.rounds):
        run = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.5))
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            killed += 1
        else:
            early_exits.append(run.returncode)
        run.wait()
    last = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    handoff = (repo / HANDOFF).read_text() if (repo / HANDOFF).exists() else ""
    ids = [f"1.{i}" for i in range(1, args.tasks + 1)]
    lost = sum(len(section(i)) for i in ids if handoff.count(section(i)) == 0)
    duplicated = sum(1 for i in ids if handoff.count(section(i)) > 1)
    calls = sorted((fake / "calls").iterdir()) if (fake / "calls").exists() else []
    order = [json.loads(c.read_text())["task"] for c in calls]
    redone = sum(1 for a, b in zip(order, order[1:])
                 if tuple(map(int, b.split("."))) < tuple(map(int, a.split("."))))
    print(f"{args.rounds} rounds ({killed} killed, {len(early_exits)} ended before the kill"
          f"{', exit codes ' + str(sorted(set(early_exits))) if early_exits else ''}), "
          f"{args.tasks} tasks, seed {args.seed}")
    print(f"last run: exit {last.returncode}; agent invocations: {len(order)}")
    print(f"lost handoff bytes: {lost}; duplicated sections: {duplicated}; "
          f"tasks redone after verification: {redone}")
    bad = last.returncode != 0 or lost or duplicated or redone
    if bad:
        print(f"work left in {work}\n{last.stdout[-3000:]}\n{last.stderr[-2000:]}")
        sys.exit(1)
    subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
