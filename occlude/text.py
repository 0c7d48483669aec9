"""Text shown to people: file names and messages as one safe, printable line.

File names are data from outside: a name may hold a newline (which could forge an
``occlude:`` line), an escape sequence (which could clear the terminal) or bytes that are
not UTF-8 (which Python keeps as lone surrogates). :func:`shown` escapes all of them.
"""

from __future__ import annotations

import os
import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(value: object) -> str:
    """``value`` as printable text on one line: control and format characters escaped.

    Bytes that are not UTF-8 (kept by Python as surrogates) appear as ``\\xNN``.

    >>> shown("cat\\n.png")
    'cat\\\\n.png'
    >>> shown("\\x1b[2Jx.png")
    '\\\\x1b[2Jx.png'
    """
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    out = []
    for ch in text:
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)
