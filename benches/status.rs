//! Parsing cost of a large plan (2,000 tasks) and a 10 MB handoff, the inputs `status` reads.

use std::path::Path;

use kmilestone::plan::Plan;
use kmilestone::plan::handoff::Handoff;
use kmilestone::plan::progress::Progress;

fn main() {
    divan::main();
}

const TASKS: usize = 2000;
const HANDOFF_BYTES: usize = 10 * 1024 * 1024;

fn task_id(n: usize) -> String {
    format!("{}.{}", n / 10 + 1, n % 10 + 1)
}

/// The same shape as `scripts/gen-bench-plan.py`: phases of ten level-3 tasks with fields, a
/// fenced shell block and acceptance criteria.
fn plan_text() -> String {
    let mut out =
        String::from("---\ndesign: docs/design.md\n---\n\n# Milestone 9: Benchmark Plan\n\n");
    for n in 0..TASKS {
        if n % 10 == 0 {
            out.push_str(&format!("## Phase {}\n\n", n / 10 + 1));
        }
        out.push_str(&format!(
            "### Task {}: Implement component {n} of the pipeline\n\n**Type:** CODING\n**File(s):** `src/component_{n}.py`\n\nBuild component {n}: read the input, validate it with *strict* rules.\n\n```bash\n# Run the unit tests\nuv run pytest tests/unit -q\n```\n\n**Acceptance Criteria:**\n- [ ] component {n} validates its input\n- [ ] `make quality` passes\n\n",
            task_id(n)
        ));
    }
    out
}

fn handoff_text() -> String {
    let note = "- Learned: the validator must run before the writer; see `src/validate.py`.\n- Gotcha: **fixtures** are shared, so reset them in `conftest.py`.\n\n```python\ndef test_example():\n    assert run() == 0\n```\n\nPlain paragraph with `code`, _emphasis_ and a [link](https://example.com).\n\n";
    let per_task = (HANDOFF_BYTES / (TASKS - 1) / note.len()).max(1);
    let mut out = String::from("# Handoff: M9\n\n");
    for n in 0..TASKS - 1 {
        out.push_str(&format!("## Task {} Complete: component\n\n", task_id(n)));
        for _ in 0..per_task {
            out.push_str(note);
        }
    }
    out
}

#[divan::bench]
fn parse_plan_2000_tasks(bencher: divan::Bencher) {
    let text = plan_text();
    bencher
        .counter(divan::counter::BytesCount::of_str(&text))
        .bench(|| Plan::parse(Path::new("M9_bench.md"), divan::black_box(&text)).unwrap());
}

#[divan::bench]
fn parse_handoff_10mb(bencher: divan::Bencher) {
    let plan = Plan::parse(Path::new("M9_bench.md"), &plan_text()).unwrap();
    let text = handoff_text();
    bencher
        .counter(divan::counter::BytesCount::of_str(&text))
        .bench(|| Handoff::parse(divan::black_box(&text), &plan));
}

#[divan::bench]
fn progress_2000_tasks(bencher: divan::Bencher) {
    let plan = Plan::parse(Path::new("M9_bench.md"), &plan_text()).unwrap();
    let handoff = Handoff::parse(&handoff_text(), &plan);
    bencher.bench(|| Progress::compute(&plan, divan::black_box(&handoff)));
}
