"""Benchmark of spec validation: the library call, the CLI, and the JSON parsing floor.

Run:  .venv/bin/python bench/bench_validate.py [--records 200000]

Generates N valid records of mixed types (the shipped sample cases replayed under new case
numbers), then prints records/s for:

1. ``json.loads`` of the JSON Lines (parsing only: the floor any validator of text pays);
2. ``validate_record`` on already parsed records, one core (the library call the agent and
   the collector make);
3. ``esup-spec validate FILE`` in a subprocess, wall clock (parse + validate + record-set
   rules + output), with the subprocess's peak memory.

Figures go to docs/performance-spec.md by hand; this is not a test and asserts nothing about
speed, only that every generated record is valid.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from exchange_spec import validate_record


def _samples() -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Sample cases (records grouped by SBLSH, in file order) and non-case records."""
    folder = resources.files("exchange_spec") / "samples" / "valid"
    cases: dict[str, list[dict[str, Any]]] = {}
    others: list[dict[str, Any]] = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".jsonl"):
            continue
        for line in item.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "SBLSH" in record:
                cases.setdefault(record["SBLSH"], []).append(record)
            else:
                others.append(record)
    return list(cases.values()), others


def generate(count: int) -> Iterator[dict[str, Any]]:
    """``count`` valid records: sample cases under fresh case numbers, plus catalogue rows."""
    cases, others = _samples()
    made = 0
    serial = 0
    while made < count:
        for case in cases:
            serial += 1
            for template in case:
                yield dict(template, SBLSH=f"{template['SBLSH']}{serial:07d}")
                made += 1
                if made == count:
                    return
        for template in others:
            yield template
            made += 1
            if made == count:
                return


def rate(count: int, seconds: float, cpu: float) -> str:
    return (
        f"{count / seconds:>9,.0f} records/s wall ({seconds:5.2f} s), "
        f"{count / cpu:>9,.0f} records/s of CPU time ({cpu:5.2f} s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    count: int = args.records

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    records = list(generate(count))
    types: dict[str, int] = {}
    for record in records:
        types[record["type"]] = types.get(record["type"], 0) + 1

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        size_mb = path.stat().st_size / 1e6
        lines = path.read_bytes().splitlines()

        start, cpu = time.perf_counter(), time.process_time()
        for line in lines:
            json.loads(line)
        parse_s, parse_cpu = time.perf_counter() - start, time.process_time() - cpu

        # the agent and the collector never hold 200,000 records at once: keep the cyclic GC
        # from rescanning this benchmark's own records during the timing
        gc.collect()
        gc.freeze()
        validate_record(records[0])  # compile outside the timing, as a long-running process would
        for record in records[:50]:
            validate_record(record)
        start, cpu = time.perf_counter(), time.process_time()
        invalid = sum(1 for record in records if validate_record(record))
        library_s, library_cpu = time.perf_counter() - start, time.process_time() - cpu
        if invalid:
            print(f"error: {invalid} generated records are invalid", file=sys.stderr)
            return 1

        cli = Path(sys.executable).parent / "esup-spec"
        # a small wrapper runs the CLI and reports its peak memory: measured from this big
        # process, a forked child would count the records this benchmark holds
        wrapper = (
            "import resource, subprocess, sys;"
            "done = subprocess.run(sys.argv[1:]);"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
            "print(u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr);"
            "sys.exit(done.returncode)"
        )
        command = [sys.executable, "-c", wrapper, str(cli), "validate", str(path)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        cli_s = time.perf_counter() - start
        peak_kb, cli_cpu_text = done.stderr.split()[-2:]
        peak_mb, cli_cpu = int(peak_kb) / 1024, float(cli_cpu_text)
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
            return 1

    print(f"esupervision spec validation benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform(terse=True)}"
    )
    print(f"records: {count:,} ({size_mb:.1f} MB of JSON Lines)")
    print("  mix: " + ", ".join(f"{t} {n:,}" for t, n in sorted(types.items())))
    print(f"load average before the run: {load_before}")
    print(f"json.loads only (floor)     {rate(count, parse_s, parse_cpu)}")
    print(f"validate_record (library)   {rate(count, library_s, library_cpu)}")
    print(f"esup-spec validate (CLI)    {rate(count, cli_s, cli_cpu)}")
    print(f"  CLI peak RSS {peak_mb:.0f} MB (includes interpreter, click and compiled schemas)")
    print(f"  CLI output: {done.stdout.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
