"""One exception type for every problem a user can fix; the CLI prints it as one line."""


class PapersiftError(Exception):
    """A user-facing error: the message names the problem and the fix."""


class ConfigError(PapersiftError):
    pass


class StoreError(PapersiftError):
    pass


class SourceError(PapersiftError):
    """arXiv (or a dump file) could not give us what we asked for."""


class ProfileError(PapersiftError):
    pass
