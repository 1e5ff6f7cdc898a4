"""Typed errors shared by both sides. The `kind` travels over the protocol, so the add-on can tell them apart."""


class BackendError(Exception):
    kind = "BackendError"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class ProtocolError(BackendError):
    """A frame could not be read: wrong magic, bad header, truncated data."""
    kind = "ProtocolError"


class JobSpecError(BackendError):
    """The job JSON names an unknown key or carries a value out of range."""
    kind = "JobSpecError"


class InputError(BackendError):
    """An image, mask or array given with the job cannot be used."""
    kind = "InputError"


class DeviceError(BackendError):
    """The requested compute device is not available."""
    kind = "DeviceError"


class CancelledError(BackendError):
    kind = "Cancelled"


class BackendStartError(BackendError):
    """The backend process could not be started or did not answer the handshake (raised by the client)."""
    kind = "BackendStartError"


class BackendCrashedError(BackendError):
    """The backend process ended in the middle of a conversation (raised by the client)."""
    kind = "BackendCrashed"


class InternalError(BackendError):
    """A bug in the backend: the message carries the exception text."""
    kind = "InternalError"


KINDS = {cls.kind: cls for cls in (BackendError, ProtocolError, JobSpecError, InputError, DeviceError,
                                   CancelledError, BackendStartError, BackendCrashedError, InternalError)}


def from_kind(kind, message):
    return KINDS.get(kind, BackendError)(message)
