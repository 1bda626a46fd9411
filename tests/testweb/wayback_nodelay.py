"""pywb's `wayback` server as the test web's archive, answering as the Internet Archive's
front ends do: each response's headers and body without Nagle's delay.

gevent's WSGI server writes the headers and the body of a response in two sends on a socket
left with Nagle's algorithm on; on a kept-alive connection the body then waits for the
client's delayed ACK, 40 ms a response on Linux. A client that reuses connections (as
citewatch's does) would be measured against that artefact of the test server, not against
itself. This sets TCP_NODELAY on every accepted socket, then runs pywb's own `wayback`."""

from __future__ import annotations

import socket
import sys

from gevent import pywsgi

_handle = pywsgi.WSGIServer.handle


def _handle_without_delay(self: pywsgi.WSGIServer, sock: socket.socket, address: object) -> object:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _handle(self, sock, address)


pywsgi.WSGIServer.handle = _handle_without_delay  # this test server's own process only

if __name__ == "__main__":
    from pywb.apps.cli import wayback

    sys.exit(wayback())
