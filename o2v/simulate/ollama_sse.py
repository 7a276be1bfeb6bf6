"""The SSE framing of Ollama's ``/v1`` streams, by version (``openai/openai.go``, ``middleware/openai.go``).

Since 0.32.6 a chat stream names the role in its first chunk only and ends with a finish chunk whose delta
is empty (``{}``); before, every chunk carried ``role: assistant`` and the finish chunk an empty content.
Completions streams did not change.  The vLLM framing lives in ``openai_fmt``; this only adds Ollama's.
"""

from __future__ import annotations

from o2v.simulate.common import VOCAB_JSON
from o2v.simulate.openai_fmt import OpenAIRequest, OpenAIStream, OpenAIStyle, usage


class OllamaStream(OpenAIStream):
    def __init__(self, style: OpenAIStyle, req: OpenAIRequest, model: str, *, role_first_only: bool) -> None:
        super().__init__(style, req, model)
        self.role_first_only = role_first_only and req.chat
        self._opening_prefix = self._prefix
        self._opened = False
        if self.role_first_only:
            self._prefix = f'data: {self._head},"choices":[{{"index":0,"delta":{{"content":"'.encode()

    def opening(self, idx: int, n_prompt: int = 0) -> bytes:
        """The first token's chunk: the only one that names the role on current versions."""
        self._opened = True
        return self._opening_prefix + VOCAB_JSON[idx].encode() + self._suffix

    def finish(self, reason: str, completion_tokens: int) -> bytes:
        if not self.role_first_only:
            return super().finish(reason, completion_tokens)
        base = self._base()
        # An answer of no tokens still opens with a role chunk, as Ollama's ChatWriter does.
        out = b"" if self._opened else self._opening_prefix + self._suffix
        out += self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
        if self.req.include_usage:
            out += self._event({**base, "choices": [], "usage": usage(self.req.prompt_tokens, completion_tokens)})
        return out + b"data: [DONE]\n\n"
