"""Fixtures for the edge's tests: a scripted origin and edge workers that stop with the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from staydown.edge.server import EdgeConfig
from tests.conftest import Api
from tests.edge.harness import EdgeThread, ScriptedOrigin


@pytest.fixture
def origin() -> Iterator[ScriptedOrigin]:
    with ScriptedOrigin() as scripted:
        yield scripted


@pytest.fixture
def edge_factory(api: Api, tmp_path: Path) -> Iterator[Callable[..., EdgeThread]]:
    started: list[EdgeThread] = []

    def start(control_plane: str | None = None, config: EdgeConfig | None = None) -> EdgeThread:
        edge = EdgeThread(
            control_plane=control_plane or api.url,
            key=api.keys["edge"],
            data_dir=tmp_path / "edge",
            settings=api.settings,
            config=config,
        )
        started.append(edge.__enter__())
        return edge

    yield start
    for edge in started:
        edge.__exit__()
