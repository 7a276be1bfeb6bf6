"""The Ollama log parser against lines in every shape real deployments print."""

from __future__ import annotations

import gzip
import io
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from o2v.servers.logs import (
    AccessRecord,
    AppRecord,
    LoadCounter,
    UnparsedLine,
    is_client_abort,
    is_model_load_start,
    model_load_seconds,
    parse_go_duration,
    parse_go_map,
    parse_line,
    parse_lines,
    read_log,
    server_config,
)

DATA = Path(__file__).parents[2] / "data" / "ollama_logs"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0.0), ("0", 0.0), ("850ns", 850e-9), ("41.5µs", 41.5e-6), ("41.5μs", 41.5e-6), ("512.3us", 512.3e-6),
        ("1.5Âµs", 1.5e-6), ("1.209831ms", 1.209831e-3), ("2.345678901s", 2.345678901), ("1m5s", 65.0),
        ("2m0s", 120.0), ("1m5.25s", 65.25), ("1h2m3s", 3723.0), ("1h2m3.5s", 3723.5), ("10h0m0s", 36000.0),
        ("-1.5s", -1.5), (".5s", 0.5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("text", ["", "s", "5", "1.2.3s", "elevenseconds", "5 s", "1d", "3sx"])
def test_bad_durations_raise(text: str) -> None:
    with pytest.raises(ValueError, match="Go duration"):
        parse_go_duration(text)


def test_canonical_access_line() -> None:
    rec = parse_line('[GIN] 2025/01/15 - 10:23:45 | 200 |  2.345678901s |      172.17.0.1 | POST     "/api/chat"')
    assert rec == AccessRecord(
        time=datetime(2025, 1, 15, 10, 23, 45), status=200, latency_s=2.345678901, client_ip="172.17.0.1",
        method="POST", path="/api/chat",
    )


@pytest.mark.parametrize("status", [100, 200, 204, 301, 400, 401, 404, 499, 500, 502, 503])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_every_status_and_method(status: int, method: str) -> None:
    rec = parse_line(f'[GIN] 2025/01/15 - 10:23:45 | {status:3d} |      1.2ms |       127.0.0.1 | {method:<7} "/p"')
    assert isinstance(rec, AccessRecord)
    assert (rec.status, rec.method) == (status, method)


@pytest.mark.parametrize(
    "ip", ["::1", "2001:db8:85a3::8a2e:370:7334", "fe80::1ff:fe23:4567:890a%eth0", "::ffff:192.0.2.128", "10.1.2.3", ""]
)
def test_client_addresses(ip: str) -> None:
    rec = parse_line(f'[GIN] 2025/01/15 - 10:23:45 | 200 |      1.2ms | {ip:>15} | GET     "/api/tags"')
    assert isinstance(rec, AccessRecord)
    assert rec.client_ip == ip


def test_quoted_paths_keep_query_strings_and_escapes() -> None:
    rec = parse_line(r'[GIN] 2025/01/15 - 10:23:45 | 404 | 1ms | 1.2.3.4 | GET "/v1/models/a%3Ab?x=1&y=\"q\"&z=\\"')
    assert isinstance(rec, AccessRecord)
    assert rec.path == '/v1/models/a%3Ab?x=1&y="q"&z=\\'
    rec = parse_line(r'[GIN] 2025/01/15 - 10:23:45 | 404 | 1ms | 1.2.3.4 | GET "/\x00\u00e9\t"')
    assert isinstance(rec, AccessRecord)
    assert rec.path == "/\x00é\t"


def test_colour_codes_and_prefixes_are_ignored() -> None:
    coloured = (
        "[GIN] 2025/01/15 - 10:23:45 |\x1b[97;42m 200 \x1b[0m|      1.2ms |  ::1 |\x1b[97;46m POST    \x1b[0m "
        '"/api/chat"'
    )
    journald = 'Jan 15 10:23:45 box ollama[99]: [GIN] 2025/01/15 - 10:23:45 | 200 | 3s | 10.0.0.1 | POST "/api/chat"'
    docker_t = '2025-01-15T10:23:45.123456789Z [GIN] 2025/01/15 - 10:23:45 | 200 | 3s | 10.0.0.1 | POST "/api/chat"'
    for line in (coloured, journald, docker_t):
        rec = parse_line(line)
        assert isinstance(rec, AccessRecord), line
        assert rec.path == "/api/chat"
    rec = parse_line('\x1b[36mtime=2025-01-15T10:23:45.000Z level=INFO source=x.go:1 msg="hello world"\x1b[0m')
    assert isinstance(rec, AppRecord)
    assert rec.msg == "hello world"


def test_slog_line_with_attrs() -> None:
    rec = parse_line(
        'time=2025-08-21T14:19:24.849+09:00 level=INFO source=types.go:130 msg="inference compute" id=GPU-1 '
        'compute=8.6 name="NVIDIA GeForce RTX 3090" total="23.6 GiB" empty="" note="say \\"hi\\""'
    )
    assert isinstance(rec, AppRecord)
    assert rec.time == datetime(2025, 8, 21, 14, 19, 24, 849000, tzinfo=timezone(timedelta(hours=9)))
    assert (rec.level, rec.source, rec.msg) == ("INFO", "types.go:130", "inference compute")
    assert rec.attrs == {"id": "GPU-1", "compute": "8.6", "name": "NVIDIA GeForce RTX 3090", "total": "23.6 GiB",
                         "empty": "", "note": 'say "hi"'}


def test_slog_nanosecond_time_and_pre_slog_lines() -> None:
    rec = parse_line("time=2025-01-15T10:23:45.123456789Z level=WARN source=a.go:1 msg=x")
    assert isinstance(rec, AppRecord)
    assert rec.time.microsecond == 123456
    assert rec.level == "WARN"
    old = parse_line("2024/03/04 09:12:01 routes.go:1018: Listening on 127.0.0.1:11434 (version 0.1.27)")
    assert isinstance(old, AppRecord)
    assert (old.source, old.msg) == ("routes.go:1018", "Listening on 127.0.0.1:11434 (version 0.1.27)")


def test_server_config_from_real_v0_9_log() -> None:
    env = server_config(read_log(DATA / "docker_v0_9.log"))
    assert env["OLLAMA_NUM_PARALLEL"] == "2"
    assert env["OLLAMA_KEEP_ALIVE"] == "5m0s"
    assert env["OLLAMA_MAX_QUEUE"] == "512"
    assert env["OLLAMA_HOST"] == "http://0.0.0.0:11434"
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["OLLAMA_ORIGINS"].startswith("[http://localhost https://localhost")
    assert env["OLLAMA_ORIGINS"].endswith("]")
    assert env["ROCR_VISIBLE_DEVICES"] == ""
    assert len(env) == 28


def test_server_config_last_restart_wins_and_absent_is_empty() -> None:
    first = 'time=2025-01-01T00:00:00Z level=INFO source=r.go:1 msg="server config" env="map[OLLAMA_NUM_PARALLEL:1]"'
    second = 'time=2025-01-02T00:00:00Z level=INFO source=r.go:1 msg="server config" env="map[OLLAMA_NUM_PARALLEL:4]"'
    assert server_config(parse_lines([first, "junk", second])) == {"OLLAMA_NUM_PARALLEL": "4"}
    assert server_config(parse_lines(["junk"])) == {}


def test_go_map_windows_paths_and_nested_lists() -> None:
    env = parse_go_map(r"map[OLLAMA_MODELS:C:\Users\me\.ollama OLLAMA_ORIGINS:[a b:* C:x] OLLAMA_KEEP_ALIVE:-1ns]")
    assert env == {
        "OLLAMA_MODELS": r"C:\Users\me\.ollama", "OLLAMA_ORIGINS": "[a b:* C:x]", "OLLAMA_KEEP_ALIVE": "-1ns"
    }


def test_aborts_and_model_loads() -> None:
    records = list(read_log(DATA / "docker_v0_9.log"))
    aborts = [r for r in records if is_client_abort(r)]
    assert len(aborts) == 2
    loads = [s for r in records if (s := model_load_seconds(r)) is not None]
    assert loads == [5.65]
    assert sum(is_model_load_start(r) for r in records) == 1


def test_sample_file_counts() -> None:
    records = list(read_log(DATA / "docker_v0_9.log"))
    access = [r for r in records if isinstance(r, AccessRecord)]
    unparsed = [r for r in records if isinstance(r, UnparsedLine) and not r.known_noise]
    assert len(access) == 15
    assert {r.method for r in access} == {"HEAD", "GET", "POST", "DELETE", "OPTIONS", "PUT", "PATCH"}
    assert sorted({r.status for r in access}) == [200, 400, 404, 499, 500, 503]
    assert [r.line_no for r in unparsed] == [38, 39, 40]
    assert max(r.latency_s for r in access) == pytest.approx(3723.5)


def test_journald_pre_slog_log() -> None:
    records = list(read_log(DATA / "journald_v0_1.log"))
    assert [r.kind for r in records] == ["app", "app", "app", "access", "access"]
    assert server_config(records)["OLLAMA_NUM_PARALLEL"] == "1"


def test_foreign_format_is_all_unparsed_and_not_noise() -> None:
    records = list(read_log(DATA / "nginx_access.log"))
    assert len(records) == 4
    assert all(isinstance(r, UnparsedLine) and not r.known_noise for r in records)


def test_binary_garbage_does_not_stop_parsing() -> None:
    records = list(read_log(DATA / "binary_garbage.log"))
    assert [r.kind for r in records] == ["access", "unparsed", "access"]


def test_gzip_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (DATA / "journald_v0_1.log").read_bytes()
    gz = tmp_path / "ollama.log.gz"
    gz.write_bytes(gzip.compress(raw))
    assert len(list(read_log(gz))) == 5

    class FakeStdin:
        buffer = io.BytesIO(raw)

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    assert len(list(read_log("-"))) == 5


def test_missing_file_says_where(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="expected an Ollama log file"):
        list(read_log(tmp_path / "nope.log"))


def test_records_serialise_to_json() -> None:
    import json

    for rec in read_log(DATA / "docker_v0_9.log"):
        data = json.loads(json.dumps(rec.to_dict()))
        assert data["kind"] in {"access", "app", "unparsed"}


def test_current_llama_server_load_lines_are_read() -> None:
    """Ollama 0.30+ (llm/llama_server.go): the new wording, and two started-in lines per load."""
    start = parse_line('time=2026-08-25T09:00:13.101+02:00 level=INFO source=llama_server.go:433 '
                       'msg="starting llama-server" cmd="/usr/lib/ollama/llama-server --model /m -c 8192 -np 2"')
    done = parse_line('time=2026-08-25T09:00:19.553+02:00 level=INFO source=llama_server.go:1362 '
                      'msg="llama-server started in 6.45 seconds"')
    assert is_model_load_start(start)
    assert model_load_seconds(done) == 6.45
    assert model_load_seconds(parse_line('time=2025-01-01T00:00:00Z level=INFO source=server.go:630 '
                                         'msg="llama runner started in 1.51 seconds"')) == 1.51


def test_load_counter_counts_a_double_started_in_line_once() -> None:
    records = list(read_log(DATA / "docker_v0_33.log"))
    counter = LoadCounter()
    loads = [s for r in records if (s := counter.feed(r)) is not None]
    assert loads == [6.45, 36.45, 4.02]
    assert sum(model_load_seconds(r) is not None for r in records) == 6  # each load wrote the line twice
    unparsed = [r for r in records if isinstance(r, UnparsedLine) and not r.known_noise]
    assert unparsed == []  # llama-server's own lines (srv, slot, build) are Ollama's chatter, not foreign


def test_load_counter_keeps_loads_without_start_lines_apart() -> None:
    """Old logs cut before the start line still count each started-in line seconds apart as its own load."""
    lines = [f'time=2025-03-04T09:{m:02d}:00.000Z level=INFO source=server.go:1 msg="llama runner started in 2.00 '
             'seconds"' for m in (0, 1)]
    lines.append('time=2025-03-04T09:01:00.003Z level=INFO source=llama_server.go:1362 '
                 'msg="llama-server started in 2.00 seconds"')
    counter = LoadCounter()
    assert [counter.feed(r) for r in parse_lines(lines)] == [2.0, 2.0, None]
