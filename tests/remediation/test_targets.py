"""Which forge and repository a remote URL names, and which URLs are refused."""

from __future__ import annotations

import pytest

from leakguard.errors import UsageError
from leakguard.remediation.forges import rate_limit_wait, target_for
from leakguard.remediation.gitops import has_credential


@pytest.mark.parametrize(
    ("url", "forge", "api", "slug"),
    [
        ("git@github.com:team/app.git", "github", "https://api.github.com", "team/app"),
        ("https://github.com/team/app", "github", "https://api.github.com", "team/app"),
        ("ssh://git@git.example.com/team/app.git", None, None, None),
        ("https://gitlab.com/group/sub/app.git", "gitlab", "https://gitlab.com", "group/sub/app"),
        ("https://codeberg.org/team/app.git", "gitea", "https://codeberg.org/api/v1", "team/app"),
    ],
)
def test_the_forge_and_repository_come_from_the_remote_url(url, forge, api, slug):
    if forge is None:
        with pytest.raises(UsageError, match="cannot tell which forge"):
            target_for(url, None, None)
        target = target_for(url, "github", None)  # GitHub Enterprise: /api/v3 on its host
        assert (target.api_url, target.slug) == ("https://git.example.com/api/v3", "team/app")
        return
    target = target_for(url, None, None)
    assert (target.forge, target.api_url, target.slug) == (forge, api, slug)


def test_credentials_in_urls_are_refused():
    assert has_credential("https://user:" + "x" * 20 + "@github.com/team/app.git")
    assert has_credential("https://" + "t" * 40 + "@github.com/team/app.git")
    assert not has_credential("git@github.com:team/app.git")
    assert not has_credential("https://github.com/team/app.git")
    with pytest.raises(UsageError, match="holds a credential"):
        target_for("https://github.com/a/b", "github", "https://u:p@ghe.example/api/v3")


def test_rate_limit_waits_follow_the_headers():
    assert rate_limit_wait(429, {"Retry-After": "7"}) == 7.0
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "130"},
                           now=100.0) == 30.0  # fmt: skip
    assert rate_limit_wait(403, {}) is None  # a plain 403 is a refusal, not a rate limit
    assert rate_limit_wait(404, {"Retry-After": "1"}) is None


def test_an_image_config_that_is_not_json_is_unreadable_not_an_internal_error() -> None:
    from leakguard.errors import TargetUnreadable
    from leakguard.remediation.sources import config_labels

    label = "org.opencontainers.image.source"
    good = b'{"config": {"Labels": {"' + label.encode() + b'": "https://example.test/r"}}}'
    assert config_labels(good) == {label: "https://example.test/r"}
    assert config_labels(b'{"config": null}') == {} and config_labels(b"[1]") == {}
    for bad in (b"<html>", b"[" * 200_000 + b"]" * 200_000, b"\xff\xfe{"):
        with pytest.raises(TargetUnreadable):
            config_labels(bad)
