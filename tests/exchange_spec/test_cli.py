"""esup-spec validate / docs / show through click's CliRunner on real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from exchange_spec.cli import main

from .conftest import SAMPLES

SL = {
    "spec": "1.0",
    "type": "SL",
    "SBLSH": "430700SCJ20260914001",
    "SXBM": "11430700MB1534211G300011111700001",
    "BMBM": "11430700MB1534211G",
    "XZQHDM": "430700",
    "SJBBH": 1,
    "SLZTDM": "1",
    "SLSJ": "2026-09-14T10:05:31+08:00",
}


def write_jsonl(path: Path, *records: Any) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_valid_samples_exit_0_with_a_summary() -> None:
    files = [str(p) for p in sorted((SAMPLES / "valid").glob("*.jsonl"))]
    result = run("validate", *files)
    assert result.exit_code == 0, result.output
    assert "0 invalid" in result.output and "0 条无效" in result.output
    assert result.output.count("\n") == 1  # nothing but the summary


def test_invalid_record_is_printed_with_file_line_type_sblsh_field_and_both_languages(
    tmp_path: Path,
) -> None:
    path = write_jsonl(tmp_path / "cases.jsonl", SL, {k: v for k, v in SL.items() if k != "SLSJ"})
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert f"{path}:2: SL SBLSH=430700SCJ20260914001" in result.output
    assert "SLSJ [schema.required]" in result.output
    assert "SL 记录缺少必填字段 SLSJ(受理时间)" in result.output
    assert "SL record is missing required field SLSJ (acceptance time)" in result.output
    assert "2 records, 1 invalid (1 files)" in result.output


def test_json_format_is_one_object_per_problem_then_a_summary(tmp_path: Path) -> None:
    bad = dict(SL, SLZTDM="9", XZQHDM="4307")
    path = write_jsonl(tmp_path / "cases.jsonl", SL, bad)
    result = run("validate", "--format", "json", str(path))
    assert result.exit_code == 1
    *problems, summary = json_lines(result)
    assert {(p["line"], p["path"], p["code"]) for p in problems} == {
        (2, "SLZTDM", "schema.enum"),
        (2, "XZQHDM", "schema.format"),
    }
    for p in problems:
        assert p["kind"] == "problem" and p["file"] == str(path)
        assert p["record_type"] == "SL" and p["SBLSH"] == SL["SBLSH"]
        assert p["message_zh"] and p["message_en"]
    assert summary == {
        "kind": "summary",
        "files": 1,
        "unreadable_files": 0,
        "records": 2,
        "invalid": 1,
        "exit": 1,
    }


def test_a_line_that_is_not_json_is_an_invalid_record(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "cases.jsonl", SL, '{"spec": "1.0", "type": "SL",', SL)
    result = run("validate", "--format", "json", str(path))
    assert result.exit_code == 1
    [problem, summary] = json_lines(result)
    assert (problem["line"], problem["code"]) == (2, "input.not_json")
    assert "第 2 行不是合法的 JSON" in problem["message_zh"]
    assert "line 2 is not valid JSON" in problem["message_en"]
    assert summary["records"] == 3 and summary["invalid"] == 1


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "cases.jsonl", SL, "", "   ", dict(SL, SLZTDM="9"))
    result = run("validate", str(path))
    assert result.exit_code == 1 and f"{path}:4: SL" in result.output
    assert "2 records, 1 invalid" in result.output


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(SL).encode() + b"\n")
    assert run("validate", str(path)).exit_code == 0


def test_missing_file_exits_2_and_says_which(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    good = write_jsonl(tmp_path / "good.jsonl", SL)
    result = run("validate", str(good), str(missing))
    assert result.exit_code == 2
    assert f"cannot read {missing}" in result.output and "无法打开文件" in result.output
    assert "1 unreadable" in result.output


def test_non_utf8_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.jsonl"
    gbk = json.dumps(dict(SL, BLRXM="王芳"), ensure_ascii=False).encode("gbk")
    path.write_bytes(json.dumps(SL).encode() + b"\n" + gbk + b"\n")
    result = run("validate", "--format", "json", str(path))
    assert result.exit_code == 2
    unreadable = [line for line in json_lines(result) if line["kind"] == "unreadable"]
    assert len(unreadable) == 1
    assert "line 2 is not UTF-8" in unreadable[0]["message_en"]
    assert "GBK" in unreadable[0]["message_zh"]


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([SL, dict(SL, SLZTDM="9")], indent=2), encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert f"{path}[2]: SL" in result.output
    lines = json_lines(run("validate", "--format", "json", str(path)))
    assert lines[0]["item"] == 2 and "line" not in lines[0]


def test_broken_json_array_exits_2_with_position(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_text("[\n" + json.dumps(SL) + ',\n{"spec": \n]', encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert "line 4 column 1" in result.output and "JSON Lines" in result.output


def test_record_set_rules_per_file(tmp_path: Path) -> None:
    completion = {
        **{k: v for k, v in SL.items() if k not in ("SLZTDM", "SLSJ")},
        "type": "BJ",
        "BJJGDM": "0",
        "BJSJ": "2026-09-13T10:00:00+08:00",
    }
    path = write_jsonl(tmp_path / "case.jsonl", SL, completion)
    result = run("validate", "--format", "json", str(path))
    assert result.exit_code == 1
    [problem, summary] = json_lines(result)
    assert (problem["line"], problem["code"], problem["path"], problem["record_type"]) == (
        2,
        "rule.completion_before_acceptance",
        "BJSJ",
        "BJ",
    )
    assert problem["SBLSH"] == SL["SBLSH"] and summary["invalid"] == 1
    # the same two records in two files are not compared with each other
    a = write_jsonl(tmp_path / "a.jsonl", SL)
    b = write_jsonl(tmp_path / "b.jsonl", completion)
    assert run("validate", str(a), str(b)).exit_code == 0


def test_validate_needs_a_file() -> None:
    result = run("validate")
    assert result.exit_code == 2 and "Missing argument" in result.output


def test_show_prints_a_self_contained_schema_and_code_tables() -> None:
    result = run("show", "SL")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["properties"]["SLZTDM"]["enum"] == ["1", "2", "3", "4"]
    assert "$ref" not in result.output
    table = json.loads(run("show", "BJJGDM").output)
    assert table["codes"][0] == {"code": "0", "zh": "出证办结", "en": table["codes"][0]["en"]}
    unknown = run("show", "NOPE")
    assert unknown.exit_code == 2 and "SLZTDM" in unknown.output


def test_docs_to_stdout_to_a_file_and_check(tmp_path: Path) -> None:
    text = run("docs").output
    assert text.startswith("# 数据交换规范 1.0")
    out = tmp_path / "spec.md"
    assert run("docs", "--output", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == text
    assert run("docs", "--output", str(out), "--check").exit_code == 0
    out.write_text(text + "edited\n", encoding="utf-8")
    stale = run("docs", "--output", str(out), "--check")
    assert stale.exit_code == 1 and "stale" in stale.output
    assert run("docs", "--check").exit_code == 2


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    path = write_jsonl(tmp_path / "cases.jsonl", *([SL] * 50))
    cli = [sys.executable, "-c", "from exchange_spec.cli import main; main()", "validate"]
    master, slave = pty.openpty()
    try:
        done = subprocess.run([*cli, str(path)], stdout=subprocess.PIPE, stderr=slave, timeout=60)
        os.close(slave)
        terminal = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(master)
    assert done.returncode == 0
    assert b"cases.jsonl" in terminal and b"100%" in terminal
    assert b"%" not in done.stdout  # the bar never mixes into the results
    piped = subprocess.run([*cli, str(path)], capture_output=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == b""
