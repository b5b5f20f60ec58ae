"""Fake LLM servers that speak the real wire protocols, for the LLM tests.

The tests drive the real ``langchain-openai`` and ``langchain-ollama`` clients,
so these servers must answer exactly as an OpenAI-compatible server and as
Ollama do: OpenAI ``POST /v1/chat/completions`` (JSON, or SSE ``data:`` chunks
ending in ``data: [DONE]`` when ``"stream": true``) and ``GET /v1/models``;
Ollama ``POST /api/chat`` (NDJSON lines ending with ``"done": true``, or one
JSON object when ``"stream": false``), ``GET /api/tags`` and ``/api/version``.

Output is scripted with :class:`Reply` objects, including the failures the
code must survive: an HTTP 500, a reply slower than the client's time-out,
and a connection closed mid-stream (HTTP/1.1 chunked body left unterminated,
which clients report as an incomplete read, as with a crashed server).
Every request is recorded so tests can check what the model was sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Reply:
    """One scripted response."""

    chunks: list[str] = field(default_factory=lambda: ["OK"])
    """Content pieces; streamed one per event, joined for a non-streaming reply."""
    status: int = 200
    delay: float = 0.0
    """Seconds to wait before sending anything (to exceed a client time-out)."""
    fail_after: int | None = None
    """Close the connection after this many content chunks (mid-stream failure)."""
    chunk_delay: float = 0.0

    @classmethod
    def text(cls, text: str, size: int = 4, **kwargs: Any) -> "Reply":
        """Split ``text`` into ``size``-character chunks, as token streams arrive."""
        return cls([text[i : i + size] for i in range(0, len(text), size)] or [""], **kwargs)


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    def content(self, role: str) -> str:
        """All text the request carried for ``role`` (system, user, assistant)."""
        out = []
        for message in self.messages:
            if message.get("role") != role:
                continue
            content = message.get("content")
            if isinstance(content, list):  # OpenAI content blocks
                content = "".join(block.get("text", "") for block in content if isinstance(block, dict))
            out.append(content or "")
        return "\n".join(out)


Responder = Callable[[Request], Reply]


class FakeLLMServer:
    """A threaded HTTP server on 127.0.0.1 (free port) speaking ``protocol``."""

    def __init__(self, protocol: str, model: str = "fake-model") -> None:
        assert protocol in ("openai", "ollama")
        self.protocol = protocol
        self.model = model
        self.requests: list[Request] = []
        self._replies: list[Reply] = []
        self._responder: Responder | None = None
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------- scripting
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.protocol == "openai" else root

    def script(self, *replies: Reply) -> "FakeLLMServer":
        """Answer the next requests with ``replies`` in order; the last one repeats."""
        with self._lock:
            self._replies = list(replies)
            self._responder = None
            self.requests.clear()
        return self

    def respond_with(self, responder: Responder) -> "FakeLLMServer":
        """Choose each reply from the request (e.g. rewrite vs answer prompts)."""
        with self._lock:
            self._responder = responder
            self._replies = []
            self.requests.clear()
        return self

    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._responder is not None:
                return self._responder(request)
            if not self._replies:
                return Reply()
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # clients dropping idle keep-alive sockets is normal


def _handler_for(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # chunked bodies, so a cut stream is detectable

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        # ------------------------------------------------------------ routes
        def do_GET(self) -> None:
            server.requests.append(Request("GET", self.path, {}, dict(self.headers)))
            if server.protocol == "openai" and self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": server.model, "object": "model", "owned_by": "test"}]})
            elif server.protocol == "ollama" and self.path == "/api/tags":
                self._json(200, {"models": [{
                    "name": server.model, "model": server.model, "modified_at": "2025-01-01T00:00:00Z",
                    "size": 1, "digest": "0" * 64,
                    "details": {"format": "gguf", "family": "test", "parameter_size": "1B", "quantization_level": "Q4"},
                }]})
            elif server.protocol == "ollama" and self.path == "/api/version":
                self._json(200, {"version": "0.6.0"})
            else:
                self._json(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            request = Request("POST", self.path, json.loads(raw or b"{}"), dict(self.headers))
            openai_chat = server.protocol == "openai" and self.path.endswith("/chat/completions")
            ollama_chat = server.protocol == "ollama" and self.path == "/api/chat"
            if not (openai_chat or ollama_chat):
                self._json(404, {"error": f"no route {self.path}"})
                return
            reply = server._next_reply(request)
            if reply.delay:
                time.sleep(reply.delay)
            try:
                if reply.status != 200:
                    error = "scripted server failure"
                    body = {"error": {"message": error, "type": "server_error"}} if openai_chat else {"error": error}
                    self._json(reply.status, body)
                elif openai_chat:
                    self._openai(request, reply)
                else:
                    self._ollama(request, reply)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (time-out): fine

        # ------------------------------------------------------------ OpenAI
        def _openai(self, request: Request, reply: Reply) -> None:
            model = request.body.get("model", server.model)
            if not request.body.get("stream"):
                self._json(200, {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "".join(reply.chunks)}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": len(reply.chunks), "total_tokens": 10 + len(reply.chunks)},
                })
                return

            def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
                chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

            self._start_chunked("text/event-stream")
            self._write_chunk(event({"role": "assistant", "content": ""}))
            if not self._stream_pieces(reply, lambda text: event({"content": text})):
                return
            self._write_chunk(event({}, "stop"))
            self._write_chunk(b"data: [DONE]\n\n")
            self._end_chunked()

        # ------------------------------------------------------------ Ollama
        def _ollama(self, request: Request, reply: Reply) -> None:
            model = request.body.get("model", server.model)
            stamp = "2025-01-01T00:00:00.000000Z"
            final = {"model": model, "created_at": stamp, "message": {"role": "assistant", "content": ""},
                     "done": True, "done_reason": "stop", "total_duration": 1000, "load_duration": 10,
                     "prompt_eval_count": 10, "prompt_eval_duration": 100, "eval_count": len(reply.chunks),
                     "eval_duration": 100}
            if request.body.get("stream") is False:
                self._json(200, final | {"message": {"role": "assistant", "content": "".join(reply.chunks)}})
                return

            def line(text: str) -> bytes:
                part = {"model": model, "created_at": stamp, "message": {"role": "assistant", "content": text}, "done": False}
                return (json.dumps(part, ensure_ascii=False) + "\n").encode()

            self._start_chunked("application/x-ndjson")
            if not self._stream_pieces(reply, line):
                return
            self._write_chunk((json.dumps(final) + "\n").encode())
            self._end_chunked()

        # ------------------------------------------------------------ plumbing
        def _stream_pieces(self, reply: Reply, encode: Callable[[str], bytes]) -> bool:
            """Send the content chunks; False when the script cut the stream."""
            for index, piece in enumerate(reply.chunks):
                if reply.fail_after is not None and index >= reply.fail_after:
                    self.wfile.flush()
                    self.close_connection = True  # no terminating chunk: the body is incomplete
                    return False
                self._write_chunk(encode(piece))
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
            return True

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start_chunked(self, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _end_chunked(self) -> None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler
