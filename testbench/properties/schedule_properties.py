#!/usr/bin/env python3
"""Schedule properties: more of a resource never makes a run slower.

docs/performance.md, "Schedule properties".

Draws seeded random design points (model x sequence x batch x accelerator values from
models/design_space.yaml), raises one parameter per point to its next value and checks, with
one `acceltran simulate` process per run:

  - cycles with the raised value <= (1 + tolerance) x cycles with the base value, for PEs, the
    activation, weight and mask buffers, the main-memory bandwidth (lb -> hb) and the
    activation and weight sparsities;
  - energy with the raised sparsity <= energy with the base sparsity.

Then the fixed cases of issue 18 (BERT-Base on Server, BERT-Tiny on Edge), which must be no
slower at all with the larger resource. Every violation is printed as one line with both
command lines; the exit status is 1 on any violation or failed run.

--known FILE lists violations that are known and documented (docs/performance.md), one
"LABEL PARAMETER" per line (e.g. "point 35 pe"): they are printed as KNOWN and do not fail the
run, but a listed one that no longer occurs does (so the list stays current; --write-known
rewrites it from the violations found).

Stdlib only. Usage:
  schedule_properties.py ACCELTRAN [--seed N] [--points N] [--jobs N] [--self-check]
                         [--known FILE] [--write-known]
"""

import argparse
import concurrent.futures
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time

MODELS = ["bert-tiny", "bert-mini", "bert-base"]
SEQ_LENS = [128, 256, 512]
BATCHES = [4, 32]
ACCELERATORS = ["edge", "server"]
# Sparsity is not an accelerator value; this ladder is the property test's own (0.5 is
# technology.yaml's default_sparsity).
SPARSITY_LADDER = [0.0, 0.25, 0.5, 0.75, 0.9]
# The raised parameters: name -> the design-space key whose values form its ladder.
RAISED_PARAMETERS = {
    "pe": "pe",
    "activation_buffer_mb": "activation_buffer_mb",
    "weight_buffer_mb": "weight_buffer_mb",
    "mask_buffer_mb": "mask_buffer_mb",
    "main_memory.bandwidth": None,  # lb (LP-DDR3 class) -> hb (technology.yaml)
    "sparsity": None,
    "weight_sparsity": None,
}
SPARSITY_PARAMETERS = ("sparsity", "weight_sparsity")
TOLERANCE = 0.005  # cycles may rise by at most 0.5 % (issue 18)
# Cheap draw for CI: the (model, seq, batch) combinations whose runs take seconds (up to
# minutes) each are drawn less often once every combination has been drawn once (draw_points).
COMBINATION_WEIGHT = {("bert-base", 512, 32): 0.0, ("bert-base", 256, 32): 0.2,
                      ("bert-base", 128, 32): 0.5, ("bert-mini", 512, 32): 0.3}
RUN_TIMEOUT_S = 150  # a run slower than this is reported as failed (too slow to check in CI)


def read_design_space(path):
    """The flat `key: [v1, v2, ...]` lines of design_space.yaml (the ones this test draws)."""
    values = {}
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            line = line.split("#", 1)[0].rstrip()
            if not line or line.startswith(" ") or ":" not in line:
                continue
            key, rest = line.split(":", 1)
            rest = rest.strip()
            if rest.startswith("[") and rest.endswith("]") and "[" not in rest[1:]:
                values[key.strip()] = [parse_number(item) for item in rest[1:-1].split(",")]
    return values


def parse_number(text):
    """8 -> 8, 0.5 -> 0.5; a name (relu) stays a string."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def ladders_from(design_space):
    """Each raised parameter's ordered values (raising = moving one step up)."""
    ladders = {}
    for name, key in RAISED_PARAMETERS.items():
        if key is not None:
            ladders[name] = sorted(design_space[key])
    ladders["main_memory.bandwidth"] = ["lb", "hb"]
    ladders["sparsity"] = SPARSITY_LADDER
    ladders["weight_sparsity"] = SPARSITY_LADDER
    return ladders


class Run:
    """One `acceltran simulate` command line: the workload and the accelerator values."""

    def __init__(self, model, accel, seq_len, batch, values):
        self.model, self.accel, self.seq_len, self.batch = model, accel, seq_len, batch
        self.values = dict(values)  # parameter name -> value (RAISED_PARAMETERS keys)

    def arguments(self):
        args = ["--model", self.model, "--accel", self.accel, "--seq-len", str(self.seq_len),
                "--batch", str(self.batch), "--set", "batch_size=%d" % self.batch]
        for name, value in sorted(self.values.items()):
            if name == "sparsity":
                args += ["--sparsity", str(value)]
            elif name == "weight_sparsity":
                args += ["--weight-sparsity", str(value)]
            else:
                args += ["--set", "%s=%s" % (name, value)]
        return args

    def key(self):
        return tuple(self.arguments())

    def raised(self, parameter, value):
        values = dict(self.values)
        values[parameter] = value
        return Run(self.model, self.accel, self.seq_len, self.batch, values)


class Case:
    """A base run, the same run with one parameter raised, and the allowed cycle rise."""

    def __init__(self, label, parameter, base, raised, tolerance):
        self.label, self.parameter, self.tolerance = label, parameter, tolerance
        self.base, self.raised = base, raised


def draw_point(rng, ladders, combination, parameter, label):
    """A random design point of the combination with `parameter` one step below its top."""
    model, seq_len, batch = combination
    values = {}
    for name, ladder in ladders.items():
        top = len(ladder) - 1 if name == parameter else len(ladder)
        values[name] = ladder[rng.randrange(top)]
    base = Run(model, rng.choice(ACCELERATORS), seq_len, batch, values)
    ladder = ladders[parameter]
    raised = base.raised(parameter, ladder[ladder.index(values[parameter]) + 1])
    return Case(label, parameter, base, raised, TOLERANCE)


def draw_points(seed, count, ladders):
    """`count` seeded cases: every (model, seq, batch) once, then a weighted draw.

    The raised parameter cycles through RAISED_PARAMETERS, so each is raised count / 7 times.
    """
    rng = random.Random(seed)
    combinations = [(m, s, b) for m in MODELS for s in SEQ_LENS for b in BATCHES]
    weights = [COMBINATION_WEIGHT.get(combination, 1.0) for combination in combinations]
    parameters = list(RAISED_PARAMETERS)
    cases = []
    for index in range(count):
        if index < len(combinations):
            combination = combinations[index]
        else:
            combination = rng.choices(combinations, weights)[0]
        parameter = parameters[index % len(parameters)]
        cases.append(draw_point(rng, ladders, combination, parameter, "point %d" % index))
    return cases


def fixed_cases():
    """Issue 18's cases: each must be no slower with the larger resource (tolerance 0)."""
    def server(seq_len=128, **values):
        return Run("bert-base", "server", seq_len, 4, values)

    def edge(**values):
        return Run("bert-tiny", "edge", 128, 4, values)

    pairs = [
        ("weight_buffer_mb", server(weight_buffer_mb=64), 128),
        ("weight_buffer_mb", server(512, weight_buffer_mb=16), 64),
        ("mask_buffer_mb", server(mask_buffer_mb=1), 4),
        ("activation_buffer_mb", server(512, activation_buffer_mb=8), 16),
        ("weight_sparsity", server(weight_sparsity=0.5), 0.75),
        ("weight_buffer_mb", edge(weight_buffer_mb=8), 16),
        ("mask_buffer_mb", edge(mask_buffer_mb=1), 2),
    ]
    return [Case("fixed %d" % index, parameter, base, base.raised(parameter, value), 0.0)
            for index, (parameter, base, value) in enumerate(pairs)]


def planted_cases():
    """--self-check: 'raises' that are really lowerings, so the check must flag them."""
    base = Run("bert-tiny", "edge", 128, 4, {"main_memory.bandwidth": "hb", "sparsity": 0.75})
    return [Case("planted bandwidth", "main_memory.bandwidth", base,
                 base.raised("main_memory.bandwidth", "lb"), TOLERANCE),
            Case("planted sparsity", "sparsity", base, base.raised("sparsity", 0.0), TOLERANCE)]


class Runner:
    """Runs each distinct command line once, in its own output folder."""

    def __init__(self, binary, work_dir, timeout_s):
        self.binary, self.work_dir, self.timeout_s = binary, work_dir, timeout_s
        self.results = {}

    def command_line(self, run):
        return " ".join(shlex.quote(word) for word in [self.binary, "simulate"] + run.arguments())

    def simulate(self, run, index):
        out_dir = os.path.join(self.work_dir, "run%04d" % index)
        command = [self.binary, "simulate"] + run.arguments() + ["--out", out_dir]
        environment = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
        started = time.monotonic()
        try:
            process = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     universal_newlines=True, env=environment,
                                     timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            return {"error": "timeout: over %d s" % self.timeout_s, "wall_s": self.timeout_s}
        wall_s = time.monotonic() - started
        if process.returncode != 0:
            return {"error": "exit %d: %s" % (process.returncode, process.stderr.strip()[-300:]),
                    "wall_s": wall_s}
        with open(os.path.join(out_dir, "report.json"), encoding="utf-8") as stream:
            report = json.load(stream)
        if not report.get("finished", False):
            return {"error": "run did not finish", "wall_s": wall_s}
        return {"cycles": report["cycles"], "energy_nj": report["energy_nj"]["total"],
                "wall_s": wall_s}

    def run_all(self, runs, jobs):
        distinct = {}
        for run in runs:
            distinct.setdefault(run.key(), run)
        # The slowest runs first, so the two workers end together (a rough cost: tokens).
        ordered = sorted(distinct.values(), key=lambda run: -run.batch * run.seq_len *
                         (MODELS.index(run.model) + 1))
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(self.simulate, run, index): run
                       for index, run in enumerate(ordered)}
            for future in concurrent.futures.as_completed(futures):
                self.results[futures[future].key()] = future.result()


def check_case(case, runner):
    """The violation lines of one case (empty when it holds)."""
    base, raised = runner.results[case.base.key()], runner.results[case.raised.key()]
    old, new = case.base.values[case.parameter], case.raised.values[case.parameter]
    both = "| base: %s | raised: %s" % (runner.command_line(case.base),
                                         runner.command_line(case.raised))
    head = "VIOLATION %s: %s %s -> %s:" % (case.label, case.parameter, old, new)
    for result in (base, raised):
        if "error" in result:
            return ["%s run failed (%s) %s" % (head, result["error"], both)]
    lines = []
    allowed_cycles = base["cycles"] * (1.0 + case.tolerance)
    if raised["cycles"] > allowed_cycles:
        lines.append("%s cycles %d -> %d (%+.2f %%, allowed %+.1f %%) %s" % (
            head, base["cycles"], raised["cycles"],
            100.0 * (raised["cycles"] / base["cycles"] - 1.0), 100.0 * case.tolerance, both))
    if case.parameter in SPARSITY_PARAMETERS and raised["energy_nj"] > base["energy_nj"]:
        lines.append("%s energy_nj %.1f -> %.1f (%+.3f %%) %s" % (
            head, base["energy_nj"], raised["energy_nj"],
            100.0 * (raised["energy_nj"] / base["energy_nj"] - 1.0), both))
    return lines


def run_cases(cases, binary, jobs, slowest=0, timeout_s=RUN_TIMEOUT_S):
    """Runs every case; returns ([(case, violation line)], run count, wall seconds)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="acceltran-properties-") as work_dir:
        runner = Runner(binary, work_dir, timeout_s)
        runner.run_all([run for case in cases for run in (case.base, case.raised)], jobs)
    runs = {run.key(): run for case in cases for run in (case.base, case.raised)}
    by_wall = sorted(runner.results.items(), key=lambda item: -item[1]["wall_s"])
    for key, result in by_wall[:slowest]:
        print("run %.2f s: %s" % (result["wall_s"], runner.command_line(runs[key])))
    violations = [(case, line) for case in cases for line in check_case(case, runner)]
    return violations, len(runner.results), time.monotonic() - started


def self_check(binary, jobs):
    """The check must flag planted lowerings (cycles and energy): exit 0 when it does."""
    violations, _, _ = run_cases(planted_cases(), binary, jobs)
    for _, line in violations:
        print(line)
    caught_cycles = any(case.parameter == "main_memory.bandwidth" and " cycles " in line
                        for case, line in violations)
    caught_energy = any(case.parameter == "sparsity" and " energy_nj " in line
                        for case, line in violations)
    ok = caught_cycles and caught_energy
    print("self-check: planted cycle rise %s, planted energy rise %s" % (
        "caught" if caught_cycles else "MISSED", "caught" if caught_energy else "MISSED"))
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("acceltran", help="path of the acceltran binary")
    parser.add_argument("--seed", type=int, default=18, help="seed of the draw (default 18)")
    parser.add_argument("--points", type=int, default=105,
                        help="random design points (default 105: 15 raises per parameter)")
    parser.add_argument("--jobs", type=int, default=2, help="simulations in parallel")
    parser.add_argument("--slowest", type=int, default=0, metavar="N",
                        help="print the N slowest runs' wall seconds")
    parser.add_argument("--run-timeout", type=float, default=RUN_TIMEOUT_S, metavar="S",
                        help="a run slower than S seconds fails (default %d)" % RUN_TIMEOUT_S)
    parser.add_argument("--no-fixed", action="store_true", help="skip issue 18's fixed cases")
    parser.add_argument("--self-check", action="store_true",
                        help="check that planted violations are caught, then exit")
    parser.add_argument("--known", metavar="FILE",
                        help="known violations, one 'LABEL PARAMETER' per line")
    parser.add_argument("--write-known", action="store_true",
                        help="rewrite --known FILE from the violations found, then exit 0")
    parser.add_argument("--models-dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
    options = parser.parse_args()
    if options.self_check:
        return self_check(options.acceltran, options.jobs)
    ladders = ladders_from(read_design_space(os.path.join(options.models_dir,
                                                          "design_space.yaml")))
    cases = draw_points(options.seed, options.points, ladders)
    if not options.no_fixed:
        cases += fixed_cases()
    violations, run_count, wall_s = run_cases(cases, options.acceltran, options.jobs,
                                              options.slowest, options.run_timeout)
    known = read_known(options.known)
    if options.write_known and options.known:
        write_known(options.known, violations)
        known = {violation_key(case) for case, _ in violations}
    # A failed run (crash, deadlock, timeout) is never acceptable as known.
    unexpected = [(case, line) for case, line in violations
                  if violation_key(case) not in known or " run failed " in line]
    for case, line in violations:
        print(("KNOWN " if violation_key(case) in known else "") + line)
    gone = sorted(known - {violation_key(case) for case, _ in violations})
    for label, parameter in gone:
        print("KNOWN VIOLATION GONE %s %s: remove it from %s" % (label, parameter, options.known))
    per_parameter = {}
    for case, _ in violations:
        per_parameter[case.parameter] = per_parameter.get(case.parameter, 0) + 1
    counts = ", ".join("%s %d" % item for item in sorted(per_parameter.items()))
    print("schedule properties: seed %d, %d points + %d fixed cases, %d runs in %.1f s: "
          "%d violations%s, %d of them known, %d known ones gone" % (
              options.seed, options.points, len(cases) - options.points, run_count, wall_s,
              len(violations), " (%s)" % counts if counts else "",
              len(violations) - len(unexpected), len(gone)))
    return 1 if unexpected or gone else 0


def violation_key(case):
    return (case.label, case.parameter)


def read_known(path):
    """The (label, parameter) pairs of a --known file ('#' starts a comment)."""
    if not path:
        return set()
    known = set()
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            line = line.split("#", 1)[0].strip()
            if line:
                label, parameter = line.rsplit(" ", 1)
                known.add((label, parameter))
    return known


def write_known(path, violations):
    keys = sorted({violation_key(case) for case, _ in violations})
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("# Known schedule-property violations (docs/performance.md, \"Schedule "
                     "properties\").\n# Rewritten by: schedule_properties.py ACCELTRAN "
                     "--known THIS_FILE --write-known\n")
        for label, parameter in keys:
            stream.write("%s %s\n" % (label, parameter))


if __name__ == "__main__":
    sys.exit(main())
