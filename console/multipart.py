"""A multipart part's Content-Disposition read leniently: its field name and file name.

aiohttp's strict parser drops the whole header when a client leaves a file name with `;` or `=`
unquoted (`filename=a;b.png`), so the part would have no name at all. The `email` package reads
quoted strings, RFC 2231 (`filename*=UTF-8''…`) and loose values; an unquoted file name runs to the
end of the header, so `a;b=c.png` keeps its extension.
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import collapse_rfc2231_value

UNQUOTED_FILENAME = re.compile(r';\s*filename\s*=\s*(?!")(?P<value>.*?)\s*(?:;\s*(?:name|filename\*)\s*=.*)?$', re.I)


def form_data_names(header: str) -> tuple[str | None, str | None]:
    """(field name, file name) of a `form-data` part; None for what the header does not carry.

    An RFC 2231 `filename*` wins over a plain `filename` (RFC 6266)."""
    message = Message()
    message["Content-Disposition"] = header.replace("\r", " ").replace("\n", " ")
    params = message.get_params(header="content-disposition") or []
    name = next((collapse_rfc2231_value(v) for k, v in params if k == "name"), None)
    extended = next((collapse_rfc2231_value(v) for k, v in params if k == "filename" and isinstance(v, tuple)), None)
    filename = extended or next((collapse_rfc2231_value(v) for k, v in params if k == "filename"), None)
    unquoted = UNQUOTED_FILENAME.search(header)
    if extended is None and unquoted and unquoted.group("value"):
        filename = unquoted.group("value")
    return name or None, filename
