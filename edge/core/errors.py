"""Errors a user can fix. The CLI prints them as one line and exits 2, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, config or environment; the message names it and the fix."""

    exit_code = 2


class AudioInputError(UserError):
    """Audio that is missing, empty, corrupt, not audio, or in a format we cannot use."""


class ConfigError(UserError):
    """A configuration file or override that does not validate."""


class ModelError(UserError):
    """A model file that is missing, unverified or fails to load."""
