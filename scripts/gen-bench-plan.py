#!/usr/bin/env python3
"""Write a large plan and handoff for timing `kmilestone status`.

Usage: gen-bench-plan.py DIR [TASKS] [HANDOFF_MB]

Writes DIR/M9_bench.md with TASKS tasks (default 2000; each with a type, a description, a fenced
shell block holding example headings, and acceptance criteria) and DIR/HANDOFF_M9.md of about
HANDOFF_MB megabytes (default 10) marking every task but the last complete, with realistic notes.
"""

import os
import sys


def plan_text(tasks: int) -> str:
    out = ["---\ndesign: docs/design.md\narchitecture: docs/arch.md\n---\n\n",
           "# Milestone 9: Benchmark Plan\n\n"]
    for n in range(tasks):
        phase, step = divmod(n, 10)
        if step == 0:
            out.append(f"## Phase {phase + 1}\n\n")
        task_id = f"{phase + 1}.{step + 1}"
        out.append(
            f"### Task {task_id}: Implement component {n} of the pipeline\n\n"
            "**Type:** CODING\n"
            f"**File(s):** `src/component_{n}.py`, `tests/unit/test_component_{n}.py`\n\n"
            f"Build component {n}: read the input, validate it with *strict* rules, and pass\n"
            "the result on. Keep the public API small and documented.\n\n"
            "```bash\n# Run the unit tests\nuv run pytest tests/unit -q\n```\n\n"
            "**Acceptance Criteria:**\n"
            f"- [ ] component {n} validates its input\n"
            "- [ ] unit tests cover the error paths\n"
            "- [ ] `make quality` passes\n\n"
        )
    return "".join(out)


def handoff_text(tasks: int, megabytes: float) -> str:
    target = int(megabytes * 1024 * 1024)
    ids = [f"{n // 10 + 1}.{n % 10 + 1}" for n in range(tasks - 1)]
    note = (
        "- Learned: the validator must run before the writer; see `src/validate.py`.\n"
        "- Gotcha: **fixtures** are shared, so reset them in `conftest.py`.\n\n"
        "```python\ndef test_example():\n    assert run() == 0\n```\n\n"
        "Plain paragraph with `code`, _emphasis_ and a [link](https://example.com) that the\n"
        "next task should read before it starts.\n\n"
    )
    per_task = max(1, (target // max(1, len(ids))) // len(note))
    out = ["# Handoff: M9\n\n"]
    for task_id in ids:
        out.append(f"## Task {task_id} Complete: component\n\n")
        out.append(note * per_task)
    return "".join(out)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    directory = sys.argv[1]
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    megabytes = float(sys.argv[3]) if len(sys.argv) > 3 else 10
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "M9_bench.md"), "w") as f:
        f.write(plan_text(tasks))
    with open(os.path.join(directory, "HANDOFF_M9.md"), "w") as f:
        f.write(handoff_text(tasks, megabytes))


if __name__ == "__main__":
    main()
