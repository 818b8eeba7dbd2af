"""The boto3 client an adapter talks to AWS through, made on first use: importing boto3 costs as much as the
rest of a function's start-up, and most invocations of a function never reach most of its adapters."""

from __future__ import annotations

from typing import Any


class LazyClient:
    """A class attribute ``client = LazyClient("sns")``: the client given to the adapter (``self._client``, a
    stub in the tests), else one made for ``service`` when first read. ``standard_retries``: botocore's
    standard retry mode (backoff with jitter, more retryable errors) instead of the legacy default."""

    def __init__(self, service: str, *, standard_retries: bool = False) -> None:
        self.service = service
        self.standard_retries = standard_retries

    def __get__(self, adapter: Any, owner: type | None = None) -> Any:
        if adapter._client is None:
            import boto3

            config = None
            if self.standard_retries:
                from botocore.config import Config

                config = Config(retries={"mode": "standard"})
            adapter._client = boto3.client(self.service, config=config)
        return adapter._client
