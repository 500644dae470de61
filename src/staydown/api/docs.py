"""The API's own documentation pages, served from packaged assets.

FastAPI's default ``/docs`` and ``/redoc`` load their scripts and fonts from a public CDN, so on a
network without the internet (where a control plane often runs) they are blank pages. The same
Swagger UI and ReDoc builds ship in the ``fastapi-offline`` package; they are served from there.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
# The pages' own inline start-up scripts run; nothing is fetched from anywhere but this service
# (ReDoc would otherwise load its sidebar logo from its vendor's CDN).
_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'"
)


def _self_contained(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = _POLICY
    return page


_OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) without a request leaving the service."""
    assets = resources.files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return _self_contained(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} · API",
                oauth2_redirect_url=_OAUTH2_REDIRECT,
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/favicon.png",
            )
        )

    @app.get(_OAUTH2_REDIRECT, include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _self_contained(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} · API reference",
                redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )
