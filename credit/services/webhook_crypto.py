"""Webhook secrets and signatures: a subscription's secret is stored encrypted (AES-256-GCM under a key
derived from SECRET_KEY with HKDF-SHA256), so a copy of the database alone does not let anyone forge a
delivery; each POST carries an HMAC-SHA256 over `timestamp + "." + body` made with that secret.

Invariant: the secret leaves the system once, in the answer that creates the subscription; SECRET_KEY
changing makes stored secrets unreadable (the worker then refuses to send and says why)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
_INFO = b"credit webhook secret v1"
_AAD = b"webhook_subscription.secret"


class SecretUnreadable(RuntimeError):
    """The stored secret does not decrypt under this SECRET_KEY."""


def _key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode("utf-8"))


def new_secret() -> str:
    """A fresh webhook secret (256 bits, URL-safe text)."""
    return "whsec_" + secrets.token_urlsafe(32)


def encrypt_secret(secret: str, secret_key: str) -> str:
    """`v1:<base64(nonce ‖ ciphertext ‖ tag)>`."""
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret_key)).encrypt(nonce, secret.encode("utf-8"), _AAD)
    return f"{VERSION}:" + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(stored: str, secret_key: str) -> str:
    """The secret `encrypt_secret` sealed; SecretUnreadable when it was sealed under another key."""
    version, _, text = stored.partition(":")
    if version != VERSION:
        raise SecretUnreadable(f"unknown secret format {version!r}")
    raw = base64.b64decode(text)
    try:
        return AESGCM(_key(secret_key)).decrypt(raw[:12], raw[12:], _AAD).decode("utf-8")
    except InvalidTag as exc:
        raise SecretUnreadable("the webhook secret does not decrypt under this SECRET_KEY") from exc


def hmac_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of `timestamp + "." + body` under the subscription's secret."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_hmac(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(hmac_signature(secret, timestamp, body), header)
