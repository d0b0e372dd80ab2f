"""A local chat-completions server on 127.0.0.1, spoken to by the real ``openai`` SDK.

Each test scripts the answers (``server.script``: status codes, delays, contents) and reads
back every request the SDK sent (``server.requests``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Responder = Callable[[dict[str, Any]], str]


@dataclass
class Reply:
    """One scripted answer: an HTTP status, headers, a delay and the message content."""

    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    error: str = ""


class ChatServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.script: list[Reply] = []
        self.default: Responder | None = None
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = json.loads(body)
                with server._lock:
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                    server.raw.append(body)
                    server.requests.append(request)
                    reply = server.script.pop(0) if server.script else None
                if reply is None:
                    assert server.default is not None, "the script ran out"
                    reply = Reply(server.default(request))
                time.sleep(reply.delay)
                if reply.status == 200:
                    payload: dict[str, Any] = {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": request["model"],
                        "choices": [{
                            "index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": reply.content},
                        }],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20,
                                  "total_tokens": 120},
                    }  # fmt: skip
                else:
                    payload = {"error": {"message": reply.error or "error", "type": "x"}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    for k, v in {"content-type": "application/json", **reply.headers}.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout test)
                    pass
                finally:
                    with server._lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


@pytest.fixture
def backend(server, monkeypatch):
    """An ``openai`` backend on the local server, quick to time out and to retry."""
    from portrait.llm.openai_backend import OpenAIBackend

    monkeypatch.setenv("PORTRAIT_TEST_LLM_KEY", "sk-test-key")
    client = OpenAIBackend(
        base_url=server.url, model="test-model", api_key_env="PORTRAIT_TEST_LLM_KEY",
        timeout=0.5, max_retries=2, concurrency=2, backoff=0.01,
        price_input_per_1k=0.5, price_output_per_1k=1.5,
    )  # fmt: skip
    yield client
    client.close()
