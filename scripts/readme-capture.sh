#!/usr/bin/env bash
# Regenerates the "What a run looks like" capture in README.md: runs examples/M1_greeter.md from a
# fresh start in a scratch repository, with the scripted fake agent (tests/fake_agent) standing in
# for Claude Code, and prints what kmilestone printed, then the task table of `kmilestone report`.
#
#   bash scripts/readme-capture.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$here/Cargo.toml"
kmilestone="$here/target/debug/kmilestone"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$scratch/bin" "$scratch/fake" "$scratch/repo"
ln -s "$here/tests/fake_agent/fake_claude.py" "$scratch/bin/claude"
cd "$scratch/repo"
git init -q -b main
git config user.email dev@example.com
git config user.name Dev
git config commit.gpgsign false
cp "$here/examples/M1_greeter.md" .
printf '[gates]\ncommands = ["make test-unit", "make quality"]\n' > kmilestone.toml
git add -A && git commit -qm "Plan"

# One entry per agent invocation. The agent adds its files by name, as it must inside Claude Code's
# sandbox (where `git add -A` fails). Task 1.2's first attempt forgets its handoff section: the runner
# sends it back to the same session, which reports its cumulative cost (0.09, then 0.14).
cat > "$scratch/fake/scenario.json" <<'JSON'
{"invocations": [
  {"actions": [
    {"text": "I'll create the package, a smoke test and the Makefile gates."},
    {"write": ".gitignore", "content": "__pycache__/\n"},
    {"write": "greeter/__init__.py", "content": "__version__ = \"0.1.0\"\n"},
    {"write": "tests/__init__.py", "content": ""},
    {"write": "tests/test_smoke.py", "content": "import unittest\n\nimport greeter\n\n\nclass Smoke(unittest.TestCase):\n    def test_version(self):\n        self.assertEqual(greeter.__version__, \"0.1.0\")\n"},
    {"write": "Makefile", "content": "test-unit:\n\tpython3 -m unittest discover -s tests -t . -q\nquality:\n\tpython3 -m py_compile greeter/*.py\n"},
    {"sh": "make test-unit"},
    {"append": "HANDOFF_M1.md", "text": "# Handoff: M1 Greeter\n\n## Task 1.1 Complete: Project skeleton and quality gates\n\n- `make test-unit` and `make quality` work.\n"},
    {"sh": "git add .gitignore Makefile greeter tests HANDOFF_M1.md && git commit -qm 'Task 1.1: project skeleton and quality gates'"}
  ], "result": {"cost": 0.0612, "input_tokens": 18250, "output_tokens": 940}},
  {"actions": [
    {"text": "Now greet() with its unit tests."},
    {"write": "greeter/core.py", "content": "def greet(name: str, shout: bool = False) -> str:\n    if not name.strip():\n        raise ValueError(\"name must not be empty\")\n    text = f\"Hello, {name}!\"\n    return text.upper() if shout else text\n"},
    {"write": "tests/test_core.py", "content": "import unittest\n\nfrom greeter.core import greet\n\n\nclass Greet(unittest.TestCase):\n    def test_greets(self):\n        self.assertEqual(greet(\"Ann\"), \"Hello, Ann!\")\n\n    def test_shouts(self):\n        self.assertEqual(greet(\"Ann\", shout=True), \"HELLO, ANN!\")\n\n    def test_rejects_empty(self):\n        with self.assertRaises(ValueError):\n            greet(\" \")\n"},
    {"sh": "make test-unit"},
    {"sh": "git add greeter/core.py tests/test_core.py && git commit -qm 'Task 1.2: greet()'"}
  ], "result": {"cost": 0.0931, "input_tokens": 24100, "output_tokens": 1210}},
  {"actions": [
    {"text": "The handoff section was missing; adding it."},
    {"append": "HANDOFF_M1.md", "text": "\n## Task 1.2 Complete: The greet function\n\n- `greet(\"\")` raises ValueError.\n"},
    {"sh": "git add HANDOFF_M1.md && git commit -qm 'Handoff for task 1.2'"}
  ], "result": {"cost": 0.1404, "input_tokens": 6300, "output_tokens": 180}},
  {"actions": [
    {"write": "greeter/__main__.py", "content": "import sys\n\nfrom greeter.core import greet\n\nprint(greet(sys.argv[1], shout=\"--shout\" in sys.argv))\n"},
    {"sh": "python3 -m greeter Ann --shout"},
    {"append": "HANDOFF_M1.md", "text": "\n## Task 1.3 Complete: The greet command\n\n**E2E:** python3 -m greeter Ann --shout — PASSED\n"},
    {"sh": "git add greeter/__main__.py HANDOFF_M1.md && git commit -qm 'Task 1.3: greet command'"}
  ], "result": {"cost": 0.0544, "input_tokens": 15020, "output_tokens": 760}}
]}
JSON

# The state goes with the scratch repository rather than into the user's state directory.
export PATH="$scratch/bin:$PATH" FAKE_CLAUDE_DIR="$scratch/fake" FAKE_CLAUDE_SCENARIO="$scratch/fake/scenario.json" NO_COLOR=1 KMILESTONE_STATE_DIR="$scratch/state"
echo '$ kmilestone run M1_greeter.md'
"$kmilestone" run M1_greeter.md || true
echo
echo '$ kmilestone report M1_greeter.md   # the task table'
"$kmilestone" report M1_greeter.md | grep -E '^\|'
