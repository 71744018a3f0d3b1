"""Signed link tokens: ids only, one salt per purpose, expiry, key rotation, tampering."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.email.links import MAX_AGE, Links, unsubscribe_mailto
from bot.config import load_settings
from bot.errors import ExpiredToken, TokenError

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
OLD_KEY, NEW_KEY = "old-key-" + "a" * 40, "new-key-" + "b" * 40


@pytest.fixture
def links() -> Links:
    return Links([NEW_KEY], base_url="https://paperbot.example.org/")


def payload_of(token: str) -> object:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def test_feedback_urls_share_one_token_and_carry_the_vote_in_the_query(links: Links) -> None:
    urls = links.feedback_urls(item_id=42, now=NOW)
    assert list(urls) == ["up", "down", "save"]
    tokens = set()
    for vote, url in urls.items():
        assert url.startswith("https://paperbot.example.org/email/feedback/")
        token, query = url.rsplit("/", 1)[1].split("?")
        assert query == f"vote={vote}"
        tokens.add(token)
    (token,) = tokens
    assert links.read_feedback(token, now=NOW + timedelta(days=3)).item_id == 42
    assert payload_of(token) == [42]  # ids only: no address, no name


def test_unsubscribe_token_has_a_fresh_nonce_and_no_address(links: Links) -> None:
    first = links.unsubscribe_token(subscription_id=7, now=NOW)
    second = links.unsubscribe_token(subscription_id=7, now=NOW)
    a, b = links.read_unsubscribe(first, now=NOW), links.read_unsubscribe(second, now=NOW)
    assert a.subscription_id == b.subscription_id == 7
    assert a.key != b.key and a.key.startswith("unsubscribe:7:")
    assert "@" not in json.dumps(payload_of(first))


def test_a_token_only_works_for_its_purpose(links: Links) -> None:
    feedback = links.feedback_token(item_id=7, now=NOW)
    manage = links.manage_token(subscription_id=7, now=NOW)
    with pytest.raises(TokenError):
        links.read_unsubscribe(feedback, now=NOW)
    with pytest.raises(TokenError):
        links.read_unsubscribe(manage, now=NOW)  # same payload shape would not be enough either
    assert links.read_manage(manage, now=NOW).subscription_id == 7


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: base64.urlsafe_b64encode(b'[43,"up"]').decode().rstrip("=") + t[t.index(".") :],
        lambda t: t[: len(t) // 2],  # cut off in a mail client
        lambda t: "not-a-token",
    ],
    ids=["signature", "payload", "truncated", "garbage"],
)
def test_tampered_tokens_are_refused_with_400(links: Links, mangle: object) -> None:
    token = links.feedback_token(item_id=42, now=NOW)
    with pytest.raises(TokenError) as caught:
        links.read_feedback(mangle(token), now=NOW)  # type: ignore[operator]
    assert caught.value.status == 400 and "email" in caught.value.message


def test_tokens_expire_per_purpose(links: Links) -> None:
    feedback = links.feedback_token(item_id=1, now=NOW)
    unsubscribe = links.unsubscribe_token(subscription_id=1, now=NOW)
    later = NOW + MAX_AGE["feedback"] + timedelta(seconds=1)
    with pytest.raises(ExpiredToken) as caught:
        links.read_feedback(feedback, now=later)
    assert caught.value.status == 410
    assert links.read_unsubscribe(unsubscribe, now=later).subscription_id == 1  # lives longer
    with pytest.raises(ExpiredToken):
        links.read_unsubscribe(unsubscribe, now=NOW + MAX_AGE["unsubscribe"] + timedelta(days=1))


def test_key_rotation_newest_signs_all_verify() -> None:
    before = Links([OLD_KEY], base_url="https://x.example")
    rotated = Links([OLD_KEY, NEW_KEY], base_url="https://x.example")
    only_new = Links([NEW_KEY], base_url="https://x.example")
    mailed_last_week = before.feedback_token(item_id=5, now=NOW)
    assert rotated.read_feedback(mailed_last_week, now=NOW).item_id == 5
    minted_now = rotated.feedback_token(item_id=6, now=NOW)
    assert only_new.read_feedback(minted_now, now=NOW).item_id == 6  # signed with the newest key
    with pytest.raises(TokenError):
        only_new.read_feedback(mailed_last_week, now=NOW)  # the old key is retired


def test_links_from_settings_use_the_generated_key_and_base_url(tmp_path: object) -> None:
    settings = load_settings(data_dir=tmp_path, base_url="https://p.example.org/", old_secret_keys=OLD_KEY)
    links = Links.from_settings(settings)
    assert links.keys == [OLD_KEY, settings.signing_key()]
    assert links.manage_url(subscription_id=3, now=NOW).startswith("https://p.example.org/email/manage/")


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(TokenError, match="PAPERBOT_SECRET_KEY"):
        Links([""], base_url="https://x.example")


def test_mailto_carries_the_token_in_the_subject() -> None:
    assert unsubscribe_mailto("digest@example.org", "abc.def") == (
        "mailto:digest@example.org?subject=unsubscribe%20abc.def"
    )
