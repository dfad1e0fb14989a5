#!/usr/bin/env python3
"""Proves that every doctest case runs under ctest, and runs exactly once.

doctest_discover_tests() makes one ctest entry per TEST_CASE, filtered with
--test-case=NAME. That breaks silently: CMake splits a name at ';' into two
entries whose filters match nothing (doctest then reports "test cases: 0" and
SUCCESS), two cases with one name both run under each of two entries, and the
filter treats '*', '?' and '\\' specially and ignores case, and an unclosed '['
makes CMake merge the names after it. This guard fails when:
  (a) a ctest entry that runs a doctest executable would run zero cases, or
      more than one;
  (b) a case an executable holds is run by no ctest entry, or by several;
  (c) two cases of one executable share a name (doctest compares names
      without case), or a name holds a character that ctest discovery or
      doctest's filter would not take literally.

It never runs a test body: each entry's exact command (from
`ctest --show-only=json-v1`) is run with `--list-test-cases --reporters=xml`
appended, which only lists what the filters select, with file and line. So it
is quick and may run beside any other ctest entry.

Usage:
  test_inventory.py --ctest CTEST --build-dir DIR --binary EXE [--binary EXE...]
  test_inventory.py --self-test --binary EXE   # shows each failure is caught
Exit status: 0 all cases run once, 1 problems found (each printed), 2 usage or
environment (an executable missing, ctest failing).
"""

import argparse
import collections
import concurrent.futures
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

# A case is known by where it is defined: two cases may (wrongly) share a name.
Case = collections.namedtuple("Case", "name file line")
# A ctest entry as `ctest --show-only=json-v1` describes it.
Entry = collections.namedtuple("Entry", "name command cwd disabled")
# What one entry selects from its doctest executable: cases, or an error text.
Selection = collections.namedtuple("Selection", "entry binary cases error")
# kind is one of the KINDS below; subject names the entry or case to fix.
Problem = collections.namedtuple("Problem", "kind subject detail")

KINDS = {
    "zero-cases": "(a) ctest entry runs no case",
    "several-cases": "(a) ctest entry runs more than one case",
    "not-run": "(b) case is run by no ctest entry",
    "run-twice": "(b) case is run by several ctest entries",
    "duplicate-name": "(c) case name is not unique in its executable",
    "bad-character": "(c) case name is not taken literally by ctest/doctest",
    "error": "listing failed",
}

# ';' splits the name in CMake lists; '*' and '?' are doctest wildcards; '\\'
# escapes in doctest filters. (',' is escaped by doctest_discover_tests.)
BAD_CHARACTERS = {
    ";": "CMake splits the name at ';' into entries that match nothing",
    "*": "'*' is a wildcard in doctest filters",
    "?": "'?' is a wildcard in doctest filters",
    "\\": "'\\' is an escape in doctest filters and is not escaped by discovery",
}

UNBALANCED = "an unclosed '[' makes CMake merge the names after it into this one"


def unbalanced(name):
    """True when a '[' is left open: CMake's list splitting ignores ';' inside []."""
    depth = 0
    for char in name:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    return depth > 0


LIST_ARGS = ["--list-test-cases", "--reporters=xml", "--no-colors"]
LIST_TIMEOUT_S = 30
LIST_PARALLEL = 4


def format_problem(p):
    return f"FAIL {KINDS[p.kind]}: {p.subject}\n     {p.detail}"


def where(case):
    path = case.file
    while path.startswith("../"):
        path = path[3:]
    return f"{path}:{case.line}"


def parse_listing(text):
    """Cases in doctest's XML listing (--list-test-cases --reporters=xml).

    Raises ValueError when the text is not such a listing."""
    start = text.find("<?xml")
    if start < 0:
        raise ValueError("no XML listing in the output")
    root = ET.fromstring(text[start:].encode())
    cases = [
        Case(tc.get("name"), tc.get("filename"), int(tc.get("line")))
        for tc in root.iter("TestCase")
    ]
    total = root.find("OverallResultsTestCases")
    if total is None or int(total.get("unskipped")) != len(cases):
        raise ValueError("the listing's count does not match its cases")
    return cases


def list_cases(command, cwd):
    """(cases, None) for what `command` would run, or (None, error text)."""
    try:
        done = subprocess.run(
            command + LIST_ARGS,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=LIST_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if done.returncode != 0:
        return None, f"exit {done.returncode}: {done.stderr.strip()[:500]}"
    try:
        return parse_listing(done.stdout), None
    except (ValueError, ET.ParseError) as e:
        return None, f"{e}: {done.stdout[:500]}"


def load_entries(ctest, build_dir):
    """Every ctest entry of build_dir; raises RuntimeError when ctest fails."""
    done = subprocess.run(
        [ctest, "--show-only=json-v1"],
        cwd=build_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{ctest} --show-only=json-v1 in {build_dir}: {done.stderr}")
    entries = []
    for test in json.loads(done.stdout)["tests"]:
        props = {p["name"]: p["value"] for p in test.get("properties", [])}
        entries.append(
            Entry(
                test["name"],
                test.get("command", []),
                props.get("WORKING_DIRECTORY", build_dir),
                bool(props.get("DISABLED", False)),
            )
        )
    return entries


def select(entries, binaries):
    """A Selection for each entry whose command runs one of `binaries`."""
    by_path = {os.path.realpath(b): b for b in binaries}
    runs = []
    for entry in entries:
        if entry.command:
            binary = by_path.get(os.path.realpath(entry.command[0]))
            if binary is not None:
                runs.append((entry, binary))

    def one(run):
        entry, binary = run
        if entry.disabled:
            return Selection(entry, binary, [], None)
        cases, error = list_cases(entry.command, entry.cwd)
        return Selection(entry, binary, cases, error)

    # Listing is mostly process start-up (loading shared libraries), so a few
    # at a time keep the guard quick without taking the CPU from other entries.
    with concurrent.futures.ThreadPoolExecutor(max_workers=LIST_PARALLEL) as pool:
        return list(pool.map(one, runs))


def name_problems(binary, cases):
    """(c): names shared within one executable, or not taken literally."""
    problems = []
    by_name = collections.defaultdict(list)
    for case in cases:
        by_name[case.name.lower()].append(case)
    for same in by_name.values():
        if len(same) > 1:
            places = ", ".join(f"'{c.name}' at {where(c)}" for c in same)
            problems.append(
                Problem(
                    "duplicate-name",
                    f"{os.path.basename(binary)}: '{same[0].name}'",
                    f"{len(same)} cases share it (doctest filters ignore case): {places}",
                )
            )
    for case in cases:
        for char, why in BAD_CHARACTERS.items():
            if char in case.name:
                problems.append(
                    Problem(
                        "bad-character",
                        f"{os.path.basename(binary)}: '{case.name}' at {where(case)}",
                        why,
                    )
                )
        if unbalanced(case.name):
            problems.append(
                Problem(
                    "bad-character",
                    f"{os.path.basename(binary)}: '{case.name}' at {where(case)}",
                    UNBALANCED,
                )
            )
    return problems


def find_problems(defined, selections):
    """Every problem, given each executable's cases and each entry's selection.

    defined: executable -> its Cases (from listing it with no filter)."""
    problems = []
    runners = collections.defaultdict(list)  # (binary, Case) -> entry names
    for s in selections:
        name = s.entry.name
        if s.error is not None:
            problems.append(Problem("error", f"ctest entry '{name}'", s.error))
            continue
        if not s.cases:
            why = "it is DISABLED" if s.entry.disabled else "its filter matches no case"
            problems.append(
                Problem(
                    "zero-cases",
                    f"ctest entry '{name}'",
                    f"{why}; command: {' '.join(s.entry.command)}",
                )
            )
        elif len(s.cases) > 1:
            listed = ", ".join(f"'{c.name}' at {where(c)}" for c in s.cases)
            problems.append(
                Problem(
                    "several-cases",
                    f"ctest entry '{name}'",
                    f"it runs {len(s.cases)} cases: {listed}",
                )
            )
        for case in s.cases:
            runners[(s.binary, case)].append(name)
    for binary, cases in defined.items():
        exe = os.path.basename(binary)
        for case in cases:
            names = runners.get((binary, case), [])
            subject = f"{exe}: '{case.name}' at {where(case)}"
            if not names:
                problems.append(Problem("not-run", subject, "no ctest entry selects it"))
            elif len(names) > 1:
                problems.append(
                    Problem(
                        "run-twice",
                        subject,
                        f"{len(names)} entries run it: " + ", ".join(f"'{n}'" for n in names),
                    )
                )
        problems.extend(name_problems(binary, cases))
    return problems


def inventory(binaries):
    """executable -> its Cases; raises RuntimeError if one cannot be listed."""
    defined = {}
    for binary in binaries:
        if not os.path.exists(binary):
            raise RuntimeError(f"{binary} is not built: build all targets before ctest")
        cases, error = list_cases([binary], os.path.dirname(binary))
        if error is not None:
            raise RuntimeError(f"listing {binary}: {error}")
        defined[binary] = cases
    return defined


def check(ctest, build_dir, binaries):
    try:
        defined = inventory(binaries)
        entries = load_entries(ctest, build_dir)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"ERROR {e}", file=sys.stderr)
        return 2
    selections = select(entries, binaries)
    problems = find_problems(defined, selections)
    for p in problems:
        print(format_problem(p))
    n_cases = sum(len(c) for c in defined.values())
    print(
        f"{len(entries)} ctest entries, {len(selections)} of them run doctest; "
        f"{n_cases} cases in {len(defined)} executables; {len(problems)} problems"
    )
    return 1 if problems else 0


# ---------------------------------------------------------------- self-test


def kinds_of(problems):
    return sorted((p.kind, p.subject) for p in problems)


def expect(title, problems, wanted):
    """Checks that `problems` are exactly `wanted` [(kind, subject part)]."""
    got = kinds_of(problems)
    unmatched = list(got)
    missing = []
    for kind, part in wanted:
        hit = next((g for g in unmatched if g[0] == kind and part in g[1]), None)
        if hit is None:
            missing.append((kind, part))
        else:
            unmatched.remove(hit)
    if missing or unmatched:
        print(f"SELF-TEST FAIL {title}:\n  not reported: {missing}\n  unexpected: {unmatched}")
        return False
    print(f"ok  {title}: {len(got)} problems reported as expected")
    return True


def synthetic_checks():
    """Inventories made up in memory, one failure kind at a time."""
    exe = "/b/x_test"

    def case(name, line):
        return Case(name, "../x/x_test.cc", line)

    def sel(entry_name, cases):
        entry = Entry(entry_name, [exe, "--test-case=..."], "/b", False)
        return Selection(entry, exe, cases, None)

    a, b, semi = case("alpha", 1), case("beta", 2), case("first; second", 3)
    ok = True
    clean = [sel("x/alpha", [a]), sel("x/beta", [b])]
    ok &= expect("clean inventory", find_problems({exe: [a, b]}, clean), [])
    # What doctest_discover_tests makes of a name with ';': two empty entries.
    ok &= expect(
        "name split at ';'",
        find_problems(
            {exe: [a, semi]}, [sel("x/alpha", [a]), sel("x/first", []), sel("x/ second", [])]
        ),
        [
            ("zero-cases", "'x/first'"),
            ("zero-cases", "'x/ second'"),
            ("not-run", "'first; second'"),
            ("bad-character", "'first; second'"),
        ],
    )
    # Two cases with one name: discovery makes two entries, each runs both.
    d1, d2 = case("same", 4), Case("same", "../x/y_test.cc", 9)
    ok &= expect(
        "duplicate name",
        find_problems({exe: [d1, d2]}, [sel("x/same", [d1, d2]), sel("x/same", [d1, d2])]),
        [
            ("several-cases", "'x/same'"),
            ("several-cases", "'x/same'"),
            ("run-twice", "x/x_test.cc:4"),
            ("run-twice", "x/y_test.cc:9"),
            ("duplicate-name", "'same'"),
        ],
    )
    upper = case("Alpha", 5)
    ok &= expect(
        "names that differ only in case",
        find_problems(
            {exe: [a, upper]}, [sel("x/alpha", [a, upper]), sel("x/Alpha", [a, upper])]
        ),
        [
            ("several-cases", "'x/alpha'"),
            ("several-cases", "'x/Alpha'"),
            ("run-twice", "'alpha'"),
            ("run-twice", "'Alpha'"),
            ("duplicate-name", "'alpha'"),
        ],
    )
    ok &= expect(
        "case missing from ctest",
        find_problems({exe: [a, b]}, clean[:1]),
        [("not-run", "'beta'")],
    )
    star = case("a * b", 6)
    ok &= expect(
        "wildcard in a name",
        find_problems({exe: [star]}, [sel("x/a * b", [star])]),
        [("bad-character", "'a * b'")],
    )
    brackets = [case("then [DONE]", 7), case("an [open bracket", 8)]
    ok &= expect(
        "unclosed bracket in a name",
        find_problems(
            {exe: brackets}, [sel("x/then [DONE]", brackets[:1]), sel("x/an [open", brackets[1:])]
        ),
        [("bad-character", "'an [open bracket'")],
    )
    disabled = Selection(Entry("x/alpha", [exe], "/b", True), exe, [], None)
    ok &= expect(
        "disabled entry",
        find_problems({exe: [a]}, [disabled]),
        [("zero-cases", "'x/alpha'"), ("not-run", "'alpha'")],
    )
    return ok


def discovery_filter(name):
    """The --test-case argument doctest_discover_tests writes for a name."""
    return "--test-case=" + name.replace(",", "\\,")


def real_binary_checks(binary):
    """The real doctest executable, with made-up ctest entries."""
    cases = inventory([binary])[binary]
    if len(cases) < 3 or " " not in cases[0].name:
        print(f"SELF-TEST FAIL {binary}: needs 3 cases, the first with a space in its name")
        return False
    cwd = os.path.dirname(binary)

    def entry(name, filter_arg):
        return Entry(name, [binary, filter_arg], cwd, False)

    clean = [entry(f"t/{c.name}", discovery_filter(c.name)) for c in cases]
    defined = {binary: cases}
    ok = expect(
        "real executable, one entry per case",
        find_problems(defined, select(clean, [binary])),
        [],
    )

    # Cut the first name in two, as CMake does at ';'.
    head, tail = cases[0].name.split(" ", 1)
    split = [
        entry("t/head", discovery_filter(head)),
        entry("t/tail", discovery_filter(" " + tail)),
    ] + clean[1:]
    ok &= expect(
        "real executable, a name cut in two",
        find_problems(defined, select(split, [binary])),
        [("zero-cases", "'t/head'"), ("zero-cases", "'t/tail'"), ("not-run", cases[0].name)],
    )
    ok &= expect(
        "real executable, a case without entry",
        find_problems(defined, select(clean[1:], [binary])),
        [("not-run", cases[0].name)],
    )
    # A filter that matches more than its case, as a '*' in a name does.
    ok &= expect(
        "real executable, a filter matching several cases",
        find_problems(defined, select(clean + [entry("t/all", "--test-case=*")], [binary])),
        [("several-cases", "'t/all'")] + [("run-twice", c.name) for c in cases],
    )
    ok &= expect(
        "real executable, an entry listed twice",
        find_problems(defined, select(clean + [clean[2]], [binary])),
        [("run-twice", cases[2].name)],
    )
    return ok


def self_test(binary):
    ok = synthetic_checks()
    try:
        ok &= real_binary_checks(binary)
    except RuntimeError as e:
        print(f"ERROR {e}", file=sys.stderr)
        return 2
    print("self-test passed" if ok else "self-test FAILED")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ctest", help="the ctest executable")
    parser.add_argument("--build-dir", help="the build tree to check")
    parser.add_argument("--binary", action="append", default=[], help="a doctest executable")
    parser.add_argument("--self-test", action="store_true", help="show each failure kind is caught")
    args = parser.parse_args()
    args.binary = [os.path.abspath(b) for b in args.binary]
    if args.self_test:
        if len(args.binary) != 1:
            parser.error("--self-test needs exactly one --binary")
        return self_test(args.binary[0])
    if not (args.ctest and args.build_dir and args.binary):
        parser.error("--ctest, --build-dir and at least one --binary are needed")
    return check(args.ctest, args.build_dir, args.binary)


if __name__ == "__main__":
    sys.exit(main())
