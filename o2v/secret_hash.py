"""Keyed hashes of secret values, and constant-time comparison of keys.

Why a keyed hash: the config hash and the deploy fingerprint must change when a secret is rotated (a new
Hugging Face token or vLLM API key has to reach the running server), yet they are written to the ledger, to
container labels and to state files. A plain SHA-256 of a short password can be brute-forced from those; an
HMAC under a key the attacker does not have cannot.

Why this key: a random 32-byte key per installation, kept in ``<workdir>/secret-hmac.key`` (created on first
use, mode 0600, next to the store's default location). It is not derived from the store's URL or anything else
in migration.yaml, because whoever reads the config already has that. Deleting the file only means that every
hash changes once: the ledger re-runs its phases and the server is recreated, which is safe. Creation is
atomic (write a private temporary file, then hard-link it into place), so two flows starting together agree
on one key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

KEY_FILE = "secret-hmac.key"
KEY_BYTES = 32


def installation_key(workdir: str | Path) -> bytes:
    """This installation's HMAC key, created (0600) under ``workdir`` the first time it is needed."""
    path = Path(workdir).expanduser() / KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # the umask can only remove bits; make the mode explicit anyway
        os.write(descriptor, secrets.token_hex(KEY_BYTES).encode())
    finally:
        os.close(descriptor)
    try:
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 2 * KEY_BYTES:
        raise ValueError(f"{path} is not an o2v HMAC key ({len(text)} characters); delete it to make a new one")
    return bytes.fromhex(text)


def secret_digest(key: bytes, value: str) -> str:
    """HMAC-SHA256 of one secret value, hex, shortened to 128 bits (ample to tell two values apart)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def secret_digests(workdir: str | Path, values: Mapping[str, str]) -> dict[str, str]:
    """``{name: digest}`` for every non-empty value; no key file is created when there is nothing to hash."""
    present = {name: value for name, value in values.items() if value}
    if not present:
        return {}
    key = installation_key(workdir)
    return {name: secret_digest(key, value) for name, value in sorted(present.items())}


def same_secret(given: str | bytes | None, expected: str | bytes | None) -> bool:
    """Whether a presented key equals the expected one, in time that does not depend on where they differ."""
    if given is None or expected is None:
        return False
    left = given.encode("utf-8") if isinstance(given, str) else given
    right = expected.encode("utf-8") if isinstance(expected, str) else expected
    return hmac.compare_digest(left, right)


def bearer_matches(header: str | None, key: str) -> bool:
    """Whether an ``Authorization`` header is exactly ``Bearer <key>`` (as vLLM checks it), in constant time."""
    return same_secret(header, f"Bearer {key}")
