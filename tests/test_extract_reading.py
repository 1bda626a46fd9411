"""Reading documents: encodings, BOMs, binary and missing input, stdin, the CLI's exit codes."""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.errors import InputError
from pipeline.extract import extract, extract_bytes

PERSIAN_LINE = "خبرگزاری ایرانی تسنیم در اردیبهشت پارسال"
DOC = f"https://www.bbc.com/persian/afghanistan/2016/04/160419_kk_taliban_spring_war\n19 Apr 2016: {PERSIAN_LINE}\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (DOC.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + DOC.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + DOC.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + DOC.encode("utf-16-be"), "utf-16"),
    ],
)
def test_unicode_encodings_with_and_without_bom(data: bytes, encoding: str) -> None:
    extraction = extract_bytes(data, "doc.txt")
    assert extraction.document.encoding == encoding
    assert extraction.citations[0].passages[0].text == PERSIAN_LINE
    assert extraction.citations[0].urls[0].url.startswith("https://www.bbc.com/")


def test_windows_1256_persian_is_detected() -> None:
    text = ("https://www.mehrnews.com/news/1\n14 Dec 2016: " + "ایران و طالبان در تهران دیدار کردند. " * 30)
    text = text.replace("ی", "ي").replace("ک", "ك")
    extraction = extract_bytes(text.encode("windows-1256"), "legacy.txt")
    assert extraction.document.encoding == "cp1256"
    assert extraction.citations[0].passages[0].text.startswith("ايران و طالبان")


def test_html_meta_charset_decides_when_not_utf8() -> None:
    page = '<html><head><meta charset="windows-1252"></head><body><p>Caf\u00e9 <a href="https://a.example/">x</a></p></body></html>'
    extraction = extract_bytes(page.encode("windows-1252"), "page.html")
    assert extraction.document.encoding == "cp1252"
    assert extraction.citations[0].passages[0].text.startswith("Café")


def test_binary_input_is_an_input_error() -> None:
    with pytest.raises(InputError, match="binary"):
        extract_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10, "image.txt")


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        extract(str(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="is a directory"):
        extract(str(tmp_path))


def test_empty_file_has_no_citations() -> None:
    extraction = extract_bytes(b"", "empty.txt")
    assert extraction.citations == () and extraction.document.title is None


def test_mac_and_windows_line_endings_count_lines_the_same() -> None:
    unix = extract_bytes(DOC.encode(), "a.txt")
    for newline in ("\r\n", "\r"):
        other = extract_bytes(DOC.replace("\n", newline).encode(), "b.txt")
        assert [(c.line_start, [p.line for p in c.passages]) for c in other.citations] == [
            (c.line_start, [p.line for p in c.passages]) for c in unix.citations
        ]


# --- the command ----------------------------------------------------------------------


def test_cli_extract_json_contract(tmp_path: Path) -> None:
    from tests.conftest import SAMPLE

    result = CliRunner().invoke(cli, ["extract", str(SAMPLE), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1
    assert set(data["document"]) >= {"path", "title", "date", "sha256"}
    citation = data["citations"][0]
    assert set(citation) >= {"id", "index", "line_start", "date", "urls", "passages"}
    assert set(citation["urls"][0]) >= {"url", "canonical", "line"}
    assert set(citation["passages"][0]) >= {"text", "line"}
    assert len(data["citations"]) == 36


def test_cli_extract_table_fits_the_terminal() -> None:
    from tests.conftest import SAMPLE

    result = CliRunner().invoke(cli, ["extract", str(SAMPLE)], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    rows = result.output.splitlines()
    assert all(len(row) <= 80 for row in rows[1:])
    assert rows[-1] == "36 citations, 46 URLs (46 unique)"
    assert "(no URL)" in result.output
    assert rows[1].split()[:3] == ["#", "id", "date"]
    first_id = rows[2].split()[1]
    assert len(first_id) == 12 and all(c in "0123456789abcdef" for c in first_id)  # what recheck takes


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.txt", "no such file"),
        (lambda d: d, "no document there"),  # a folder is read as run reads it: here, an empty one
        (lambda d: (d / "bin.txt").write_bytes(b"\x00\x01\x02binary") and d / "bin.txt", "binary"),
    ],
)
@pytest.mark.slow
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    result = subprocess.run([sys.executable, "-m", "pipeline", "extract", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_cli_empty_file_is_exit_0(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    result = CliRunner().invoke(cli, ["extract", str(tmp_path / "empty.txt"), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["citations"] == []


@pytest.mark.slow
def test_cli_reads_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "extract", "-", "--json"], input=DOC.encode(), capture_output=True
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["citations"][0]["passages"][0]["text"] == PERSIAN_LINE


def test_cli_extract_takes_a_folder_as_run_and_verify_do(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("[one](https://one.example/) says so.\n")
    (tmp_path / "notes" / "b.txt").write_text("https://two.example/x\n\nA claim.\n")
    result = CliRunner().invoke(cli, ["extract", str(tmp_path / "notes"), "--json"])
    assert result.exit_code == 0, result.output
    documents = json.loads(result.stdout)
    assert [Path(d["document"]["path"]).name for d in documents] == ["a.md", "b.txt"]
    table = CliRunner().invoke(cli, ["extract", str(tmp_path / "notes" / "*.md")])
    assert table.exit_code == 0 and "one.example" in table.stdout and "two.example" not in table.stdout
