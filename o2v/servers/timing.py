"""Per-request stream timing, recorded on one monotonic clock.

Why a separate recorder: the load generator needs the same moments from every client (send, first byte of
the response, first content token, every content chunk, last byte) to compute TTFT, ITL, TPOT and E2E the
way vLLM bench and GuideLLM define them (see reference/anchors.md). Offsets are kept in seconds from the
send moment so that a request's numbers do not depend on wall-clock jumps.

Definitions used here:
    ttft_ms   send -> first chunk that carries generated text
    e2e_ms    send -> end of the stream (end marker or final object)
    itl_ms    gaps between consecutive content chunks (vLLM's inter-token latency)
    tpot_ms   (e2e - ttft) / (output_tokens - 1), needs the token count from the server's usage
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, Field

Clock = Callable[[], float]


class StreamTiming(BaseModel):
    """What happened when, for one streamed request. All offsets are seconds after ``sent_at``."""

    sent_at: datetime = Field(description="Wall-clock (UTC) time the request was sent.")
    first_byte_s: float | None = Field(default=None, description="Response headers arrived.")
    first_token_s: float | None = Field(default=None, description="First chunk with generated text arrived.")
    chunk_s: list[float] = Field(default_factory=list, description="Arrival of every chunk carrying text.")
    events: int = Field(default=0, description="Stream events received, with or without text (role, usage, final).")
    last_s: float | None = Field(default=None, description="The stream ended (end marker, final object or error).")

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_token_s is None else self.first_token_s * 1000.0

    @property
    def first_byte_ms(self) -> float | None:
        return None if self.first_byte_s is None else self.first_byte_s * 1000.0

    @property
    def e2e_ms(self) -> float | None:
        return None if self.last_s is None else self.last_s * 1000.0

    @property
    def itl_ms(self) -> list[float]:
        """Gaps between consecutive text chunks; empty with fewer than two chunks."""
        return [(b - a) * 1000.0 for a, b in zip(self.chunk_s, self.chunk_s[1:], strict=False)]

    def tpot_ms(self, output_tokens: int | None) -> float | None:
        """Mean time per output token after the first; None when it cannot be computed honestly."""
        if output_tokens is None or output_tokens < 2 or self.ttft_ms is None or self.e2e_ms is None:
            return None
        return (self.e2e_ms - self.ttft_ms) / (output_tokens - 1)


class TimingRecorder:
    """Marks the moments of one request as they happen; ``timing`` is the typed result.

    The clock is injectable so unit tests can check the arithmetic without sleeping.
    """

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self._clock = clock
        self._t0 = clock()
        self.timing = StreamTiming(sent_at=datetime.now(UTC))

    def _now(self) -> float:
        return self._clock() - self._t0

    def restart(self) -> None:
        """Call right before the request goes out, so time spent building it is not counted as server time.

        The ``timing`` object is kept (only its origin moves) so references handed out earlier stay valid.
        """
        self._t0 = self._clock()
        self.timing.sent_at = datetime.now(UTC)

    def first_byte(self) -> None:
        if self.timing.first_byte_s is None:
            self.timing.first_byte_s = self._now()

    def event(self, has_text: bool) -> None:
        now = self._now()
        self.timing.events += 1
        if has_text:
            if self.timing.first_token_s is None:
                self.timing.first_token_s = now
            self.timing.chunk_s.append(now)

    def finish(self) -> None:
        if self.timing.last_s is None:
            self.timing.last_s = self._now()
