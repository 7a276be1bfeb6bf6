"""Ollama's log from its configured source. journald is read through a ``journalctl`` stand-in on PATH (no
systemd on the test machine): the argv o2v runs, the lines it parses, and each way reading can fail."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from o2v.config_sections import OllamaSettings
from o2v.errors import ServerError
from o2v.servers.log_source import ollama_log_records
from o2v.servers.logs import AccessRecord

GIN = '[GIN] 2026/12/02 - 10:23:45 | 200 |  2.345678901s |       10.0.0.7 | POST     "/api/chat"'
# The stand-in logs its argv, then prints the journal as --output cat would, or fails as told by $JOURNAL_FAIL.
STAND_IN = f"""#!/bin/sh
echo "$@" >> "$JOURNAL_CALLS"
if [ -n "$JOURNAL_FAIL" ]; then echo "$JOURNAL_FAIL" >&2; exit 1; fi
echo 'time=2026-12-02T10:23:40.000Z level=INFO source=routes.go:1 msg="Listening on 127.0.0.1:11434"'
echo '{GIN}'
"""


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "journalctl"
    program.write_text(STAND_IN)
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("JOURNAL_CALLS", str(calls))
    return calls


def test_journald_reads_the_units_journal_from_a_minute_before_the_window(journal: Path) -> None:
    ollama = OllamaSettings(log_source="journald", systemd_unit="ollama.service")
    records = list(ollama_log_records(ollama, since=datetime(2026, 12, 2, 10, 0, 30, 500_000, tzinfo=UTC)))
    [access] = [r for r in records if isinstance(r, AccessRecord)]
    assert (access.client_ip, access.method, access.path, access.status) == ("10.0.0.7", "POST", "/api/chat", 200)
    assert journal.read_text().split() == [
        "--unit", "ollama.service", "--output", "cat", "--no-pager", "--quiet", "--since", "2026-12-02", "09:59:30",
        "UTC",
    ]  # fmt: skip


def test_journald_without_a_window_reads_the_whole_journal(journal: Path) -> None:
    list(ollama_log_records(OllamaSettings(log_source="journald", systemd_unit="llm.service")))
    assert "--since" not in journal.read_text()
    assert "--unit llm.service" in journal.read_text()


def test_a_journal_that_cannot_be_read_says_why_and_what_to_do(
    journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNAL_FAIL", "No journal files were opened due to insufficient permissions.")
    with pytest.raises(ServerError, match="insufficient permissions.*systemd-journal group"):
        list(ollama_log_records(OllamaSettings(log_source="journald")))


def test_no_journalctl_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="'journalctl' is not on PATH"):
        list(ollama_log_records(OllamaSettings(log_source="journald")))


def test_a_file_is_read_whole_and_none_reads_nothing(tmp_path: Path) -> None:
    log = tmp_path / "ollama.log"
    log.write_text(GIN + "\n")
    [record] = list(ollama_log_records(OllamaSettings(log_source="file", log_file=log), since=datetime.now(UTC)))
    assert isinstance(record, AccessRecord)
    assert record.client_ip == "10.0.0.7"
    with pytest.raises(ServerError, match="log_source is none"):
        ollama_log_records(OllamaSettings(log_source="none"))
