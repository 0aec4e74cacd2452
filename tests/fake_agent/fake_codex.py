#!/usr/bin/env python3
"""A fake `codex` for kmilestone's scenario tests.

It speaks Codex CLI 0.169.0's `exec --json` stream (see docs/codex.md): thread.started,
turn.started, item.started/item.completed for agent messages, commands and file changes, then
turn.completed with the thread's cumulative usage or turn.failed. It takes the command line the
adapter builds (`exec --json … [resume <thread_id>] -`, the prompt on stdin) and does what the
test's scenario file says, one entry per invocation. Environment:

  FAKE_CODEX_DIR       folder for its call log, counter and threads (required)
  FAKE_CODEX_SCENARIO  JSON file: {"invocations": [...], "default": {...}}

An invocation: {"actions": [...], "result": {...}} where actions run in order:
  {"append": "HANDOFF_M1.md", "text": "## Task {task} Complete: x\\n"}   file_change update
  {"write": "path", "content": "..."}                                   file_change add
  {"sh": "echo hi"}                       a command_execution, run for real (under
                                          `--sandbox workspace-write`, `git add`/`git commit`
                                          fail as in the real sandbox: .git is read-only)
  {"exec": "cmd", "output": "...", "exit_code": 1}  a command_execution that is not run
  {"text": "..."}                         an agent_message
  {"garbage": "..."}                      a raw non-JSON line
  {"stderr": "..."}                       a line on stderr
  {"sleep": 0.5} / {"hang": true}         sleep / sleep forever with no output
and "result" (omit with "no_result": true, exiting with "exit", default 1):
  {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 50}  this turn's tokens,
      added to the thread's total, which turn.completed reports (as the real CLI does)
  {"failed": "message"}                   an error line, then turn.failed, exit 1
"{task}" is the task ID read from the first prompt of the thread.
"""
import json
import os
import re
import subprocess
import sys
import time


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def load(path, default):
    return json.load(open(path)) if os.path.exists(path) else default


def main():
    base = os.environ["FAKE_CODEX_DIR"]
    os.makedirs(os.path.join(base, "calls"), exist_ok=True)
    scenario = load(os.environ["FAKE_CODEX_SCENARIO"], {})
    argv = sys.argv[1:]
    if argv[:2] != ["exec", "--json"] or argv[-1] != "-":
        sys.stderr.write("fake codex: expected `exec --json … -`, got %r\n" % argv)
        sys.exit(2)
    counter = os.path.join(base, "count")
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    with open(counter, "w") as f:
        f.write(str(n + 1))
    prompt = sys.stdin.read()
    sandboxed = "--sandbox" in argv and argv[argv.index("--sandbox") + 1] == "workspace-write"
    threads_file = os.path.join(base, "threads.json")
    threads = load(threads_file, {})
    resume = argv[argv.index("resume") + 1] if "resume" in argv else None
    with open(os.path.join(base, "calls", f"{n:03}.json"), "w") as f:
        json.dump({"argv": argv, "stdin": prompt, "cwd": os.getcwd(), "resume": resume,
                   "sandboxed": sandboxed, "time": time.time()}, f)
    if resume is not None and resume not in threads:
        sys.stderr.write("Error: thread/resume: thread/resume failed: no rollout found for "
                         f"thread id {resume} (code -32600)\n")
        sys.exit(1)
    thread = resume or f"0199a000-0000-7000-8000-{n + 1:012}"
    match = re.search(r"^- Current task: (\S+)", prompt, re.M)
    record = threads.get(thread, {"task": match.group(1) if match else "?",
                                  "input": 0, "cached": 0, "output": 0})
    task = record["task"]
    fill = lambda s: s.replace("{task}", task)

    invocations = scenario.get("invocations", [])
    spec = invocations[n] if n < len(invocations) else scenario.get("default", {})

    # Like the real CLI, which writes the thread's rollout when it starts: a thread whose first
    # invocation was killed can still be resumed.
    threads[thread] = record
    with open(threads_file, "w") as f:
        json.dump(threads, f)
    emit({"type": "thread.started", "thread_id": thread})
    emit({"type": "turn.started"})
    item = 0

    def next_id():
        nonlocal item
        item += 1
        return f"item_{item - 1}"

    for action in spec.get("actions", []):
        if "append" in action or "write" in action:
            path = fill(action.get("append") or action.get("write"))
            kind = "update" if "append" in action and os.path.exists(path) else "add"
            change = {"id": next_id(), "type": "file_change",
                      "changes": [{"path": os.path.abspath(path), "kind": kind}]}
            emit({"type": "item.started", "item": {**change, "status": "in_progress"}})
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "a" if "append" in action else "w") as f:
                f.write(fill(action.get("text", action.get("content", ""))))
            emit({"type": "item.completed", "item": {**change, "status": "completed"}})
        elif "sh" in action or "exec" in action:
            command = fill(action.get("sh") or action["exec"])
            wrapped = "/bin/bash -lc '" + command.replace("'", "'\\''") + "'"
            started = {"id": next_id(), "type": "command_execution", "command": wrapped,
                       "aggregated_output": "", "exit_code": None, "status": "in_progress"}
            emit({"type": "item.started", "item": started})
            if "exec" in action:
                output, code = fill(action.get("output", "")), action.get("exit_code", 0)
            elif sandboxed and re.search(r"\bgit\s+(add|commit)\b", command):
                output = (f"fatal: Unable to create '{os.getcwd()}/.git/index.lock': "
                          "Read-only file system\n")
                code = 128
            else:
                done = subprocess.run(command, shell=True, capture_output=True, text=True)
                output, code = done.stdout + done.stderr, done.returncode
            emit({"type": "item.completed", "item": {**started, "aggregated_output": output,
                  "exit_code": code, "status": "completed" if code == 0 else "failed"}})
        elif "text" in action:
            emit({"type": "item.completed", "item": {"id": next_id(), "type": "agent_message",
                                                     "text": fill(action["text"])}})
        elif "garbage" in action:
            sys.stdout.write(action["garbage"] + "\n")
            sys.stdout.flush()
        elif "stderr" in action:
            sys.stderr.write(fill(action["stderr"]) + "\n")
            sys.stderr.flush()
        elif "sleep" in action:
            time.sleep(action["sleep"])
        elif "hang" in action:
            while True:
                time.sleep(1000)

    if spec.get("no_result"):
        with open(threads_file, "w") as f:
            json.dump(threads, f)
        sys.exit(spec.get("exit", 1))
    result = spec.get("result", {})
    # The tokens of this turn count into the thread's total, failed or not: a failed turn
    # reports none, and its tokens show in the next total.
    record["input"] += result.get("input_tokens", 1000)
    record["cached"] += result.get("cached_input_tokens", 200)
    record["output"] += result.get("output_tokens", 50)
    with open(threads_file, "w") as f:
        json.dump(threads, f)
    if "failed" in result:
        message = fill(result["failed"])
        emit({"type": "error", "message": message})
        emit({"type": "turn.failed", "error": {"message": message}})
        sys.exit(1)
    emit({"type": "item.completed", "item": {"id": next_id(), "type": "agent_message",
                                             "text": fill(result.get("text", "Done."))}})
    emit({"type": "turn.completed", "usage": {
        "input_tokens": record["input"], "cached_input_tokens": record["cached"],
        "cache_write_input_tokens": 0, "output_tokens": record["output"],
        "reasoning_output_tokens": 0}})
    sys.exit(0)


if __name__ == "__main__":
    main()
