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
    on a daemon thread (one TLS stack per connection, never shared between threads)."""

    def __init__(self, host, port, service, ctx):
        self.host, self.port, self.service, self.ctx = host, port, service, ctx
        self.folder = tempfile.mkdtemp(prefix="talentmesh-connect-")
        self.path = os.path.join(self.folder, "relay.sock")
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        start = asyncio.start_unix_server(self._serve, path=self.path)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result()

    async def _serve(self, local_reader, local_writer):
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ctx)
        except (OSError, ssl.SSLError) as e:
            print(f"connect tls: {self.host}:{self.port}: {e}", file=sys.stderr, flush=True)
            local_writer.close()
            return
        peer = writer.get_extra_info("peercert") or {}
        uris = [v for (k, v) in peer.get("subjectAltName", ()) if k == "URI"]
        if not any(spiffe_service(u) == self.service for u in uris):
            print(
                f"connect tls: the server at {self.host}:{self.port} is {uris or 'no service'}, "
                f"not the service {self.service}: refused",
                file=sys.stderr,
                flush=True,
            )
            writer.close()
            local_writer.close()
            return
        await asyncio.gather(_pump(local_reader, writer), _pump(reader, local_writer))

    def close(self):
        """Stops accepting, ends the relayed connections and the loop, removes the socket."""

        async def stop():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        shutil.rmtree(self.folder, ignore_errors=True)


async def _pump(reader, writer):
    """Copies `reader` to `writer` until either side ends, then closes `writer`."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError):
        pass
    finally:
        writer.close()


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
