"""The matrix's two listeners, run inside the test's own network namespace.

A recording proxy (argv[2], on 127.0.0.1) answers every request and CONNECT with "via-proxy"; a direct listener on
every address of the namespace (each port in argv[3:]) answers "direct". Each request is recorded as one line in
argv[1]: "proxy <target>" or "direct <path>", so a client's outcome is read from what the listeners saw, whatever the
client prints. "ready" is written once both listen.
"""
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log_path, proxy_port, direct_ports = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
lock = threading.Lock()


def record(kind, target):
    with lock, open(log_path, "a", encoding="utf-8") as log:
        log.write(f"{kind} {target}\n")


def handler(kind, body):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def answer(self):
            record(kind, self.path)
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_POST = do_CONNECT = answer

        def log_message(self, *args):
            pass

    return Handler


class DualStack(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Proxy(ThreadingHTTPServer):
    daemon_threads = True


servers = [Proxy(("127.0.0.1", proxy_port), handler("proxy", "via-proxy"))]
servers += [DualStack(("::", port), handler("direct", "direct")) for port in direct_ports]
for server in servers:
    threading.Thread(target=server.serve_forever, daemon=True).start()
record("ready", "-")
threading.Event().wait()
