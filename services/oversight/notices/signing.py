"""The Ed25519 key that signs the chain's head (公告链签名).

Production reads a configured key (settings refuse to start without one). Development
generates a key once and keeps it in a local file, so the public key stays the same across
restarts; tests keep theirs in memory. Anyone can check a head with the public key served at
``GET /v1/notices/chain/public-key`` (better: a copy of it pinned when first fetched).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.kit.settings import Environment
from services.oversight.settings import OversightSettings

ALGORITHM = "Ed25519"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))


def verify_signature(public: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        public.verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, ValueError):
        return False
    return True


class NoticeSigner:
    """Loads (or in development makes) the key the first time it is needed."""

    def __init__(self, settings: OversightSettings) -> None:
        self._settings = settings

    @cached_property
    def private_key(self) -> Ed25519PrivateKey:
        s = self._settings
        if s.notice_signing_key is not None:
            return _load(s.notice_signing_key.get_secret_value().encode())
        if s.notice_signing_key_file is not None:
            return _load(s.notice_signing_key_file.read_bytes())
        if s.environment is Environment.test:
            return Ed25519PrivateKey.generate()
        path = s.dev_signing_key_file
        if path.exists():
            return _load(path.read_bytes())
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
        return key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def public_b64(self) -> str:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private_key.sign(message)).decode()


def _load(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the notice signing key must be an Ed25519 private key")
    return key
