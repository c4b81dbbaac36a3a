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
