"""The redactor: every secret shape is hidden, ordinary text is left exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from o2v.redact import MASK, redact, redact_data, remember_secrets

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
HIDDEN = {
    "url userinfo": ('ollama.Client(host="http://admin:hunter2@gpu-box:11434")', "hunter2", "http://***@gpu-box:11434"),
    "url user only": ("git clone https://ghtoken123@github.com/org/repo", "ghtoken123", "https://***@github.com"),
    "python kwarg": ('OpenAI(base_url="http://localhost:11434/v1", api_key="sk-live-4f9a")', "4f9a", 'api_key="***"'),
    "bearer header": ('headers={"Authorization": "Bearer abc.def-123"}', "abc.def-123", "Authorization"),
    "bearer in prose": ("sent Bearer 9f8e7d6c5b4a3 to the API", "9f8e7d6c5b4a3", "Bearer ***"),
    "basic auth": ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "Basic ***"),
    "dotenv": ("OPENAI_API_KEY=abcdef0123456789", "abcdef0123456789", "OPENAI_API_KEY=***"),
    "shell export": ("export HF_TOKEN='my-token-value'", "my-token-value", "HF_TOKEN='***'"),
    "yaml": ("  password: hunter2", "hunter2", "password: ***"),
    "yaml quoted": ("  client_secret: 'abc'", "abc", "client_secret: '***'"),
    "json": ('{"password": "correct horse"}', "correct horse", '"password": "***"'),
    "js camelCase": ("const ollama = new Ollama({ apiKey: 'letmein' })", "letmein", "apiKey: '***'"),
    "js object": ("fetch(url, { token: `t0k3n` })", "t0k3n", "token: `***`"),
    "go-style": ('secretKey := "s3cr3t"', "s3cr3t", 'secretKey := "***"'),
    "cli flag": ("vllm serve m --api-key s3cr3t-key --port 8000", "s3cr3t-key", "--api-key *** --port 8000"),
    "cli flag with =": ("vllm serve m --api-key=s3cr3t-key", "s3cr3t-key", "--api-key=***"),
    "openai key": ("key is sk-proj-AbC123xyz789 here", "sk-proj-AbC123xyz789", "key is *** here"),
    "hugging face": ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345", "hf_AbCdEf", MASK),
    "slack bot": ("token xoxb-1234-5678-AbCdEf", "xoxb-1234", "token ***"),
    "slack user": ("xoxp-1111-2222-3333-abcd", "xoxp-1111", MASK),
    "slack app": ("xapp-1-A01-123-abcdef", "xapp-1", MASK),
    "jwt": (f"cookie {JWT}", "eyJhbGci", "cookie ***"),
    "github": ("ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "ghp_AbCd", MASK),
    "aws": ("AKIAIOSFODNN7EXAMPLE in a line", "AKIAIOSFODNN7EXAMPLE", "*** in a line"),
}


@pytest.mark.parametrize("case", sorted(HIDDEN))
def test_each_shape_is_hidden(case: str) -> None:
    text, secret, expected_part = HIDDEN[case]
    shown = redact(text)
    assert secret not in shown
    assert expected_part in shown


LEFT_ALONE = [
    "http://localhost:11434/api/chat",
    "client = OpenAI(base_url='http://gpu-box:11434/v1')",
    "the token expires after an hour; send a bearer token with every request",
    "Basic configuration of Bearer authentication",
    "max_tokens=128, num_ctx: 8192, output_tokens: 40",
    "OLLAMA_KEEP_ALIVE=5m OLLAMA_NUM_PARALLEL=4",
    "api_key=os.environ['OPENAI_API_KEY']",
    "export OPENAI_API_KEY=${OPENAI_API_KEY}",
    "def connect(token: str | None = None) -> Client:",
    "token = read_token()",
    "vllm.api_key: must be set when vllm.host is public",
    "secret_env: [HF_TOKEN, VLLM_API_KEY] hf_cache_dir: ~/.cache/huggingface",
    "mail admin@example.com about the sk- prefix",
    "",
]


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_configured_secret_values_are_scrubbed_whatever_their_shape() -> None:
    remember_secrets(["plain-words-no-shape-42", "short", None])
    assert redact("the key is plain-words-no-shape-42.") == "the key is ***."
    assert redact("short stays: too many ordinary words would go") == "short stays: too many ordinary words would go"


def test_structures_are_redacted_value_by_value() -> None:
    data = {
        "evidence": ["ollama.Client(host='http://u:p4ss@h:11434')"],
        "password": "no-shape",
        "api_key_env": "VLLM_API_KEY",
        "hf_token_required": True,
        "max_tokens": 64,
        "nested": {"token": "abc", "notes": "fine"},
        "idempotency_key": "o2v-decommission-m1-3",  # a lookup id, compared across runs: not a credential
        "pause_key": "stage-1",
    }
    assert redact_data(data) == {
        "evidence": ["ollama.Client(host='http://***@h:11434')"],
        "password": MASK,
        "api_key_env": "VLLM_API_KEY",
        "hf_token_required": True,
        "max_tokens": 64,
        "nested": {"token": MASK, "notes": "fine"},
        "idempotency_key": "o2v-decommission-m1-3",
        "pause_key": "stage-1",
    }


def test_json_text_stays_valid_json_and_escaped_values_are_hidden() -> None:
    text = json.dumps({"evidence": 'OpenAI(api_key="abc123", base_url="http://u:pw99@h:11434/v1")', "n": 1})
    shown = redact(text)
    assert json.loads(shown) == {"evidence": 'OpenAI(api_key="***", base_url="http://***@h:11434/v1")', "n": 1}


def test_redaction_is_idempotent() -> None:
    once = redact('api_key="sk-live-abcdef123" http://a:b@h Bearer x.y.z-1234')
    assert redact(once) == once


def test_the_ledger_and_the_console_never_keep_a_secret() -> None:
    from io import StringIO

    from o2v.notify import ConsoleNotifier
    from o2v.store import Store

    store = Store("sqlite://")
    entry = store.phase_started("m", "inventory", "h")
    store.phase_finished(
        entry, "failed", result={"evidence": "Client(host='http://admin:hunter2@h:11434')"},
        error="401 from http://u:pw-9@h with Bearer abc.def-123",
    )  # fmt: skip
    (row,) = store.ledger("m")
    assert row.result == {"evidence": "Client(host='http://***@h:11434')"}
    assert row.error == "401 from http://***@h with Bearer ***"

    stream = StringIO()
    ConsoleNotifier(stream, artifacts=False).phase("m", "deploy", "failed", {"reason": "api_key='sk-live-abc12345'"})
    assert "sk-live" not in stream.getvalue()
    assert "api_key='***'" in stream.getvalue()


@pytest.mark.parametrize("unit", ["a:", "x=", "a.", "token=", "http://a", "Bearer ", "sk-", "eyJ", "--a ", 'token: "'])
def test_long_repetitive_text_is_handled_in_one_pass(unit: str) -> None:
    # Each of these took minutes with an unbounded pattern (quadratic backtracking); now they are linear.
    text = unit * 50_000
    shown = redact(text)
    assert len(shown) <= len(text) + 10 * len(MASK)



def test_a_failed_phase_raises_and_records_its_reason_redacted(tmp_path: Path) -> None:
    from io import StringIO

    from o2v.config import Settings
    from o2v.errors import PhaseError, ServerUnreachable
    from o2v.notify import ConsoleNotifier
    from o2v.phases import PhaseRunner
    from o2v.store import Store
    from tasks.common import MigrationContext, run_phase

    settings = Settings(workdir=tmp_path, ollama={"url": "http://admin:s3cret-pw@gpu-box:11434"})
    store = Store("sqlite://")
    stream = StringIO()
    ctx = MigrationContext(
        settings=settings, store=store, runner=PhaseRunner(store, "m", settings.config_hash()),
        notifier=ConsoleNotifier(stream, artifacts=False), reports_dir=tmp_path,
    )  # fmt: skip

    def work() -> Settings:
        raise ServerUnreachable(f"nothing answers at {settings.ollama.url}")

    with pytest.raises(PhaseError) as caught:
        run_phase(ctx, "diagnose", work, Settings)
    assert "s3cret-pw" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert "http://***@gpu-box:11434" in caught.value.reason
    assert "s3cret-pw" not in stream.getvalue()
    assert "s3cret-pw" not in str(store.ledger("m")[0].error)
    assert "s3cret-pw" not in settings.config_hash()
    assert set(settings.secret_values()) == {"ollama.url.password"}
