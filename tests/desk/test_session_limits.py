"""Session lifetimes are settings: a short idle limit and a short absolute lifetime are honoured."""

from __future__ import annotations

import pytest

from staydown.config import Settings
from tests.conftest import Api
from tests.desk.support import DeskClient


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"desk_session_idle_minutes": 5, "desk_session_max_hours": 1})


def test_session_lifetimes_come_from_the_settings(api: Api) -> None:
    desk = DeskClient(api)
    response = desk.sign_in_with_key(api.keys["agent"])
    assert "Max-Age=3600" in response.headers["set-cookie"]
    api.clock.advance(minutes=4)
    assert desk.get("/desk/queue").status_code == 200
    api.clock.advance(minutes=6)
    assert desk.get("/desk/queue").status_code == 303  # idle for more than five minutes
    desk.sign_in_with_key(api.keys["agent"])
    for _ in range(14):  # kept busy, yet the absolute lifetime still ends it after an hour
        api.clock.advance(minutes=4)
        assert desk.get("/desk/queue").status_code == 200
    api.clock.advance(minutes=4)
    assert desk.get("/desk/queue").status_code == 303


def test_a_bad_session_setting_is_refused_loudly() -> None:
    with pytest.raises(ValueError, match="desk_session_idle_minutes"):
        Settings(desk_session_idle_minutes=0)
