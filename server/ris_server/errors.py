"""Domain errors and the one table that maps them to gRPC status codes."""

import grpc


class RisError(Exception):
    """Base of every error the hub reports to a caller.

    The message is shown to the caller as is, so it must not contain secrets.
    """

    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidArgument(RisError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(RisError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(RisError):
    code = grpc.StatusCode.ALREADY_EXISTS


class Unauthenticated(RisError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(RisError):
    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(RisError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(RisError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(RisError):
    code = grpc.StatusCode.UNAVAILABLE
