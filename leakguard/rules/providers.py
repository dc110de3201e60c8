"""Provider token rules: one rule per token format a vendor issues.

Most formats carry a literal prefix (`ghp_`, `xoxb-`, `AKIA`), which is the
rule's prefilter keyword. A few are only a shape (Discord, Telegram, SendGrid)
and give Hyperscan an expression instead, and a few only mean something next
to a name (`aws_secret_access_key = ...`, `cl_password = ...`).

Token characters are bounded on both sides, so a token inside a longer
identifier does not match. Rules that cover a Yelp detect-secrets plugin name
its `secret_type` in `detect_secrets_type` (once per type); those rules find at
least what the plugin finds (tests/rules/test_providers.py checks it).
"""

from __future__ import annotations

import base64
import binascii

from leakguard.models import Confidence, RuleId, Severity
from leakguard.rules import Check, Context, Rule
from leakguard.rules.checks import (
    github_checksum_ok,
    in_context,
    not_example,
    plausible,
    sure_near,
    unless_in_blob,
    valid_if,
)

# Nothing identifier-like on either side of a token.
_L = r"(?<![A-Za-z0-9_])"
_R = r"(?![A-Za-z0-9_])"
_R_DASH = r"(?![A-Za-z0-9_-])"  # for tokens that may contain "-"
_R_B64 = r"(?![A-Za-z0-9+/=])"  # for base64 values
# Between a name and its value: `=`, `:`, `=>`, `:=`, `::` or blanks, quotes optional.
_ASSIGN = r"""["']?\]?[ \t]*(?:=>|:=|::|=|:|[ \t])[ \t]*["']?"""

CRITICAL, HIGH, MEDIUM = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM


def _rule(
    id: str,
    description: str,
    severity: Severity,
    pattern: str,
    keywords: tuple[str, ...] = (),
    *,
    remediation: str,
    prefilter: str | None = None,
    check: Check | None = plausible,
    detect_secrets_type: str | None = None,
) -> Rule:
    return Rule(
        id=RuleId(id),
        description=description,
        severity=severity,
        pattern=pattern,
        keywords=keywords,
        prefilter=prefilter,
        remediation=remediation,
        # a token glued to base64 text on either side is a slice of a blob
        check=unless_in_blob(check),
        detect_secrets_type=detect_secrets_type,
        tags=("provider",),
    )


# -- checks that know one format ----------------------------------------------------

_BASE32 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def _aws_key_id_is_base32(secret: bytes) -> bool:
    # Key ids after the 4-character prefix are base32: no 0, 1, 8 or 9.
    return all(c in _BASE32 for c in secret[4:])


def _discord_id_part_is_snowflake(secret: bytes) -> bool:
    # The first part is the bot's numeric user id, base64-encoded without padding.
    head = secret.split(b".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + b"=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return decoded.isdigit() and 17 <= len(decoded) <= 20


def _telegram_hash_part(secret: bytes) -> bool:
    return secret.split(b":", 1)[1].startswith(b"AA")


def _artifactory_password(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    # "AP" and a hex digit begin plenty of upper-case words and ids: ask for the
    # digits, lower and upper case of a random value, and even then be unsure.
    tail = secret[3:]
    mixed = tail.isalnum() and not (tail.isdigit() or tail.isupper() or tail.islower())
    if not mixed or not any(c in b"0123456789" for c in tail):
        return None
    confidence = plausible(secret, line, context)
    return Confidence.MEDIUM if confidence is Confidence.HIGH else confidence


# -- GitHub -------------------------------------------------------------------------

GITHUB = [
    _rule(
        "github-pat",
        "GitHub personal access token (classic)",
        CRITICAL,
        rf"{_L}(?P<secret>ghp_[A-Za-z0-9]{{36}}){_R}",
        ("ghp_",),
        remediation=(
            "Revoke it at GitHub → Settings → Developer settings → Personal access tokens, "
            "then create a new one."
        ),
        # The last 6 characters are a CRC32 checksum: a mismatch is a made-up token.
        check=valid_if(github_checksum_ok, Confidence.LOW),
        detect_secrets_type="GitHub Token",
    ),
    _rule(
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token",
        CRITICAL,
        rf"{_L}(?P<secret>github_pat_[A-Za-z0-9]{{22}}_[A-Za-z0-9]{{59}}){_R}",
        ("github_pat_",),
        remediation=(
            "Revoke it at GitHub → Settings → Developer settings → Personal access tokens → "
            "Fine-grained tokens, then create a new one."
        ),
    ),
    _rule(
        "github-oauth",
        "GitHub OAuth access token (as stored by gh and OAuth apps)",
        CRITICAL,
        rf"{_L}(?P<secret>gho_[A-Za-z0-9]{{36,251}}){_R}",
        ("gho_",),
        remediation=(
            "Revoke the app's access at GitHub → Settings → Applications → Authorized OAuth "
            "Apps (or `gh auth logout`), then sign in again."
        ),
    ),
    _rule(
        "github-app-token",
        "GitHub App user-to-server (ghu_) or installation (ghs_) token",
        HIGH,
        rf"{_L}(?P<secret>gh[us]_[A-Za-z0-9]{{36,251}}){_R}",
        ("ghu_", "ghs_"),
        # 36 characters after the prefix today; a longer one is matched whole, not missed.
        remediation=(
            "Revoke it through the GitHub REST API (DELETE /installation/token) or let it "
            "expire, and mint tokens at run time from the app's private key instead."
        ),
    ),
    _rule(
        "github-refresh-token",
        "GitHub App refresh token",
        HIGH,
        rf"{_L}(?P<secret>ghr_[A-Za-z0-9]{{36,251}}){_R}",
        ("ghr_",),
        remediation=(
            "Revoke the user's authorization of the app at GitHub → Settings → Applications → "
            "Authorized GitHub Apps, which invalidates its refresh tokens."
        ),
    ),
]

# -- GitLab -------------------------------------------------------------------------


# A routable token (GitLab 17.x on) ends its base64 payload with `.`, a two-character
# version and, after an optional `.`, a base-36 length and CRC.
_ROUTABLE = r"(?:\.[0-9a-z]{2}\.?[0-9a-z]{7,9})?"


def _gitlab(
    id: str, description: str, severity: Severity, prefix: str, length: str, remediation: str
) -> Rule:
    return _rule(
        id,
        description,
        severity,
        rf"{_L}(?P<secret>{prefix}[A-Za-z0-9_-]{{{length}}}{_ROUTABLE}){_R_DASH}",
        (prefix.lower(),),
        remediation=remediation,
        detect_secrets_type="GitLab Token" if prefix == "glpat-" else None,
    )


GITLAB = [
    _gitlab(
        "gitlab-pat",
        "GitLab personal, project or group access token",
        CRITICAL,
        "glpat-",
        "20,310",
        "Revoke it in GitLab under User settings → Access tokens (or the project's or "
        "group's Settings → Access tokens), then create a new one.",
    ),
    _gitlab(
        "gitlab-deploy-token",
        "GitLab deploy token",
        CRITICAL,
        "gldt-",
        "20,310",
        "Revoke it in the project's or group's Settings → Repository → Deploy tokens, "
        "then create a new one.",
    ),
    _gitlab(
        "gitlab-feed-token",
        "GitLab feed token (RSS and calendar feeds)",
        MEDIUM,
        "glft-",
        "20,310",
        "Reset it in GitLab under User settings → Access tokens → Feed token.",
    ),
    _gitlab(
        "gitlab-scim-token",
        "GitLab SCIM OAuth token",
        HIGH,
        "glsoat-",
        "20,310",
        "Reset the SCIM token in the group's Settings → SAML SSO.",
    ),
    _gitlab(
        "gitlab-runner-token",
        "GitLab runner authentication token",
        HIGH,
        "glrt-",
        "20,310",
        "Reset the runner's authentication token in Settings → CI/CD → Runners, or delete "
        "the runner and register it again.",
    ),
    _gitlab(
        "gitlab-runner-registration-token",
        "GitLab runner registration token",
        HIGH,
        "GR1348941",
        "20,50",
        "Reset the registration token in Settings → CI/CD → Runners, and register runners "
        "with authentication tokens instead.",
    ),
    _gitlab(
        "gitlab-ci-job-token",
        "GitLab CI/CD job token",
        MEDIUM,
        "glcbt-",
        "20,310",
        "A job token lives as long as its job: cancel the job if it still runs, and keep "
        "logs and artifacts from recording the token.",
    ),
    _gitlab(
        "gitlab-incoming-mail-token",
        "GitLab incoming email token",
        MEDIUM,
        "glimt-",
        "25",
        "Reset the incoming email token in GitLab under User settings → Access tokens.",
    ),
    _gitlab(
        "gitlab-pipeline-trigger-token",
        "GitLab pipeline trigger token",
        HIGH,
        "glptt-",
        "40",
        "Revoke it in the project's Settings → CI/CD → Pipeline trigger tokens, then "
        "create a new one.",
    ),
    _gitlab(
        "gitlab-agent-token",
        "GitLab agent for Kubernetes token",
        CRITICAL,
        "glagent-",
        "50,1024",
        "Revoke it on the agent's page under Operate → Kubernetes clusters → Access tokens, "
        "then create a new one.",
    ),
    _gitlab(
        "gitlab-oauth-app-secret",
        "GitLab OAuth application secret",
        HIGH,
        "gloas-",
        "64",
        "Renew the secret in the application's settings (User settings, group or Admin "
        "area → Applications), then update its users.",
    ),
]

# -- clouds -------------------------------------------------------------------------

CLOUDS = [
    _rule(
        "aws-access-key-id",
        "AWS access key id",
        CRITICAL,
        rf"{_L}(?P<secret>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{{16}}){_R}",
        ("akia", "asia", "abia", "acca", "a3t"),
        remediation=(
            "Deactivate and delete the key in AWS IAM → Users → Security credentials, then "
            "create a new one (for ASIA keys, revoke the session that issued them)."
        ),
        check=valid_if(_aws_key_id_is_base32, Confidence.MEDIUM),
        detect_secrets_type="AWS Access Key",
    ),
    _rule(
        "aws-secret-access-key",
        "AWS secret access key",
        CRITICAL,
        r"(?i)(?:aws[_-]secret|secret_access_key|secret-access-key|secretaccesskey)[\w.-]*"
        + _ASSIGN
        + rf"(?P<secret>(?-i:[A-Za-z0-9/+]{{40}})){_R_B64}",
        ("aws_secret", "aws-secret", "secret_access_key", "secret-access-key", "secretaccesskey"),
        remediation=(
            "Deactivate and delete the access key it belongs to in AWS IAM → Users → Security "
            "credentials, then create a new one."
        ),
    ),
    _rule(
        "azure-storage-account-key",
        "Azure Storage account access key",
        CRITICAL,
        r"(?i:account[_-]?key|storage[_-]?key)[\"']?[ \t]*[=:][ \t]*[\"']?"
        rf"(?P<secret>[A-Za-z0-9+/]{{86}}==){_R_B64}",
        ("accountkey", "account_key", "account-key", "storagekey", "storage_key", "storage-key"),
        remediation=(
            "Regenerate it in the Azure portal under the storage account's Security + "
            "networking → Access keys, after moving clients to the other key."
        ),
        detect_secrets_type="Azure Storage Account access key",
    ),
    _rule(
        "google-api-key",
        "Google API key",
        HIGH,
        rf"{_L}(?P<secret>AIza[A-Za-z0-9_-]{{35}}){_R_DASH}",
        ("aiza",),
        remediation=(
            "Delete or regenerate it in Google Cloud console → APIs & Services → Credentials, "
            "and restrict the new key to the APIs and apps that need it."
        ),
    ),
    _rule(
        "ibm-cloud-iam-key",
        "IBM Cloud IAM API key",
        CRITICAL,
        r"(?i)(?<![A-Za-z0-9])(?:ibm[_-]?cloud[_-]?iam|cloud[_-]?iam|ibm[_-]?cloud|ibm[_-]?iam"
        r"|ibm|iam)[_-]?(?:api)?[_-]?(?:key|pwd|password|pass|token)"
        + _ASSIGN
        + rf"(?P<secret>[A-Za-z0-9_-]{{44}}){_R_DASH}",
        ("ibm", "iam"),
        remediation=(
            "Delete the key in IBM Cloud → Manage → Access (IAM) → API keys, then create a new one."
        ),
        detect_secrets_type="IBM Cloud IAM Key",
    ),
    _rule(
        "ibm-cos-hmac-secret",
        "IBM Cloud Object Storage HMAC secret access key",
        CRITICAL,
        r"(?i)(?<![A-Za-z0-9])(?:(?:ibm)?[_-]?cos[_-]?(?:hmac)?[_-]?)?"
        r"secret[_-]?(?:access)?[_-]?key"
        + _ASSIGN
        + r"(?P<secret>(?-i:[a-f0-9]{48}))(?![A-Za-z0-9])",
        # the name, its assignment and the 48 hex digits: `SecretKey` alone is all over Java
        prefilter=r"(?i)secret[_-]?(?:access)?[_-]?key[^\n]{1,40}[a-f0-9]{48}",
        remediation=(
            "Delete the HMAC service credential in IBM Cloud → the Object Storage instance → "
            "Service credentials, then create a new one."
        ),
        check=sure_near((b"cos", b"ibm", b"hmac")),
        detect_secrets_type="IBM COS HMAC Credentials",
    ),
    _rule(
        "softlayer-api-key",
        "SoftLayer (IBM Cloud classic infrastructure) API key",
        CRITICAL,
        r"(?i)(?:(?<![A-Za-z0-9])(?:softlayer|sl)[_-]?(?:api)?[_-]?(?:key|pwd|password|pass"
        r"|token)" + _ASSIGN + r"|https?://api\.softlayer\.com/soap/v3(?:\.1)?/)"
        r"(?P<secret>[a-z0-9]{64})(?![a-z0-9])",
        prefilter=(
            r"(?i)(?:softlayer|sl)[_-]?(?:api)?[_-]?(?:key|pwd|password|pass|token)"
            r"|api\.softlayer\.com"
        ),
        remediation=(
            "Delete it in IBM Cloud → Manage → Access (IAM) → API keys (classic "
            "infrastructure key), then create a new one."
        ),
        detect_secrets_type="SoftLayer Credentials",
    ),
    _rule(
        "digitalocean-pat",
        "DigitalOcean personal access token",
        CRITICAL,
        rf"{_L}(?P<secret>dop_v1_[a-f0-9]{{64}}){_R}",
        ("dop_v1_",),
        remediation=(
            "Delete it in the DigitalOcean control panel → API → Tokens, then generate a new one."
        ),
    ),
    _rule(
        "digitalocean-oauth-token",
        "DigitalOcean OAuth access token",
        HIGH,
        rf"{_L}(?P<secret>doo_v1_[a-f0-9]{{64}}){_R}",
        ("doo_v1_",),
        remediation=(
            "Revoke the application's access in the DigitalOcean control panel → API → "
            "Authorized applications, which invalidates its tokens."
        ),
    ),
    _rule(
        "digitalocean-refresh-token",
        "DigitalOcean OAuth refresh token",
        HIGH,
        rf"{_L}(?P<secret>dor_v1_[a-f0-9]{{64}}){_R}",
        ("dor_v1_",),
        remediation=(
            "Revoke the application's access in the DigitalOcean control panel → API → "
            "Authorized applications, which invalidates its tokens."
        ),
    ),
    _rule(
        "heroku-api-key",
        "Heroku API key",
        CRITICAL,
        rf"{_L}(?P<secret>HRKU-AA[A-Za-z0-9_-]{{58}}){_R_DASH}",
        ("hrku-",),
        remediation=(
            "Revoke it with `heroku authorizations:revoke` (or regenerate the key under "
            "Account settings), then create a new one."
        ),
    ),
    _rule(
        "databricks-token",
        "Databricks personal access token",
        HIGH,
        rf"{_L}(?P<secret>dapi[a-f0-9]{{32}}(?:-[0-9]+)?){_R_DASH}",
        ("dapi",),
        remediation=(
            "Revoke it in the Databricks workspace → Settings → Developer → Access tokens "
            "(an admin can revoke anyone's), then generate a new one."
        ),
    ),
]

# -- registries and CI ----------------------------------------------------------------

REGISTRIES = [
    _rule(
        "npm-access-token",
        "npm access token",
        CRITICAL,
        rf"{_L}(?P<secret>npm_[A-Za-z0-9]{{36}}){_R}",
        ("npm_",),
        remediation=(
            "Revoke it at npmjs.com → Access Tokens (or `npm token revoke`), then create a "
            "new granular token."
        ),
        # Like GitHub's, the last 6 characters are a CRC32 checksum of the 30 before.
        check=valid_if(github_checksum_ok, Confidence.LOW),
        detect_secrets_type="NPM tokens",
    ),
    _rule(
        "npm-legacy-token",
        "npm legacy (UUID) auth token in an .npmrc",
        CRITICAL,
        r"(?i:_authToken)[ \t]*=[ \t]*[\"']?(?P<secret>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
        rf"[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}){_R_DASH}",
        ("_authtoken",),
        remediation=(
            "Revoke it at npmjs.com → Access Tokens (or `npm token revoke`), then create a "
            "new granular token."
        ),
    ),
    _rule(
        "pypi-upload-token",
        "PyPI or TestPyPI API token",
        CRITICAL,
        rf"{_L}(?P<secret>pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{{70,}})"
        + _R_DASH,
        ("pypi-ageichlwas5vcmc", "pypi-agendgvzdc5wexbplm9yzw"),
        remediation=(
            "Remove it at pypi.org (or test.pypi.org) → Account settings → API tokens, then "
            "create a new one scoped to one project, or publish with trusted publishing."
        ),
        check=not_example,
        detect_secrets_type="PyPI Token",
    ),
    _rule(
        "dockerhub-pat",
        "Docker Hub personal access token",
        CRITICAL,
        rf"{_L}(?P<secret>dckr_pat_[A-Za-z0-9_-]{{27}}){_R_DASH}",
        ("dckr_pat_",),
        remediation=(
            "Delete it at Docker Hub → Account settings → Personal access tokens, then "
            "create a new one."
        ),
    ),
    _rule(
        "artifactory-api-key",
        "JFrog Artifactory API key",
        CRITICAL,
        rf"{_L}(?P<secret>AKCp[A-Za-z0-9]{{69}}){_R}",
        ("akcp",),
        remediation=(
            "Revoke it in Artifactory → Edit Profile → API Key, and move to scoped access "
            "tokens (API keys are deprecated)."
        ),
        detect_secrets_type="Artifactory Credentials",
    ),
    _rule(
        "artifactory-password",
        "JFrog Artifactory encrypted password",
        CRITICAL,
        # Bounded by the URL-safe base64 alphabet too: `sha256=…-APx…` in RECORD files.
        r"(?<![A-Za-z0-9_+/:-])(?<!sha256=)(?<!sha384=)(?<!sha512=)(?<!sha1=)(?<!md5=)"
        r"(?P<secret>AP[0-9A-F][A-Za-z0-9]{8,128})(?![A-Za-z0-9+/=_-])",
        prefilter=r"AP[0-9A-F][A-Za-z0-9]{8}",
        remediation=(
            "Change the user's password in Artifactory (which invalidates its encrypted "
            "form), then use a scoped access token instead."
        ),
        # AP and a hex digit start one line in 16 000 of random base64: only a line that
        # names Artifactory or a password makes it one.
        check=in_context(
            (b"artifactory", b"jfrog", b"password", b"passwd", b"pwd", b"x-jfrog-art-api"),
            assigned=Confidence.LOW,
            bare=None,
            base=_artifactory_password,
        ),
    ),
    _rule(
        "pulumi-access-token",
        "Pulumi access token",
        CRITICAL,
        rf"{_L}(?P<secret>pul-[a-f0-9]{{40}}){_R}",
        ("pul-",),
        remediation=(
            "Delete it in Pulumi Cloud → Personal access tokens (or the organization's "
            "access tokens), then create a new one."
        ),
    ),
]

# -- secret stores and keys -------------------------------------------------------------

SECRET_STORES = [
    _rule(
        "vault-service-token",
        "HashiCorp Vault service token",
        CRITICAL,
        rf"{_L}(?P<secret>hvs\.[A-Za-z0-9_-]{{24,512}}){_R_DASH}",
        ("hvs.",),
        remediation=(
            "Revoke it with `vault token revoke` (by value or -accessor), then issue a new "
            "token with the shortest usable TTL."
        ),
    ),
    _rule(
        "vault-batch-token",
        "HashiCorp Vault batch token",
        CRITICAL,
        rf"{_L}(?P<secret>hvb\.[A-Za-z0-9_-]{{24,1024}}){_R_DASH}",
        ("hvb.",),
        remediation=(
            "Batch tokens cannot be revoked one by one: revoke their parent token or wait "
            "out the TTL, and lower the TTL of the role that issues them."
        ),
    ),
    _rule(
        "doppler-personal-token",
        "Doppler personal token",
        CRITICAL,
        rf"{_L}(?P<secret>dp\.pt\.[A-Za-z0-9]{{43}}){_R}",
        ("dp.pt.",),
        remediation="Revoke it in the Doppler dashboard under Tokens, then create a new one.",
    ),
    _rule(
        "age-secret-key",
        "age encryption secret key",
        CRITICAL,
        rf"{_L}(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{{58}}){_R}",
        ("age-secret-key-1",),
        remediation=(
            "Generate a new key with age-keygen, re-encrypt everything the old key could "
            "decrypt to the new recipient, and retire the old one."
        ),
    ),
]

# -- chat and messaging -----------------------------------------------------------------

MESSAGING = [
    _rule(
        "slack-bot-token",
        "Slack bot token",
        HIGH,
        rf"{_L}(?P<secret>xoxb-[0-9]{{6,16}}-(?:[0-9]{{6,16}}-)?[A-Za-z0-9]{{20,40}}){_R_DASH}",
        ("xoxb-",),
        remediation=(
            "Revoke it at api.slack.com/apps → the app → OAuth & Permissions (reinstall to "
            "get a new token), then update the app's secret store."
        ),
        detect_secrets_type="Slack Token",
    ),
    _rule(
        "slack-user-token",
        "Slack user token",
        HIGH,
        rf"{_L}(?P<secret>xoxp-[0-9]{{6,16}}-[0-9]{{6,16}}-[0-9]{{6,16}}-[A-Za-z0-9]{{28,40}})"
        + _R_DASH,
        ("xoxp-",),
        remediation=(
            "Revoke it at api.slack.com/apps → the app → OAuth & Permissions (or the "
            "auth.revoke API), then authorize again."
        ),
    ),
    _rule(
        "slack-legacy-token",
        "Slack workspace-app, legacy, session or refresh token",
        HIGH,
        rf"{_L}(?P<secret>xox[aors]-(?:[0-9]{{1,16}}-){{1,4}}[A-Za-z0-9]{{8,64}}){_R_DASH}",
        ("xoxa-", "xoxo-", "xoxr-", "xoxs-"),
        remediation=(
            "Revoke it with Slack's auth.revoke API or by removing the app from the "
            "workspace, then move to a bot token."
        ),
    ),
    _rule(
        "slack-webhook-url",
        "Slack incoming webhook URL",
        MEDIUM,
        r"(?P<secret>https://hooks\.slack\.com/services/T[A-Za-z0-9_]{6,16}/B[A-Za-z0-9_]{6,16}"
        rf"/[A-Za-z0-9_]{{16,64}}){_R}",
        ("hooks.slack.com",),
        remediation=(
            "Remove the webhook in the app's Incoming Webhooks settings at api.slack.com/apps, "
            "then create a new one."
        ),
    ),
    _rule(
        "discord-bot-token",
        "Discord bot token",
        HIGH,
        r"(?<![A-Za-z0-9_-])(?P<secret>[MNO][A-Za-z0-9_-]{23,26}\.[A-Za-z0-9_-]{6}\."
        rf"(?:[A-Za-z0-9_-]{{38}}|[A-Za-z0-9_-]{{27}})){_R_DASH}",
        prefilter=r"[MNO][A-Za-z0-9_-]{23,26}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27}",
        remediation=(
            "Reset it in the Discord Developer Portal → the application → Bot → Reset Token."
        ),
        check=valid_if(_discord_id_part_is_snowflake, Confidence.MEDIUM),
        detect_secrets_type="Discord Bot Token",
    ),
    _rule(
        "telegram-bot-token",
        "Telegram bot token",
        HIGH,
        r"(?:(?<=bot)|(?<![A-Za-z0-9_]))(?P<secret>[0-9]{8,10}:[A-Za-z0-9_-]{35})" + _R_DASH,
        prefilter=r"[0-9]{8,10}:[A-Za-z0-9_-]{35}",
        remediation="Revoke it with @BotFather (/revoke), then update the bot's secret store.",
        check=valid_if(_telegram_hash_part, Confidence.MEDIUM),
        detect_secrets_type="Telegram Bot Token",
    ),
    _rule(
        "twilio-api-key",
        "Twilio API key SID (its secret is usually close by)",
        HIGH,
        rf"{_L}(?P<secret>SK[0-9a-f]{{32}}){_R}",
        prefilter=r"SK[0-9a-f]{32}",
        remediation=(
            "Delete the API key in the Twilio Console → Account → API keys & tokens, then "
            "create a new one."
        ),
        # An SID names the key; what unlocks it is the secret issued with it.
        check=sure_near((b"secret", b"twilio"), Confidence.MEDIUM),
        detect_secrets_type="Twilio API Key",
    ),
    _rule(
        "sendgrid-api-key",
        "SendGrid API key",
        HIGH,
        rf"{_L}(?P<secret>SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}){_R_DASH}",
        prefilter=r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
        remediation="Delete it in SendGrid → Settings → API Keys, then create a new one.",
        detect_secrets_type="SendGrid API Key",
    ),
    _rule(
        "mailchimp-api-key",
        "Mailchimp API key",
        HIGH,
        rf"{_L}(?P<secret>[0-9a-f]{{32}}-us[0-9]{{1,2}}){_R}",
        prefilter=r"[0-9a-f]{32}-us[0-9]{1,2}",
        remediation=(
            "Revoke it in Mailchimp → Profile → Extras → API keys, then create a new one."
        ),
        detect_secrets_type="Mailchimp Access Key",
    ),
]

# -- payments and commerce ----------------------------------------------------------------

COMMERCE = [
    _rule(
        "stripe-secret-key",
        "Stripe live secret key",
        CRITICAL,
        rf"{_L}(?P<secret>sk_live_[A-Za-z0-9]{{24,247}}){_R}",
        ("sk_live_",),
        remediation="Roll the key in the Stripe Dashboard → Developers → API keys.",
        detect_secrets_type="Stripe Access Key",
    ),
    _rule(
        "stripe-restricted-key",
        "Stripe live restricted key",
        HIGH,
        rf"{_L}(?P<secret>rk_live_[A-Za-z0-9]{{24,247}}){_R}",
        ("rk_live_",),
        remediation="Roll the key in the Stripe Dashboard → Developers → API keys.",
    ),
    _rule(
        "square-oauth-secret",
        "Square OAuth application secret",
        HIGH,
        rf"{_L}(?P<secret>sq0csp-[A-Za-z0-9_-]{{43}}){_R_DASH}",
        ("sq0csp-",),
        remediation=(
            "Replace the application secret in the Square Developer Dashboard → the "
            "application → OAuth, then update its users."
        ),
        detect_secrets_type="Square OAuth Secret",
    ),
    _rule(
        "shopify-access-token",
        "Shopify Admin API access token",
        HIGH,
        rf"{_L}(?P<secret>shpat_[a-fA-F0-9]{{32}}){_R}",
        ("shpat_",),
        remediation=(
            "Rotate it in the store admin → Settings → Apps and sales channels → Develop "
            "apps → the app → API credentials."
        ),
    ),
    _rule(
        "shopify-custom-app-token",
        "Shopify custom app access token",
        HIGH,
        rf"{_L}(?P<secret>shpca_[a-fA-F0-9]{{32}}){_R}",
        ("shpca_",),
        remediation=(
            "Rotate it in the store admin → Settings → Apps and sales channels → Develop "
            "apps → the app → API credentials."
        ),
    ),
    _rule(
        "shopify-private-app-token",
        "Shopify private app access token",
        HIGH,
        rf"{_L}(?P<secret>shppa_[a-fA-F0-9]{{32}}){_R}",
        ("shppa_",),
        remediation=(
            "Delete the private app in the store admin → Apps and create a custom app in its place."
        ),
    ),
    _rule(
        "shopify-shared-secret",
        "Shopify app shared secret",
        HIGH,
        rf"{_L}(?P<secret>shpss_[a-fA-F0-9]{{32}}){_R}",
        ("shpss_",),
        remediation=(
            "Rotate the app's API secret key in the Shopify Partner Dashboard (or the custom "
            "app's API credentials), then update its users."
        ),
    ),
]

# -- AI and developer services -------------------------------------------------------------

SERVICES = [
    _rule(
        "openai-api-key",
        "OpenAI API key",
        HIGH,
        r"(?<![A-Za-z0-9_-])(?P<secret>sk-[A-Za-z0-9_-]{20,250}T3BlbkFJ[A-Za-z0-9_-]{20,250})"
        + _R_DASH,
        ("t3blbkfj",),
        remediation=(
            "Delete it at platform.openai.com → API keys (or the project's keys), then "
            "create a new one."
        ),
        detect_secrets_type="OpenAI Token",
    ),
    _rule(
        "anthropic-api-key",
        "Anthropic API key",
        HIGH,
        r"(?<![A-Za-z0-9_-])(?P<secret>sk-ant-api03-[A-Za-z0-9_-]{93}AA)" + _R_DASH,
        ("sk-ant-api03-",),
        remediation="Delete it in the Anthropic Console → API keys, then create a new one.",
    ),
    _rule(
        "huggingface-token",
        "Hugging Face access token",
        HIGH,
        rf"{_L}(?P<secret>hf_[A-Za-z]{{34}}){_R}",
        ("hf_",),
        remediation=(
            "Invalidate it at huggingface.co → Settings → Access Tokens, then create a new one."
        ),
    ),
    _rule(
        "cloudant-credentials",
        "IBM Cloudant password or API key",
        HIGH,
        r"(?i)(?:(?<![A-Za-z0-9])(?:cloudant|clou|cl)[_-]?(?:api)?[_-]?"
        r"(?:key|pwd|pw|password|pass|token)" + _ASSIGN + r"|https?://[\w-]+:(?P<url>))"
        r"(?P<secret>(?-i:[0-9a-f]{64}|[a-z]{24}))(?![A-Za-z0-9])"
        r"(?(url)@[\w-]+\.cloudant\.com)",
        prefilter=(
            r"(?i)(?:cloudant|clou|cl)[_-]?(?:api)?[_-]?(?:key|pwd|pw|password|pass|token)"
            r"|cloudant\.com"
        ),
        remediation=(
            "Rotate the credentials in IBM Cloud → the Cloudant instance → Service "
            "credentials (or reset the API key), then update its users."
        ),
        check=sure_near((b"cloudant",), Confidence.MEDIUM),
        detect_secrets_type="Cloudant Credentials",
    ),
    _rule(
        "sentry-org-token",
        "Sentry organization auth token",
        MEDIUM,
        r"(?<![A-Za-z0-9_])(?P<secret>sntrys_eyJ[A-Za-z0-9+/]{20,600}={0,2}_[A-Za-z0-9+/]{43})"
        rf"{_R_B64}",
        ("sntrys_",),
        remediation=(
            "Revoke it in Sentry → Settings → Developer Settings → Organization Tokens, then "
            "create a new one."
        ),
        check=not_example,
    ),
    _rule(
        "grafana-service-account-token",
        "Grafana service account token",
        HIGH,
        rf"{_L}(?P<secret>glsa_[A-Za-z0-9]{{32}}_[A-Fa-f0-9]{{8}}){_R}",
        ("glsa_",),
        remediation=(
            "Delete it in Grafana → Administration → Service accounts → the account's "
            "tokens, then add a new one."
        ),
    ),
    _rule(
        "grafana-cloud-token",
        "Grafana Cloud access policy token",
        HIGH,
        rf"{_L}(?P<secret>glc_[A-Za-z0-9+/]{{32,400}}={{0,2}}){_R_B64}",
        ("glc_",),
        remediation=(
            "Delete it in Grafana Cloud → Administration → Access policies, then create a "
            "new token."
        ),
        check=not_example,
    ),
    _rule(
        "newrelic-user-api-key",
        "New Relic user API key",
        HIGH,
        rf"{_L}(?P<secret>NRAK-[A-Z0-9]{{27}}){_R}",
        ("nrak-",),
        remediation="Delete it in New Relic → the user menu → API keys, then create a new one.",
    ),
    _rule(
        "linear-api-key",
        "Linear personal API key",
        HIGH,
        rf"{_L}(?P<secret>lin_api_[A-Za-z0-9]{{40}}){_R}",
        ("lin_api_",),
        remediation=(
            "Revoke it in Linear → Settings → Account → Security & access, then create a new one."
        ),
    ),
]

RULES: list[Rule] = [
    *GITHUB,
    *GITLAB,
    *CLOUDS,
    *REGISTRIES,
    *SECRET_STORES,
    *MESSAGING,
    *COMMERCE,
    *SERVICES,
]
