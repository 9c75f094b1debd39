"""The proxy embedded in a running event loop: start, serve, refuse a config it cannot apply, stop."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mesh.proxy.app import Proxy
from mesh.proxy.config import ConfigError, parse_config
from tests.harness.net import free_port
from tests.integration.proxy.conftest import Client, canary_service


def test_in_process_proxy_serves_and_keeps_its_config_when_a_port_is_taken(upstream):
    service = canary_service(upstream("primary"), upstream("canary"), port=free_port())
    config = parse_config({"services": [service]})

    async def scenario() -> None:
        proxy = Proxy(config, admin_port=0)
        await proxy.start()
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(None, lambda: Client(service["port"]).request())
            assert reply.status == 200 and reply.backend == "primary"
            with socket.socket() as busy:
                busy.bind(("127.0.0.1", 0))
                busy.listen()
                taken = canary_service(
                    service["backends"]["podinfo-primary"]["endpoints"][0],
                    service["backends"]["podinfo-canary"]["endpoints"][0],
                    name="other",
                    port=busy.getsockname()[1],
                )
                with pytest.raises(ConfigError, match=r"services\[1\]\.port: cannot listen"):
                    await proxy.apply(parse_config({"services": [service, taken]}))
            assert proxy.config is config
            reply = await loop.run_in_executor(None, lambda: Client(service["port"]).request())
            assert reply.status == 200
        finally:
            await proxy.stop()

    asyncio.run(scenario())
