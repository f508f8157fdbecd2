"""A streamed download that holds its database read only while it is sent: the
connection goes back when the last piece is sent, and as soon as the client leaves."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Send

from signage.fleet import definitions
from signage.fleet.streamed import StreamedRows

MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


class Download(StreamingResponse):
    """`pieces` (made from `source`) sent as the attachment `name`, with the definitions
    the figures follow in a header. A client that disconnects cancels the sending
    (Starlette's stream_response); the read is closed then too, not when the response
    is collected."""

    def __init__(self, pieces: Iterator[str], source: StreamedRows, name: str):
        super().__init__(pieces, media_type=MEDIA[name.rsplit(".", 1)[-1]],
                         headers={"Content-Disposition": f'attachment; filename="{name}"',
                                  definitions.HTTP_HEADER: definitions.TITLE})
        self.source = source

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            # shielded: the close must run even while the sending is being cancelled
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.source.close)
