#!/usr/bin/env bash
# Runner overhead per task: a generated plan of N tasks (default 200), an instant agent (a shell
# script that appends the Complete section and commits) and a `true` gate. Prints the whole-process
# time, peak memory, and the runner's own time per task (task wall time minus the agent's and the
# gate's process time), read from the run's events.jsonl.
set -euo pipefail
tasks="${1:-200}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --release --quiet --manifest-path "$repo_root/Cargo.toml"
bin="$repo_root/target/release/kmilestone"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q -b main && git config user.email bench@example.com && git config user.name bench
{
  echo "# Milestone 9: Benchmark"
  for i in $(seq 1 "$tasks"); do
    printf '\n## Task 9.%s: Step %s\n\n**Type:** RESEARCH\n\n**Acceptance Criteria:**\n- [ ] done\n' "$i" "$i"
  done
} > M9_bench.md
printf '[gates]\ncommands = ["true"]\n[agent.claude]\nbinary = "%s/agent.sh"\n' "$work" > kmilestone.toml
cat > agent.sh <<'AGENT'
#!/bin/sh
task=$(sed -n 's/^- Current task: \([^ ]*\).*/\1/p' | head -n 1)
printf '{"type":"system","subtype":"init","session_id":"s-%s"}\n' "$task"
printf '\n## Task %s Complete: done\n' "$task" >> HANDOFF_M9.md
git add -A >/dev/null && git commit -qm "Task $task" >/dev/null
printf '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"s-%s","total_cost_usd":0,"usage":{}}\n' "$task"
AGENT
chmod +x agent.sh
printf "agent.sh\nrun.log\ntime.log\n" > .git/info/exclude
git add -A && git commit -qm plan
start=$(date +%s.%N)
# perf stat --no-inherit counts kmilestone's own CPU time, without its children (agent, gates,
# git): the runner's cost independent of how loaded the machine is.
perf_stat=()
if command -v perf >/dev/null 2>&1 && perf stat -e task-clock true >/dev/null 2>&1; then
  perf_stat=(perf stat --no-inherit -e task-clock -x, -o perf.log)
fi
printf "perf.log\n" >> .git/info/exclude
/usr/bin/time -v "${perf_stat[@]}" "$bin" run M9_bench.md -q > run.log 2> time.log || { head -n 5 time.log; tail -n 20 run.log; exit 1; }
end=$(date +%s.%N)
events=$(ls .kmilestone/M9/runs/*/events.jsonl)
python3 - "$events" "$start" "$end" "$tasks" time.log <<'PY'
import json, statistics, sys
events, start, end, tasks, timelog = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lines = [json.loads(l) for l in open(events)][1:]
per_task, begin, spent = [], {}, {}
for e in lines:
    t, d = e["type"], e["data"]
    if t == "task_started":
        begin[d["id"]] = e["elapsed_ms"]; spent[d["id"]] = 0
    elif t == "attempt_finished":
        spent[d["id"]] += d["duration_ms"]
    elif t == "gate_finished":
        spent[d["id"]] += d["gate"]["duration_ms"]
    elif t == "task_finished":
        total = e["elapsed_ms"] - begin[d["id"]]
        per_task.append((total, total - spent[d["id"]]))
peak = [l for l in open(timelog) if "Maximum resident" in l][0].split(":")[1].strip()
print(f"tasks run: {len(per_task)} of {tasks}")
print(f"whole run: {end - start:.2f} s wall")
print(f"per task, wall (agent + gate + runner): median {statistics.median(t for t, _ in per_task):.1f} ms")
print(f"per task, runner overhead (wall - agent - gate): median {statistics.median(o for _, o in per_task):.1f} ms, p90 {sorted(o for _, o in per_task)[int(len(per_task)*0.9)]:.1f} ms")
print(f"peak memory: {int(peak)/1024:.1f} MiB")
try:
    clock = [l for l in open("perf.log") if "task-clock" in l][0].split(",")[0]
    print(f"runner CPU (own process, no children): {float(clock)/len(per_task):.1f} ms per task")
except (OSError, IndexError):
    pass
PY
