#!/usr/bin/env python3
"""What kmilestone itself costs per task, outside the agent's own process time.

A generated plan of N tasks, an instant compiled agent (scripts/bench/instant_agent.c: it appends
the task's Complete section to the handoff and commits it with git) and a `true` gate. Figures:

- overhead per task: the task's wall time (task_started -> task_finished) minus the agent's own
  process time (attempt_finished.duration_ms); gates, git calls and state writes all count;
- the whole run's overhead per task: (run wall time - agent time) / tasks, start-up included;
- first agent: how long after kmilestone was started the first agent process began;
- peak memory of the kmilestone process itself (its own `ru_maxrss`, from the one log line
  `RUST_LOG=kmilestone::peak=debug` turns on, so no other logging costs memory), from a second
  run started by a forking `sh`: Linux counts the memory of the process image an `exec` replaces
  in `ru_maxrss`, and Python starts children with `vfork`, so a child it starts directly reports
  at least Python's own memory;
- with --files N, the same in a repository of N more committed files, against one `git status`
  there;
- with --prompts PLAN, how much of each prompt the previous task's prompt shares as a prefix
  (what a model's prompt cache can reuse), on that real plan; with --handoff HANDOFF as well,
  from the prompts `--dry-run` shows as that real handoff gains its sections one by one (the
  instant agent's own sections are one line each, far shorter than real ones).

Usage: python3 scripts/bench/overhead.py [--tasks 200] [--files 0] [--runs 3] [--no-build]
       [--no-gate-sandbox] [--binary PATH] [--prompts path/to/M4_plan.md [--handoff HANDOFF_M4.md]]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def sh(*args, cwd=None, env=None, quiet=True):
    return subprocess.run(args, cwd=cwd, env=env, check=True, text=True,
                          stdout=subprocess.PIPE if quiet else None,
                          stderr=subprocess.PIPE if quiet else None).stdout


def build(no_build):
    if not no_build:
        sh("cargo", "build", "--release", "--quiet", cwd=ROOT)
    agent = Path(tempfile.gettempdir()) / "kmilestone-instant-agent"
    sh("gcc", "-O2", "-o", str(agent), str(ROOT / "scripts/bench/instant_agent.c"))
    return ROOT / "target/release/kmilestone", agent


def make_repo(work, tasks, files, agent, plan_text=None, gate_sandbox=True):
    repo = work / "repo"
    repo.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "config", "user.email", "bench@example.com", cwd=repo)
    sh("git", "config", "user.name", "bench", cwd=repo)
    sh("git", "config", "commit.gpgsign", "false", cwd=repo)
    if plan_text is None:
        lines = ["# Milestone 9: Benchmark"]
        for i in range(1, tasks + 1):
            lines.append(f"\n## Task 9.{i}: Step {i}\n\n**Type:** RESEARCH\n\n"
                         "**Acceptance Criteria:**\n- [ ] done")
        plan_text = "\n".join(lines) + "\n"
    (repo / "M9_bench.md").write_text(plan_text)
    sandbox = "" if gate_sandbox else "sandbox = false\n"
    (repo / "kmilestone.toml").write_text(
        f'[gates]\ncommands = ["true"]\n{sandbox}[agent.claude]\nbinary = "{agent}"\n')
    for i in range(files):
        d = repo / "src" / f"m{i // 100}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.py").write_text(f"VALUE = {i}\n")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "plan", cwd=repo)
    return repo


def one_status_ms(repo):
    times = []
    for _ in range(20):
        t = time.perf_counter()
        sh("git", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", cwd=repo)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run_once(binary, agent, tasks, files, plan_text=None, gate_sandbox=True, via_sh=False):
    work = Path(tempfile.mkdtemp(prefix="kmilestone-bench-"))
    try:
        repo = make_repo(work, tasks, files, agent, plan_text, gate_sandbox)
        state = work / "state"
        starts = work / "agent-starts"
        prompts = work / "prompts"
        env = dict(os.environ, KMILESTONE_STATE_DIR=str(state), BENCH_AGENT_STARTS=str(starts),
                   BENCH_PROMPTS=str(prompts), NO_COLOR="1",
                   RUST_LOG="warn,kmilestone::peak=debug")
        for name in ("KMILESTONE_CLAUDE_BIN", "KMILESTONE_AGENT"):
            env.pop(name, None)
        command = [str(binary), "run", "M9_bench.md", "-q"]
        if via_sh:
            # Not the last command, so sh forks for it: kmilestone starts from sh's small image.
            command = ["sh", "-c", '"$@"; exit $?', "sh"] + command
        t0 = time.time_ns()
        proc = subprocess.run(command, cwd=repo, env=env, text=True, capture_output=True)
        wall = (time.time_ns() - t0) / 1e6
        if proc.returncode != 0:
            sys.exit(f"run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        log = next(state.glob("*/M9/runs/*/events.jsonl"))
        events = [json.loads(l) for l in log.read_text().splitlines()[1:]]
        begin, agent_ms, per_task = {}, {}, []
        run_start = run_end = None
        for e in events:
            t, d = e["type"], e["data"]
            if t == "run_started":
                run_start = e["elapsed_ms"]
            elif t == "task_started":
                begin[d["id"]] = e["elapsed_ms"]
                agent_ms[d["id"]] = 0
            elif t == "attempt_finished":
                agent_ms[d["id"]] += d["duration_ms"]
            elif t == "task_finished":
                per_task.append(e["elapsed_ms"] - begin[d["id"]] - agent_ms[d["id"]])
            elif t == "run_finished":
                run_end = e["elapsed_ms"]
        first_agent = (int(starts.read_text().split()[0]) - t0) / 1e6
        peak = int(re.search(r"peak_rss_kib=(\d+)", proc.stderr).group(1))
        git_status = one_status_ms(repo)
        prompt_texts = prompts.read_text().split("\n\x1e\n")[:-1] if prompts.exists() else []
        return {
            "tasks": len(per_task),
            "median_ms": statistics.median(per_task),
            "p90_ms": sorted(per_task)[int(len(per_task) * 0.9)],
            "whole_per_task_ms": (wall - sum(agent_ms.values())) / max(1, len(per_task)),
            "first_agent_ms": first_agent,
            "peak_mib": peak / 1024,
            "git_status_ms": git_status,
            "prompts": prompt_texts,
            "events_span_ms": (run_end or 0) - (run_start or 0),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def dry_run_prompts(binary, plan, handoff):
    """The next task's prompt as `--dry-run` shows it, for each prefix of the real handoff's
    sections (in the order the file has them)."""
    text = handoff.read_text()
    starts = [m.start() for m in re.finditer(r"^#{2,3} Task \S+ Complete", text, re.M)]
    cuts = starts[1:] + [len(text)]
    work = Path(tempfile.mkdtemp(prefix="kmilestone-prompts-"))
    try:
        repo = work / "repo"
        repo.mkdir()
        sh("git", "init", "-q", "-b", "main", cwd=repo)
        (repo / plan.name).write_text(plan.read_text())
        prompts = []
        for cut in [starts[0] if starts else 0] + cuts:
            (repo / handoff.name).write_text(text[:cut])
            out = subprocess.run([str(binary), "run", plan.name, "--dry-run"], cwd=repo, text=True,
                                 capture_output=True, env=dict(os.environ, NO_COLOR="1")).stdout
            if "--- prompt ---\n" not in out:
                break
            prompts.append(out.split("--- prompt ---\n", 1)[1].split("\n--- end of prompt ---")[0])
        return prompts
    finally:
        shutil.rmtree(work, ignore_errors=True)


def shared_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--files", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--prompts", type=Path, help="a real plan: measure the prompts' shared prefix")
    ap.add_argument("--handoff", type=Path, help="with --prompts: that plan's real handoff")
    ap.add_argument("--no-gate-sandbox", action="store_true", help="run the gate unsandboxed")
    ap.add_argument("--binary", type=Path, help="measure this kmilestone instead of the release build")
    args = ap.parse_args()
    binary, agent = build(args.no_build or args.binary is not None)
    if args.binary:
        binary = args.binary.resolve()
    if args.prompts:
        if args.handoff:
            texts = dry_run_prompts(binary, args.prompts, args.handoff)
        else:
            texts = run_once(binary, agent, 0, 0, args.prompts.read_text())["prompts"]
        ratios = [shared_prefix(a, b) / len(b) for a, b in zip(texts, texts[1:])]
        print(f"plan: {args.prompts} ({len(texts)} prompts)")
        print("shared prefix of consecutive prompts: " +
              ", ".join(f"{r:.0%}" for r in ratios))
        print(f"median {statistics.median(ratios):.0%}, min {min(ratios):.0%}")
        return
    results = []
    for _ in range(args.runs):
        result = run_once(binary, agent, args.tasks, args.files, None, not args.no_gate_sandbox)
        memory = run_once(binary, agent, args.tasks, args.files, None, not args.no_gate_sandbox,
                          via_sh=True)
        result["peak_mib"] = memory["peak_mib"]
        results.append(result)
    print(f"{args.tasks} tasks, {args.files} extra files, gate sandbox "
          f"{'off' if args.no_gate_sandbox else 'on'}, {args.runs} runs "
          f"(median of runs; nproc {os.cpu_count()}, load {os.getloadavg()[0]:.1f})")
    for key, label in [("median_ms", "overhead per task, median (ms)"),
                       ("p90_ms", "overhead per task, p90 (ms)"),
                       ("whole_per_task_ms", "whole run minus agent time, per task (ms)"),
                       ("first_agent_ms", "first agent started after (ms)"),
                       ("peak_mib", "peak memory of kmilestone (MiB)"),
                       ("git_status_ms", "one git status here (ms)")]:
        values = [r[key] for r in results]
        print(f"  {label}: {statistics.median(values):.1f}  (runs: " +
              ", ".join(f"{v:.1f}" for v in values) + ")")


if __name__ == "__main__":
    main()
