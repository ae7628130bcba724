"""HTTP API: thin routes that parse, call one service, and return a schema."""

from zhiwen.api.app import create_app

__all__ = ["create_app"]
