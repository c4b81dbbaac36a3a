"""Keep the Chinese message catalog in step with the code.

    python scripts/i18n.py                 # extract, merge into zh, compile, list untranslated
    python scripts/i18n.py --fill x.json   # also take translations {msgid: msgstr} from x.json

English is the source language of the msgids; Chinese (zh) is the default interface language,
so every msgid needs a Chinese translation (a test checks it).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "fleet/translations/zh/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
POT = ROOT / "fleet/translations/messages.pot"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fill", action="append", default=[], help="JSON file of translations")
    args = parser.parse_args()
    POT.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(ROOT / "babel.cfg"), "-k", "_l", "-k", "ngettext", "--no-location",
                    "--sort-output", "--omit-header", "-o", str(POT), str(ROOT)],
                   check=True, capture_output=True)
    if PO.exists():
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "update", "-i",
                        str(POT), "-o", str(PO), "-l", "zh", "--no-fuzzy-matching",
                        "--ignore-obsolete"], check=True, capture_output=True)
    else:
        PO.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "init", "-i",
                        str(POT), "-o", str(PO), "-l", "zh"], check=True, capture_output=True)
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    for fill in args.fill:
        for msgid, msgstr in json.loads(Path(fill).read_text(encoding="utf-8")).items():
            if msgid in catalog:
                catalog[msgid].string = msgstr
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)
    with MO.open("wb") as fh:
        write_mo(fh, catalog)
    missing = [m.id for m in catalog if m.id and not m.string]
    for msgid in missing:
        print("untranslated:", json.dumps(msgid, ensure_ascii=False))
    print(f"{len(catalog) - 1} messages, {len(missing)} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
