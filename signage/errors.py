"""The project's own exception types. Messages are plain text: journald shows them raw."""


class SignageError(Exception):
    """Base class: something an operator or integrator can act on."""


class ConfigError(SignageError):
    """A config or playlist file is invalid; the message names file:line:col."""


class ModelError(SignageError):
    """A model file is missing, corrupt or cannot be loaded."""


class SourceUnavailable(SignageError):
    """A frame source cannot be opened (sources themselves retry instead of raising)."""
