"""Local stand-ins for the notification endpoints, for the live tests and the alerting benchmark:
a Slack incoming-webhook recorder (HTTP) and an SMTP sink (aiosmtpd, a dev dependency).

Both record every delivery with its arrival time. The Slack recorder can answer 500 to the first
N posts of a channel, to prove that Alertmanager retries.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from observatory import poll
from observatory.process import free_port


@dataclass
class SlackPost:
    at: float
    status: int
    payload: dict

    @property
    def channel(self) -> str:
        return self.payload.get("channel", "")

    @property
    def attachment(self) -> dict:
        return (self.payload.get("attachments") or [{}])[0]

    @property
    def title(self) -> str:
        return self.attachment.get("title", "")

    @property
    def text(self) -> str:
        return self.attachment.get("text", "")

    def mentions(self, *needles: str) -> bool:
        blob = json.dumps(self.payload)
        return all(n in blob for n in needles)


class _Waitable:
    def __init__(self) -> None:
        self._cond = threading.Condition()

    def _wait(self, what: str, find: Callable[[], object], timeout_s: float):
        """Poll `find` under the lock; a delivery's notify wakes the wait early."""
        with self._cond:
            return poll.wait_for(what, find, timeout_s, 0.5, transient=(), sleep=self._cond.wait)


class SlackRecorder(_Waitable):
    """Records Slack webhook posts; `fail_first={"#alerts-critical": 1}` answers 500 to the first post
    of that channel."""

    def __init__(self, fail_first: dict[str, int] | None = None) -> None:
        super().__init__()
        self.port = free_port()
        self.posts: list[SlackPost] = []
        self._failures_left = dict(fail_first or {})
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"raw": body.decode("utf-8", "replace")}
                status = recorder._status_for(payload.get("channel", ""))
                with recorder._cond:
                    recorder.posts.append(SlackPost(time.time(), status, payload))
                    recorder._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"internal_error")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-recorder", daemon=True)

    def _status_for(self, channel: str) -> int:
        with self._cond:
            if self._failures_left.get(channel, 0) > 0:
                self._failures_left[channel] -= 1
                return 500
        return 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T0000/B0000/recorder"

    def start(self) -> SlackRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def delivered(self) -> list[SlackPost]:
        with self._cond:
            return [p for p in self.posts if p.status == 200]

    def wait_for(self, what: str, match: Callable[[SlackPost], bool], timeout_s: float = 60.0) -> SlackPost:
        """The first delivered (200) post that matches."""
        return self._wait(
            f"a Slack post: {what}",
            lambda: next((p for p in self.posts if p.status == 200 and match(p)), None),
            timeout_s,
        )


@dataclass
class Mail:
    at: float
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage = field(repr=False)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def part(self, subtype: str) -> str | None:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None and body.get_content_subtype() == subtype else None


class SmtpSink(_Waitable):
    """An SMTP server on loopback that keeps every message (aiosmtpd)."""

    def __init__(self) -> None:
        super().__init__()
        from aiosmtpd.controller import (
            Controller,  # dev dependency: only tests and benchmarks use it
        )

        self.port = free_port()
        self.mails: list[Mail] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                message = email.message_from_bytes(
                    envelope.original_content or envelope.content, policy=email.policy.default
                )
                with sink._cond:
                    sink.mails.append(Mail(time.time(), envelope.mail_from, list(envelope.rcpt_tos), message))
                    sink._cond.notify_all()
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def smarthost(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, what: str, match: Callable[[Mail], bool], timeout_s: float = 60.0) -> Mail:
        return self._wait(f"an email: {what}", lambda: next((m for m in self.mails if match(m)), None), timeout_s)
