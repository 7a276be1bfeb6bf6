"""One error hierarchy for the whole project.

    O2VError
    ├── ConfigError          bad migration.yaml, flag or parameter (lists every problem)
    ├── StoreError           the results database cannot be reached or written
    ├── ServerError          an Ollama / vLLM / OpenAI-compatible server misbehaved
    │   ├── ServerUnreachable    nothing answers at the URL
    │   ├── ServerTimeout        connected, but no answer (or no next chunk) within the timeout
    │   ├── StreamInterrupted    a stream ended before its end marker (disconnect, truncation)
    │   └── ServerHTTPError      an HTTP error status, with the server's own message kept
    │       └── ServerStreamError    an error object sent inside a stream that had already started
    ├── DeployError          a container or process could not be started, or never became healthy
    ├── GPUError             NVML / driver problems that stop GPU verification
    ├── GateFailed           a gate (GPU requirements, GX suite, SLO) said no; carries every violation
    ├── PhaseError           a migration phase failed; names the phase and what to do
    ├── ApprovalError        an approval answer that cannot be used (malformed, not allowed, question closed)
    └── TranslationError     a native Ollama request the gateway cannot express for vLLM (carries an HTTP status)

Messages say what was expected, what was found and what to do next, so that a user can act on the
one line printed by the CLI or shown in the Prefect flow run's state message.
"""

from __future__ import annotations


class O2VError(Exception):
    """Base class: everything o2v raises on purpose."""


class ConfigError(O2VError):
    """Invalid configuration. ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"{len(self.problems)} configuration problem(s){where}:\n" + "\n".join(self.problems))


class StoreError(O2VError):
    """The results store failed."""


class ServerError(O2VError):
    """A model server did not behave as expected."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(message)


class ServerUnreachable(ServerError):
    """Nothing answered at the URL (connection refused, DNS failure, timeout while connecting)."""


class ServerHTTPError(ServerError):
    """The server answered with an error status. ``server_message`` is the server's own text."""

    def __init__(self, status: int, server_message: str, *, url: str | None = None) -> None:
        self.status = status
        self.server_message = server_message
        super().__init__(f"HTTP {status} from {url or 'server'}: {server_message}", url=url)


class DeployError(O2VError):
    """Deployment of a server failed."""


class GPUError(O2VError):
    """GPU verification could not run."""


class GateFailed(O2VError):
    """A gate rejected the migration. ``violations`` lists every reason, not just the first."""

    def __init__(self, gate: str, violations: list[str]) -> None:
        self.gate = gate
        self.violations = list(violations)
        super().__init__(f"{gate} failed: " + "; ".join(self.violations))


class PhaseError(O2VError):
    """A migration phase failed."""

    def __init__(self, phase: str, reason: str, hint: str = "") -> None:
        self.phase = phase
        self.reason = reason
        self.hint = hint
        text = f"phase {phase!r} failed: {reason}"
        if hint:
            text += f" -- what to do: {hint}"
        super().__init__(text)


class ServerTimeout(ServerError):
    """The server accepted the connection but did not answer (or stopped streaming) within the client's timeout."""


class StreamInterrupted(ServerError):
    """A streamed response ended before the server's end marker (connection dropped, truncated or garbled)."""


class ServerStreamError(ServerHTTPError):
    """The server reported an error inside a stream that had already started (HTTP status was 200)."""


class ApprovalError(O2VError):
    """An approval click or answer that cannot be used (malformed, not allowed, question closed)."""


class TranslationError(O2VError):
    """A native Ollama request (or a vLLM answer) the gateway cannot translate faithfully.

    ``status`` is the HTTP status the gateway answers with (400 by default; 404 for an unknown model), and
    the message is sent to the client in Ollama's ``{"error": ...}`` shape.
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        self.status = status
        super().__init__(message)
