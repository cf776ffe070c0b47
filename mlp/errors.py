"""Errors a user can fix. The CLI prints them as one line and exits with status 2."""


class UserError(Exception):
    """Bad input: names the file and, where there is one, the key."""

    def __init__(self, source: str, message: str, key: str | None = None):
        self.source = source
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: {self.message}"


class ServiceError(Exception):
    """An AWS service refused or failed a request: reported as one line, exit status 1."""
