"""Signed answers (SPEC §4): check answers, receipts and publications carry `signature` — base64 of the
Ed25519 signature over the same JSON object without `signature`, serialised with sorted keys, separators
(",", ":"), no ASCII escaping, UTF-8 — and `key_id`, the bureau key that made it.

Private keys live in files under the key directory (instance/signing by default, mode 600), never in the
database or the repository; the database holds the public halves with their validity, so anyone can
verify with `GET /api/v1/signing-keys` alone. The newest key not retired signs; rotation retires it and
keeps it for verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, col, select

from credit.clock import BUREAU_TZ
from credit.models import SigningKey, utcnow


class SigningError(RuntimeError):
    """No usable key: the key directory lacks the private half of the active key."""


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes that are signed: the document without `signature`, sorted keys, compact, UTF-8."""
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _raw_public(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _key_file(key_dir: Path, key_id: str) -> Path:
    return key_dir / f"{key_id}.pem"


def create_key(session: Session, key_dir: Path) -> SigningKey:
    """A new key pair: the private half written to `key_dir` (mode 600), the public half to the database.
    The key in use until now is retired (it still verifies what it signed)."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = Ed25519PrivateKey.generate()
    stamp = utcnow().astimezone(BUREAU_TZ).strftime("%Y%m%d")
    key_id = f"sk-{stamp}-{secrets.token_hex(4)}"
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(_key_file(key_dir, key_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    now = utcnow()
    for current in session.exec(select(SigningKey).where(col(SigningKey.retired_on).is_(None))):
        current.retired_on = now
        session.add(current)
    key = SigningKey(key_id=key_id, public_key=_raw_public(private.public_key()), valid_from=now)
    session.add(key)
    session.flush()
    return key


def all_keys(session: Session) -> list[SigningKey]:
    """Every key, current and retired, oldest first."""
    return list(session.exec(select(SigningKey).order_by(col(SigningKey.id))))


def active_key(session: Session) -> SigningKey | None:
    return session.exec(
        select(SigningKey).where(col(SigningKey.retired_on).is_(None)).order_by(col(SigningKey.id).desc())
    ).first()


@dataclass(frozen=True)
class Signer:
    """The active key's id and private half, loaded once per process."""

    key_id: str
    private: Ed25519PrivateKey

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        """`document` with `key_id` and `signature` added (over everything else, `key_id` included)."""
        signed = {k: v for k, v in document.items() if k != "signature"}
        signed["key_id"] = self.key_id
        signed["signature"] = base64.b64encode(self.private.sign(canonical(signed))).decode("ascii")
        return signed


_signers: dict[tuple[str, str], Signer] = {}


def signer_for(session: Session, key_dir: Path, *, create: bool = True) -> Signer:
    """The signer of the active key; a first key is made when there is none and `create` is set."""
    key = active_key(session)
    if key is None:
        if not create:
            raise SigningError("没有可用的签名密钥：请运行 flask credit signing-key create")
        key = create_key(session, key_dir)
    cache_key = (str(key_dir), key.key_id)
    signer = _signers.get(cache_key)
    if signer is None:
        path = _key_file(key_dir, key.key_id)
        if not path.exists():
            raise SigningError(f"签名密钥 {key.key_id} 的私钥文件不在 {key_dir}：请恢复该文件或轮换密钥")
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey) or _raw_public(private.public_key()) != key.public_key:
            raise SigningError(f"{path} 不是签名密钥 {key.key_id} 的私钥")
        signer = _signers[cache_key] = Signer(key.key_id, private)
    return signer


# Verification codes are read off paper and typed by people: Crockford's base32 (no I, L, O, U).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 bits: unguessable, so the code alone guards a receipt's answer
_CODE_READS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def verification_code(signature_b64: str) -> str:
    """The receipt's short verification code: the first 80 bits of SHA-256 of the signature in Crockford
    base32, in groups of four (`7K3Q-M9A2-…`). Whoever holds the signed answer can compute it; whoever
    holds only the code can confirm the answer (GET /api/v1/receipts/{check_id}?code=…)."""
    number = int.from_bytes(hashlib.sha256(base64.b64decode(signature_b64)).digest()[:10], "big")
    chars = "".join(CODE_ALPHABET[(number >> (5 * (CODE_LENGTH - 1 - i))) & 31] for i in range(CODE_LENGTH))
    return "-".join(chars[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(text: str) -> str:
    """A code as typed (any case, spaces or dashes, O for 0, I or L for 1) in its printed form."""
    typed = (text or "").upper().translate(_CODE_READS)
    chars = "".join(c for c in typed if c in CODE_ALPHABET or (c.isalnum() and c.isascii()))
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def code_matches(signature_b64: str | None, typed: str) -> bool:
    """Whether `typed` is the verification code of this signature (compared in constant time)."""
    if not signature_b64:
        return False
    return hmac.compare_digest(verification_code(signature_b64), normalise_code(typed))


def verify(document: dict[str, Any], public_key_b64: str) -> bool:
    """True when `document["signature"]` is the signature of the rest of it under this public key."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(document["signature"]), canonical(document))
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


def key_json(key: SigningKey) -> dict[str, Any]:
    """A key as `GET /api/v1/signing-keys` lists it."""
    return {
        "key_id": key.key_id,
        "algorithm": key.algorithm,
        "public_key": key.public_key,
        "valid_from": key.valid_from.isoformat(),
        "retired_on": key.retired_on.isoformat() if key.retired_on else None,
    }
