"""The one exception type for errors a user can cause (bad model folder, bad input, ...)."""


class CompanionError(Exception):
    """An error the user can act on; the message says what went wrong and what to do."""


class ModelLoadError(CompanionError):
    """A model folder is missing, incomplete, corrupt or does not match its config."""


class TokenizerError(CompanionError):
    """A tokenizer file is missing or unreadable, or its special tokens are wrong."""
