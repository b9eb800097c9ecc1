"""A Prometheus remote_write receiver on 127.0.0.1 for tests: it takes the snappy-compressed
protobuf WriteRequest that Prometheus POSTs and keeps the label sets of the series in it.

Only what the test needs is decoded: the snappy block format (literals and back-references) and
the protobuf fields WriteRequest.timeseries (1) -> TimeSeries.labels (1) -> Label.name (1) /
Label.value (2); samples and metadata are skipped.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def unsnappy(data: bytes) -> bytes:
    """Decompress one snappy block (the format remote_write uses, not the framed one)."""
    length, pos = _varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag, kind = data[pos], data[pos] & 3
        pos += 1
        if kind == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            out += data[pos:pos + size + 1]
            pos += size + 1
            continue
        if kind == 1:
            size, offset = ((tag >> 2) & 7) + 4, ((tag >> 5) << 8) | data[pos]
            pos += 1
        else:
            width = 2 if kind == 2 else 4
            size, offset = (tag >> 2) + 1, int.from_bytes(data[pos:pos + width], "little")
            pos += width
        for _ in range(size):
            out.append(out[-offset])
    assert len(out) == length, (len(out), length)
    return bytes(out)


def _fields(message: bytes):
    """(field number, bytes) of a message's length-delimited fields; other wire types skipped."""
    pos = 0
    while pos < len(message):
        key, pos = _varint(message, pos)
        number, wire = key >> 3, key & 7
        if wire == 2:
            size, pos = _varint(message, pos)
            yield number, message[pos:pos + size]
            pos += size
        elif wire == 0:
            _, pos = _varint(message, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"wire type {wire}")


def series_labels(write_request: bytes) -> list[dict[str, str]]:
    """The label set of every TimeSeries in a decompressed WriteRequest."""
    result = []
    for number, series in _fields(write_request):
        if number == 1:
            labels = {}
            for field, label in _fields(series):
                if field == 1:
                    parts = dict(_fields(label))
                    labels[parts.get(1, b"").decode()] = parts.get(2, b"").decode()
            result.append(labels)
    return result


class RemoteWriteSink:
    """``url`` takes remote_write POSTs; ``series()`` is every label set received so far."""

    def __init__(self) -> None:
        self._series: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = series_labels(unsnappy(body))
                with sink._lock:
                    sink.headers.append(dict(self.headers))
                    sink._series.extend(received)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/write"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def series(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._series)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
