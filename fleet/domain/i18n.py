"""Messages in a language given as an argument, for code that must not depend on a request:
charts, workbooks, mail. Same catalog as the pages (fleet/translations), read with Babel."""

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


@lru_cache(maxsize=4)
def _catalog(lang: str) -> NullTranslations:
    if lang.startswith("zh"):
        return Translations.load(str(TRANSLATIONS), ["zh"])
    return NullTranslations()  # English is the source language of the messages


def translator(lang: str):
    """A gettext for `lang` ('zh' or 'en'): _(message, **variables) -> text."""
    catalog = _catalog(lang)

    def gettext(message: str, **variables) -> str:
        text = catalog.gettext(message)
        return text % variables if variables else text

    return gettext


def in_language(message, lang: str) -> str:
    """A message (a lazy translation from lazy_gettext, or plain text) in `lang`, without a
    request: the lazy one is looked up again in the catalog with its own variables."""
    args = getattr(message, "_args", None)
    if args and isinstance(args[0], str):
        variables = {k: in_language(v, lang) if hasattr(v, "_args") else v
                     for k, v in (getattr(message, "_kwargs", None) or {}).items()}
        return translator(lang)(args[0], **variables)
    return str(message)


def both_languages(message) -> dict[str, str]:
    """{"zh": ..., "en": ...} of a message, to keep it for readers of either language."""
    return {"zh": in_language(message, "zh"), "en": in_language(message, "en")}
