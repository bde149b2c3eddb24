"""Log lines in batches: INFO waits at most flush_s, a WARNING writes everything before it at once,
flush() (what logging.shutdown calls at exit) writes the rest; each line one JSON object."""

from __future__ import annotations

import io
import json
import logging
import time

from observatory.logging import JsonFormatter, LineHandler


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def _logger(handler: LineHandler) -> logging.Logger:
    handler.setFormatter(JsonFormatter("test"))
    lg = logging.getLogger(f"test.lines.{id(handler)}")
    lg.handlers[:] = [handler]
    lg.propagate = False
    lg.setLevel(logging.INFO)
    return lg


def test_info_lines_wait_and_a_warning_writes_them_in_order():
    stream = CountingStream()
    lg = _logger(LineHandler(stream, flush_s=30))
    for i in range(3):
        lg.info("line %d", i)
    assert stream.getvalue() == ""
    lg.warning("trouble")
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [d["message"] for d in lines] == ["line 0", "line 1", "line 2", "trouble"]
    assert stream.flushes == 1 and lines[-1]["level"] == "warning"


def test_waiting_lines_are_written_within_flush_s_and_by_flush():
    stream = CountingStream()
    handler = LineHandler(stream, flush_s=0.05)
    lg = _logger(handler)
    lg.info("soon")
    deadline = time.monotonic() + 5
    while "soon" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert json.loads(stream.getvalue())["message"] == "soon"
    quiet = LineHandler(CountingStream(), flush_s=3600)
    lg = _logger(quiet)
    lg.info("at exit")
    assert quiet.stream.getvalue() == ""
    quiet.flush()
    assert json.loads(quiet.stream.getvalue())["message"] == "at exit"


def test_a_full_buffer_is_written_without_waiting():
    stream = CountingStream()
    lg = _logger(LineHandler(stream, flush_s=3600, max_bytes=1000))
    for _ in range(20):
        lg.info("x" * 100)
    assert stream.flushes >= 1 and stream.getvalue().count("\n") >= 5


def test_a_forked_child_does_not_write_its_parents_waiting_lines(tmp_path):
    import os

    path = tmp_path / "log"
    with open(path, "w") as stream:
        handler = LineHandler(stream, flush_s=3600)
        lg = _logger(handler)
        lg.info("parent, before the fork")
        pid = os.fork()
        if pid == 0:  # the child: its own line only
            lg.info("child")
            handler.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        handler.flush()
    messages = [json.loads(x)["message"] for x in path.read_text().splitlines()]
    assert sorted(messages) == ["child", "parent, before the fork"]
