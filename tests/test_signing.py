"""Signed answers (issue 11): Ed25519 over the canonical JSON, verifiable with the public key alone."""

from __future__ import annotations

import base64
import json
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from credit.services.signing import SigningError, canonical, create_key, signer_for, verify


def test_a_signed_document_verifies_with_the_public_key_alone(session, tmp_path):
    signer = signer_for(session, tmp_path)
    signed = signer.sign({"uscc": "914403001922038216", "grade": "D", "名称": "东莞某厂", "n": [1, 2]})
    assert signed["key_id"] == signer.key_id
    assert len(base64.b64decode(signed["signature"])) == 64
    # What a department does offline, with nothing but the published key and the contract's rules:
    from credit.models import SigningKey

    public = session.get(SigningKey, 1).public_key
    body = {k: v for k, v in signed.items() if k != "signature"}
    message = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(base64.b64decode(signed["signature"]), message)
    assert verify(signed, public)


@pytest.mark.parametrize("change", [("grade", "A"), ("key_id", "sk-other"), ("extra", 1)])
def test_any_change_breaks_the_signature(session, tmp_path, change):
    signer = signer_for(session, tmp_path)
    signed = signer.sign({"grade": "D"})
    from credit.models import SigningKey

    public = session.get(SigningKey, 1).public_key
    tampered = {**signed, change[0]: change[1]}
    assert not verify(tampered, public)


def test_the_canonical_form_is_the_contract():
    assert canonical({"b": 1, "a": "中", "signature": "x"}) == '{"a":"中","b":1}'.encode()


def test_the_private_key_is_a_file_readable_by_its_owner_only(session, tmp_path):
    signer = signer_for(session, tmp_path)
    path = tmp_path / f"{signer.key_id}.pem"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    from sqlalchemy import text

    stored = " ".join(str(v) for row in session.execute(text("SELECT * FROM signing_key")) for v in row)
    assert "PRIVATE" not in stored and path.read_text().split("\n")[1] not in stored


def test_rotation_retires_the_old_key_which_still_verifies(session, tmp_path):
    old = signer_for(session, tmp_path)
    signed_before = old.sign({"n": 1})
    new_key = create_key(session, tmp_path)
    new = signer_for(session, tmp_path)
    assert new.key_id == new_key.key_id != old.key_id
    from credit.services.signing import all_keys

    keys = {k.key_id: k for k in all_keys(session)}
    assert keys[old.key_id].retired_on is not None and keys[new.key_id].retired_on is None
    assert verify(signed_before, keys[old.key_id].public_key)


def test_a_missing_private_key_is_a_clear_error(session, tmp_path):
    signer = signer_for(session, tmp_path)
    (tmp_path / f"{signer.key_id}.pem").unlink()
    from credit.services import signing

    signing._signers.clear()
    with pytest.raises(SigningError, match="私钥文件"):
        signer_for(session, tmp_path)


def test_the_api_lists_current_and_retired_keys(client, runner):
    assert client.get("/api/v1/signing-keys").get_json() == {"keys": []}
    assert runner.invoke(args=["credit", "signing-key", "create"]).exit_code == 0
    assert runner.invoke(args=["credit", "signing-key", "create"]).exit_code == 0
    keys = client.get("/api/v1/signing-keys").get_json()["keys"]
    assert [k["algorithm"] for k in keys] == ["Ed25519", "Ed25519"]
    assert keys[0]["retired_on"] is not None and keys[1]["retired_on"] is None
    assert all(len(base64.b64decode(k["public_key"])) == 32 for k in keys)
    listing = runner.invoke(args=["credit", "signing-key", "list"])
    assert listing.exit_code == 0 and "使用中" in listing.output and "停用于" in listing.output
