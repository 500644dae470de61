"""Works of different rightsholders holding the same image are listed for an agent."""

from __future__ import annotations

from staydown.demo.pages import render_page
from tests.conftest import Api
from tests.support import jpeg


def test_two_rightsholders_registering_the_same_image_are_shown_to_an_agent(api: Api) -> None:
    page = render_page(59)

    def register(who: str, image: bytes, description: str) -> int:
        created = api.as_(who).post(
            "/v1/works", data={"description": description}, files=[("images", ("p.jpg", image, "image/jpeg"))]
        )
        assert created.status_code == 201, created.text
        return int(created.json()["id"])

    first = register("trusted_flagger", jpeg(page), "Chapter 8, page 1 (publisher A)")
    again = register("trusted_flagger", jpeg(page), "Chapter 8 again, by the same publisher")
    register("trusted_flagger", jpeg(render_page(60)), "Another page")
    agent = api.as_("agent")
    assert agent.get("/v1/works/conflicts").json() == {"conflicts": [], "total": 0}  # one owner

    same_file = register("submitter", jpeg(page), "Chapter 8, page 1 (publisher B)")
    near = register(
        "submitter", jpeg(page.resize((page.width // 2, page.height // 2)), quality=60), "B, small"
    )
    listed = agent.get("/v1/works/conflicts").json()
    pairs = {tuple(sorted(w["id"] for w in c["works"])): c["distance"] for c in listed["conflicts"]}
    assert pairs[(first, same_file)] == 0 and pairs[(again, same_file)] == 0
    assert 0 <= pairs[(first, near)] <= 31
    assert (first, again) not in pairs and (same_file, near) not in pairs
    assert api.as_("submitter").get("/v1/works/conflicts").status_code == 403
