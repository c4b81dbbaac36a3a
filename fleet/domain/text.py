"""What text the app accepts from people: no control characters, a bounded length, and,
where a person must say something, visible text. The one home of these checks: the request
guard (fleet.web), the rules of a return, the cities, the accounts and the review use it.
"""

import re
import unicodedata

from flask_babel import lazy_gettext as _l

from .errors import DomainError

# Characters no person types and that break the stores we write to: NUL (PostgreSQL text
# cannot hold it), the other C0 controls (XML 1.0, hence openpyxl and Excel, cannot hold
# them), DEL and the C1 controls, lone surrogates and the two non-characters XML refuses.
# Tab, line feed and carriage return are text (a multi-line note), and are allowed here.
ILLEGAL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# One-line fields (names, codes) take no line breaks or tabs either.
LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029]")
# Categories that show nothing: separators, spaces, controls, formatting marks.
INVISIBLE_CATEGORIES = ("Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs")

CONTROL_MESSAGE = _l("Control characters (such as NUL) are not accepted; please remove them.")


def has_illegal_characters(text: str) -> bool:
    """True when the text holds a character no field accepts (see ILLEGAL_CHARACTERS)."""
    return ILLEGAL_CHARACTERS.search(text) is not None


def is_visible(text: str) -> bool:
    """True when the text shows at least one character (not only spaces or marks)."""
    return any(unicodedata.category(c) not in INVISIBLE_CATEGORIES for c in text)


def clean_text(value: object, field: str, *, max_length: int | None, required: bool = False,
               multiline: bool = False, required_message=None) -> str:
    """The text of a field, stripped, or DomainError(field) with the reason.

    required: it must have visible text (a NUL or spaces alone are not a reason, a name...);
    multiline: line breaks are allowed (notes, reasons), not in names or codes;
    max_length None: the caller bounds the length with its own message.
    """
    text = "" if value is None else str(value)
    if has_illegal_characters(text) or (not multiline and LINE_BREAKS.search(text)):
        raise DomainError(CONTROL_MESSAGE, field)
    text = text.strip()
    if required and not is_visible(text):
        raise DomainError(required_message or _l("This field is required."), field)
    if max_length is not None and len(text) > max_length:
        raise DomainError(_l("At most %(n)s characters.", n=max_length), field)
    return text
