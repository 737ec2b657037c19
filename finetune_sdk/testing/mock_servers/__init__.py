"""Stateful fakes of the vendor APIs, mountable as httpx2 transports, httpx2-pytest callbacks
or loopback servers."""

from .base import Fault, MockServer, route

__all__ = ["Fault", "MockServer", "route"]
