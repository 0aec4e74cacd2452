#!/usr/bin/env bash
# What supervision itself costs per child: `true` run N times (default 200) through
# process::run, in a release build of the library's tests. Prints wall time and CPU per run and
# the processes the kernel created per run (machine-wide, so run it on a quiet machine), without
# and with the subreaper.
set -euo pipefail
runs="${1:-200}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for subreaper in 0 1; do
  for _ in 1 2 3; do
    KMILESTONE_BENCH_RUNS="$runs" KMILESTONE_BENCH_SUBREAPER="$subreaper" \
      cargo test --release --quiet --lib \
      process::bench::supervision_overhead -- --ignored --exact --nocapture 2>&1 |
      grep '^supervision'
  done
done
# A gate through sh, as every gate ran before plain ones were exec'd directly.
KMILESTONE_BENCH_RUNS="$runs" KMILESTONE_BENCH_SUBREAPER=1 KMILESTONE_BENCH_COMMAND="sh -c /bin/true" \
  cargo test --release --quiet --lib \
  process::bench::supervision_overhead -- --ignored --exact --nocapture 2>&1 | grep '^supervision'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
