#!/usr/bin/env python3
"""A fake `claude` for kmilestone's scenario tests.

It speaks Claude Code's stream-json (system/init, assistant, user, result lines) and does what the
test's scenario file says, one entry per invocation. Environment:

  FAKE_CLAUDE_DIR       folder for its call log and counter (required)
  FAKE_CLAUDE_SCENARIO  JSON file: {"invocations": [...], "default": {...}}

An invocation: {"actions": [...], "result": {...}} where actions run in order:
  {"append": "HANDOFF_M1.md", "text": "## Task {task} Complete: x\\n"}   append to a file
  {"write": "path", "content": "..."}                                   write a file
  {"sh": "git add -A && git commit -qm 'task {task}'"}                   run a shell command
  {"text": "..."}                                                         an assistant text line
  {"garbage": "..."}                                                      a raw non-JSON line
  {"sleep": 0.5}                                                          sleep
  {"hang": true}                                                          sleep forever (no output)
  {"spawn_sleeper": "pidfile"}                                            background sleep, pid written
  {"crash": 9}                                                            kill itself with a signal
  {"pid": "pidfile"}                                                      write its own pid
  {"ignore_term": true}                                                   ignore SIGTERM from now on
  {"chatter": 0.2}                                                        a text line every 0.2 s, forever
and "result" (omit with "no_result": true): {"is_error": false, "text": "...", "cost": 0.01,
"input_tokens": 100, "output_tokens": 10, "subtype": "success", "denials": ["touch x"],
"after": "hang" | "exit"}. "{task}" is the task ID read from the first prompt of the session.

It sandboxes nothing. Like the real CLI it says in system/init whether the sandbox that
`--settings` asks for is on (`"sandbox_enabled": true` when the settings enable it); the real
sandbox is tested with the real CLI (tests/integration/sandbox_runs.rs, real_sandbox.rs). An
invocation (or the scenario, for all of them) may say "sandbox": "unavailable" to end as the CLI
does without bubblewrap (no init line, a startup-failure result, exit 1), or "sandbox": "off" to
start with "sandbox_enabled": false.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    base = os.environ["FAKE_CLAUDE_DIR"]
    os.makedirs(os.path.join(base, "calls"), exist_ok=True)
    with open(os.environ["FAKE_CLAUDE_SCENARIO"]) as f:
        scenario = json.load(f)
    counter = os.path.join(base, "count")
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    with open(counter, "w") as f:
        f.write(str(n + 1))
    prompt = sys.stdin.read()
    argv = sys.argv[1:]
    resume = argv[argv.index("--resume") + 1] if "--resume" in argv else None
    session = resume or str(uuid.UUID(int=n + 1))
    sessions_file = os.path.join(base, "sessions.json")
    sessions = json.load(open(sessions_file)) if os.path.exists(sessions_file) else {}
    match = re.search(r"^- Current task: (\S+)", prompt, re.M)
    task = match.group(1) if match else sessions.get(session, "?")
    sessions[session] = task
    with open(sessions_file, "w") as f:
        json.dump(sessions, f)
    with open(os.path.join(base, "calls", f"{n:03}.json"), "w") as f:
        json.dump({"argv": argv, "stdin": prompt, "cwd": os.getcwd(), "session": session,
                   "resume": resume, "task": task, "time": time.time()}, f)

    invocations = scenario.get("invocations", [])
    spec = invocations[n] if n < len(invocations) else scenario.get("default", {})
    fill = lambda s: s.replace("{task}", task)

    settings = json.loads(argv[argv.index("--settings") + 1]) if "--settings" in argv else {}
    sandbox_asked = settings.get("sandbox", {}).get("enabled") is True
    sandbox = spec.get("sandbox", scenario.get("sandbox"))
    if sandbox_asked and sandbox == "unavailable":
        emit({"type": "result", "subtype": "error_during_execution", "is_error": True,
              "num_turns": 0, "session_id": session, "total_cost_usd": 0, "permission_denials": [],
              "errors": ["Sandbox required but unavailable: sandbox is enabled but dependencies are missing: bubblewrap (bwrap) not installed · install missing tools (e.g. apt install bubblewrap socat) or see https://code.claude.com/docs/en/sandboxing. Set sandbox.failIfUnavailable=false to allow unsandboxed execution."],
              "startup_failure_reason": "sandbox_required_unavailable"})
        sys.exit(1)
    mode = argv[argv.index("--permission-mode") + 1] if "--permission-mode" in argv else "default"
    emit({"type": "system", "subtype": "init", "cwd": os.getcwd(), "session_id": session,
          "tools": ["Bash", "Edit", "Read", "Write"], "model": "fake-model",
          "permissionMode": mode, "claude_code_version": "fake",
          "sandbox_enabled": sandbox_asked and sandbox != "off"})
    tool_id = 0
    for action in spec.get("actions", []):
        tool_id += 1
        if "append" in action or "write" in action:
            path = action.get("append") or action.get("write")
            mode = "a" if "append" in action else "w"
            content = fill(action.get("text", action.get("content", "")))
            emit({"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
                {"type": "tool_use", "id": f"toolu_{tool_id}", "name": "Edit" if mode == "a" else "Write",
                 "input": {"file_path": os.path.abspath(path)}}]}})
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, mode) as f:
                f.write(content)
            emit({"type": "user", "session_id": session, "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{tool_id}", "content": "ok"}]}})
        elif "sh" in action:
            command = fill(action["sh"])
            emit({"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
                {"type": "tool_use", "id": f"toolu_{tool_id}", "name": "Bash", "input": {"command": command}}]}})
            done = subprocess.run(command, shell=True, capture_output=True, text=True)
            emit({"type": "user", "session_id": session, "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{tool_id}", "content": done.stdout + done.stderr,
                 "is_error": done.returncode != 0}]}})
        elif "text" in action:
            emit({"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
                {"type": "text", "text": fill(action["text"])}]}})
        elif "garbage" in action:
            sys.stdout.write(action["garbage"] + "\n")
            sys.stdout.flush()
        elif "sleep" in action:
            time.sleep(action["sleep"])
        elif "hang" in action:
            while True:
                time.sleep(1000)
        elif "spawn_sleeper" in action:
            child = subprocess.Popen(["sleep", "1000"])
            with open(action["spawn_sleeper"], "w") as f:
                f.write(str(child.pid))
        elif "pid" in action:
            with open(action["pid"], "w") as f:
                f.write(str(os.getpid()))
        elif "ignore_term" in action:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif "chatter" in action:
            while True:
                emit({"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
                    {"type": "text", "text": "still working"}]}})
                time.sleep(action["chatter"])
        elif "crash" in action:
            os.kill(os.getpid(), action["crash"])
            time.sleep(5)

    if spec.get("no_result"):
        sys.exit(spec.get("exit", 1))
    result = spec.get("result", {})
    text = fill(result.get("text", "Done."))
    usage = {"input_tokens": result.get("input_tokens", 100), "output_tokens": result.get("output_tokens", 10),
             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    emit({"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
        {"type": "text", "text": text}], "usage": usage}})
    denials = [{"tool_name": "Bash", "tool_use_id": "t", "tool_input": {"command": d}}
               for d in result.get("denials", [])]
    is_error = result.get("is_error", False)
    emit({"type": "result", "subtype": result.get("subtype", "success"), "is_error": is_error,
          "num_turns": tool_id + 1, "result": text, "session_id": session,
          "total_cost_usd": result.get("cost", 0.01), "usage": usage,
          "permission_denials": denials, "api_error_status": result.get("api_error_status")})
    if result.get("after") == "hang":
        while True:
            time.sleep(1000)
    sys.exit(1 if is_error else 0)


if __name__ == "__main__":
    main()
