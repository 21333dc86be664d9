"""Calls to talentmesh services over Consul Connect mutual TLS from Python gRPC.

The services' gRPC ports speak TLS with Consul Connect leaf certificates. Such a certificate names
its service only in a SPIFFE URI (`spiffe://<trust-domain>/ns/<ns>/dc/<dc>/svc/<service>`): it has
no DNS name and no common name, so grpcio's built-in host-name check refuses every one of them,
and grpcio has no hook to check a URI instead. This module therefore does the TLS itself with
Python's `ssl`: `connect_channel` opens a private Unix socket that relays each connection over
mutual TLS to the service, and hands gRPC a plaintext channel to that socket. The relay presents
the client's own leaf certificate and accepts the server only if its certificate chains to the
Consul CA roots and names the expected service, so the bearer token never reaches anyone else.

    channel = connect_channel("127.0.0.1:50053", "job", ca="roots.pem", cert="leaf.pem",
                              key="leaf.key")

Reference: Consul's Connect-native integration guide and agent Connect API (leaf certificates,
CA roots); the SPIFFE ID format from the SPIFFE standard (SPIFFE-ID.md).
"""

import asyncio
import os
import shutil
import ssl
import sys
import tempfile
import threading

import grpc


def spiffe_service(uri):
    """The service a Connect SPIFFE URI names, or None for any other URI."""
    if not uri.startswith("spiffe://"):
        return None
    _, _, path = uri[len("spiffe://") :].partition("/")
    parts = path.split("/")
    if len(parts) % 2:
        return None
    pairs = dict(zip(parts[::2], parts[1::2]))
    return pairs.get("svc") or None


def client_context(ca, cert, key):
    """A TLS 1.3 client context: the client's leaf and key, the Consul CA roots as the only trust
    anchors, HTTP/2 by ALPN. Host names are not checked: `_Relay` checks the SPIFFE URI."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=ca)
    ctx.load_cert_chain(certfile=cert, keyfile=key)
    ctx.set_alpn_protocols(["h2"])
    return ctx


class _Relay:
    """A Unix socket in a private temporary folder; each connection to it is relayed to
    `host:port` over TLS with `ctx` once the server proved to be `service`. Runs an asyncio loop
    on a daemon thread (one TLS stack per connection, never shared between threads) until
    `close`, which ends the connections, the loop and the thread without a word on stderr."""

    def __init__(self, host, port, service, ctx):
        self.host, self.port, self.service, self.ctx = host, port, service, ctx
        self.folder = tempfile.mkdtemp(prefix="talentmesh-connect-")
        self.path = os.path.join(self.folder, "relay.sock")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        start = asyncio.start_unix_server(self._serve, path=self.path)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result()

    def _run(self):
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    async def _serve(self, local_reader, local_writer):
        """One relayed connection. It always ends normally, `close` cancelling it included:
        asyncio (Python 3.11) reports a connection task that ends cancelled as an unhandled
        exception with a CancelledError traceback."""
        writers = [local_writer]
        try:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ctx)
            except (OSError, ssl.SSLError) as e:
                print(f"connect tls: {self.host}:{self.port}: {e}", file=sys.stderr, flush=True)
                return
            writers.append(writer)
            peer = writer.get_extra_info("peercert") or {}
            uris = [v for (k, v) in peer.get("subjectAltName", ()) if k == "URI"]
            if not any(spiffe_service(u) == self.service for u in uris):
                print(
                    f"connect tls: the server at {self.host}:{self.port} is {uris or 'no service'}, "
                    f"not the service {self.service}: refused",
                    file=sys.stderr,
                    flush=True,
                )
                return
            await _relay(local_reader, writer, reader, local_writer)
        except asyncio.CancelledError:
            pass  # `close` ends the connection: the expected end, not an error.
        finally:
            for w in writers:
                await _close(w)

    def close(self):
        """Stops accepting, ends the relayed connections and the loop, removes the socket."""

        async def stop():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


async def _relay(local_reader, writer, reader, local_writer):
    """Copies both ways until both directions ended (one side closing ends the other); if
    cancelled, cancels and awaits both pumps before the CancelledError goes on."""
    pumps = [
        asyncio.create_task(_pump(local_reader, writer)),
        asyncio.create_task(_pump(reader, local_writer)),
    ]
    try:
        await asyncio.wait(pumps)
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


async def _pump(reader, writer):
    """Copies `reader` to `writer` until the reader ends, or either side fails, then closes
    `writer`."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError):
        pass
    finally:
        writer.close()


# How long closing a connection may wait for the peer (a TLS close_notify, a Unix socket's
# end) before it is cut.
CLOSE_SECONDS = 2


async def _close(writer):
    """Closes `writer` and waits until it is closed, cutting it after CLOSE_SECONDS."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_SECONDS)
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        writer.transport.abort()


def connect_channel(address, service, ca, cert, key):
    """A gRPC channel to the Connect service `service` (its name in Consul) at `address`
    (`host:port`), over mutual TLS with the client's leaf `cert`/`key` and the CA roots `ca`
    (PEM files). The channel's `close` also stops the relay."""
    host, _, port = address.rpartition(":")
    relay = _Relay(host.strip("[]"), int(port), service, client_context(ca, cert, key))
    # The authority header names the service, not the Unix socket.
    channel = grpc.insecure_channel(f"unix:{relay.path}", options=[("grpc.default_authority", service)])
    close = channel.close

    def close_both():
        close()
        relay.close()

    channel.close = close_both
    return channel
