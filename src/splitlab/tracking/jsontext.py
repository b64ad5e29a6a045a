"""Why a request body is not JSON that splitlab reads, in words a client can act on.

Every route that takes a JSON body refuses such a body with ``400 malformed_json``. Besides
plain syntax errors that covers bodies a JSON reader might choke on or half-accept:

* bytes that are not UTF-8 (RFC 8259 section 8.1 requires UTF-8);
* a lone UTF-16 surrogate written as an escape (``"\\ud800"``): it is not a Unicode character,
  cannot be stored as UTF-8 text, and RFC 8259 section 8.2 leaves its meaning undefined;
* arrays or objects nested deeper than :data:`MAX_DEPTH` levels.

``NaN`` and ``Infinity`` are not refused here: Python's ``json`` reads them, and the routes
refuse the one field that holds them with a clearer message.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec

#: Deepest nesting of arrays and objects read: the JSON readers' own recursion limit.
MAX_DEPTH = sys.getrecursionlimit()


def json_problem(body: bytes) -> str | None:
    """None when `body` is JSON splitlab reads, else what is wrong ("is not UTF-8 text ...").

    Cheap when the body is fine (one msgspec decode); the slower diagnosis runs only for a
    body msgspec refused.
    """
    try:
        msgspec.json.decode(body)
        return None
    except msgspec.DecodeError:
        pass
    except RecursionError:
        return _too_deep()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text (byte 0x{body[exc.start]:02x} at offset {exc.start})"
    try:
        data = json.loads(text)
    except RecursionError:
        return _too_deep()
    except ValueError as exc:
        return f"is not valid JSON ({exc})"
    return _lone_surrogate(data)


def _too_deep() -> str:
    return f"nests arrays or objects more than about {MAX_DEPTH} levels deep"


def _lone_surrogate(data: Any) -> str | None:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        return _too_deep()
    except UnicodeEncodeError as exc:
        code = ord(exc.object[exc.start])
        return (
            f"holds a lone UTF-16 surrogate (\\u{code:04x}) in a string, which is not a "
            "Unicode character; send the character itself or a complete surrogate pair"
        )
    return None
