"""The desk's main pages on a busy database: every page an agent, a customer and a rightsholder
open answers with its rows when thousands of notices, customers with strikes and stay-down matches
are stored (inserted in bulk). How fast they render at 100,000 notices is measured by
bench/desk_render.py, not asserted here.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import Api
from tests.desk.bulk import busy_desk

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_main_pages_answer_with_their_rows_on_a_busy_database(api: Api) -> None:
    pages = busy_desk(api, notices=3_000, customers=300, matches=600)
    for name, (client, path) in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (name, path, response.text[:500])
        assert "<main" in response.text, name
    queue = pages["queue, page 15"][0].get("/desk/queue?page=15").text
    assert len(set(re.findall(r'href="/desk/notices/(\d+)"', queue))) == 50  # a full page, deep in
    last = pages["stay-down matches, last page"]
    assert "/copy/" in last[0].get(last[1]).text  # the last page of matches still lists copies
