"""Helpers for the push-server tests: API calls over keep-alive, /ws clients, keys and tokens."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import jwt  # PyJWT

API_KEY = "interop-api-key-0123456789"
TOKEN_SECRET = "interop-token-secret-0123456789-abcdefghij-0123456789-abcdefghijkl"


def write_secrets(directory: Path) -> tuple[Path, Path]:
    """An API key file and a token secret file, for --api-key-file and --token-secret-file."""
    keys = directory / "api-keys"
    keys.write_text(f"# keys\n{API_KEY}\n")
    secrets = directory / "token-secrets"
    secrets.write_text(f"{TOKEN_SECRET}\n")
    return keys, secrets


def token(topics: list[str], publish: list[str] | None = None, expires_in: float = 3600, secret: str = TOKEN_SECRET,
          algorithm: str = "HS256", **claims) -> str:
    payload = {"sub": "interop", "exp": int(time.time() + expires_in), "topics": topics, **claims}
    if publish is not None:
        payload["publish"] = publish
    return jwt.encode(payload, secret, algorithm=algorithm)


class API:
    """The publish API over one keep-alive connection."""

    def __init__(self, server, key: str | None = API_KEY):
        self.connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
        self.key = key

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        sent = {"Content-Type": content_type, **(headers or {})}
        if self.key is not None:
            sent["Authorization"] = f"Bearer {self.key}"
        self.connection.request(method, path, body=body, headers=sent)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data

    def publish(self, topic: str, data, content_type: str = "application/json") -> dict:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        status, _, reply = self.call("POST", f"/api/publish/{topic}", body, content_type)
        assert status == 200, (status, reply)
        return json.loads(reply)

    def close(self) -> None:
        self.connection.close()
