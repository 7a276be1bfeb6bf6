"""The load generator's own HTTP client against a real engine: uvicorn's framing, not the simulators'.

llama.cpp's server (uvicorn + sse-starlette, one request at a time here) is written by someone else, so this
is where the wire client meets chunk boundaries, headers and keep-alive behaviour it was not written against.
"""

from __future__ import annotations

import pytest

from o2v.loadgen import Workload, run_loadtest
from o2v.servers import OpenAIClient

from .conftest import Engine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_every_request_completes_and_tokens_match_the_engine(llama_server: Engine) -> None:
    workload = Workload(
        url=llama_server.url,
        model=llama_server.model,
        concurrency=[1, 2],
        requests_per_level=4,
        warmup_requests=1,
        max_tokens=6,
        prompts=["hello world, how is the queue?"],
    )
    result = await run_loadtest(workload)
    assert [level.concurrency for level in result.levels] == [1, 2]
    for level in result.levels:
        assert (level.completed, level.failed) == (4, 0), level.errors_by_kind
        assert level.ttft_ms.median is not None
        assert level.e2e_ms.median is not None
        assert level.ttft_ms.median <= level.e2e_ms.median
    # the same greedy request, streamed by the project's own client: the load generator counted what it saw
    with OpenAIClient(llama_server.url) as client:
        with client.stream_chat(llama_server.model, [{"role": "user", "content": "hello world, how is the queue?"}],
                                max_tokens=6, temperature=0.0) as stream:  # fmt: skip
            reference = stream.collect()
    expected = reference.completion_tokens or reference.chunks
    assert {sample.output_tokens for sample in result.samples} == {expected}
