"""`HttpComponent`: uvicorn serving the app inside the service's task group."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator, Sequence

import structlog
import uvicorn
from starlette.routing import BaseRoute

from cc_router.http.app import create_app
from cc_router.http.context import HttpContext
from cc_router.http.metrics import Metrics
from cc_router.live import LiveView
from cc_router.service import Service

log = structlog.get_logger("cc_router.http")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The service owns SIGINT/SIGTERM; uvicorn must not take them over.
        yield


class HttpComponent:
    """API, wallboard, metrics and health on `config.http.host:port` (port 0: any free one)."""

    name = "http"
    runs_on_standby = True
    """Up while the router waits for leadership: /readyz names the leader."""

    def __init__(
        self,
        service: Service,
        live: LiveView,
        metrics: Metrics | None = None,
        *,
        config_path: str | None = None,
        host: str | None = None,
        port: int | None = None,
        routes: Sequence[BaseRoute] = (),
    ) -> None:
        if metrics is None:
            metrics = Metrics(live)
            metrics.attach(service)
        self.ctx = HttpContext(service, live, metrics, config_path)
        self.app = create_app(self.ctx, routes)
        self.host = host if host is not None else service.config.http.host
        self.port = port if port is not None else service.config.http.port
        self.bound_port: int | None = None
        self.started = asyncio.Event()
        self._server: _Server | None = None

    async def run(self) -> None:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            ws="none",
        )
        server = self._server = _Server(config)
        watcher = asyncio.create_task(self._watch_start(server))
        try:
            await server.serve()
        except SystemExit:
            # uvicorn exits the process when it cannot bind; here that is a failure to retry.
            raise RuntimeError(f"HTTP cannot listen on {self.host}:{self.port}") from None
        except asyncio.CancelledError:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.shutdown(), 3)
            raise
        finally:
            watcher.cancel()
            self.started.clear()
            self.bound_port = None
        if not server.started:
            raise RuntimeError(f"HTTP server on {self.host}:{self.port} did not start")

    async def _watch_start(self, server: _Server) -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        for s in server.servers:
            for sock in s.sockets:
                self.bound_port = int(sock.getsockname()[1])
                break
        log.info("http_listening", host=self.host, port=self.bound_port)
        self.started.set()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
