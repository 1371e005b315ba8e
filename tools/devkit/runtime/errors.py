"""Lambda's error documents, as its Python runtime (``awslambdaric``) reports them.

An invocation that raises reports ``{"errorMessage": str(exc), "errorType": <class name>}``
(plus ``requestId`` and ``stackTrace``, which the devkit leaves out of what it prints); an
authorizer's ``raise Exception("Unauthorized")`` is the 401 API Gateway knows. Init failures
use the runtime's own types for import problems (``Runtime.ImportModuleError``...) and the
exception's class otherwise. ``tests/devkit/test_runtime_api.py`` checks these against the real
runtime interface client.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ERROR_KEYS", "ErrorDocument", "FunctionError", "error_document"]

ErrorDocument = dict[str, str]
#: The members the devkit reports (Lambda adds ``requestId`` and ``stackTrace``).
ERROR_KEYS: Final = ("errorMessage", "errorType")


class FunctionError(Exception):
    """An invocation (or its init) failed; ``message`` is Lambda's ``errorMessage``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message

    def document(self) -> ErrorDocument:
        return {"errorMessage": self.message, "errorType": self.error_type}


def error_document(exc: BaseException) -> ErrorDocument:
    """The document Lambda reports for an exception (stack trace and request id left out)."""
    if isinstance(exc, FunctionError):
        return exc.document()
    if isinstance(exc, SystemExit):
        return {
            "errorMessage": f"Runtime exited with error: exit status {exc.code}",
            "errorType": "Runtime.ExitError",
        }
    return {"errorMessage": str(exc), "errorType": type(exc).__name__}
