"""A small Soracom API client: authenticate, and upload device object models.

The same code talks to ``https://api.soracom.io/v1`` (or ``g.api.soracom.io``) and to the local
emulator's base URL, so ``lwm2m-agent models push`` is tested against the emulator and used against
the real service unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp

from ..core.model import ObjectModel
from ..models import dump_ddf

# Objects the service knows without upload (SORACOM-NOTES.md, "Object models").
STANDARD_OBJECT_IDS = frozenset(range(0, 10)) | frozenset(range(3200, 3204)) | frozenset(range(3300, 3351))


def custom_models(models: Iterable[ObjectModel]) -> list[ObjectModel]:
    """The models that must be uploaded before a device uses them."""
    return sorted((m for m in models if m.id not in STANDARD_OBJECT_IDS), key=lambda m: m.id)


class SoracomApiError(Exception):
    def __init__(self, status: int, body: str, what: str) -> None:
        super().__init__(f"{what}: HTTP {status} {body[:300]}")
        self.status = status
        self.body = body


@dataclass
class SoracomApi:
    base_url: str
    api_key: str = ""
    token: str = ""

    @property
    def _headers(self) -> dict[str, str]:
        return {"X-Soracom-API-Key": self.api_key, "X-Soracom-Token": self.token}

    async def authenticate(self, auth_key_id: str, auth_key: str) -> None:
        body = {"authKeyId": auth_key_id, "authKey": auth_key}
        async with aiohttp.ClientSession() as http, http.post(f"{self.base_url}/auth", json=body) as answer:
            text = await answer.text()
            if answer.status != 200:
                raise SoracomApiError(answer.status, text, "POST /auth")
        data = json.loads(text)
        self.api_key, self.token = data["apiKey"], data["token"]

    async def list_models(self) -> list[dict[str, object]]:
        async with aiohttp.ClientSession(headers=self._headers) as http, \
                http.get(f"{self.base_url}/device_object_models") as answer:
            text = await answer.text()
            if answer.status != 200:
                raise SoracomApiError(answer.status, text, "GET /device_object_models")
        result: list[dict[str, object]] = json.loads(text)
        return result

    async def push_model(self, model: ObjectModel, *, update: bool) -> dict[str, object]:
        """Create the model (OMA DDF XML body), or update it when ``update`` (it exists already)."""
        url = f"{self.base_url}/device_object_models" + (f"/{model.id}" if update else "")
        headers = {**self._headers, "Content-Type": "application/xml"}
        async with aiohttp.ClientSession() as http, http.post(url, data=dump_ddf(model), headers=headers) as answer:
            text = await answer.text()
            if answer.status not in (200, 201):
                raise SoracomApiError(answer.status, text, f"upload of object {model.id} ({model.name})")
        result: dict[str, object] = json.loads(text) if text else {}
        return result


async def push_models(api: SoracomApi, models: Iterable[ObjectModel]) -> list[tuple[ObjectModel, str]]:
    """Upload every custom model; returns (model, "created" | "updated") for each."""
    existing = {str(m.get("objectId", m.get("object_id", ""))) for m in await api.list_models()}
    done: list[tuple[ObjectModel, str]] = []
    for model in custom_models(models):
        update = str(model.id) in existing
        await api.push_model(model, update=update)
        done.append((model, "updated" if update else "created"))
    return done
