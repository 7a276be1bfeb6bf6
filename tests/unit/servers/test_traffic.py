"""Other traffic on Ollama during a measurement window, counted from gin access lines in its log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from o2v.config import Settings
from o2v.servers.traffic import ollama_traffic

START = datetime(2026, 3, 2, 10, 0, 0, 400_000, tzinfo=UTC)
END = START + timedelta(seconds=30)


def gin(when: datetime, path: str = "/api/chat", method: str = "POST") -> str:
    local = when.astimezone().replace(tzinfo=None)  # gin prints the server's local wall clock, no zone
    return f'[GIN] {local:%Y/%m/%d - %H:%M:%S} | 200 |  1.234s |  172.17.0.1 | {method:<7}  "{path}"\n'


def test_requests_in_the_window_beyond_our_own_are_the_teams(tmp_path: Path) -> None:
    lines = [gin(START - timedelta(seconds=5))]  # before the window
    lines += [gin(START + timedelta(seconds=i)) for i in range(25)]  # 25 inference requests inside
    lines += [gin(START + timedelta(seconds=3), "/v1/chat/completions")]
    lines += [gin(START + timedelta(seconds=4), "/api/tags", "GET")]  # not inference
    lines += [gin(END + timedelta(seconds=5))]  # after
    log = tmp_path / "ollama.log"
    log.write_text("".join(lines) + "time=2026-03-02T10:00:01Z level=INFO msg=x\n")
    settings = Settings.model_validate({"ollama": {"log_source": "file", "log_file": str(log)}})
    traffic = ollama_traffic(settings, start=START, end=END, own_requests=20)
    assert (traffic.logged_requests, traffic.other_requests) == (26, 6)
    assert traffic.sentence() == (
        "other traffic on Ollama during the 30 s window: 6 requests (0.20/s) besides o2v's 20 (log: file)"
    )


def test_without_a_log_the_answer_is_unknown_not_zero(tmp_path: Path) -> None:
    none = ollama_traffic(Settings(ollama={"log_source": "none"}), start=START, end=END, own_requests=10)
    assert none.other_requests is None
    assert none.sentence().endswith("unknown (ollama.log_source is none; set it to docker, file or journald to know)")
    missing = Settings(ollama={"log_source": "file", "log_file": str(tmp_path / "gone.log")})
    unread = ollama_traffic(missing, start=START, end=END, own_requests=10)
    assert unread.other_requests is None
    assert "Ollama's log could not be read: expected an Ollama log file at" in unread.note
