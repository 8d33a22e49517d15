"""A live source that also talks REST: the settings section, the credential, the lazily opened
httpx client and its closing, shared by the adapters (Massive, Tradier, ThetaData)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from zdte_tui.sources.live.base import LiveSource
from zdte_tui.sources.live.config import LiveSection
from zdte_tui.sources.live.errors import MalformedMessage, SourceAuthError
from zdte_tui.sources.live.secrets import redact, resolve_secret, ws_logger


class RestLiveSource(LiveSource):
    """Base of adapters with a REST API. Subclasses set :attr:`config_class` (their settings
    section) and, when the vendor needs a key, :attr:`secret_env_field` (the section field that
    names the environment variable holding it); they implement :meth:`_rest_base` and may
    extend :meth:`_rest_headers`."""

    config_class: ClassVar[type[LiveSection]]
    secret_env_field: ClassVar[str | None] = None

    def __init__(self, symbols: Iterable[str], *, config: LiveSection | None = None,
                 secret: str | SecretStr | None = None,
                 http_transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any) -> None:
        self.config = config or self.config_class()
        self._secret: SecretStr | None = None
        if self.secret_env_field is not None:
            self._secret = resolve_secret(secret, getattr(self.config, self.secret_env_field), self.name,
                                          self.secret_env_field)
        super().__init__(symbols, **kwargs)
        self._transport = http_transport
        self._http: httpx.AsyncClient | None = None
        self._ws_logger = ws_logger(self.name, *([self._secret] if self._secret else []))

    def _rest_base(self) -> str:
        raise NotImplementedError

    def _rest_headers(self) -> dict[str, str]:
        if self._secret is None:
            return {}
        return {"Authorization": f"Bearer {self._secret.get_secret_value()}"}

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self._rest_base(), transport=self._transport,
                                           timeout=self.config.rest_timeout_s, headers=self._rest_headers())
        return self._http

    def _auth_advice(self) -> str:
        """What to check when the vendor refuses the credentials (appended to the error)."""
        return f"check ${getattr(self.config, self.secret_env_field or '', '')}"

    async def _rest_json(self, method: str, path: str, params: dict | None = None) -> Any:
        """The JSON reply of a REST call. HTTP 401/403 raise :class:`SourceAuthError` (the reply
        redacted, plus :meth:`_auth_advice`); other HTTP errors raise ``httpx.HTTPStatusError``
        (retried by the base class); a reply that is not JSON is a :class:`MalformedMessage`."""
        resp = await self._client().request(method, path, params=params,
                                            content=b"" if method == "POST" else None)
        if resp.status_code in (401, 403):
            raise SourceAuthError(
                f"{self.name}: {path} refused (HTTP {resp.status_code}: "
                f"{redact(resp.text[:200], self._secret)}); {self._auth_advice()}")
        resp.raise_for_status()
        try:
            return resp.json()
        except ValueError:
            raise MalformedMessage(f"{path}: reply is not JSON") from None

    async def _close_extra(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
