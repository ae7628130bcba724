"""One exception tree for the whole product. The API maps each base class to an HTTP status::

    ZhiwenError                      500  internal
    ├── InvalidInput                 400  invalid_input
    │   ├── UnsupportedFormat        415  unsupported_format
    │   ├── CorruptFile              422  corrupt_file
    │   ├── EncryptedFile            422  encrypted_file
    │   ├── EmptyDocument            422  empty_document
    │   └── TooLarge                 413  too_large
    ├── NotFound                     404  not_found
    ├── Unauthorized                 401  unauthorized
    ├── Forbidden                    403  forbidden
    ├── Conflict                     409  conflict
    │   └── GateRefused              409  gate_refused  (a release fails the quality gate; details list why)
    ├── RateLimited                  429  rate_limited
    └── BackendUnavailable           503  backend_unavailable  (LLM or embeddings server down)

Every message names the problem and, where there is one, the fix.
"""

from __future__ import annotations


class ZhiwenError(Exception):
    code = "internal"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ZhiwenError):
    code = "invalid_input"
    status = 400


class UnsupportedFormat(InvalidInput):
    code = "unsupported_format"
    status = 415


class CorruptFile(InvalidInput):
    code = "corrupt_file"
    status = 422


class EncryptedFile(InvalidInput):
    code = "encrypted_file"
    status = 422


class EmptyDocument(InvalidInput):
    code = "empty_document"
    status = 422


class TooLarge(InvalidInput):
    code = "too_large"
    status = 413


class NotFound(ZhiwenError):
    code = "not_found"
    status = 404


class Unauthorized(ZhiwenError):
    code = "unauthorized"
    status = 401


class Forbidden(ZhiwenError):
    code = "forbidden"
    status = 403


class Conflict(ZhiwenError):
    code = "conflict"
    status = 409


class WithPerson(Conflict):
    """The bot may not answer: a person holds the conversation (pages tell the customer so)."""

    code = "conversation_with_person"


class GateRefused(Conflict):
    code = "gate_refused"

    def __init__(self, message: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self.details = details


class RateLimited(ZhiwenError):
    code = "rate_limited"
    status = 429


class BackendUnavailable(ZhiwenError):
    code = "backend_unavailable"
    status = 503
