"""A latency injector: TCP proxies that put a round-trip time between the suite and a sandbox.

Each proxy is a delay line: every chunk read is stamped with the time it may leave (half the RTT later, in
each direction) and written when that time comes, while reading goes on, so throughput is not serialized
and a stream of chunks pays the delay once. A new connection pays one RTT more, before anything flows
either way, as a TCP handshake over that distance would. Bytes pass untouched (TLS included, so names and
certificates still verify), and the upstream connection leaves from the loopback address the client came
from, so a burst sent from 127.0.0.2 stays apart from the rest of the run at the server's rate limiter.

Library:

    with LatencyInjector({"https": ("127.0.0.1", 8443)}, rtt_ms=100) as ports:  # {"https": proxy port}
        ...
    injector = proxy_state(state, out, rtt_ms=100)  # every port of every instance; writes `out`; .stop()

Command line (runs until Ctrl-C or SIGTERM):

    python -m bench.latency --rtt 100 --state STATE --out STATE2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.state import write_state  # noqa: E402

CHUNK = 64 * 1024
# The mail server's ports too (STARTTLS and implicit TLS pass through like HTTPS). The mail domain's DNS is UDP,
# which no proxy here carries: MAIL-05/06's queries stay on loopback.
PORT_VARIABLES = ("SANDBOX_HTTPS_PORT", "SANDBOX_HTTP_PORT", "SANDBOX_SMTP_PORT", "SANDBOX_SMTPS_PORT")
URL_VARIABLES = ("SANDBOX_DATABASE_URL", "SANDBOX_REDIS_URL", "SANDBOX_REDIS_CACHE_URL")


class LatencyInjector:
    """One listening proxy per target, served by an event loop in a thread of its own."""

    def __init__(self, targets: dict[str, tuple[str, int]], rtt_ms: float, handshake: bool = True) -> None:
        self.targets = dict(targets)
        self.half = rtt_ms / 2000
        self.handshake = rtt_ms / 1000 if handshake else 0.0
        self.ports: dict[str, int] = {}
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.AbstractServer] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency", daemon=True)

    def start(self) -> dict[str, int]:
        """Listen on 127.0.0.1 for each target; name -> proxy port."""
        self._thread.start()
        for name, (host, port) in self.targets.items():
            server = asyncio.run_coroutine_threadsafe(self._listen(host, port), self._loop).result(10)
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]
        return dict(self.ports)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            for server in self._servers:
                server.close()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> dict[str, int]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self, host: str, port: int) -> asyncio.AbstractServer:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # stop() cancels connections; asyncio would log each cancelled connection task
            with contextlib.suppress(asyncio.CancelledError):
                await self._serve(reader, writer, host, port)

        return await asyncio.start_server(serve, "127.0.0.1", 0, backlog=512)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int) -> None:
        self.connections += 1
        loop = asyncio.get_running_loop()
        opened = loop.time() + self.handshake  # nothing flows before the simulated handshake is over
        client_ip = writer.get_extra_info("peername")[0]
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port, local_addr=(client_ip, 0))
        except OSError:
            await asyncio.sleep(max(0.0, opened - loop.time()))  # a refusal comes back after the handshake too
            writer.close()
            return
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, opened), self._pipe(up_reader, writer, opened), return_exceptions=True
            )
        finally:
            for end in (writer, up_writer):
                end.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, opened: float) -> None:
        """Copy reader to writer, each chunk half an RTT after it was read (and not before `opened`)."""
        loop = asyncio.get_running_loop()
        line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def pump() -> None:
            try:
                while chunk := await reader.read(CHUNK):
                    line.put_nowait((max(loop.time(), opened) + self.half, chunk))
            except OSError:
                pass
            finally:
                line.put_nowait((max(loop.time(), opened) + self.half, b""))

        pumping = asyncio.create_task(pump())
        try:
            while True:
                due, chunk = await line.get()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    if writer.can_write_eof() and not writer.is_closing():
                        writer.write_eof()
                    return
                writer.write(chunk)
                await writer.drain()
        except OSError:
            return
        finally:
            pumping.cancel()


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{netloc}:{port}"))


def targets_of(variables: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Variable name -> (host, port) of every port an instance's variables name."""
    found = {name: ("127.0.0.1", int(variables[name])) for name in PORT_VARIABLES}
    for name in URL_VARIABLES:
        parts = urlsplit(variables[name])
        assert parts.hostname is not None and parts.port is not None, f"{name} names no host and port"
        found[name] = (parts.hostname, parts.port)
    return found


def proxied(variables: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    """The variables with each port replaced by its proxy's (host names unchanged)."""
    result = dict(variables)
    for name in PORT_VARIABLES:
        result[name] = str(ports[name])
    for name in URL_VARIABLES:
        result[name] = _with_port(variables[name], ports[name])
    return result


def proxy_state(state: Path, out: Path, rtt_ms: float, handshake: bool = True) -> LatencyInjector:
    """Proxies in front of every port of every instance of a sandbox's state file, and `out`, the same state
    whose variables point at them. The caller stops the injector."""
    document: dict[str, Any] = json.loads(Path(state).read_text())
    targets: dict[str, tuple[str, int]] = {}
    for twin, variables in document["twins"].items():
        targets |= {f"{twin} {name}": where for name, where in targets_of(variables).items()}
    # Instances share servers (Redis, PostgreSQL): one proxy per distinct address.
    addresses = sorted(set(targets.values()))
    injector = LatencyInjector({f"{host}:{port}": (host, port) for host, port in addresses}, rtt_ms, handshake)
    by_address = injector.start()
    for twin, variables in document["twins"].items():
        ports = {name: by_address["{}:{}".format(*where)] for name, where in targets_of(variables).items()}
        document["twins"][twin] = proxied(variables, ports)
    write_state(out, document)
    return injector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=100, help="round-trip time to add, in ms (default: 100)")
    parser.add_argument("--state", type=Path, required=True, help="the sandbox's state file (python -m sandbox up)")
    parser.add_argument("--out", type=Path, required=True, help="the state file to write, pointing at the proxies")
    parser.add_argument("--no-handshake", action="store_true", help="new connections pay no extra RTT")
    args = parser.parse_args()
    injector = proxy_state(args.state, args.out, args.rtt, handshake=not args.no_handshake)
    print(f"{len(injector.ports)} proxies, RTT {args.rtt:g} ms: {args.out}", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        injector.stop()


if __name__ == "__main__":
    main()
