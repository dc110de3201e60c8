"""Provider rules, continued: work-management, identity, observability, AI and
payment services, webhooks, orchestrators, and the `Authorization: Basic` header.

Same conventions as `providers` and `catalog`. Each pattern is written from the
format the provider documents (prefix, length, alphabet). Identifiers a provider
documents as public (OAuth client ids, publishable or browser keys, project keys
meant for web pages) are reported as low notes only: alone they open nothing,
but next to their secret they say whose it is.
"""

from __future__ import annotations

import base64
import binascii

from leakguard.models import Confidence, RuleId, Severity
from leakguard.rules import Context, Rule
from leakguard.rules.catalog import _UUID, _check_url_password, _named, _prefixed
from leakguard.rules.checks import in_context, public_id, sure_near
from leakguard.rules.providers import _L, _R, _R_B64, _R_DASH, _rule
from leakguard.rules.values import not_a_secret

CRITICAL, HIGH, MEDIUM, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

# -- the Authorization: Basic header --------------------------------------------------


def _basic_credentials(encoded: bytes) -> bytes | None:
    """`user:password` from the base64 of a Basic header, or None when it holds no
    such pair (a word that happens to follow "Basic", binary, no password)."""
    try:
        raw = base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep or len(password) < 3 or not raw.isascii() or not raw.decode().isprintable():
        return None
    return raw


def _check_basic(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    password = secret.partition(b":")[2]
    if not_a_secret(password):
        return None
    lower = line.lower()
    return Confidence.HIGH if b"authorization" in lower or b"auth" in lower else Confidence.MEDIUM


BASIC_AUTH = Rule(
    id=RuleId("basic-auth-header"),
    description="HTTP Basic credentials (the user:password in an Authorization: Basic header)",
    severity=HIGH,
    pattern=(
        r"(?i)(?<![A-Za-z0-9_])basic[ \t]+"
        r"(?P<secret>(?-i:[A-Za-z0-9+/]{8,684}={0,2}))(?![A-Za-z0-9+/=])"
    ),
    prefilter=r"(?i)basic[ \t]+[A-Za-z0-9+/]{8}",
    remediation=(
        "Change that account's password at the server the header is sent to, and build the "
        "header at run time from a secret store."
    ),
    check=_check_basic,
    decode=_basic_credentials,
    tags=("provider",),
)


# -- work management and collaboration ---------------------------------------------------

WORK = [
    _rule(
        "asana-pat",
        "Asana personal access token",
        CRITICAL,
        rf"{_L}(?P<secret>[12]/[0-9]{{10,20}}/[0-9]{{10,20}}:[a-f0-9]{{32}}){_R}",
        prefilter=r"[12]/[0-9]{10,20}/[0-9]{10,20}:[a-f0-9]{32}",
        remediation="Deauthorize it in Asana → Settings → Apps → Developer apps → Personal "
        "access tokens, then create a new one.",
    ),
    _named(
        "asana-legacy-token",
        "Asana personal access token (0/ form)",
        CRITICAL,
        ("asana",),
        r"0/[a-f0-9]{32}",
        "Deauthorize it in Asana → Settings → Apps → Developer apps, then create a new one.",
        right=_R,
    ),
    _named(
        "asana-client-secret",
        "Asana OAuth app client secret",
        HIGH,
        ("asana_client_secret", "asana-client-secret", "asana_secret", "asanaclientsecret"),
        r"[A-Za-z0-9]{32}",
        "Reset the client secret in the Asana developer console → the app → OAuth.",
        right=_R,
    ),
    _named(
        "asana-client-id",
        "Asana OAuth app client id (public; names the app whose secret is nearby)",
        LOW,
        ("asana_client_id", "asana-client-id", "asanaclientid"),
        r"[0-9]{16}",
        "Nothing to revoke: a client id is public. Check that its client secret is not "
        "written next to it.",
        right=_R,
        check=public_id,
    ),
    _prefixed(
        "bannerbear-api-key",
        "Bannerbear project or master API key",
        HIGH,
        "bb_",
        r"(?:pr|ma)_[a-f0-9]{30}",
        "Reset the key in Bannerbear → the project → Settings → API key (or Account → "
        "Master API key).",
        keywords=("bb_pr_", "bb_ma_"),
    ),
    _named(
        "brandfetch-api-key",
        "Brandfetch API key",
        HIGH,
        ("brandfetch",),
        r"[A-Za-z0-9+/=_-]{44}",
        "Regenerate it in the Brandfetch developer portal → API keys.",
        right=_R_B64,
    ),
    _named(
        "aha-api-key",
        "Aha! API key",
        HIGH,
        ("aha_api", "aha-api", "aha_token", "aha_key", "aha.io"),
        r"[a-f0-9]{64}",
        "Revoke it in Aha! → Settings → Personal → Developer → API keys.",
        right=_R,
    ),
    _named(
        "railway-token",
        "Railway account, team or project token",
        CRITICAL,
        ("railway",),
        _UUID,
        "Delete it in Railway → Account settings → Tokens (or the project's Settings → "
        "Tokens), then create a new one.",
    ),
    _named(
        "smartsheet-token",
        "Smartsheet API access token",
        HIGH,
        ("smartsheet",),
        r"[A-Za-z0-9]{37}|[A-Za-z0-9]{26}",
        "Revoke it in Smartsheet → Account → Personal settings → API Access.",
        right=_R,
    ),
    _rule(
        "tableau-pat-secret",
        "Tableau personal access token secret",
        HIGH,
        rf"{_L}(?P<secret>[A-Za-z0-9+/]{{22}}==:[A-Za-z0-9]{{32}}){_R}",
        prefilter=r"[A-Za-z0-9+/]{22}==:[A-Za-z0-9]{32}",
        remediation="Revoke it in Tableau → My Account Settings → Personal Access Tokens.",
    ),
    _prefixed(
        "clickup-pat",
        "ClickUp personal API token",
        HIGH,
        "pk_",
        r"[0-9]{6,10}_[A-Z0-9]{32}",
        "Regenerate it in ClickUp → Settings → Apps → API Token.",
        prefilter=True,
    ),
    _named(
        "trello-token",
        "Trello API token",
        HIGH,
        ("trello",),
        r"ATTA[a-fA-F0-9]{64,72}|[a-f0-9]{64}",
        "Revoke it in Trello → Settings → Applications, then authorize again.",
        right=_R,
    ),
    _named(
        "todoist-token",
        "Todoist API token",
        HIGH,
        ("todoist",),
        r"[a-f0-9]{40}",
        "Reset it in Todoist → Settings → Integrations → Developer → API token.",
        right=_R,
    ),
    _named(
        "pipedrive-token",
        "Pipedrive API token",
        HIGH,
        ("pipedrive",),
        r"[a-f0-9]{40}",
        "Regenerate it in Pipedrive → Personal preferences → API.",
        right=_R,
    ),
]


def _atlassian_dc_pat(secret: bytes) -> bool:
    # A Data Center token is the base64 of "<numeric id>:<random bytes>".
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return False
    head, sep, _ = raw.partition(b":")
    return bool(sep) and head.isdigit()


def _check_atlassian_dc(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    return Confidence.HIGH if _atlassian_dc_pat(secret) else None


WORK += [
    _named(
        "atlassian-datacenter-pat",
        "Jira, Confluence or Bitbucket Data Center personal access token",
        CRITICAL,
        ("jira", "confluence", "bitbucket", "atlassian"),
        r"[A-Za-z0-9+/]{44}",
        "Revoke it in the product → Profile → Personal access tokens, then create a new one.",
        right=_R_B64,
        check=_check_atlassian_dc,
    ),
    _named(
        "discord-client-secret",
        "Discord OAuth2 client secret",
        CRITICAL,
        (
            "discord_client_secret",
            "discord-client-secret",
            "discord_secret",
            "discordclientsecret",
            "discord_oauth_secret",
        ),
        r"[A-Za-z0-9_-]{32}",
        "Reset the secret in the Discord Developer Portal → the application → OAuth2.",
    ),  # fmt: skip
    _named(
        "discord-client-id",
        "Discord application (client) id (public)",
        LOW,
        (
            "discord_client_id",
            "discord-client-id",
            "discord_app_id",
            "discord_application_id",
            "discordclientid",
        ),
        r"[0-9]{17,20}",
        "Nothing to revoke: an application id is public. Check that the client secret and bot "
        "token are not written next to it.",
        right=_R,
        check=public_id,
    ),  # fmt: skip
    _named(
        "discord-bot-token-named",
        "Discord bot token (assigned to a Discord name)",
        HIGH,
        ("discord",),
        r"[A-Za-z0-9_-]{24,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,38}",
        "Reset it in the Discord Developer Portal → the application → Bot → Reset Token.",
    ),
    _rule(
        "maxmind-license-key",
        "MaxMind license key",
        HIGH,
        rf"{_L}(?P<secret>[A-Za-z0-9]{{6}}_[A-Za-z0-9_]{{29,60}}_mmk){_R}",
        ("_mmk",),
        remediation=(
            "Deactivate it in the MaxMind account portal → Manage License Keys, then "
            "generate a new one."
        ),
    ),
    _named(
        "maxmind-legacy-license-key",
        "MaxMind license key (16-character form)",
        HIGH,
        ("maxmind", "geoip", "geolite"),
        r"[A-Za-z0-9]{16}",
        "Deactivate it in the MaxMind account portal → Manage License Keys, then generate a "
        "new one.",
        right=_R,
    ),
    _rule(
        "jdbc-oracle-password",
        "Oracle JDBC URL with user/password",
        HIGH,
        r"(?i)jdbc:oracle:(?:thin|oci8?):[\w$#.-]{1,64}/(?P<secret>[^@\s\"'/]{3,128})@",
        ("jdbc:oracle:",),
        remediation=(
            "Change that user's password on the database and pass credentials to the driver "
            "at run time instead of in the URL."
        ),
        check=_check_url_password,
    ),
]

# -- identity, access and secret stores -----------------------------------------------------

IDENTITY = [
    _named(
        "duo-secret-key",
        "Duo Security integration secret key",
        CRITICAL,
        ("duo_skey", "duo-skey", "duo_secret", "duo-secret", "duosecret", "skey"),
        r"[A-Za-z0-9]{40}",
        "Reset the secret key in the Duo Admin Panel → Applications → the application.",
        right=_R,
    ),
    _named(
        "duo-integration-key",
        "Duo Security integration key (an identifier; its secret key is nearby)",
        LOW,
        ("duo_ikey", "duo-ikey", "duo_integration", "ikey"),
        r"DI[A-Z0-9]{18}",
        "Nothing to revoke by itself: check that the secret key is not written next to it.",
        right=_R,
        check=public_id,
    ),
    _named(
        "auth0-client-secret",
        "Auth0 application client secret",
        CRITICAL,
        ("auth0",),
        r"[A-Za-z0-9_-]{64}",
        "Rotate the secret in the Auth0 Dashboard → Applications → the application → "
        "Settings → Rotate.",
    ),
    _named(
        "vault-legacy-batch-token",
        "HashiCorp Vault batch token (pre-1.10 b. form)",
        CRITICAL,
        ("vault_token", "vault-token", "vaulttoken", "x-vault-token"),
        r"b\.[A-Za-z0-9_-]{24,1024}",
        "Revoke the parent token or wait out the TTL, and lower the TTL of the role that "
        "issues them.",
    ),
    _named(
        "vault-unseal-key",
        "HashiCorp Vault unseal or recovery key share",
        CRITICAL,
        ("unseal_key", "unseal-key", "unsealkey", "vault_unseal", "recovery_key"),
        r"[A-Za-z0-9+/]{43}=|[A-Za-z0-9+/]{44}|[a-f0-9]{64}",
        "Rekey Vault (`vault operator rekey`) so that the exposed share no longer opens it.",
        right=_R_B64,
    ),
    _named(
        "hcp-client-secret",
        "HashiCorp Cloud Platform service principal client secret",
        CRITICAL,
        ("hcp_client_secret", "hcp-client-secret", "hcpclientsecret"),
        r"[A-Za-z0-9_-]{64}",
        "Delete the key in HCP → Access control (IAM) → Service principals → the principal → "
        "Keys, then create a new one.",
    ),
    _named(
        "consul-acl-token",
        "HashiCorp Consul ACL token",
        CRITICAL,
        (
            "consul_http_token",
            "consul-http-token",
            "consul_token",
            "x-consul-token",
            "consul_acl_token",
        ),
        _UUID,
        "Delete the token with `consul acl token delete` and create one with the least "
        "policy it needs.",
    ),  # fmt: skip
    _named(
        "nomad-acl-token",
        "HashiCorp Nomad ACL token (secret id)",
        CRITICAL,
        ("nomad_token", "nomad-token", "x-nomad-token"),
        _UUID,
        "Delete the token with `nomad acl token delete`, then create a new one.",
    ),
    _rule(
        "bitwarden-access-token",
        "Bitwarden Secrets Manager machine account access token",
        CRITICAL,
        r"(?<![A-Za-z0-9_.])(?P<secret>0\."
        + _UUID
        + r"\.[A-Za-z0-9]{30}:[A-Za-z0-9+/]{22}==)"
        + _R_B64,
        prefilter=r"0\.[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}\.[A-Za-z0-9]{30}:",  # as the UUID: any case
        remediation=(
            "Revoke it in Bitwarden Secrets Manager → Machine accounts → the account → "
            "Access tokens, then create a new one."
        ),
    ),
    _rule(
        "infisical-service-token",
        "Infisical service token",
        CRITICAL,
        rf"{_L}(?P<secret>st\.[a-f0-9]{{24}}\.[a-f0-9]{{32}}\.[a-f0-9]{{32}}){_R}",
        prefilter=r"st\.[a-f0-9]{24}\.[a-f0-9]{32}\.",  # "st." alone ends every other word
        remediation="Revoke it in Infisical → the project → Access control → Service tokens.",
    ),
    _prefixed(
        "settlemint-token",
        "SettleMint personal, application or service access token",
        HIGH,
        "sm_",
        r"(?:pat|aat|sat)_[A-Za-z0-9]{16}",
        "Delete it in the SettleMint console → Access tokens, then create a new one.",
        keywords=("sm_pat_", "sm_aat_", "sm_sat_"),
    ),
]

# -- source hosting, CI, registries, orchestrators ---------------------------------------

DEVTOOLS = [
    _named(
        "github-legacy-token",
        "GitHub token (legacy 40-hex form)",
        CRITICAL,
        (
            "github_token",
            "github-token",
            "githubtoken",
            "gh_token",
            "gh-token",
            "github_pat",
            "github_access_token",
            "github_api_token",
            "github_auth_token",
            "github_oauth_token",
            "gh_access_token",
            "github_api_key",
        ),
        r"[a-f0-9]{40}",
        "Revoke it at GitHub → Settings → Applications (OAuth) or Developer settings → "
        "Personal access tokens, then create a new, prefixed token.",
        right=_R,
    ),  # fmt: skip
    _rule(
        "github-url-token",
        "GitHub token as the user of a github.com URL",
        CRITICAL,
        r"https?://(?:[A-Za-z0-9_.-]{1,64}:)?(?P<secret>[a-f0-9]{40})@github\.com\b",
        ("@github.com",),
        remediation=(
            "Revoke it at GitHub → Settings → Developer settings → Personal access tokens, "
            "and clone with a credential helper instead of a token in the URL."
        ),
    ),
    _rule(
        "github-app-client-id",
        "GitHub App or OAuth app client id (public)",
        LOW,
        rf"{_L}(?P<secret>Iv1\.[a-f0-9]{{16}}|Iv23[A-Za-z0-9]{{16}}|Ov23[A-Za-z0-9]{{16}}){_R}",
        ("iv1.", "iv23", "ov23"),
        remediation=(
            "Nothing to revoke: a client id is public. Check that the app's client secret "
            "and private key are not written next to it."
        ),
        check=public_id,
    ),
    _named(
        "sonar-token-legacy",
        "SonarQube or SonarCloud token (unprefixed)",
        HIGH,
        (
            "sonar_token",
            "sonar-token",
            "sonar.token",
            "sonar.login",
            "sonarqube_token",
            "sonarcloud_token",
            "sonar_login",
            "sonar_auth_token",
        ),
        r"[a-f0-9]{40}",
        "Revoke it in SonarQube → My Account → Security, then generate a new one.",
        right=_R,
    ),  # fmt: skip
    _rule(
        "sourcegraph-access-token",
        "Sourcegraph access token",
        HIGH,
        rf"{_L}(?P<secret>sgp_(?:(?:[a-f0-9]{{16}}|local)_)?[a-f0-9]{{40}}){_R}",
        ("sgp_",),
        remediation=(
            "Delete it in Sourcegraph → Settings → Access tokens, then generate a new one."
        ),
    ),
    _named(
        "sourcegraph-legacy-token",
        "Sourcegraph access token (unprefixed)",
        HIGH,
        ("src_access_token", "sourcegraph"),
        r"[a-f0-9]{40}",
        "Delete it in Sourcegraph → Settings → Access tokens, then generate a new one.",
        right=_R,
    ),
    _rule(
        "harness-token",
        "Harness personal or service account token",
        CRITICAL,
        r"(?<![A-Za-z0-9_.])(?P<secret>(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[a-f0-9]{24}"
        r"\.[A-Za-z0-9]{20})" + _R,
        prefilter=r"(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[a-f0-9]{24}\.",
        remediation=(
            "Delete the token in Harness → My Profile → My API Keys (or Access control → "
            "Service accounts → the account's API keys), then create a new one."
        ),
    ),
    _rule(
        "gitlab-session-cookie",
        "GitLab session cookie",
        MEDIUM,
        r"_gitlab_session=(?P<secret>[0-9a-z]{32})(?![0-9a-z])",
        ("_gitlab_session=",),
        remediation="Sign out of GitLab in that browser session (the cookie dies with it).",
    ),
    _rule(
        "docker-swarm-join-token",
        "Docker Swarm join token",
        CRITICAL,
        rf"{_L}(?P<secret>SWMTKN-1-[a-z0-9]{{50}}-[a-z0-9]{{25}}){_R}",
        ("swmtkn-1-",),
        remediation="Rotate it with `docker swarm join-token --rotate worker` (or manager).",
    ),
    _rule(
        "docker-swarm-unlock-key",
        "Docker Swarm unlock key",
        CRITICAL,
        rf"{_L}(?P<secret>SWMKEY-1-[A-Za-z0-9+/]{{43}}){_R_B64}",
        ("swmkey-1-",),
        remediation="Rotate it with `docker swarm unlock-key --rotate`.",
    ),
    _rule(
        "k3s-token",
        "K3s cluster join token",
        CRITICAL,
        rf"{_L}(?P<secret>K10[a-f0-9]{{64}}::[a-z]+:[A-Za-z0-9]{{16,64}}){_R}",
        ("k10",),
        remediation="Rotate the server token (`k3s token rotate`) and rejoin the nodes.",
    ),
    _named(
        "kubernetes-bootstrap-token",
        "Kubernetes (kubeadm) bootstrap token",
        HIGH,
        ("--token", "bootstrap_token", "bootstrap-token", "bootstraptoken"),
        r"[a-z0-9]{6}\.[a-z0-9]{16}",
        "Delete it with `kubeadm token delete`, then create a short-lived one.",
        right=_R,
    ),
    _rule(
        "openshift-user-token",
        "OpenShift user OAuth access token",
        HIGH,
        r"(?<![A-Za-z0-9_~-])(?P<secret>sha256~[A-Za-z0-9_-]{43})" + _R_DASH,
        ("sha256~",),
        remediation="Delete it with `oc delete oauthaccesstoken` (or log out), then log in again.",
    ),
    _prefixed(
        "packagist-token",
        "Private Packagist authentication token",
        CRITICAL,
        "packagist_",
        r"[a-z]{3}_[a-f0-9]{68}",
        "Delete it in Private Packagist → the organization (or your profile) → API tokens.",
    ),
    _prefixed(
        "crates-io-token",
        "crates.io API token",
        CRITICAL,
        "cio",
        r"[A-Za-z0-9]{32}",
        "Revoke it at crates.io → Account Settings → API Tokens, then create a scoped one.",
        check=in_context((b"crates", b"cargo", b"registry"), assigned=Confidence.MEDIUM),
        prefilter=True,  # "cio" alone is in "social", "precious", ...
    ),
    _named(
        "cloudsmith-api-key",
        "Cloudsmith API key",
        HIGH,
        ("cloudsmith",),
        r"[a-f0-9]{40}",
        "Refresh it in Cloudsmith → User settings → API Settings.",
        right=_R,
    ),
    _named(
        "travis-ci-token",
        "Travis CI API token",
        HIGH,
        ("travis",),
        r"[A-Za-z0-9_-]{22}",
        "Regenerate it at app.travis-ci.com → Settings → API authentication.",
    ),
    _named(
        "drone-token",
        "Drone CI personal token",
        HIGH,
        ("drone_token", "drone-token"),
        r"[A-Za-z0-9]{32}",
        "Rotate it in Drone → User settings (or `drone user update --token`).",
        right=_R,
    ),
    _named(
        "codacy-token",
        "Codacy API or project token",
        MEDIUM,
        ("codacy",),
        r"[A-Za-z0-9]{20}|[a-f0-9]{32}",
        "Revoke it in Codacy → Your account → Access management (or the repository's "
        "Integrations → Project API).",
        right=_R,
    ),
    _named(
        "coveralls-repo-token",
        "Coveralls repository token",
        MEDIUM,
        ("coveralls",),
        r"[A-Za-z0-9]{32,37}",
        "Regenerate it on the repository's Settings page at coveralls.io.",
        right=_R,
    ),
    _prefixed(
        "dbt-cloud-token",
        "dbt Cloud service or personal access token",
        HIGH,
        "dbtc_",
        r"[A-Za-z0-9_-]{40,64}",
        "Deactivate it in dbt Cloud → Account settings → Service tokens (or API tokens).",
        right=_R_DASH,
    ),
    _named(
        "ngrok-authtoken",
        "ngrok authtoken or API key",
        HIGH,
        ("ngrok",),
        r"[0-9A-Za-z]{24,28}_[0-9A-Za-z]{19,22}",
        "Reset it in the ngrok dashboard → Your Authtoken (or API → the key).",
        right=_R,
    ),
    _prefixed(
        "databricks-oauth-secret",
        "Databricks service principal OAuth secret",
        CRITICAL,
        "dose",
        r"[a-f0-9]{32}",
        "Delete the secret in the Databricks account console → Service principals → the "
        "principal → Secrets, then create a new one.",
        prefilter=True,  # "dose" alone is an English word
    ),
]

# -- observability and alerting ----------------------------------------------------------

OBSERVABILITY = [
    _prefixed(
        "newrelic-query-key",
        "New Relic Insights query key",
        MEDIUM,
        "NRIQ-",
        r"[A-Za-z0-9_-]{32}",
        "Delete it in New Relic → API keys (Insights query keys).",
        right=_R_DASH,
    ),
    _prefixed(
        "newrelic-rest-api-key",
        "New Relic REST API key",
        HIGH,
        "NRRA-",
        r"[a-f0-9]{42}",
        "Delete it in New Relic → API keys, and use user keys instead.",
    ),
    _named(
        "newrelic-legacy-license-key",
        "New Relic license key (40-hex form)",
        HIGH,
        (
            "newrelic_license",
            "new_relic_license",
            "newrelic-license",
            "new-relic-license",
            "nr_license_key",
            "newrelic_key",
            "new_relic_key",
        ),
        r"[a-f0-9]{40}",
        "Delete it in New Relic → API keys, then create a new ingest license key.",
        right=_R,
    ),  # fmt: skip
    _named(
        "honeycomb-api-key",
        "Honeycomb API key",
        HIGH,
        ("honeycomb",),
        r"hc[a-z]{2}k_[A-Za-z0-9]{58}|[A-Za-z0-9]{22}|[a-f0-9]{32}",
        "Delete it in Honeycomb → Environment settings → API keys, then create a new one.",
        right=_R,
    ),
    _named(
        "rollbar-token",
        "Rollbar access token",
        HIGH,
        ("rollbar",),
        r"[a-f0-9]{32}",
        "Disable it in Rollbar → the project → Settings → Project access tokens.",
        right=_R,
    ),
    _named(
        "bugsnag-api-key",
        "Bugsnag API key or auth token",
        MEDIUM,
        ("bugsnag",),
        r"[a-f0-9]{32}",
        "Regenerate it in Bugsnag → the project → Settings (or your personal auth tokens).",
        right=_R,
    ),
    _named(
        "pagerduty-api-key",
        "PagerDuty REST API key",
        HIGH,
        ("pagerduty", "pager_duty"),
        r"u\+[A-Za-z0-9_+-]{18}|[A-Za-z0-9_+-]{20}",
        "Delete it in PagerDuty → Integrations → API Access Keys (or your user's API keys).",
    ),
    _named(
        "opsgenie-api-key",
        "Opsgenie API key",
        HIGH,
        ("opsgenie",),
        _UUID,
        "Delete it in Opsgenie → Settings → API key management (or the integration).",
    ),
    _named(
        "pganalyze-api-key",
        "pganalyze API key",
        HIGH,
        ("pganalyze", "pga_api_key"),
        r"[A-Za-z0-9]{20,64}",
        "Revoke it in pganalyze → the organization → Settings → API keys.",
        right=_R,
    ),
    _prefixed(
        "spectralops-token",
        "SpectralOps (Check Point) personal or team key",
        HIGH,
        "sp",
        r"[uk]-[a-f0-9]{32}",
        "Revoke it in the Spectral dashboard → Settings → Keys.",
        keywords=("spu-", "spk-"),
    ),
]

# -- AI and data services -----------------------------------------------------------------

AI = [
    _prefixed(
        "openrouter-api-key",
        "OpenRouter API key",
        HIGH,
        "sk-or-v1-",
        r"[a-f0-9]{64}",
        "Delete it at openrouter.ai → Keys, then create a new one.",
    ),
    _prefixed(
        "langfuse-secret-key",
        "Langfuse secret key",
        HIGH,
        "sk-lf-",
        _UUID,
        "Delete the API key pair in Langfuse → the project → Settings → API keys.",
        right=_R_DASH,
    ),
    _prefixed(
        "langfuse-public-key",
        "Langfuse public key (public; pairs with a secret key)",
        LOW,
        "pk-lf-",
        _UUID,
        "Nothing to revoke by itself: check that the secret key is not written next to it.",
        right=_R_DASH,
        check=public_id,
    ),
    _named(
        "braintrust-api-key",
        "Braintrust API key",
        HIGH,
        ("braintrust",),
        r"sk-[A-Za-z0-9]{48}",
        "Delete it in Braintrust → Settings → API keys, then create a new one.",
        right=_R,
    ),
    _named(
        "photoroom-api-key",
        "Photoroom API key",
        HIGH,
        ("photoroom",),
        r"(?:sandbox_)?[A-Za-z0-9]{40}",
        "Revoke it in the Photoroom dashboard → API keys, then create a new one.",
        right=_R,
    ),
    _named(
        "alchemy-api-key",
        "Alchemy API key",
        HIGH,
        ("alchemy",),
        r"[A-Za-z0-9_-]{32}",
        "Delete the app's key in the Alchemy dashboard → Apps, then create a new one.",
    ),
    _rule(
        "alchemy-url-key",
        "Alchemy API key in an RPC URL",
        HIGH,
        r"https://[a-z0-9-]+\.g\.alchemy\.com/v2/(?P<secret>[A-Za-z0-9_-]{32})" + _R_DASH,
        ("alchemy.com/v2/",),
        remediation="Delete the app's key in the Alchemy dashboard → Apps, then create a new one.",
    ),
    _named(
        "deepseek-api-key",
        "DeepSeek API key",
        HIGH,
        ("deepseek",),
        r"sk-[a-f0-9]{32}",
        "Delete it at platform.deepseek.com → API keys, then create a new one.",
        right=_R,
    ),
    _named(
        "together-api-key",
        "Together AI API key",
        HIGH,
        ("together_api", "together-api", "togetherai", "together_ai"),
        r"(?:tgp_v1_[A-Za-z0-9_-]{43}|[a-f0-9]{64})",
        "Revoke it in Together AI → Settings → API keys.",
        right=_R_DASH,
    ),
    _named(
        "elevenlabs-api-key",
        "ElevenLabs API key",
        HIGH,
        ("elevenlabs", "eleven_labs", "xi-api-key", "xi_api_key"),
        r"(?:sk_[a-f0-9]{48}|[a-f0-9]{32})",
        "Delete it in ElevenLabs → Profile → API keys, then create a new one.",
        right=_R,
    ),
    _named(
        "assemblyai-api-key",
        "AssemblyAI API key",
        HIGH,
        ("assemblyai", "assembly_ai"),
        r"[a-f0-9]{32}",
        "Reset it in the AssemblyAI dashboard → API keys.",
        right=_R,
    ),
    _named(
        "deepgram-api-key",
        "Deepgram API key",
        HIGH,
        ("deepgram",),
        r"[a-f0-9]{40}",
        "Delete it in the Deepgram console → the project → API keys.",
        right=_R,
    ),
    _named(
        "azure-openai-key",
        "Azure OpenAI (Cognitive Services) key",
        HIGH,
        (
            "azure_openai",
            "azure-openai",
            "azureopenai",
            "aoai_",
            "cognitive_services",
            "ocp-apim-subscription-key",
        ),
        r"[a-f0-9]{32}|[A-Za-z0-9]{84}",
        "Regenerate the key in the Azure portal → the resource → Keys and Endpoint, after "
        "moving clients to the other key.",
        right=_R,
    ),  # fmt: skip
    _prefixed(
        "posthog-personal-api-key",
        "PostHog personal API key",
        HIGH,
        "phx_",
        r"[A-Za-z0-9]{43}",
        "Delete it in PostHog → Settings → Personal API keys.",
    ),
    _prefixed(
        "posthog-project-key",
        "PostHog project API key (public; for web pages)",
        LOW,
        "phc_",
        r"[A-Za-z0-9]{43}",
        "Nothing to revoke: project keys are public. Keep personal API keys out of the same file.",
        check=public_id,
    ),
    _prefixed(
        "neon-api-key",
        "Neon API key",
        CRITICAL,
        "napi_",
        r"[a-z0-9]{64}",
        "Revoke it in the Neon console → Account settings → API keys.",
    ),
    _named(
        "confluent-api-secret",
        "Confluent Cloud API secret",
        CRITICAL,
        ("confluent", "sasl_password", "cc_api_secret"),
        r"[A-Za-z0-9+/]{64}",
        "Delete the API key in Confluent Cloud → API keys, then create a new one.",
        right=_R_B64,
        check=sure_near((b"confluent", b"kafka", b"sasl")),
    ),
    _named(
        "mongodb-atlas-private-key",
        "MongoDB Atlas API private key",
        CRITICAL,
        (
            "atlas_private_key",
            "atlas-private-key",
            "mongodb_atlas_private",
            "mongodb-atlas-private",
            "mongodbatlas_private",
        ),
        _UUID,
        "Delete the API key in Atlas → Organization (or Project) → Access manager → API "
        "keys, then create a new one.",
    ),  # fmt: skip
    _prefixed(
        "adafruit-io-key",
        "Adafruit IO key",
        MEDIUM,
        "aio_",
        r"[A-Za-z0-9]{28}",
        "Regenerate it at io.adafruit.com → My Key → Regenerate key.",
    ),
    _named(
        "mapbox-legacy-secret",
        "Mapbox secret token (named)",
        HIGH,
        ("mapbox",),
        r"sk\.[A-Za-z0-9_-]{60,120}\.[A-Za-z0-9_-]{22}",
        "Delete it at account.mapbox.com → Access tokens, then create a new one.",
    ),
    _prefixed(
        "mapbox-temporary-token",
        "Mapbox temporary access token",
        MEDIUM,
        "tk.eyJ1Ijoi",
        r"[A-Za-z0-9_-]{10,300}\.[A-Za-z0-9_-]{22}",
        "A temporary token expires within an hour; revoke the secret token that made it.",
        right=_R_DASH,
    ),
    _prefixed(
        "mapbox-public-token",
        "Mapbox public access token (public; for web pages)",
        LOW,
        "pk.eyJ1Ijoi",
        r"[A-Za-z0-9_-]{10,100}\.[A-Za-z0-9_-]{22}",
        "Nothing to revoke: public tokens are meant for clients. Restrict it by URL in "
        "your Mapbox account.",
        right=_R_DASH,
        check=public_id,
    ),
]

# -- messaging, payments, webhooks ---------------------------------------------------------

COMMERCE = [
    _rule(
        "teams-incoming-webhook",
        "Microsoft Teams incoming webhook URL",
        MEDIUM,
        r"(?P<secret>https://[a-z0-9-]+\.webhook\.office\.com/webhookb2/"
        + _UUID
        + r"@"
        + _UUID
        + r"/IncomingWebhook/[a-f0-9]{32}/"
        + _UUID
        + r"(?:/[A-Za-z0-9_-]{20,80})?)(?![A-Za-z0-9_-])",
        ("webhook.office.com/webhookb2/",),
        remediation=(
            "Remove the Incoming Webhook connector from the Teams channel (Manage channel → "
            "Connectors), then add a new one."
        ),
    ),
    _rule(
        "teams-workflow-webhook",
        "Microsoft Teams (Power Automate) workflow webhook URL",
        MEDIUM,
        r"(?P<secret>https://[a-z0-9.-]+\.logic\.azure\.com(?::443)?/workflows/[a-f0-9]{32}"
        r"/triggers/manual/paths/invoke\?[A-Za-z0-9_.%&=/-]*?sig=[A-Za-z0-9_%-]{43,})"
        r"(?![A-Za-z0-9_%-])",
        ("logic.azure.com",),
        remediation=(
            "Delete the workflow (or regenerate its trigger URL) in Power Automate, then "
            "create a new one."
        ),
    ),
    _rule(
        "zapier-webhook-url",
        "Zapier catch hook URL",
        MEDIUM,
        r"(?P<secret>https://hooks\.zapier\.com/hooks/catch/[0-9]{4,12}/[a-z0-9]{5,10})/?"
        r"(?![A-Za-z0-9])",
        ("hooks.zapier.com/hooks/catch/",),
        remediation="Turn off the Zap's webhook trigger and create a new one.",
    ),
    _rule(
        "google-chat-webhook",
        "Google Chat incoming webhook URL",
        MEDIUM,
        r"(?P<secret>https://chat\.googleapis\.com/v1/spaces/[A-Za-z0-9_-]{8,20}/messages"
        r"\?key=[A-Za-z0-9_-]{39}&token=[A-Za-z0-9_%=-]{40,})(?![A-Za-z0-9_%=-])",
        ("chat.googleapis.com/v1/spaces/",),
        remediation="Delete the webhook in the Chat space → Apps & integrations → Webhooks.",
    ),
    _prefixed(
        "resend-api-key",
        "Resend API key",
        HIGH,
        "re_",
        r"[A-Za-z0-9]{8}_[A-Za-z0-9]{24}",
        "Delete it in the Resend dashboard → API Keys.",
        prefilter=True,
    ),
    _prefixed(
        "mailersend-api-token",
        "MailerSend API token",
        HIGH,
        "mlsn.",
        r"[a-f0-9]{64}",
        "Delete it in MailerSend → Integrations → API tokens.",
    ),
    _named(
        "sparkpost-api-key",
        "SparkPost API key",
        HIGH,
        ("sparkpost",),
        r"[a-f0-9]{40}",
        "Delete it in SparkPost → Configuration → API Keys.",
        right=_R,
    ),
    _named(
        "klaviyo-private-key",
        "Klaviyo private API key",
        HIGH,
        ("klaviyo",),
        r"pk_[a-f0-9]{34}",
        "Revoke it in Klaviyo → Settings → API keys.",
        right=_R,
    ),
    _named(
        "twitch-token",
        "Twitch API client secret or OAuth token",
        HIGH,
        ("twitch",),
        r"[a-z0-9]{30}",
        "Generate a new secret in the Twitch developer console → the application, or "
        "revoke the OAuth token.",
        right=_R,
    ),
    _named(
        "twitter-api-secret",
        "X (Twitter) API key secret or access token secret",
        CRITICAL,
        (
            "twitter_api_secret",
            "twitter_consumer_secret",
            "twitter_secret",
            "twitter_access_token_secret",
            "twitter_access_secret",
            "consumer_secret",
        ),
        r"[A-Za-z0-9]{45,50}",
        "Regenerate the keys in the X developer portal → the app → Keys and tokens.",
        right=_R,
    ),  # fmt: skip
    _prefixed(
        "stripe-publishable-key",
        "Stripe live publishable key (public; for web pages)",
        LOW,
        "pk_live_",
        r"[A-Za-z0-9]{24,247}",
        "Nothing to revoke: publishable keys are public. Keep the secret key (sk_live_) "
        "out of the same file.",
        check=public_id,
    ),
    _prefixed(
        "razorpay-key-id",
        "Razorpay live key id (an identifier; its secret is nearby)",
        LOW,
        "rzp_live_",
        r"[A-Za-z0-9]{14}",
        "Nothing to revoke by itself: check that its key secret is not written next to it.",
        check=public_id,
    ),
    _named(
        "razorpay-key-secret",
        "Razorpay key secret",
        CRITICAL,
        ("razorpay",),
        r"[A-Za-z0-9]{24}",
        "Regenerate the key in the Razorpay dashboard → Account & Settings → API keys.",
        right=_R,
    ),
    _named(
        "mollie-api-key",
        "Mollie API key",
        CRITICAL,
        ("mollie",),
        r"(?:live|test)_[A-Za-z0-9]{30}",
        "Reset it in the Mollie dashboard → Developers → API keys.",
        right=_R,
    ),
    _named(
        "gocardless-token",
        "GoCardless access token",
        CRITICAL,
        ("gocardless",),
        r"(?:live|sandbox)_[A-Za-z0-9_=-]{40}",
        "Revoke it in the GoCardless dashboard → Developers → Access tokens.",
        right=_R_DASH,
    ),
    _named(
        "lob-api-key",
        "Lob API key",
        HIGH,
        ("lob_api", "lob-api", "lob_key", "lob_secret"),
        r"(?:live|test)_[a-f0-9]{35}",
        "Roll it in the Lob dashboard → Settings → API keys.",
        right=_R,
    ),
    _named(
        "plaid-client-secret",
        "Plaid client secret",
        CRITICAL,
        ("plaid_secret", "plaid-secret", "plaid_client_secret", "plaidsecret"),
        r"[a-f0-9]{30}",
        "Rotate the secret in the Plaid dashboard → Team settings → Keys.",
        right=_R,
    ),
    _named(
        "launchdarkly-key",
        "LaunchDarkly API access token or SDK key",
        HIGH,
        ("launchdarkly", "launch_darkly", "ld_sdk_key", "ld_api_key", "ld_access_token"),
        r"(?:api|sdk)-" + _UUID,
        "Reset it in LaunchDarkly → Account settings → Authorization (or the environment's "
        "SDK key).",
    ),
    _prefixed(
        "launchdarkly-mobile-key",
        "LaunchDarkly mobile key (meant for client apps)",
        LOW,
        "mob-",
        _UUID,
        "Nothing to revoke: mobile keys ship in apps. Keep server SDK keys out of the same file.",
        right=_R_DASH,
        check=public_id,
    ),
]

RULES: list[Rule] = [
    BASIC_AUTH,
    *WORK,
    *IDENTITY,
    *DEVTOOLS,
    *OBSERVABILITY,
    *AI,
    *COMMERCE,
]
