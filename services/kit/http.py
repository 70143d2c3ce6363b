"""The base of every client one service uses to call another.

Timeouts, retries on connection errors and 503, the service's own token, the request id
passed on, and problem+json answers turned into typed exceptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from services.kit.context import current_request_id

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

RETRY_STATUSES = {502, 503, 504}


class ServiceError(Exception):
    """Another service answered with an error (or did not answer)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []

    @property
    def retryable(self) -> bool:
        # 401: an expired or rotated service token is an operator's fix, not a lost message.
        return self.status in RETRY_STATUSES or self.status in {0, 401, 408, 429}


class ServiceNotFound(ServiceError):
    pass


class ServiceConflict(ServiceError):
    pass


class ServiceRejected(ServiceError):
    """4xx other than 404/409: the request itself is wrong; a retry will not help."""


class ServiceUnreachable(ServiceError):
    pass


def error_from_response(response: httpx.Response) -> ServiceError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code", "error"))
    detail = str(body.get("detail", response.reason_phrase))
    if 300 <= response.status_code < 400:
        code = "redirected"
        detail = f"redirected to {response.headers.get('location', '?')}: check the service URL"
    errors = body.get("errors") if isinstance(body.get("errors"), list) else None
    status = response.status_code
    cls: type[ServiceError]
    if status == 404:
        cls = ServiceNotFound
    elif status == 409:
        cls = ServiceConflict
    elif 400 <= status < 500:
        cls = ServiceRejected
    else:
        cls = ServiceUnreachable
    return cls(status, code, detail, errors)


class _Retry(Exception):
    """One attempt failed in a way another attempt may not."""

    def __init__(self, error: ServiceError) -> None:
        self.error = error


class ServiceClient:
    """HTTP calls to one other service."""

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str] | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        token = self._token() if callable(self._token) else self._token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request_id = current_request_id()
        if request_id:
            headers["X-Request-ID"] = request_id
        headers.update(extra or {})
        return headers

    async def _with_retries(self, attempts: int, once: Callable[[], Awaitable[T]]) -> T:
        """The one retry loop: connection failures and 502/503/504 are tried again."""
        last: ServiceError | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return await once()
            except _Retry as retry:
                last = retry.error
            except httpx.TimeoutException:
                last = ServiceUnreachable(0, "timeout", "the service did not answer in time")
            except httpx.TransportError as exc:
                # Refused, reset, broken protocol: the request may not have arrived.
                last = ServiceUnreachable(0, "unreachable", type(exc).__name__)
        assert last is not None
        raise last

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        response = await self._client.send(request, stream=stream)
        # A redirect is no answer either: a peer's URL pointing at a gateway that redirects
        # (http to https, say) must not count a decision delivered that never arrived.
        if response.status_code >= 300:
            if stream:
                await response.aread()
                await response.aclose()
            error = error_from_response(response)
            if response.status_code in RETRY_STATUSES:
                raise _Retry(error)
            raise error
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send, retrying connection failures and 502/503/504; raise ServiceError on errors.

        Only idempotent requests (reads, or writes with an idempotency key) are retried.
        """
        extra = dict(headers or {})
        if idempotency_key:
            extra["Idempotency-Key"] = idempotency_key
        safe_to_retry = method.upper() in {"GET", "HEAD", "PUT", "DELETE"} or bool(idempotency_key)

        async def once() -> httpx.Response:
            request = self._client.build_request(
                method, path, json=json, params=params, headers=self._headers(extra)
            )
            return await self._send(request)

        return await self._with_retries(self.retries + 1 if safe_to_retry else 1, once)

    async def get_model(
        self, path: str, model: type[M], params: Mapping[str, Any] | None = None
    ) -> M:
        response = await self.request("GET", path, params=params)
        return model.model_validate_json(response.content)

    async def post_model(
        self, path: str, body: Any, model: type[M], *, idempotency_key: str | None = None
    ) -> M:
        response = await self.request("POST", path, json=body, idempotency_key=idempotency_key)
        return model.model_validate_json(response.content)

    async def _open_stream(
        self, path: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        async def open_stream() -> httpx.Response:
            request = self._client.build_request(
                "GET", path, params=params, headers=self._headers(headers)
            )
            return await self._send(request, stream=True)

        return await self._with_retries(self.retries + 1, open_stream)

    async def stream_lines(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[str]:
        """Non-blank lines of a long GET as they arrive. Retried like any read, but only
        before the first line: after that the caller has data and must start over itself."""
        response = await self._open_stream(path, params, None)
        try:
            async for line in response.aiter_lines():
                if line.strip():
                    yield line
        except (httpx.TransportError, httpx.StreamError) as exc:
            # Half a stream is no snapshot: fail loudly rather than return part of it.
            raise ServiceUnreachable(0, "stream_broken", type(exc).__name__) from exc
        finally:
            await response.aclose()

    async def stream_line_batches(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[list[bytes]]:
        """``stream_lines`` as raw bytes, the complete lines of each chunk read in one list:
        for bulk reads of many short lines, where a hop per line costs more than its parse."""
        response = await self._open_stream(path, params, headers)
        rest = b""
        try:
            async for chunk in response.aiter_bytes():
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                batch = [line for line in lines if line.strip()]
                if batch:
                    yield batch
            if rest.strip():
                yield [rest]
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise ServiceUnreachable(0, "stream_broken", type(exc).__name__) from exc
        finally:
            await response.aclose()
