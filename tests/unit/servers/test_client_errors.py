"""Server errors become o2v error types with the server's own message, in every shape servers use."""

from __future__ import annotations

import httpx
import pytest
from servers_wire import Recorder

from o2v.errors import ServerError, ServerHTTPError, ServerTimeout, ServerUnreachable
from o2v.servers import OllamaClient, OpenAIClient
from o2v.servers._http import server_message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"error":{"message":"The model `x` does not exist.","type":"NotFoundError","code":404}}',
            "The model `x` does not exist.",
        ),
        (
            '{"object":"error","message":"This model\'s maximum context length is 8 tokens",'
            '"type":"BadRequestError","param":null,"code":400}',
            "This model's maximum context length is 8 tokens",
        ),
        ('{"error":"model \'llama9\' not found"}', "model 'llama9' not found"),
        ('{"error":"Unauthorized"}', "Unauthorized"),
        ('{"detail":"Not Found"}', "Not Found"),
        ("Internal Server Error", "Internal Server Error"),
        ("", "(empty body)"),
    ],
)
def test_server_message_reads_every_known_shape(body: str, expected: str) -> None:
    assert server_message(body) == expected


def test_http_error_keeps_status_and_message() -> None:
    body = {"error": {"message": "The model `nope` does not exist.", "type": "NotFoundError", "code": 404}}
    wire = Recorder({"GET /v1/models": httpx.Response(404, json=body)})
    with (
        OpenAIClient("http://sim", transport=wire.transport()) as client,
        pytest.raises(ServerHTTPError) as info,
    ):
        client.models()
    assert info.value.status == 404
    assert info.value.server_message == "The model `nope` does not exist."
    assert "http://sim/v1/models" in str(info.value)


def test_ollama_busy_503_keeps_exact_text() -> None:
    text = "server busy, please try again.  maximum pending requests exceeded"
    wire = Recorder({"POST /api/chat": httpx.Response(503, json={"error": text})})
    with (
        OllamaClient("http://sim", transport=wire.transport()) as client,
        pytest.raises(ServerHTTPError) as info,
    ):
        client.chat("m", [{"role": "user", "content": "hi"}])
    assert (info.value.status, info.value.server_message) == (503, text)


def test_nothing_listening_is_unreachable(port: int) -> None:
    with OpenAIClient(f"http://127.0.0.1:{port}", timeout_s=2) as client:
        with pytest.raises(ServerUnreachable) as info:
            client.models()
        assert not client.is_healthy()
    assert f"127.0.0.1:{port}" in str(info.value)


def test_read_timeout_is_server_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    wire = Recorder({"GET /api/tags": slow})
    with OllamaClient("http://sim", timeout_s=1.5, transport=wire.transport()) as client:
        with pytest.raises(ServerTimeout, match=r"within 1.5 s"):
            client.tags()
        assert not client.is_running()


def test_non_json_answer_is_a_server_error_naming_the_body() -> None:
    wire = Recorder({"GET /api/tags": httpx.Response(200, text="<html>proxy login</html>")})
    with OllamaClient("http://sim", transport=wire.transport()) as client, pytest.raises(ServerError) as info:
        client.tags()
    assert "non-JSON" in str(info.value)
    assert "proxy login" in str(info.value)


def test_wrong_shape_is_a_server_error() -> None:
    wire = Recorder({"POST /tokenize": httpx.Response(200, json={"tokens": "not a list"})})
    with OpenAIClient("http://sim", transport=wire.transport()) as client, pytest.raises(ServerError) as info:
        client.tokenize("m", "hello")
    assert "TokenizeResult" in str(info.value)


def test_heartbeat_rejects_a_server_that_is_not_ollama() -> None:
    wire = Recorder({"GET /": httpx.Response(200, text="nginx welcome")})
    with OllamaClient("http://sim", transport=wire.transport()) as client, pytest.raises(ServerError):
        client.heartbeat()
