#!/usr/bin/env python3
"""Mutation testing of ImbalanceLoss: plants one realistic bug at a time in a
scratch copy of the package, rebuilds the library and its tests from scratch
and runs `swift test`; a mutant is *killed* when at least one test fails.

    Scripts/mutants.py                 # every mutant (an hour or more)
    Scripts/mutants.py --list          # names and where each applies
    Scripts/mutants.py --only NAME     # one mutant (repeatable, or a,b,c)
    Scripts/mutants.py --baseline      # the unmutated copy first (must pass)

Each mutant is (name, snippet, replacement). The snippet must occur exactly
once across Sources/ (the file is found by content, not by path, so that
moving files does not break the list); otherwise the script stops with an
error. The real tree is never modified: the package is mirrored to a scratch
copy (default /tmp/mutants-work/repo), whose .build folder is kept between
mutants to save time, except the ImbalanceLoss and ImbalanceLossTests build
products, which are deleted before every build so that no code inlined from
an earlier version survives. In the copy the manifest drops the demo targets
(they only depend on the library; `--with-demo` keeps them and skips
ImbalanceDemoTests at run time instead).

Too slow for CI (3-5 minutes a mutant on a loaded 2-core machine): run it by
hand and record the score in ImbalanceLoss.docc/Testing.md.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, area, snippet, replacement). Snippets are exact source text (may span
# lines) and must be unique across Sources/.
MUTANTS = [
    # The five mutants of issue 17 (two survivors, three single-test catches) first,
    # then one per area, then the rest: a partial run still covers every area.
    ("validation-unit-interval-simd-upper", "validation",
     "good = good .& (v .>= 0) .& (v .<= 1)",
     "good = good .& (v .>= 0)"),
    ("metrics-gmean-only-predicted-class-skipped", "metrics",
     "for k in 0..<classCount where support(of: k) + predictedCount(of: k) > 0 {",
     "for k in 0..<classCount where support(of: k) > 0 {"),
    ("summation-scalar-compensation-dropped", "summation",
     "@inlinable var value: Double { sum.isFinite ? sum + compensation : sum }",
     "@inlinable var value: Double { sum }"),
    ("elementary-exp-coefficient-last-digits", "elementary",
     "let q23 = r * 0.008333333333326141 + 0.04166666666666667",
     "let q23 = r * 0.008333333333336141 + 0.04166666666666667"),
    ("metrics-balanced-accuracy-denominator", "metrics",
     "mean(of: recall(of:)) { support(of: $0) > 0 }",
     "mean(of: recall(of:)) { support(of: $0) + predictedCount(of: $0) > 0 }"),
    ("threading-last-partial-result-dropped", "threading",
     "for p in partials { total.add(p) }",
     "for p in partials.dropLast() { total.add(p) }"),
    ("options-ignored-rows-in-total", "options",
     "for (i, c) in labels.enumerated() where c != ignoreIndex {\n"
     "        sum.add(",
     "for (i, c) in labels.enumerated() {\n"
     "        sum.add("),
    ("kernel-softmax-split-factor-dropped", "kernels",
     "if (f * scale).isFinite || normalizer.reciprocal != 1 { return (f, SIMD2(1, 1)) }",
     "if true || normalizer.reciprocal != 1 { return (f, SIMD2(1, 1)) }"),
    ("validation-ignored-targets-upper", "validation",
     "guard y >= 0 && y <= 1 else { throw .targetOutOfRange(index: i, value: y) }",
     "guard y >= 0 else { throw .targetOutOfRange(index: i, value: y) }"),
    ("elementary-exp-reduction-low-word", "elementary",
     "let rLo = (rHi - r) - nLo  // what the rounding of r dropped",
     "let rLo = Vector()  // what the rounding of r dropped"),
    ("summation-simd4-compensation-dropped", "summation",
     "sum.replacing(with: sum + compensation, where: sum.magnitude .< .infinity)",
     "sum"),
    ("options-label-smoothing-uniform", "options",
     "let uniform = eps / Double(k)",
     "let uniform = eps / Double(k - 1)"),
    ("metrics-precision-zero-division-one", "metrics",
     "let d = predictedCount(of: k)\n    return d > 0 ? self[k, k] / d : 0",
     "let d = predictedCount(of: k)\n    return d > 0 ? self[k, k] / d : 1"),
    ("kernel-softmax-vector-tail-lanes", "kernels",
     "hi = hi.replacing(with: -.infinity, where: dup)\n"
     "        lo = lo.replacing(with: 0, where: dup)",
     "lo = lo.replacing(with: 0, where: dup)"),
    ("validation-multilabel-soft-target", "validation",
     "for (j, y) in targets.enumerated() where y != 0 && y != 1 {",
     "for (j, y) in targets.enumerated() where y < 0 || y > 1 {"),
    ("kernel-logit-adjustment-sign", "kernels",
     "adjusted[i] -= offsets[i % k]",
     "adjusted[i] += offsets[i % k]"),
    ("threading-last-partial-chunk-dropped", "threading",
     "let chunkCount = (itemCount + itemsPerChunk - 1) / itemsPerChunk",
     "let chunkCount = itemCount / itemsPerChunk"),
    ("validation-finite-simd-ignored", "validation",
     "if acc.sum() + tail == 0 { return }",
     "if tail == 0 { return }"),
    ("validation-label-upper-off-by-one", "validation",
     "for (i, c) in labels.enumerated() where c < 0 || c >= classCount {\n"
     "      throw .labelOutOfRange(index: i, label: c, classCount: classCount)",
     "for (i, c) in labels.enumerated() where c < 0 || c > classCount {\n"
     "      throw .labelOutOfRange(index: i, label: c, classCount: classCount)"),
    ("validation-negative-weight-accepted", "validation",
     "guard w >= 0 && w.isFinite else { throw .invalidWeight(index: i, value: w) }\n"
     "        largest = largest < w ? w : largest",
     "guard w.isFinite else { throw .invalidWeight(index: i, value: w) }\n"
     "        largest = largest < w ? w : largest"),
    ("validation-mean-ignores-weights", "validation",
     "for w in weights { sum.add(w * scale) }\n"
     "    return WeightNormalizer(scale: scale, reciprocal: 1 / sum.value)",
     "for w in weights { sum.add(w * scale) }\n"
     "    return WeightNormalizer(scale: scale, reciprocal: 1 / (scale * Double(sampleCount)))"),
    ("kernel-bce-gradient-factor", "kernels",
     "f * (yNeg * s.p - yPos * s.q), f * (yPos * pq + yNeg * pq)",
     "f * (yNeg * s.p - yPos * s.p), f * (yPos * pq + yNeg * pq)"),
    ("kernel-weighted-product-zero-safe", "kernels",
     "with: f * (a * b), where: .!(product.magnitude .< Vector(repeating: .infinity)))",
     "with: (f * a) * b, where: .!(product.magnitude .< Vector(repeating: .infinity)))"),
    ("kernel-softmax-subnormal-total-rescale", "kernels",
     "if sum < 0x1p-900 {",
     "if sum < 0 {"),
    ("options-class-weight-scale", "options",
     "if let cw = classWeights { v = v * (cw[labels[i]] * classScale) }",
     "if let cw = classWeights { v = v * (cw[labels[i]] * normalizer.scale) }"),
    ("metrics-macro-f1-classes", "metrics",
     "mean(of: f1(of:)) { support(of: $0) + predictedCount(of: $0) > 0 }",
     "mean(of: f1(of:)) { _ in true }"),
]


def log(message=""):
    print(message, flush=True)


def source_files(root):
    return sorted((root / "Sources").rglob("*.swift"))


def locate(snippet):
    """The one file of Sources/ that contains `snippet` (relative path)."""
    hits = []
    for path in source_files(ROOT):
        count = path.read_text(encoding="utf-8").count(snippet)
        hits.extend([path] * count)
    if len(hits) != 1:
        raise SystemExit(
            f"error: snippet found {len(hits)} times in Sources/ (need exactly 1):\n"
            f"---\n{snippet}\n---\n" + "".join(f"  {h.relative_to(ROOT)}\n" for h in hits))
    return hits[0].relative_to(ROOT)


def run(cmd, cwd, log_path, timeout):
    """Runs `cmd`, appending its output to log_path; returns (rc, output)."""
    env = dict(os.environ)
    env["PATH"] = "/opt/swift/usr/bin:" + env.get("PATH", "")
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        try:
            p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout, text=True,
                               errors="replace")
            f.write(p.stdout)
            return p.returncode, p.stdout
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            if isinstance(out, bytes):
                out = out.decode("utf-8", "replace")
            f.write(out + "\n[timeout]\n")
            return None, out


def strip_demo_targets(manifest):
    """The manifest without the demo targets and product (balanced-paren
    matching of each `.target(`-like call naming a demo module); None if a
    block is not found, so the caller falls back to the full manifest."""
    names = ["imbalance-demo", "ImbalanceDemoKit", "ImbalanceDemoTests"]
    text = manifest
    for name in names:
        for call in (".executableTarget(", ".target(", ".testTarget(", ".executable("):
            start = 0
            while True:
                i = text.find(call, start)
                if i < 0:
                    break
                depth, j = 0, i + len(call) - 1
                while j < len(text):
                    if text[j] == "(":
                        depth += 1
                    elif text[j] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                block = text[i:j + 1]
                if re.match(r'\.\w+\(\s*name:\s*"' + re.escape(name) + '"', block):
                    end = j + 1
                    if text[end:end + 1] == ",":
                        end += 1
                    text = text[:i].rstrip(" ") + text[end:].lstrip(" ")
                    text = re.sub(r"\n\s*\n(\s*[\]\)])", r"\n\1", text)
                    start = i
                else:
                    start = i + 1
    if any(f'"{n}"' in text for n in names):
        return None
    return text


def mirror(source, target, exclude):
    """Makes `target` a copy of `source` (rsync -a --checksum --delete, in
    Python: rsync is not everywhere): files whose bytes differ are copied,
    extra files removed; top-level names in `exclude` are left alone."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for dirpath, dirnames, filenames in os.walk(source):
        rel = Path(dirpath).relative_to(source)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d not in exclude]
            filenames = [f for f in filenames if f not in exclude]
        (target / rel).mkdir(parents=True, exist_ok=True)
        wanted.add(rel)
        for name in filenames:
            src, dst = Path(dirpath) / name, target / rel / name
            wanted.add(rel / name)
            if src.is_symlink():
                continue
            if not dst.exists() or dst.read_bytes() != src.read_bytes():
                shutil.copy2(src, dst)
    for dirpath, dirnames, filenames in os.walk(target, topdown=True):
        rel = Path(dirpath).relative_to(target)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d not in exclude]
            filenames = [f for f in filenames if f not in exclude]
        for name in list(dirnames):
            if rel / name not in wanted:
                shutil.rmtree(Path(dirpath) / name)
                dirnames.remove(name)
        for name in filenames:
            if rel / name not in wanted:
                (Path(dirpath) / name).unlink()


class Copy:
    def __init__(self, work, with_demo, timeout):
        self.repo = Path(work) / "repo"
        self.log_dir = Path(work) / "logs"
        self.with_demo = with_demo
        self.timeout = timeout
        self.repo.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def sync(self):
        """Makes the copy's sources identical to the real tree (checksums, so
        that a mutated file is always restored), keeping its .build."""
        mirror(ROOT, self.repo, exclude={".build", ".git", ".swiftpm"})
        self.skip_demo = self.with_demo
        if not self.with_demo:
            manifest = self.repo / "Package.swift"
            stripped = strip_demo_targets(manifest.read_text(encoding="utf-8"))
            if stripped is None:
                log("  (could not drop the demo targets from the manifest: keeping them)")
                self.skip_demo = True
            else:
                manifest.write_text(stripped, encoding="utf-8")

    def clean_products(self):
        """Deletes the library's and the test module's build products."""
        build = self.repo / ".build"
        if not build.exists():
            return
        for debug in build.glob("*/debug"):
            for pattern in ["ImbalanceLoss.build", "ImbalanceLossTests.build",
                            "Modules/ImbalanceLoss.*", "Modules/ImbalanceLossTests.*",
                            "ImbalanceLossPackageTests*", "ImbalanceLossPackageDiscoveredTests*"]:
                for p in debug.glob(pattern):
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        p.unlink()

    def build_and_test(self, label):
        log_path = self.log_dir / f"{label}.log"
        log_path.write_text("", encoding="utf-8")
        self.clean_products()
        started = time.time()
        rc, out = run(["swift", "build", "--build-tests"], self.repo, log_path, self.timeout)
        if rc != 0:
            return {"status": "build failed" if rc is not None else "build timeout",
                    "failing": [], "seconds": time.time() - started, "log": log_path}
        cmd = ["swift", "test", "--skip-build"]
        if self.skip_demo:
            cmd += ["--skip", "ImbalanceDemoTests"]
        rc, out = run(cmd, self.repo, log_path, self.timeout)
        failing = parse_failures(out)
        if rc is None:
            status = "timeout"
        elif rc == 0:
            status = "passed"
        elif failing:
            status = "failed"
        else:
            status = "crashed"  # a trap or signal: no per-test summary
        return {"status": status, "failing": failing, "seconds": time.time() - started,
                "log": log_path}


def parse_failures(output):
    """Names of the failing tests (Swift Testing and XCTest), suites excluded."""
    names = set()
    for line in output.splitlines():
        m = re.search(r"Test (.+?) (?:with \d+ test cases? )?failed after", line)
        if m and not m.group(1).startswith("run with "):
            names.add(m.group(1).strip())
        m = re.search(r"Test Case '(.+?)' failed", line)
        if m:
            names.add(m.group(1))
    return sorted(names)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", action="append", default=[],
                        help="run only this mutant (repeatable, or comma-separated)")
    parser.add_argument("--baseline", action="store_true",
                        help="first build and test the unmutated copy (must pass)")
    parser.add_argument("--work", default="/tmp/mutants-work", help="scratch folder")
    parser.add_argument("--with-demo", action="store_true",
                        help="keep the demo targets (ImbalanceDemoTests skipped at run time)")
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds per build and per test run")
    parser.add_argument("--report", action="store_true",
                        help="summarise the logs of an earlier run (in --work) without running")
    args = parser.parse_args()

    names = [n for name in args.only for n in name.split(",") if n]
    known = {m[0] for m in MUTANTS}
    if len(known) != len(MUTANTS):
        raise SystemExit("error: duplicate mutant names")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"error: no mutant named {', '.join(unknown)} (see --list)")
    selected = [m for m in MUTANTS if not names or m[0] in names]
    files = {m[0]: locate(m[2]) for m in selected}  # fails loudly before any build

    if args.list:
        for name, area, snippet, _ in MUTANTS:
            log(f"{name:48} {area:11} {locate(snippet)}")
        log(f"{len(MUTANTS)} mutants")
        return

    if args.report:
        results = []
        for name, area, _, _ in selected:
            path = Path(args.work) / "logs" / f"{name}.log"
            if not path.exists():
                continue
            out = path.read_text(encoding="utf-8", errors="replace")
            failing = parse_failures(out)
            if "Build complete!" not in out:
                status = "build failed" if re.search(r"error:", out) else "incomplete"
            elif re.search(r"Test run with \d+ tests? .*passed after", out):
                status = "passed"
            elif failing:
                status = "failed"
            elif "[timeout]" in out:
                status = "timeout"
            elif re.search(r"unexpected signal|Fatal error|error: Exited", out):
                status = "crashed"
            else:
                status = "incomplete"
            results.append({"name": name, "area": area, "status": status, "failing": failing,
                            "killed": status in ("failed", "timeout", "crashed")})
        summarise(results)
        return

    copy = Copy(args.work, args.with_demo, args.timeout)
    log(f"mutation testing: {len(selected)} mutant(s), copy in {copy.repo}, "
        f"started {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    if args.baseline:
        copy.sync()
        r = copy.build_and_test("baseline")
        log(f"baseline: {r['status']}, {len(r['failing'])} failing test(s), "
            f"{r['seconds']:.0f} s ({r['log']})")
        if r["status"] != "passed":
            for t in r["failing"]:
                log(f"    {t}")
            raise SystemExit("error: the unmutated package does not pass; fix that first")

    results = []
    for name, area, snippet, replacement in selected:
        copy.sync()
        target = copy.repo / files[name]
        text = target.read_text(encoding="utf-8")
        if text.count(snippet) != 1:
            raise SystemExit(f"error: {name}: snippet not found once in the copy's {files[name]}")
        target.write_text(text.replace(snippet, replacement), encoding="utf-8")
        r = copy.build_and_test(name)
        killed = r["status"] in ("failed", "crashed", "timeout")
        r.update(name=name, area=area, killed=killed)
        results.append(r)
        verdict = "KILLED" if killed else ("SURVIVED" if r["status"] == "passed" else r["status"])
        log(f"{name:48} {verdict:9} {len(r['failing']):3} failing test(s) "
            f"[{r['status']}, {r['seconds']:.0f} s, {files[name]}]")
        for t in r["failing"]:
            log(f"    {t}")
    copy.sync()  # leave the copy unmutated
    summarise(results)


def summarise(results):
    valid = [r for r in results
             if r["status"] not in ("build failed", "build timeout", "incomplete")]
    killed = [r for r in valid if r["killed"]]
    log("")
    log("| mutant | area | killed | failing tests |")
    log("|---|---|---|---|")
    for r in results:
        k = "yes" if r["killed"] else ("no" if r["status"] == "passed" else r["status"])
        log(f"| {r['name']} | {r['area']} | {k} | {len(r['failing'])} |")
    if len(valid) != len(results):
        log(f"{len(results) - len(valid)} mutant(s) did not build or did not finish (not counted)")
    score = 100 * len(killed) / len(valid) if valid else 0
    log(f"mutation score: {len(killed)}/{len(valid)} killed ({score:.0f} %); "
        f"killed by >= 2 tests: {len([r for r in killed if len(r['failing']) >= 2])}"
        f"/{len(valid)}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    sys.exit(0 if len(killed) == len(valid) else 1)


if __name__ == "__main__":
    main()
