#!/usr/bin/env python3
"""Measure the unit-test quality check on real test files from published packages.

Downloads every package named in manifest.json from its registry (PyPI sdists, crates.io
.crate files, npm tarballs, Debian .deb files), extracts the labelled files and the files of
their package view (conftest.py chain and the test tree a Python test can import from, the other
_test.go files of a Go package, a JavaScript test tree with its jest/vitest configuration, a
crate's src/ and tests/), runs `kmilestone check-tests --json` (release build) on the labelled
files only, and prints precision and recall per rule family, then the speed of the check and of
`ruff check --select PT` on the same Python files.

Usage: python3 scripts/accuracy/run.py [--manifest FILE] [--binary PATH] [--no-build] [--repeat N] [--show]
"""

import argparse
import io
import json
import re
import resource
import statistics
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
CRATE_ROOT = HERE.parent.parent
CACHE = HERE / ".cache"
USER_AGENT = "kmilestone-accuracy-script (test corpus download)"

FAMILIES = {
    "containers": {"docker", "service-subprocess"},
    "database": {"real-db"},
    "network": {"network", "needs-service"},
    "sleep": {"slow-sleep"},
    "assertions": {"no-assertion", "weak-assertion"},
    "disabled": {"disabled-test"},
}


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def archive_url(package: dict) -> str:
    registry, name, version = package["registry"], package["name"], package["version"]
    if registry == "pypi":
        index = f"https://pypi.org/pypi/{name}/json"
        data = json.loads(fetch(index))
        sdists = [u for u in data["releases"].get(version, []) if u["packagetype"] == "sdist"]
        if not sdists:
            raise SystemExit(f"{name} {version} has no sdist on PyPI")
        return urllib.parse.urljoin(index, sdists[0]["url"])
    if registry == "crates":
        return f"https://static.crates.io/crates/{name}/{name}-{version}.crate"
    if registry == "npm":
        data = json.loads(fetch(f"https://registry.npmjs.org/{name}/{version}"))
        return data["dist"]["tarball"]
    if registry == "debian":
        # Debian's Go library packages (golang-*-dev) ship the module's source, tests included;
        # the Go module proxy is not reachable from here, the Debian archive is.
        source = package["source"]
        prefix = source[:4] if source.startswith("lib") else source[0]
        file_version = version.split(":", 1)[-1]
        arch = package.get("arch", "all")
        return f"https://deb.debian.org/debian/pool/main/{prefix}/{source}/{name}_{file_version}_{arch}.deb"
    raise SystemExit(f"unknown registry {registry}")


def deb_data_tarball(deb: bytes) -> bytes:
    """The data.tar.* member of a .deb, which is an ar archive."""
    if not deb.startswith(b"!<arch>\n"):
        raise SystemExit("not a Debian package (no ar header)")
    offset = 8
    while offset + 60 <= len(deb):
        header = deb[offset : offset + 60]
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = deb[offset + 60 : offset + 60 + size]
        if member.startswith("data.tar"):
            return body
        offset += 60 + size + (size % 2)
    raise SystemExit("Debian package without data.tar")


# Bumped whenever the choice of extracted files changes, so old caches are extracted again.
EXTRACTION_VERSION = "4"
# Folder names that hold a project's tests: everything under the highest one is extracted.
TEST_FOLDERS = {"test", "tests", "testing", "__tests__", "spec", "t"}
PYTHON_ROOT_MARKERS = {"pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", "setup.py", "conftest.py"}
SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts")
SCRIPT_CONFIGS = ("package.json", "jest.config.", "vitest.config.", "vite.config.")


def test_root(path: str) -> str:
    """The highest folder of `path` named like a test folder, else the file's own folder."""
    parts = path.split("/")[:-1]
    for index, part in enumerate(parts):
        if part in TEST_FOLDERS:
            return "/".join(parts[: index + 1])
    return "/".join(parts)


def view_wanted(inner: str, labelled: set) -> bool:
    """True when an archive member belongs to the package view of a labelled file."""
    if inner in labelled:
        return True
    name = inner.rsplit("/", 1)[-1]
    folder = inner.rsplit("/", 1)[0] if "/" in inner else ""
    for path in labelled:
        own = path.rsplit("/", 1)[0] if "/" in path else ""
        ancestors = {"/".join(own.split("/")[:i]) for i in range(len(own.split("/")) + 1)} if own else {""}
        root = test_root(path)
        under_root = inner.startswith(root + "/") if root else True
        if path.endswith(".py"):
            if name in PYTHON_ROOT_MARKERS and folder in ancestors:
                return True
            if inner.endswith(".py") and under_root:
                return True
        elif path.endswith(".go"):
            if folder == own and name.endswith("_test.go"):
                return True
            # Test-support packages of the module (`redistest/`), imported by the tests.
            if inner.endswith(".go") and folder.startswith(own + "/") and "test" in folder.rsplit("/", 1)[-1].lower():
                return True
        elif path.endswith(SCRIPT_SUFFIXES):
            if folder in ancestors and name.startswith(SCRIPT_CONFIGS):
                return True
            if inner.endswith(SCRIPT_SUFFIXES) and under_root:
                return True
        elif path.endswith(".rs"):
            if inner.endswith(".rs") and (inner.startswith("tests/") or inner.startswith("src/")):
                return True
    return False


IMPORT_LINE = re.compile(rb"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.M)


def imported_support(contents: dict, chosen: set) -> set:
    """Python test-support modules (named for tests) that extracted files import from elsewhere
    in the archive (`from pylibmc.test import make_test_client` in tests/__init__.py)."""
    by_module = {}
    for inner in contents:
        if inner.endswith(".py"):
            module = inner[:-3].replace("/", ".")
            for prefix in ("src.", "lib.", ""):
                if module.startswith(prefix):
                    stripped = module[len(prefix):]
                    by_module.setdefault(stripped.removesuffix(".__init__"), inner)
    found, pending = set(), [inner for inner in chosen if inner.endswith(".py")]
    while pending:
        inner = pending.pop()
        for match in IMPORT_LINE.finditer(contents.get(inner, b"")):
            name = (match.group(1) or match.group(2)).decode()
            for candidate in (name, name.rsplit(".", 1)[0]):
                path = by_module.get(candidate)
                stem = path.rsplit("/", 1)[-1][:-3] if path else ""
                if path and path not in chosen and path not in found and "test" in stem.lower():
                    found.add(path)
                    pending.append(path)
    return found


def extract(package: dict) -> Path:
    """Downloads the package once and extracts its labelled files and their package view
    under .cache/."""
    target = CACHE / package["registry"] / f"{package['name']}-{package['version']}"
    labelled = {f["path"] for f in package["files"]}
    wanted = set(labelled)
    if package["registry"] in ("crates", "npm"):
        # The check reads the package's name from its manifest, as in a checkout.
        wanted.add("Cargo.toml" if package["registry"] == "crates" else "package.json")
    marker = target / ".extracted"
    if marker.is_file() and marker.read_text() == EXTRACTION_VERSION and all(
        (target / path).is_file() for path in wanted
    ):
        return target
    data = fetch(archive_url(package))
    if package["registry"] == "debian":
        data = deb_data_tarball(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        contents = {}
        for member in archive.getmembers():
            # Archives hold one top folder (name-version/, package/ or Debian's ./); paths are
            # below it.
            inner = member.name.split("/", 1)[1] if "/" in member.name else ""
            if member.isfile():
                source = archive.extractfile(member)
                if source is not None:
                    contents[inner] = source.read()
    chosen = {inner for inner in contents if inner in wanted or view_wanted(inner, labelled)}
    chosen |= imported_support(contents, chosen)
    for inner in chosen:
        destination = target / inner
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(contents[inner])
    missing = [path for path in wanted if not (target / path).is_file()]
    if missing:
        raise SystemExit(f"{package['name']} {package['version']}: not in the archive: {missing}")
    marker.write_text(EXTRACTION_VERSION)
    return target


def family_of(rule: str) -> str:
    return next(family for family, rules in FAMILIES.items() if rule in rules)


def run_check(binary: Path, files: list) -> dict:
    result = subprocess.run(
        [str(binary), "check-tests", "--json", *map(str, files)],
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"check-tests failed ({result.returncode}): {result.stderr}")
    return json.loads(result.stdout)


def timings(command: list, repeat: int) -> tuple:
    """Best wall-clock time and median CPU time (user + system) over `repeat` runs.

    The machine may be shared, so the CPU time is reported beside the wall time: it does not
    grow when other processes compete for the cores.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return min(walls), statistics.median(cpus)


def describe(label: str, files: int, wall: float, cpu: float, repeat: int) -> str:
    return (
        f"{label}: {files} files, wall {wall * 1000:.1f} ms (best of {repeat}, {files / wall:.0f} files/s), "
        f"CPU {cpu * 1000:.1f} ms (median, {files / cpu:.0f} files per CPU-second)"
    )


def print_scores(title: str, labels: dict, predicted: dict, packages: int, files: int, show: bool) -> None:
    counts = {family: {"tp": 0, "fp": 0, "fn": 0, "positives": 0} for family in FAMILIES}
    disagreements = []
    for key, rules in labels.items():
        for family, members in FAMILIES.items():
            expected = bool(rules & members)
            found = bool(predicted[key] & members)
            counts[family]["positives"] += expected
            if expected and found:
                counts[family]["tp"] += 1
            elif found:
                counts[family]["fp"] += 1
                disagreements.append(("FP", family, key, sorted(predicted[key])))
            elif expected:
                counts[family]["fn"] += 1
                disagreements.append(("FN", family, key, sorted(rules)))

    clean = sum(1 for rules in labels.values() if not rules)
    print(f"{title}: {packages} packages, {files} files, {len(labels)} labelled tests, {clean} clean")
    print()
    print("| family | rules | positives | TP | FP | FN | precision | recall |")
    print("|---|---|---|---|---|---|---|---|")
    for family, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else float("nan")
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else float("nan")
        rules = ", ".join(sorted(FAMILIES[family]))
        print(f"| {family} | {rules} | {c['positives']} | {c['tp']} | {c['fp']} | {c['fn']} | {precision:.3f} | {recall:.3f} |")
    if show:
        print()
        for kind, family, (path, test), rules in sorted(disagreements):
            print(f"{kind} {family}: {Path(path).relative_to(CACHE)}::{test} {rules}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=HERE / "manifest.json")
    parser.add_argument("--binary", type=Path, default=CRATE_ROOT / "target/release/kmilestone")
    parser.add_argument("--no-build", action="store_true", help="use the binary as it is")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs; the best is kept")
    parser.add_argument("--show", action="store_true", help="print every disagreement")
    args = parser.parse_args()

    manifest = json.loads(args.manifest.read_text())
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "kmilestone"], cwd=CRATE_ROOT, check=True)

    # (file, test) -> set of labelled rules
    labels = {}
    files = []
    for package in manifest["packages"]:
        root = extract(package)
        for entry in package["files"]:
            path = root / entry["path"]
            files.append(path)
            for test, rules in entry["tests"].items():
                labels[(str(path), test)] = set(rules)

    report = run_check(args.binary, files)
    predicted = defaultdict(set)
    for finding in report["findings"]:
        key = (finding["file"], finding["test"])
        if key in labels:
            predicted[key].add(finding["rule"])

    print_scores("Whole corpus", labels, predicted, len(manifest["packages"]), len(files), args.show)
    subsets = [
        ("labelled_blind", "Labelled blind (labels written before the check's answers were read)"),
        ("held_out", "Held-out packages (labelled blind; their first score, before the fixes it prompted, is in BENCHMARKS-checks.md)"),
    ]
    rounds = sorted({p["round"] for p in manifest["packages"] if p.get("round", 0) >= 5})
    subsets += [(f"round={r}", f"Round {r} (labelled blind from the test code, before the check ran on it)") for r in rounds]
    for field, title in subsets:
        if field.startswith("round="):
            wanted_round = int(field.split("=", 1)[1])
            chosen = [p for p in manifest["packages"] if p.get("round") == wanted_round]
        else:
            chosen = [p for p in manifest["packages"] if p.get(field)]
        if not chosen:
            continue
        roots = tuple(str(CACHE / p["registry"] / f"{p['name']}-{p['version']}") + "/" for p in chosen)
        subset = {key: rules for key, rules in labels.items() if key[0].startswith(roots)}
        print()
        print_scores(title, subset, predicted, len(chosen), len({key[0] for key in subset}), args.show and field.startswith("round="))

    print()
    command = [str(args.binary), "check-tests", "--json"]
    wall, cpu = timings([*command, *map(str, files)], args.repeat)
    print(describe("kmilestone check-tests, all files", len(files), wall, cpu, args.repeat))
    python_files = [f for f in files if f.suffix == ".py"]
    if python_files:
        wall, cpu = timings([*command, *map(str, python_files)], args.repeat)
        print(describe("kmilestone check-tests, Python files", len(python_files), wall, cpu, args.repeat))
        ruff = shutil.which("ruff")
        if ruff:
            version = subprocess.run([ruff, "--version"], capture_output=True, text=True).stdout.strip()
            ruff_command = [ruff, "check", "--select", "PT", "--no-cache", "--exit-zero", "--isolated"]
            wall, cpu = timings([*ruff_command, *map(str, python_files)], args.repeat)
            print(describe(f"{version} check --select PT, same Python files", len(python_files), wall, cpu, args.repeat))
        else:
            print("ruff not found (pip install ruff): no comparison")
    return 0


if __name__ == "__main__":
    sys.exit(main())
