"""The API documents itself without the internet: ``/docs`` and ``/redoc`` in Chromium with every
request off this host refused, the bearer scheme and each operation's error answers in the
OpenAPI document, and ``GET /`` leading to the desk, the docs and the legal page."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser import ARTIFACTS, NEEDS_CHROMIUM
from tests.conftest import Api

try:
    from playwright.sync_api import Browser, Route, sync_playwright
except ImportError:  # pragma: no cover - CI installs it with the test extra
    sync_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
browser_needed = [
    *NEEDS_CHROMIUM,
]


def test_the_document_declares_the_bearer_scheme_and_every_error_shape(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: 'Authorization: Bearer KEY'.",
    }
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) > 50
    for path, method, operation in operations:
        responses = operation["responses"]
        if path not in ("/v1/policy/repeat-infringer", "/v1/regimes/{regime}/elements"):  # public
            assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
            assert {"401", "403"} <= responses.keys(), (method, path)
        assert {"404", "409", "413", "422"} <= responses.keys(), (method, path)
        if "requestBody" in operation:
            assert {"400", "415"} <= responses.keys(), (method, path)
        for status, answer in responses.items():
            if status.startswith(("4", "5")):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_a_refusal_matches_the_documented_error_shape(api: Api) -> None:
    answer = httpx.get(f"{api.url}/v1/notices")
    assert answer.status_code == 401
    assert set(answer.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("page, marker", [("/docs", ".opblock"), ("/redoc", "[data-section-id]")])
@pytest.mark.usefixtures("api")
def test_the_api_documentation_loads_with_no_network_beyond_this_host(
    browser: Browser, api: Api, page: str, marker: str
) -> None:
    for mark in browser_needed:
        if mark.args[0]:
            pytest.skip(mark.kwargs["reason"])
    own = urlsplit(api.url).netloc
    refused: list[str] = []

    def only_this_host(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.route("**/*", only_this_host)
        tab.goto(api.url + page)
        tab.wait_for_selector(marker, timeout=20_000)
        assert tab.locator(marker).count() > 10
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"api{page.replace('/', '-')}.png"))
        assert refused == []
    finally:
        context.close()


def test_the_bare_address_leads_to_the_desk_the_docs_and_the_legal_page(api: Api) -> None:
    home = httpx.get(f"{api.url}/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    for href in ('href="/desk/"', 'href="/docs"', 'href="/legal"', 'href="/v1/policy/repeat-infringer"'):
        assert href in home.text
    for target in ("/desk/", "/docs", "/redoc", "/legal", "/v1/policy/repeat-infringer"):
        assert httpx.get(f"{api.url}{target}", follow_redirects=True).status_code == 200, target
