"""A browser-like desk client over httpx: keeps cookies, reads CSRF tokens from the pages it gets."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import Api

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class DeskClient:
    def __init__(self, api: Api) -> None:
        self.http = api.client()
        self.http.follow_redirects = False
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        found = (
            _CSRF.search(response.text)
            if response.headers.get("content-type", "").startswith("text/html")
            else None
        )
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.http.post(path, data=body, **kwargs)

    def sign_in_with_key(self, key: str) -> httpx.Response:
        self.get("/desk/signin")
        response = self.post("/desk/signin/key", {"key": key})
        assert response.status_code == 303, response.text
        self.get("/desk/", follow_redirects=True)  # a page with the session's token
        return response

    def sign_in(self, email: str, password: str) -> httpx.Response:
        self.get("/desk/signin")
        response = self.post("/desk/signin", {"email": email, "password": password})
        if response.status_code == 303:
            self.get("/desk/", follow_redirects=True)
        return response
