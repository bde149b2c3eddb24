"""JSON responses serialised with orjson (fast, handles datetimes and UUIDs).

A subclass of Starlette's JSONResponse, so FastAPI documents the routes' response models as JSON
(a plain Response subclass would make every body a `string` in the OpenAPI document)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSON


class JSONResponse(_StarletteJSON):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
