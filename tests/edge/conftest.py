"""Fixtures for the edge's tests: a scripted origin and edge workers that stop with the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from staydown.edge.server import EdgeConfig
from tests.conftest import Api
from tests.edge.harness import EdgeThread, ScriptedOrigin
from tests.processes import free_port


@pytest.fixture
def origin() -> Iterator[ScriptedOrigin]:
    with ScriptedOrigin() as scripted:
        yield scripted


@pytest.fixture
def edge_factory(api: Api, tmp_path: Path) -> Iterator[Callable[..., EdgeThread]]:
    """Start edges fed by the test's API (control plane and config may be given); stopped after."""
    started: list[EdgeThread] = []

    def start(control_plane: str | None = None, config: EdgeConfig | None = None, **tls: Any) -> EdgeThread:
        edge = EdgeThread(
            control_plane=control_plane or api.url,
            key=api.keys["edge"],
            data_dir=tmp_path / "edge",
            settings=api.settings,
            config=config,
            **tls,
        )
        started.append(edge.__enter__())
        return edge

    yield start
    for edge in started:
        edge.__exit__()


@pytest.fixture
def tls_edge(api: Api, edge_factory: Callable[..., EdgeThread]) -> Callable[..., EdgeThread]:
    """Start edges serving TLS on a free port (config and control plane may be given); stopped after."""

    def start(config: EdgeConfig | None = None, control_plane: str | None = None) -> EdgeThread:
        port = free_port()
        config = config or EdgeConfig(legal_url="https://cdn.example/legal", https_port=port)
        return edge_factory(
            control_plane, config, tls_port=port, cert_seal_key=api.settings.cert_seal_secret()
        )

    return start
