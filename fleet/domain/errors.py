"""Domain errors. Their messages are lazy translations, shown in the user's language."""


class DomainError(Exception):
    """A rule refused the action; nothing was changed.

    `field` names the input the message belongs to, where there is one, so a form can show
    it next to that field (and an upload next to that cell).
    """

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The user's role or city does not allow the action."""


class StaleData(DomainError):
    """Someone else changed the record since the user loaded it (optimistic locking)."""
