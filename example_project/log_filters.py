"""Keep OAuth authorization codes out of the development server's request log."""

from __future__ import annotations

import logging
import re

# Google's redirect to the connect view carries a live authorization code in
# its query string, and runserver logs every request line verbatim.
CODE_IN_QUERY = re.compile(r"([?&]code=)[^&\s]*")


class RedactAuthorizationCodes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (CODE_IN_QUERY.sub(r"\1[redacted]", record.args[0]), *record.args[1:])
        return True
