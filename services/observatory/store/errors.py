"""ClickHouse insert failures by kind: a *data error* means ClickHouse refused the rows themselves
(a constraint, a value it cannot parse or store), so the same rows fail the same way on every
retry; anything else is transient.

The kind comes from ClickHouse's numeric error code, which clickhouse-connect gives on its
exceptions (`.code`) over HTTP and with embedded chDB alike; the "Code: N." prefix of the message
is the fallback. Only codes in DATA_ERROR_CODES are data errors.
"""

from __future__ import annotations

import re

# https://github.com/ClickHouse/ClickHouse/blob/master/src/Common/ErrorCodes.cpp
DATA_ERROR_CODES = {
    6: "CANNOT_PARSE_TEXT",
    26: "CANNOT_PARSE_QUOTED_STRING",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    53: "TYPE_MISMATCH",
    69: "ARGUMENT_OUT_OF_BOUND",
    70: "CANNOT_CONVERT_TYPE",
    72: "CANNOT_PARSE_NUMBER",
    117: "INCORRECT_DATA",
    131: "TOO_LARGE_STRING_SIZE",
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
    376: "CANNOT_PARSE_UUID",
    395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO",
    407: "DECIMAL_OVERFLOW",
    469: "VIOLATED_CONSTRAINT",
    691: "UNKNOWN_ELEMENT_OF_ENUM",
}
_CODE = re.compile(r"Code:\s*(\d+)")


class DataError(Exception):
    """ClickHouse refused the rows themselves; retrying them cannot succeed."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.name = DATA_ERROR_CODES.get(code, "")


def error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def as_data_error(exc: BaseException) -> DataError | None:
    """The DataError this insert failure stands for, or None when it is transient."""
    code = error_code(exc)
    if code in DATA_ERROR_CODES:
        return DataError(code, str(exc))
    return None
