"""Letters worded as large senders word them: the statements, the signature and the URLs are read
from the variants real notices use (web-form answers, agency templates, British spelling, Japanese
guideline forms), and wording that states nothing is not taken for a statement. The letters are
written for these tests after the forms such notices take; names and addresses are invented."""

from __future__ import annotations

import pytest

from staydown.inbound.parsers import InboundFormat, Outcome, classify, wording
from staydown.inbound.parsers.wording import signature_of, statements
from staydown.types import Regime
from tests.inbound import samples
from tests.support import hard_timeout

URL = "https://files.demo.test/share/volume-3.pdf"

FORM_QUESTIONS = (
    "**Are you the copyright holder or authorized to act on the copyright owner's behalf?**\n\n{owner}\n\n"
    "**What files should be taken down? Please provide URLs for each file.**\n\n" + URL + "\n\n"
    "**Is the work licensed under an open source license?**\n\nNo\n\n"
)
FORM_STATEMENTS = (
    "**I have a good faith belief that use of the copyrighted materials described above on the "
    "infringing web pages is not authorized by the copyright owner, or its agent, or the law.**\n\n"
    "**I swear, under penalty of perjury, that the information in this notification is accurate and "
    "that I am the copyright owner, or am authorized to act on behalf of the owner, of an exclusive "
    "right that is allegedly infringed.**\n\n"
    "**So that we can get back to you, please provide either your telephone number or physical address.**"
    "\n\n+1 555 0100\n\n"
    "**Please type your full legal name below to sign this request.**\n\nJordan Example\n"
)
GOOD_FAITH = (
    "I have a good faith belief that use of the material is not authorized by the owner, "
    "its agent, or the law."
)
ACCURATE_AUTHORIZED = (
    "I swear, under penalty of perjury, that the information in this notification is accurate and that "
    "I am authorized to act on behalf of the owner of an exclusive right that is allegedly infringed."
)


def _letter(statement_text: str, closing: str = "Sincerely,\nJordan Example\n") -> str:
    return f"Dear abuse team,\n\nPlease remove {URL}\n\nWork: Demo Atlas\n\n{statement_text}\n\n{closing}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "I am providing this notice in good faith and with the reasonable belief that rights my company "
            "owns are being infringed. Under penalty of perjury I certify that the information contained in "
            "the notification is both true and accurate, and I have the authority to act on behalf of the "
            "owner of the copyrights involved.",
            (True, True, True),
            id="good-faith-and-reasonable-belief/true-and-accurate/authority-to-act",
        ),
        pytest.param(
            "Our agency has a good faith believe that the use described above is not authorized by the "
            "owner, any agent of the owner, or any applicable law. The information in this notification "
            "is accurate. I swear under penalty of perjury that I am authorized to act on behalf of the "
            "owner.",
            (True, True, True),
            id="good-faith-believe-typo",
        ),
        pytest.param(
            "We have good faith & belief that the use of the described material in the manner complained of "
            "is not authorised by the copyright owner, its agent, or the law. The information in the "
            "notification is accurate, and under penalty of perjury, that the complaining party is "
            "authorised "
            "to act on behalf of the owner of an exclusive right that is allegedly infringed.",
            (True, True, True),
            id="good-faith-ampersand-belief/british",
        ),
        pytest.param(
            "I hereby state that I have a good faith belief that the disputed use of the copyrighted "
            "material "
            "is not authorised by the copyright owner, its agent, or the law (e.g. as a fair use).\n"
            "I hereby state that the information in this Notice is accurate and, under penalty of perjury, "
            "that I am the owner, or authorised to act on behalf of the owner of the copyright.",
            (True, True, True),
            id="i-hereby-state",
        ),
        pytest.param(
            "Formal declaration: as a representative of the agency I confirm that I have a good faith belief "
            "that use of the material in the manner complained of is not authorized by the copyright owner, "
            "its agent, or the law. I swear, under penalty of perjury, that the information in this "
            "notification is accurate and that the publisher has authorized our agency to act as its "
            "non-exclusive agent for copyright infringement notification.",
            (True, True, True),
            id="owner-authorized-agency-to-act",
        ),
        pytest.param(
            "I hereby confirm my bona fide belief that the information and allegations contained in this "
            "notice are accurate and complete.",
            (True, True, False),
            id="dsa-bona-fide-belief",
        ),
        pytest.param(
            "As required by 17 U.S.C. 512(c)(3), I state that I have a good faith belief that the use is "
            "not authorized by the copyright owner, and that the information in this notice is accurate.",
            (True, True, False),
            id="as-required-by-the-act",
        ),
        pytest.param(
            "Our statements are 100% truthful. I have a good faith belief that use of the copyrighted "
            "materials described above is not authorized by the copyright owner, or its agent, or the law. "
            "I am the copyright owner.",
            (True, True, True),
            id="truthful/i-am-the-owner",
        ),
    ],
)
def test_real_statement_variants_are_recognised(text: str, expected: tuple[bool, bool, bool]) -> None:
    said = statements(text)
    assert (said.good_faith, said.accurate, said.authorized) == expected


@pytest.mark.parametrize(
    "owner",
    [
        "Yes, I am authorized to act on the copyright owner's behalf.",
        "Yes.",
        "Yes, I am the copyright holder.",
    ],
)
def test_web_form_answers_state_the_statements(owner: str) -> None:
    body = FORM_QUESTIONS.format(owner=owner) + FORM_STATEMENTS
    parsed = classify(samples.message(body))[1]
    draft = parsed.draft
    assert parsed.format is InboundFormat.text and parsed.outcome is Outcome.notice and draft is not None
    assert (draft.good_faith, draft.accurate, draft.authorized) == (True, True, True)
    assert draft.signature == "Jordan Example"
    assert draft.urls == (URL,)


def test_web_form_question_answered_no_states_nothing() -> None:
    body = (
        "**Are you the copyright holder or authorized to act on the copyright owner's behalf?**\n\nNo\n\n"
        "**Do you have a good faith belief that use of the material is not authorized by the owner, its "
        "agent, or the law?**\n\nNo\n\n"
        "**Is the information in this notification accurate?**\n\nNot sure\n\n" + URL + "\n"
    )
    said = statements(body)
    assert (said.good_faith, said.accurate, said.authorized) == (False, False, False)


def test_web_form_copy_prompt_alone_states_nothing_and_its_typed_answer_does() -> None:
    prompt = (
        '**Type (or copy and paste) the following statement: "I have a good faith belief that use of the '
        "copyrighted materials described above on the infringing web pages is not authorized by the "
        'copyright owner, or its agent, or the law. I have taken fair use into consideration."**\n\n'
    )
    unanswered = statements(prompt + "\n\n**Please type your full legal name below to sign this request:**\n")
    assert not unanswered.good_faith
    answered = statements(
        prompt + "I have a good faith belief that use of the copyrighted materials described above on the "
        "infringing web pages is not authorized by the copyright owner, or its agent, or the law.\n"
    )
    assert answered.good_faith


def test_question_answered_yes_on_the_same_line() -> None:
    said = statements(
        "Do you have a good faith belief that use of the material is not authorized by the copyright "
        "owner, its agent, or the law? Yes\nIs the information in this notice accurate? Yes\n"
        "Are you authorised to act on behalf of the owner? Yes\n"
    )
    assert (said.good_faith, said.accurate, said.authorized) == (True, True, True)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "We have tried in good faith to reach the uploader before writing to you.", id="good-faith-effort"
        ),
        pytest.param(
            "We acted in good faith and believe you will help us.", id="good-faith-and-belief-of-help"
        ),
        pytest.param(
            "I swear, under penalty of perjury, that I have a good-faith belief that the material was "
            "removed "
            "as a result of a mistake or misidentification of the material to be removed.",
            id="counter-notice-mistake",
        ),
        pytest.param(
            "I do not have a good faith belief that the use is unauthorized.", id="negated-good-faith"
        ),
        pytest.param(
            "Your notice must include a statement that the complaining party has a good faith belief that "
            "use of the material is not authorized by the copyright owner, its agent, or the law.",
            id="requirements-quoted",
        ),
        pytest.param(
            "[ ] I have a good faith belief that use of the material is not authorized by the copyright "
            "owner, its agent, or the law.",
            id="unchecked-box",
        ),
    ],
)
def test_wording_that_states_no_good_faith_belief(text: str) -> None:
    assert not statements(text).good_faith


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "No one is authorized to exhibit or distribute these works without our permission.", id="no-one"
        ),
        pytest.param(
            "The uploader, who is not authorised to act on our behalf, copied the files.",
            id="third-party-not",
        ),
        pytest.param("We did not have the authority to upload it.", id="no-authority"),
        pytest.param(
            "I have a good faith belief that use of the material is not authorized by the copyright owner, "
            "its agent, or the law. I swear, under penalty of perjury, that the information is accurate.",
            id="perjury-with-only-the-good-faith-authori",
        ),
        pytest.param("I am not authorized to act on behalf of the owner; I am a fan.", id="negated"),
        pytest.param(
            "You are the owner of the hosting service, and they own the copyright.", id="others-own"
        ),
    ],
)
def test_wording_that_states_no_authority(text: str) -> None:
    assert not statements(text).authorized


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("I cannot say whether the information below is accurate.", id="cannot-say"),
        pytest.param("The information in this notice may not be accurate.", id="may-not-be"),
        pytest.param("We use accurate fingerprinting to find copies.", id="accurate-of-something-else"),
    ],
)
def test_wording_that_states_no_accuracy(text: str) -> None:
    assert not statements(text).accurate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "私は、貴社が管理するURLに掲載されている下記の情報の流通は、私が有する著作権(公衆送信権)を侵害して"
            "いるため、当該著作物等の送信を防止する措置を講じることを求めます。\n"
            "5 著作物等の説明\n侵害された著作物は、私が創作した著作物「デモ図鑑」です。\n"
            "■a) 情報の発信者が著作権等侵害であることを自認しているもの\n"
            "また、上記内容が、事実に相違ないことを証します。\n以上\n",
            (False, True, True),
            id="guideline-form-a",
        ),
        pytest.param(
            "上記の内容は正確ではありません。当社は本件について権限を有していません。",
            (False, False, False),
            id="negated",
        ),
        pytest.param(
            "善意の第三者に対抗することはできません。担当者が誠実に対応いたします。",
            (False, False, False),
            id="zeni-and-seijitsu-in-other-senses",
        ),
    ],
)
def test_japanese_wording(text: str, expected: tuple[bool, bool, bool]) -> None:
    said = statements(text)
    assert (said.good_faith, said.accurate, said.authorized) == expected


def test_japanese_guideline_form_is_a_jp_notice() -> None:
    body = (
        "著作物等の送信を防止する措置の申出について\n"
        f"侵害情報の所在 URL:{URL}\n"
        "侵害された著作物は、私が創作した著作物「デモ図鑑」です。著作権侵害にあたります。\n"
        "上記内容が、事実に相違ないことを証します。\n以上\n"
    )
    parsed = classify(samples.message(body, subject="送信防止措置の申出"))[1]
    assert parsed.draft is not None and parsed.draft.regime is Regime.jp
    assert (parsed.draft.accurate, parsed.draft.authorized) == (True, True)


@pytest.mark.parametrize(
    ("letter", "expected"),
    [
        pytest.param(
            _letter(GOOD_FAITH, "Yours sincerely,\n\nJordan Example\n"),
            "Jordan Example",
            id="yours-sincerely",
        ),
        pytest.param(
            _letter(GOOD_FAITH, "Very truly yours,\n\n/Jordan Example/\n"), "Jordan Example", id="slash-name"
        ),
        pytest.param(_letter(GOOD_FAITH, "Thanks,\n\nJordan Example\n"), "Jordan Example", id="thanks"),
        pytest.param(
            _letter(GOOD_FAITH, "Truthfully,\n\nJordan Example\n"), "Jordan Example", id="truthfully"
        ),
        pytest.param(
            _letter(GOOD_FAITH, "My electronic signature:\n\nJordan Example\nDemo Publishing\n"),
            "Jordan Example",
            id="label-on-its-own-line",
        ),
        pytest.param(
            _letter(GOOD_FAITH, "#9) Include your physical or electronic signature.\n\nJordan Example\n"),
            "Jordan Example",
            id="numbered-signature-item",
        ),
        pytest.param(
            _letter(GOOD_FAITH, "--\n\nJordan Example\n"), "Jordan Example", id="signature-delimiter"
        ),
    ],
)
def test_signature_variants(letter: str, expected: str) -> None:
    assert signature_of(letter) == expected


def test_closing_followed_by_a_form_question_is_no_signature() -> None:
    letter = (
        "The information on this notice is accurate.\n\nSincerely,\n\n"
        "**Please provide a detailed description of the original copyrighted work that has allegedly been "
        "infringed. If possible, include a URL to where it is posted online.**\n\nhttps://demo.test/\n"
    )
    assert signature_of(letter) is None


def test_dmca_letter_with_real_wording_is_complete() -> None:
    letter = _letter(
        "I have good faith belief that the disputed use of the material at issue is not authorised by the "
        "copyright owner, the agent of the copyright owner or the law; and I hereby state that the "
        "information "
        "in the notification is accurate, and under the penalty of perjury, that I am authorized to act on "
        "behalf of the owner of an exclusive right that is allegedly infringed.",
        "Yours faithfully,\nJordan Example\n",
    )
    draft = classify(samples.message(letter))[1].draft
    assert draft is not None
    assert (draft.good_faith, draft.accurate, draft.authorized, draft.signature) == (
        True,
        True,
        True,
        "Jordan Example",
    )
    assert ACCURATE_AUTHORIZED  # the canonical wording stays recognised
    said = statements(ACCURATE_AUTHORIZED)
    assert (said.accurate, said.authorized) == (True, True)


@pytest.mark.parametrize(
    "text",
    [
        "good faith " * 200_000,
        "authorized " * 200_000,
        ("not " * 50 + "authorized to act ") * 20_000,
        "? yes " * 200_000,
        "**Are you authorized?**\n" * 100_000,
        "a" * 2_000_000,
        "。" * 1_000_000,
        "/" * 1_000_000,
        "Sincerely,\n" * 200_000,
    ],
)
def test_statements_and_signature_read_long_adversarial_letters_in_linear_time(text: str) -> None:
    with hard_timeout(10):
        statements(text)
        signature_of(text)


def test_two_closings_the_name_is_below_the_second() -> None:
    assert (
        signature_of(_letter(GOOD_FAITH, "Thank you!\n\nKind regards,\nJordan Example\n")) == "Jordan Example"
    )


def test_every_statement_wording_passes_the_quick_filter() -> None:
    keys = (
        wording._GOOD_FAITH
        + wording._ACCURATE
        + wording._OWNER
        + wording._JA_GOOD_FAITH
        + wording._JA_ACCURATE
        + wording._JA_FACTUAL
        + wording._JA_AUTHORIZED
        + ("authori",)
    )
    assert [key for key in keys if not wording._STATEMENT_WORDS.search(key)] == []


@pytest.mark.parametrize(
    ("letter", "expected"),
    [
        pytest.param(
            "**Please provide a detailed description of the original copyrighted work that has allegedly "
            "been infringed. If possible, include a URL to where it is posted online.**\n\n"
            "Demo Atlas, a field guide published by Demo Press\n\n"
            "**What files should be taken down? Please provide URLs for each file.**\n\n" + URL + "\n\n"
            "**Is the work licensed under an open source license?**\n\nNo\n",
            ("Demo Atlas, a field guide published by Demo Press",),
            id="web-form-description",
        ),
        pytest.param(
            "**What work was allegedly infringed? If possible, please provide a URL:**  \n"
            "https://press.demo.test/atlas\n\n**What files should be taken down?**\n" + URL + "\n",
            ("https://press.demo.test/atlas",),
            id="web-form-2017",
        ),
        pytest.param(
            "1. Identification of copyrighted work(s):  \nDEMO ATLAS - by EXAMPLE  \n"
            "DEMO GUIDE - by SAMPLE  \n\n"
            "2. Copyright infringing material or activity found at the following location(s):\n\n"
            + URL
            + "\n",
            ("DEMO ATLAS - by EXAMPLE", "DEMO GUIDE - by SAMPLE"),
            id="agency-numbered-list",
        ),
        pytest.param(
            "1. Copyright work(s):\n\nDemo Atlas 9780000000001\n\n"
            "Copyright owner(s) or exclusive licensee:\n\n"
            "Demo Press\n\n2. Copyright infringing material found at the following location(s):\n"
            + URL
            + "\n",
            ("Demo Atlas 9780000000001",),
            id="value-after-a-blank-line",
        ),
        pytest.param(
            "Description of The Copyrighted Work : Demo League Matches\n\n"
            "Original Location of the Copyrighted Work : http://league.demo.test (members only)\n",
            ("Demo League Matches",),
            id="description-label/location-is-no-work",
        ),
        pytest.param(
            "*Identification of Copyrighted Work*\n\n"
            "The copyrighted work at issue is the text of the Demo Atlas.\n\n"
            "*Identification of Infringed Material*\n\n" + URL + "\n",
            ("The copyrighted work at issue is the text of the Demo Atlas.",),
            id="emphasised-heading",
        ),
        pytest.param(
            "4 侵害情報特定のための情報\nURL:" + URL + "\n5 著作物等の説明\n"
            "侵害された著作物は、私が創作した著作物「デモ図鑑」です。\n",
            ("侵害された著作物は、私が創作した著作物「デモ図鑑」です。",),
            id="japanese-guideline-heading",
        ),
        pytest.param(
            "**Is the work licensed under an open source license?**\n\nNo\n\n"
            "Copyright owner(s) or exclusive licensee:\nDemo Press\n\nOur network: Demo Net\n",
            (),
            id="no-work-named",
        ),
    ],
)
def test_works_named_as_real_notices_name_them(letter: str, expected: tuple[str, ...]) -> None:
    assert wording.works_of(letter) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Work:\n" * 200_000,
        "Identification of copyrighted work:\nDemo\n" * 100_000,
        "**Original work?**\n" * 100_000,
    ],
)
def test_works_read_in_linear_time(text: str) -> None:
    with hard_timeout(10):
        assert len(wording.works_of(text)) <= 100
