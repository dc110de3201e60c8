"""More provider rules: cloud, CI, package registries, SaaS and AI services, and
database connection strings.

Same conventions as `providers`: a literal prefix is the prefilter keyword; a
format that is only a shape (32 hex characters, a UUID) is reported only when
assigned to a name that mentions the provider (`DATADOG_API_KEY=...`), so the
name is the keyword.
"""

from __future__ import annotations

import re

from leakguard.models import Confidence, Severity
from leakguard.rules import Check, Context, Rule
from leakguard.rules.checks import in_context, not_example, plausible, sure_near
from leakguard.rules.providers import _ASSIGN, _L, _R, _R_B64, _R_DASH, _rule
from leakguard.rules.values import is_word, not_a_secret

CRITICAL, HIGH, MEDIUM = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def _prefixed(
    id: str,
    description: str,
    severity: Severity,
    prefix: str,
    body: str,
    remediation: str,
    *,
    keywords: tuple[str, ...] | None = None,
    right: str = _R,
    check: Check | None = plausible,
    prefilter: bool = False,
) -> Rule:
    """A token that starts with a fixed `prefix` followed by `body` (a regex).

    `prefilter=True` hands Hyperscan the whole shape instead of the prefix, for
    prefixes too short or too common to be selective ("pat", "API-").
    """
    pattern = rf"{re.escape(prefix)}{body}"
    return _rule(
        id,
        description,
        severity,
        rf"{_L}(?P<secret>{pattern}){right}",
        () if prefilter else keywords or (prefix.lower(),),
        remediation=remediation,
        check=check,
        prefilter=pattern if prefilter else None,
    )


# Where a name's word may start: after no letter or digit (`DUO_SKEY`, `"skey"`), or
# at a capital after a small letter (`appSkey`). Case-sensitive in a (?i) pattern.
_NAME_START = r"(?:(?<![A-Za-z0-9])|(?-i:(?<=[a-z])(?=[A-Z])))"


def _named(
    id: str,
    description: str,
    severity: Severity,
    names: tuple[str, ...],
    value: str,
    remediation: str,
    *,
    right: str = _R_DASH,
    check: Check | None = plausible,
) -> Rule:
    """A value of shape `value` that counts only when assigned to a name containing
    one of `names` (lower case, literal) as its start or a word of it: `DUO_SKEY`,
    `duo.skey`, `appSkey`, never `passkey` or `whiskey`."""
    alternatives = "|".join(re.escape(n) for n in names)
    return _rule(
        id,
        description,
        severity,
        rf"(?i){_NAME_START}(?:{alternatives})[\w.-]{{0,30}}"
        + _ASSIGN
        + rf"(?P<secret>(?-i:{value})){right}",
        names,
        remediation=remediation,
        check=check,
    )


def _check_url_password(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if not_a_secret(secret) or secret.lower() in (b"pass", b"password", b"pwd", b"passwd"):
        return None
    if secret.startswith((b"$", b"{")):  # printf-style % formats: is_reference
        return None
    return Confidence.MEDIUM if is_word(secret) else Confidence.HIGH


def _azure_sas(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    # A shared access signature URL carries its version (sv=) and expiry (se=). A
    # Logic Apps (Teams workflow) trigger URL is signed too: the URL is the secret.
    if b"sv=" not in line and b"se=" not in line or b".logic.azure.com" in line:
        return None
    return plausible(secret, line, context)


def _braintree(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    confidence = plausible(secret, line, context)
    if b"$sandbox$" in secret and confidence is Confidence.HIGH:
        return Confidence.MEDIUM
    return confidence


# -- clouds --------------------------------------------------------------------------

CLOUDS = [
    _named(
        "aws-session-token",
        "AWS temporary session token",
        CRITICAL,
        ("aws_session_token", "aws-session-token", "awssessiontoken", "x-amz-security-token"),
        r"[A-Za-z0-9/+=]{100,2000}",
        "Revoke the role session in AWS IAM → Roles → the role → Revoke active sessions, "
        "and deactivate the access key that requested it.",
        right=_R_B64,
        check=not_example,
    ),
    _prefixed(
        "aws-mws-key",
        "Amazon Marketplace Web Service auth token",
        HIGH,
        "amzn.mws.",
        _UUID,
        "Revoke the developer's access in Seller Central → Apps and Services → Manage Your "
        "Apps, then authorize again.",
        right=_R_DASH,
    ),
    _prefixed(
        "aws-bedrock-api-key",
        "Amazon Bedrock API key",
        CRITICAL,
        "ABSK",
        r"[A-Za-z0-9+/]{109,269}={0,2}",
        "Delete the Bedrock API key in the AWS console → Amazon Bedrock → API keys (or the IAM "
        "user's service-specific credentials), then create a new one.",
        right=_R_B64,
        check=not_example,
    ),
    _prefixed(
        "google-oauth-client-secret",
        "Google OAuth client secret",
        CRITICAL,
        "GOCSPX-",
        r"[A-Za-z0-9_-]{28}",
        "Reset the secret in Google Cloud console → APIs & Services → Credentials → the OAuth "
        "client → Reset secret.",
        right=_R_DASH,
    ),
    _prefixed(
        "google-oauth-access-token",
        "Google OAuth access token",
        HIGH,
        "ya29.",
        r"[A-Za-z0-9_-]{30,2048}",
        "Revoke it at https://oauth2.googleapis.com/revoke (or myaccount.google.com → "
        "Security → Third-party access); it also expires within an hour.",
        right=_R_DASH,
        check=not_example,
    ),
    _prefixed(
        "google-oauth-refresh-token",
        "Google OAuth refresh token",
        CRITICAL,
        "1//0",
        r"[A-Za-z0-9_-]{40,512}",
        "Revoke the grant at myaccount.google.com → Security → Third-party access (or "
        "`gcloud auth revoke`), then sign in again.",
        right=_R_DASH,
        # "1//0" and 40 characters start one line of random base64 in 17 million
        check=in_context((b"refresh", b"google", b"oauth", b"token"), bare=None, base=not_example),
    ),
    _rule(
        "gcp-service-account-key",
        "Google Cloud service account key (JSON private_key)",
        CRITICAL,
        r"\"private_key\"[ \t]*:[ \t]*\"(?P<secret>-----BEGIN (?:RSA )?PRIVATE KEY-----"
        r"(?:\\n|\\r|[A-Za-z0-9+/=])+-----END (?:RSA )?PRIVATE KEY-----(?:\\n)?)\"",
        ('"private_key"',),
        remediation=(
            "Delete the key in Google Cloud console → IAM & Admin → Service accounts → the "
            "account → Keys, and use workload identity instead of key files."
        ),
        check=not_example,
    ),
    _rule(
        "firebase-cloud-messaging-key",
        "Firebase Cloud Messaging legacy server key",
        HIGH,
        rf"{_L}(?P<secret>AAAA[A-Za-z0-9_-]{{7}}:APA91b[A-Za-z0-9_-]{{134}}){_R_DASH}",
        ("apa91b",),
        remediation=(
            "Delete the server key in the Firebase console → Project settings → Cloud "
            "Messaging, and move to the HTTP v1 API with service-account credentials."
        ),
    ),
    _rule(
        "azure-ad-client-secret",
        "Microsoft Entra ID (Azure AD) application client secret",
        CRITICAL,
        r"(?<![A-Za-z0-9_~.-])(?P<secret>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})"
        r"(?![A-Za-z0-9_~.-])",
        ("q~",),
        remediation=(
            "Delete the secret in the Azure portal → Microsoft Entra ID → App registrations → "
            "the app → Certificates & secrets, then add a new one."
        ),
    ),
    _rule(
        "azure-devops-pat",
        "Azure DevOps personal access token",
        CRITICAL,
        rf"{_L}(?P<secret>[A-Za-z0-9]{{76}}AZDO[A-Za-z0-9]{{4}}){_R}",
        ("azdo",),
        remediation=(
            "Revoke it in Azure DevOps → User settings → Personal access tokens (an admin can "
            "revoke any user's), then create a new one."
        ),
    ),
    _named(
        "azure-devops-pat-legacy",
        "Azure DevOps personal access token (52 characters)",
        CRITICAL,
        ("azure_devops", "azure-devops", "azuredevops", "ado_", "vsts", "azdo"),
        r"[a-z2-7]{52}",
        "Revoke it in Azure DevOps → User settings → Personal access tokens, then create a "
        "new one.",
        right=_R,
    ),
    _rule(
        "azure-sas-token",
        "Azure shared access signature (sig= of a SAS URL or token)",
        HIGH,
        r"(?i)(?:[?&;]|^|[\"'\s])sig=(?P<secret>(?-i:[A-Za-z0-9%+/]{40,120}(?:%3D|=){0,2}))",
        ("sig=",),
        remediation=(
            "Revoke it by rotating the storage account key it was signed with (or deleting "
            "its stored access policy), then issue SAS tokens with a short expiry."
        ),
        check=_azure_sas,
    ),
    _rule(
        "azure-shared-access-key",
        "Azure Service Bus, Event Hubs or IoT Hub shared access key",
        CRITICAL,
        rf"(?i:SharedAccessKey)=(?P<secret>[A-Za-z0-9+/]{{43}}=){_R_B64}",
        ("sharedaccesskey=",),
        remediation=(
            "Regenerate the key in the Azure portal → the namespace or hub → Shared access "
            "policies → the policy, after moving clients to the other key."
        ),
    ),
    _rule(
        "azure-app-configuration-secret",
        "Azure App Configuration connection string secret",
        CRITICAL,
        r"(?i)Endpoint=https://[a-z0-9-]+\.azconfig\.io;Id=[^;\s]+;"
        r"Secret=(?P<secret>(?-i:[A-Za-z0-9+/]{43}=))",
        ("azconfig.io",),
        remediation=(
            "Regenerate the access key in the Azure portal → the App Configuration store → "
            "Access settings, or switch clients to Entra ID."
        ),
    ),
    _prefixed(
        "cloudflare-origin-ca-key",
        "Cloudflare Origin CA key",
        HIGH,
        "v1.0-",
        r"[a-f0-9]{24}-[a-f0-9]{146}",
        "Remove it in the Cloudflare dashboard → My Profile → API Tokens → Origin CA Key → "
        "View → Change.",
        right=_R_DASH,
    ),
    _named(
        "cloudflare-api-token",
        "Cloudflare API token",
        CRITICAL,
        ("cloudflare", "cf_api_token", "cf_token", "cf-api-token"),
        r"[A-Za-z0-9_-]{40}",
        "Roll or delete it in the Cloudflare dashboard → My Profile → API Tokens.",
    ),
    _named(
        "cloudflare-global-api-key",
        "Cloudflare global API key",
        CRITICAL,
        ("cloudflare", "cf_api_key", "cf_key", "cf-api-key"),
        r"[a-f0-9]{37}",
        "Change it in the Cloudflare dashboard → My Profile → API Tokens → Global API Key → "
        "Change, and use scoped API tokens instead.",
    ),
    _named(
        "fastly-api-token",
        "Fastly API token",
        HIGH,
        ("fastly",),
        r"[A-Za-z0-9_-]{32}",
        "Delete it in the Fastly control panel → Account → API tokens, then create a new one.",
    ),
    _named(
        "vercel-token",
        "Vercel access token",
        HIGH,
        ("vercel",),
        r"[A-Za-z0-9]{24}",
        "Delete it at vercel.com → Account Settings → Tokens, then create a new one.",
        right=_R,
    ),
    _prefixed(
        "netlify-pat",
        "Netlify personal access token",
        HIGH,
        "nfp_",
        r"[A-Za-z0-9]{36}",
        "Revoke it in Netlify → User settings → Applications → Personal access tokens.",
    ),
    _named(
        "netlify-legacy-token",
        "Netlify access token (unprefixed)",
        HIGH,
        ("netlify",),
        r"[A-Za-z0-9_-]{43}",
        "Revoke it in Netlify → User settings → Applications → Personal access tokens.",
    ),
    _named(
        "linode-token",
        "Linode (Akamai) personal access token",
        CRITICAL,
        ("linode",),
        r"[a-f0-9]{64}",
        "Revoke it in Cloud Manager → My Profile → API Tokens, then create a new one.",
        right=_R,
    ),
    _named(
        "vultr-api-key",
        "Vultr API key",
        CRITICAL,
        ("vultr",),
        r"[A-Z0-9]{36}",
        "Regenerate it in the Vultr customer portal → Account → API, and restrict its IPs.",
        right=_R,
    ),
    _named(
        "hetzner-cloud-token",
        "Hetzner Cloud API token",
        CRITICAL,
        ("hcloud", "hetzner"),
        r"[A-Za-z0-9]{64}",
        "Delete it in the Hetzner Cloud console → the project → Security → API tokens.",
        right=_R,
    ),
    _prefixed(
        "scaleway-access-key",
        "Scaleway API access key",
        HIGH,
        "SCW",
        r"[A-Z0-9]{17}",
        "Delete the API key in the Scaleway console → IAM → API keys, then create a new one.",
    ),
    _named(
        "scaleway-secret-key",
        "Scaleway API secret key",
        CRITICAL,
        ("scaleway", "scw_secret", "scw-secret"),
        _UUID,
        "Delete the API key in the Scaleway console → IAM → API keys, then create a new one.",
    ),
    _prefixed(
        "alibaba-access-key-id",
        "Alibaba Cloud AccessKey ID",
        HIGH,
        "LTAI",
        r"[A-Za-z0-9]{12,20}",
        "Disable and delete the AccessKey in the Alibaba Cloud RAM console → Users → the "
        "user → AccessKey, then create a new one.",
        check=in_context(
            (
                b"alibaba",
                b"aliyun",
                b"alicloud",
                b"accesskey",
                b"access_key",
                b"access-key",
                b"ali_",
                b"ali-",
                b"oss_",
                b"oss-",
            )
        ),  # fmt: skip
    ),
    _named(
        "alibaba-access-key-secret",
        "Alibaba Cloud AccessKey secret",
        CRITICAL,
        ("alibaba", "aliyun", "alicloud"),
        r"[A-Za-z0-9]{30}",
        "Disable and delete the AccessKey in the Alibaba Cloud RAM console → Users → the "
        "user → AccessKey, then create a new one.",
        right=_R,
    ),
    _prefixed(
        "tencent-secret-id",
        "Tencent Cloud SecretId",
        HIGH,
        "AKID",
        r"[A-Za-z0-9]{32}",
        "Disable and delete the key in the Tencent Cloud CAM console → API Keys, then "
        "create a new one.",
        check=in_context(
            (b"tencent", b"qcloud", b"secretid", b"secret_id", b"secret-id", b"tccli", b"cos_")
        ),
    ),
    _prefixed(
        "yandex-api-key",
        "Yandex Cloud API key",
        HIGH,
        "AQVN",
        r"[A-Za-z0-9_-]{35,38}",
        "Delete the service account's API key in the Yandex Cloud console → Service "
        "accounts → the account, then create a new one.",
        right=_R_DASH,
    ),
    _named(
        "heroku-legacy-api-key",
        "Heroku API key (UUID form)",
        CRITICAL,
        ("heroku",),
        _UUID,
        "Regenerate it in the Heroku dashboard → Account settings → API Key (or "
        "`heroku authorizations:revoke`).",
    ),
]

# -- source hosting, CI and registries ---------------------------------------------------

DEVTOOLS = [
    _named(
        "github-oauth-app-secret",
        "GitHub OAuth app client secret",
        CRITICAL,
        (
            "github_client_secret",
            "github-client-secret",
            "github_oauth_secret",
            "gh_client_secret",
            "github_secret",
        ),
        r"[a-f0-9]{40}",
        "Generate a new client secret at GitHub → Settings → Developer settings → OAuth Apps "
        "→ the app, then delete the old one.",
        right=_R,
    ),  # fmt: skip
    _prefixed(
        "gitlab-feature-flags-token",
        "GitLab feature flags client token",
        MEDIUM,
        "glffct-",
        r"[A-Za-z0-9_-]{20,50}",
        "Reset it in the project's Deploy → Feature flags → Configure → Reset.",
        right=_R_DASH,
    ),
    _prefixed(
        "bitbucket-app-password",
        "Bitbucket app password or API token",
        CRITICAL,
        "ATBB",
        r"[A-Za-z0-9]{32}",
        "Revoke it in Bitbucket → Personal settings → App passwords (or API tokens), then "
        "create a new one.",
    ),
    _prefixed(
        "dockerhub-org-token",
        "Docker Hub organization access token",
        CRITICAL,
        "dckr_oat_",
        r"[A-Za-z0-9_-]{32}",
        "Delete it at Docker Hub → the organization → Settings → Access tokens, then create a "
        "new one.",
        right=_R_DASH,
    ),
    _named(
        "quay-robot-token",
        "Quay.io robot account token",
        HIGH,
        ("quay",),
        r"[A-Z0-9]{64}",
        "Regenerate the robot's token in Quay → the organization → Robot Accounts → the "
        "robot → Regenerate.",
        right=_R,
    ),
    _prefixed(
        "rubygems-api-key",
        "RubyGems API key",
        CRITICAL,
        "rubygems_",
        r"[a-f0-9]{48}",
        "Delete it at rubygems.org → Settings → API keys, then create a scoped one.",
    ),
    _prefixed(
        "nuget-api-key",
        "NuGet.org API key",
        CRITICAL,
        "oy2",
        r"[a-z0-9]{43}",
        "Delete or regenerate it at nuget.org → API Keys, and scope the new key to its packages.",
        prefilter=True,
    ),
    _prefixed(
        "jfrog-reference-token",
        "JFrog Platform access (reference) token",
        CRITICAL,
        "cmVmdGtuOjAxOj",
        r"[A-Za-z0-9]{50}",
        "Revoke it in the JFrog Platform → Administration → User Management → Access Tokens.",
    ),
    _prefixed(
        "clojars-token",
        "Clojars deploy token",
        CRITICAL,
        "CLOJARS_",
        r"[a-z0-9]{60}",
        "Disable it at clojars.org → Dashboard → Deploy Tokens, then create a new one.",
    ),
    _prefixed(
        "sonarqube-token",
        "SonarQube or SonarCloud token",
        HIGH,
        "sq",
        r"[pua]_[a-f0-9]{40}",
        "Revoke it in SonarQube → My Account → Security, then generate a new one.",
        keywords=("sqp_", "squ_", "sqa_"),
    ),
    _prefixed(
        "circleci-pat",
        "CircleCI personal API token",
        CRITICAL,
        "CCIPAT_",
        r"[A-Za-z0-9]{22}_[a-f0-9]{40}",
        "Delete it in CircleCI → User settings → Personal API Tokens, then create a new one.",
    ),
    _prefixed(
        "buildkite-token",
        "Buildkite API access token",
        CRITICAL,
        "bkua_",
        r"[a-f0-9]{40}",
        "Revoke it in Buildkite → Personal Settings → API Access Tokens.",
    ),
    _named(
        "jenkins-api-token",
        "Jenkins API token",
        HIGH,
        ("jenkins",),
        r"11[a-f0-9]{32}",
        "Revoke it in Jenkins → the user → Security → API Token, then generate a new one.",
        right=_R,
    ),
    _named(
        "codecov-token",
        "Codecov upload token",
        MEDIUM,
        ("codecov",),
        _UUID,
        "Regenerate it in Codecov → the repository → Configuration → General.",
    ),
    _named(
        "snyk-token",
        "Snyk API token",
        HIGH,
        ("snyk",),
        _UUID,
        "Revoke and regenerate it in Snyk → Account settings → General → Auth Token.",
    ),
    _prefixed(
        "octopus-deploy-api-key",
        "Octopus Deploy API key",
        HIGH,
        "API-",
        r"[A-Z0-9]{26}",
        "Revoke it in Octopus → the user's Profile → My API Keys, then create a new one.",
        prefilter=True,
    ),
    _prefixed(
        "terraform-cloud-token",
        "Terraform Cloud / HCP Terraform API token",
        CRITICAL,
        "",
        r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
        "Revoke it in HCP Terraform → User settings → Tokens (or the organization's or "
        "team's API tokens), then create a new one.",
        keywords=("atlasv1",),
        right=_R_DASH,
    ),
    _prefixed(
        "vault-recovery-token",
        "HashiCorp Vault recovery token",
        CRITICAL,
        "hvr.",
        r"[A-Za-z0-9_-]{24,512}",
        "Revoke it with `vault token revoke` in recovery mode and regenerate the recovery "
        "keys if they were exposed too.",
        right=_R_DASH,
    ),
    _named(
        "vault-legacy-token",
        "HashiCorp Vault token (pre-1.10 s. form)",
        CRITICAL,
        ("vault_token", "vault-token", "vaulttoken", "x-vault-token"),
        r"s\.[A-Za-z0-9]{24}",
        "Revoke it with `vault token revoke` (or its accessor), then issue a short-lived "
        "token through an auth method.",
        right=_R,
    ),
    _prefixed(
        "tailscale-key",
        "Tailscale API, auth or OAuth client key",
        CRITICAL,
        "tskey-",
        r"(?:api|auth|client|scim|webhook)-[A-Za-z0-9]{10,20}-[A-Za-z0-9]{20,40}",
        "Revoke it in the Tailscale admin console → Settings → Keys (or OAuth clients).",
    ),
    _rule(
        "rancher-api-token",
        "Rancher API token",
        CRITICAL,
        rf"{_L}(?P<secret>token-[a-z0-9]{{5}}:[a-z0-9]{{54}}){_R}",
        prefilter=r"token-[a-z0-9]{5}:[a-z0-9]{54}",
        remediation="Delete it in Rancher → the user menu → Account & API Keys.",
    ),
    _prefixed(
        "infracost-api-key",
        "Infracost API key",
        MEDIUM,
        "ico-",
        r"[A-Za-z0-9]{32}",
        "Rotate it in Infracost Cloud → Org settings → API keys.",
    ),
    _prefixed(
        "postman-api-key",
        "Postman API key",
        HIGH,
        "PMAK-",
        r"[a-f0-9]{24}-[a-f0-9]{34}",
        "Revoke it in Postman → Settings → API keys (or your profile's API keys page).",
    ),
    _prefixed(
        "readme-api-key",
        "ReadMe API key",
        MEDIUM,
        "rdme_",
        r"[a-z0-9]{70}",
        "Revoke it in the ReadMe dashboard → the project → API keys.",
    ),
    _prefixed(
        "defined-networking-key",
        "Defined Networking (Nebula) API key",
        HIGH,
        "dnkey-",
        r"[a-z0-9=_-]{26}-[a-z0-9=_-]{52}",
        "Delete it in the Defined Networking admin panel → API Keys.",
        right=_R_DASH,
    ),
]

# -- secret managers -------------------------------------------------------------------


def _doppler(kind: str, prefix: str) -> Rule:
    return _prefixed(
        f"doppler-{kind.lower().replace(' ', '-')}-token",
        f"Doppler {kind} token",
        CRITICAL,
        prefix,
        r"(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44}",
        "Revoke it in the Doppler dashboard (the project config's Access tab, or Team → "
        "Service accounts / API tokens), then create a new one.",
    )


SECRET_STORES = [
    _doppler("service", "dp.st."),
    _doppler("CLI", "dp.ct."),
    _doppler("SCIM", "dp.scim."),
    _doppler("service account", "dp.sa."),
    _doppler("audit", "dp.audit."),
    _prefixed(
        "onepassword-service-account-token",
        "1Password service account token",
        CRITICAL,
        "ops_eyJ",
        r"[A-Za-z0-9+/]{250,}={0,3}",
        "Revoke the service account's token in 1Password → Developer → Directory → "
        "Service accounts, then create a new one.",
        right=_R_B64,
        check=not_example,
    ),
    _rule(
        "onepassword-secret-key",
        "1Password account Secret Key",
        CRITICAL,
        r"(?<![A-Za-z0-9-])(?P<secret>A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})"
        r"-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})(?![A-Za-z0-9-])",
        prefilter=r"A3-[A-Z0-9]{6}-[A-Z0-9]{5,6}",
        remediation=(
            "Generate a new Secret Key in 1Password → My Profile → Regenerate Secret Key, and "
            "change the account password."
        ),
    ),
]

# -- messaging, email and notification ----------------------------------------------------

MESSAGING = [
    _rule(
        "slack-app-token",
        "Slack app-level token",
        HIGH,
        rf"{_L}(?P<secret>xapp-\d-[A-Z0-9]{{9,11}}-\d{{10,13}}-[a-f0-9]{{64}}){_R}",
        ("xapp-",),
        remediation=(
            "Revoke it at api.slack.com/apps → the app → Basic Information → App-Level "
            "Tokens, then generate a new one."
        ),
    ),
    _rule(
        "slack-config-token",
        "Slack app configuration access token",
        HIGH,
        rf"{_L}(?P<secret>xoxe\.xox[bp]-\d-[A-Za-z0-9]{{163,166}}){_R}",
        ("xoxe.xox",),
        remediation=(
            "Revoke it at api.slack.com/apps → Your App Configuration Tokens, then generate "
            "a new one."
        ),
    ),
    _rule(
        "slack-config-refresh-token",
        "Slack app configuration refresh token",
        HIGH,
        rf"{_L}(?P<secret>xoxe-\d-[A-Za-z0-9]{{146}}){_R}",
        ("xoxe-",),
        remediation=(
            "Revoke it at api.slack.com/apps → Your App Configuration Tokens, then generate "
            "a new one."
        ),
    ),
    _rule(
        "slack-workflow-webhook-url",
        "Slack workflow webhook URL",
        MEDIUM,
        r"(?P<secret>https://hooks\.slack\.com/(?:workflows|triggers)/T[A-Z0-9]{6,16}/"
        r"A[A-Z0-9]{6,16}/\d{6,24}/[A-Za-z0-9]{32})(?![A-Za-z0-9])",
        ("hooks.slack.com/workflows/", "hooks.slack.com/triggers/"),
        remediation=(
            "Delete the workflow's webhook trigger in Slack Workflow Builder, then create a "
            "new one."
        ),
    ),
    _rule(
        "discord-webhook-url",
        "Discord webhook URL",
        MEDIUM,
        r"(?P<secret>https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/"
        r"[A-Za-z0-9_-]{60,68})(?![A-Za-z0-9_-])",
        ("discord.com/api/webhooks/", "discordapp.com/api/webhooks/"),
        remediation="Delete the webhook in the Discord channel → Edit Channel → Integrations.",
    ),
    _named(
        "twilio-auth-token",
        "Twilio auth token",
        CRITICAL,
        ("twilio",),
        r"[a-f0-9]{32}",
        "Rotate it in the Twilio Console → Account → API keys & tokens → Auth tokens → "
        "Request a secondary token, then promote it.",
        right=_R,
    ),
    _rule(
        "mailgun-api-key",
        "Mailgun API key",
        HIGH,
        rf"{_L}(?P<secret>key-[0-9a-f]{{32}}){_R}",
        prefilter=r"key-[0-9a-f]{32}",
        remediation="Delete it in Mailgun → Settings → API Keys, then create a new one.",
        check=sure_near((b"mailgun", b"mg_", b"api.mailgun"), Confidence.MEDIUM),
    ),
    _named(
        "mailgun-private-key",
        "Mailgun private API key or webhook signing key",
        HIGH,
        ("mailgun",),
        r"[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}",
        "Delete it in Mailgun → Settings → API Keys (or reset the webhook signing key).",
    ),
    _named(
        "mandrill-api-key",
        "Mailchimp Transactional (Mandrill) API key",
        HIGH,
        ("mandrill", "mailchimp_transactional", "mailchimp-transactional"),
        r"(?:md-)?[A-Za-z0-9_-]{22}",
        "Delete it in Mailchimp Transactional → Settings → SMTP & API Info, then create a new one.",
    ),
    _named(
        "postmark-server-token",
        "Postmark server or account API token",
        HIGH,
        ("postmark",),
        _UUID,
        "Reset it in Postmark → the server → API Tokens (or Account → API Tokens).",
    ),
    _prefixed(
        "brevo-api-key",
        "Brevo (Sendinblue) API key",
        HIGH,
        "xkeysib-",
        r"[a-f0-9]{64}-[A-Za-z0-9]{16}",
        "Delete it in Brevo → SMTP & API → API Keys, then create a new one.",
    ),
    _prefixed(
        "typeform-token",
        "Typeform personal access token",
        MEDIUM,
        "tfp_",
        r"[A-Za-z0-9_.=-]{59}",
        "Delete it in Typeform → Account → Personal tokens.",
        right=_R_DASH,
    ),
    _prefixed(
        "intercom-access-token",
        "Intercom access token",
        HIGH,
        "dG9rOi",
        r"[A-Za-z0-9_=-]{54}",
        "Regenerate it in the Intercom Developer Hub → the app → Authentication.",
        right=_R_DASH,
    ),
    _prefixed(
        "hubspot-private-app-token",
        "HubSpot private app access token",
        HIGH,
        "pat-",
        r"(?:na1|eu1)-" + _UUID,
        "Rotate it in HubSpot → Settings → Integrations → Private Apps → the app → Auth → Rotate.",
        keywords=("pat-na1-", "pat-eu1-"),
        right=_R_DASH,
    ),
    _named(
        "zendesk-api-token",
        "Zendesk API token",
        HIGH,
        ("zendesk",),
        r"[A-Za-z0-9]{40}",
        "Delete it in Zendesk Admin Center → Apps and integrations → Zendesk API.",
        right=_R,
    ),
]

# -- payments and commerce -------------------------------------------------------------------

COMMERCE = [
    _prefixed(
        "stripe-webhook-secret",
        "Stripe webhook signing secret",
        HIGH,
        "whsec_",
        r"[A-Za-z0-9+/=]{32,88}",
        "Roll the secret in the Stripe Dashboard → Developers → Webhooks → the endpoint → "
        "Signing secret.",
        right=_R_B64,
    ),
    _rule(
        "stripe-test-key",
        "Stripe test-mode secret or restricted key",
        MEDIUM,
        rf"{_L}(?P<secret>[sr]k_test_[A-Za-z0-9]{{24,247}}){_R}",
        ("sk_test_", "rk_test_"),
        remediation="Roll the key in the Stripe Dashboard (test mode) → Developers → API keys.",
    ),
    _rule(
        "square-access-token",
        "Square access token",
        CRITICAL,
        rf"{_L}(?P<secret>EAAA[A-Za-z0-9_-]{{60}}|sq0atp-[A-Za-z0-9_-]{{22}}){_R_DASH}",
        prefilter=r"EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22}",
        remediation=(
            "Revoke it in the Square Developer Dashboard → the application → Credentials (or "
            "OAuth → Revoke), then create a new one."
        ),
    ),
    _rule(
        "braintree-access-token",
        "PayPal Braintree access token",
        CRITICAL,
        rf"{_L}(?P<secret>access_token\$(?:production|sandbox)\$[0-9a-z]{{16}}\$[0-9a-f]{{32}})"
        + _R,
        ("access_token$production$", "access_token$sandbox$"),
        remediation=(
            "Revoke it in the Braintree Control Panel → Settings → API → the key, or in the "
            "PayPal Developer Dashboard, then create a new one."
        ),
        check=_braintree,
    ),
    _named(
        "paypal-client-secret",
        "PayPal REST API client secret",
        CRITICAL,
        ("paypal",),
        r"[A-Za-z0-9_-]{80}",
        "Generate a new secret in the PayPal Developer Dashboard → Apps & Credentials → the "
        "app, then delete the old one.",
    ),
    _prefixed(
        "shippo-api-token",
        "Shippo API token",
        HIGH,
        "shippo_",
        r"(?:live|test)_[a-f0-9]{40}",
        "Regenerate it in the Shippo dashboard → Settings → API.",
        keywords=("shippo_live_", "shippo_test_"),
    ),
    _rule(
        "easypost-api-key",
        "EasyPost API key",
        HIGH,
        rf"{_L}(?P<secret>EZ[AT]K[a-z0-9]{{54}}){_R}",
        ("ezak", "eztk"),
        remediation="Disable it in EasyPost → Account settings → API keys, then create a new one.",
    ),
    _rule(
        "flutterwave-secret-key",
        "Flutterwave secret key",
        CRITICAL,
        rf"{_L}(?P<secret>FLWSECK(?:_TEST)?-[a-f0-9]{{32}}-X){_R}",
        ("flwseck",),
        remediation="Regenerate the API keys in the Flutterwave dashboard → Settings → API Keys.",
    ),
    _prefixed(
        "duffel-token",
        "Duffel API access token",
        HIGH,
        "duffel_",
        r"(?:test|live)_[A-Za-z0-9_=-]{43}",
        "Revoke it in the Duffel dashboard → Developers → Access tokens.",
        keywords=("duffel_test_", "duffel_live_"),
        right=_R_DASH,
    ),
    _prefixed(
        "plaid-access-token",
        "Plaid access token",
        CRITICAL,
        "access-",
        r"(?:sandbox|development|production)-" + _UUID,
        "Invalidate it with Plaid's /item/access_token/invalidate (or remove the Item), then "
        "re-link the account.",
        keywords=("access-sandbox-", "access-development-", "access-production-"),
        right=_R_DASH,
    ),
    _rule(
        "flyio-token",
        "Fly.io access token",
        CRITICAL,
        r"(?<![A-Za-z0-9_])(?P<secret>fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3})"
        + _R_B64,
        ("fo1_", "fm1a_", "fm1r_", "fm2_"),
        remediation="Revoke it with `fly tokens revoke` or in the Fly.io dashboard → Tokens.",
        check=not_example,
    ),
]

# -- data, AI and SaaS ---------------------------------------------------------------------

SERVICES = [
    _named(
        "datadog-api-key",
        "Datadog API key",
        HIGH,
        ("datadog", "dd_api_key", "dd-api-key", "dd_apikey"),
        r"[a-f0-9]{32}",
        "Revoke it in Datadog → Organization Settings → API Keys, then create a new one.",
        right=_R,
    ),
    _named(
        "datadog-app-key",
        "Datadog application key",
        HIGH,
        ("datadog_app", "datadog-app", "dd_app_key", "dd-app-key", "dd_application_key"),
        r"[a-f0-9]{40}",
        "Revoke it in Datadog → Organization Settings → Application Keys.",
        right=_R,
    ),
    _rule(
        "newrelic-license-key",
        "New Relic ingest license key",
        HIGH,
        rf"{_L}(?P<secret>(?:[a-f0-9]{{36}}|eu01xx[a-f0-9]{{30}})NRAL){_R}",
        ("nral",),
        remediation="Delete it in New Relic → API keys, then create a new ingest license key.",
    ),
    _prefixed(
        "newrelic-insert-key",
        "New Relic insights insert key",
        HIGH,
        "NRII-",
        r"[A-Za-z0-9_-]{32}",
        "Delete it in New Relic → API keys (Insights insert keys).",
        right=_R_DASH,
    ),
    _prefixed(
        "newrelic-browser-key",
        "New Relic browser API key",
        MEDIUM,
        "NRJS-",
        r"[a-f0-9]{19}",
        "Delete it in New Relic → API keys (browser keys).",
    ),
    _prefixed(
        "newrelic-admin-key",
        "New Relic admin API key",
        CRITICAL,
        "NRAA-",
        r"[a-f0-9]{27}",
        "Delete it in New Relic → API keys, and use user keys instead.",
    ),
    _prefixed(
        "sentry-user-token",
        "Sentry user auth token",
        HIGH,
        "sntryu_",
        r"[a-f0-9]{64}",
        "Revoke it in Sentry → User settings → Auth Tokens.",
    ),
    _prefixed(
        "grafana-api-key",
        "Grafana API key (legacy)",
        HIGH,
        "eyJrIjoi",
        r"[A-Za-z0-9+/]{70,400}={0,2}",
        "Delete it in Grafana → Administration → API keys, and migrate to service accounts.",
        right=_R_B64,
        check=not_example,
    ),
    _prefixed(
        "dynatrace-token",
        "Dynatrace API token",
        HIGH,
        "dt0c01.",
        r"[A-Z0-9]{24}\.[A-Z0-9]{64}",
        "Revoke it in Dynatrace → Access tokens, then generate a new one.",
    ),
    _named(
        "okta-api-token",
        "Okta API token",
        CRITICAL,
        ("okta",),
        r"00[A-Za-z0-9_-]{40}",
        "Revoke it in the Okta Admin Console → Security → API → Tokens.",
    ),
    _prefixed(
        "atlassian-api-token",
        "Atlassian (Jira, Confluence) API token",
        CRITICAL,
        "ATATT3",
        r"[A-Za-z0-9_=-]{180,200}",
        "Revoke it at id.atlassian.com → Security → API tokens, then create a new one.",
        right=_R_DASH,
    ),
    _named(
        "atlassian-legacy-token",
        "Atlassian (Jira, Confluence) API token (24 characters)",
        HIGH,
        ("atlassian", "jira", "confluence"),
        r"[A-Za-z0-9]{24}",
        "Revoke it at id.atlassian.com → Security → API tokens, then create a new one.",
        right=_R,
    ),
    _prefixed(
        "linear-oauth-token",
        "Linear OAuth access token",
        HIGH,
        "lin_oauth_",
        r"[a-f0-9]{64}",
        "Revoke the OAuth application's access in Linear → Settings → Security & access.",
    ),
    _prefixed(
        "notion-api-token",
        "Notion integration token",
        HIGH,
        "ntn_",
        r"\d{11}[A-Za-z0-9]{35}",
        "Refresh the secret in Notion → Settings → Connections → Develop or manage "
        "integrations → the integration.",
    ),
    _rule(
        "notion-legacy-token",
        "Notion integration token (secret_ form)",
        HIGH,
        rf"{_L}(?P<secret>secret_[A-Za-z0-9]{{43}}){_R}",
        prefilter=r"secret_[A-Za-z0-9]{43}",
        remediation=(
            "Refresh the secret in Notion → Settings → Connections → Develop or manage "
            "integrations → the integration."
        ),
        check=sure_near((b"notion",), Confidence.MEDIUM),
    ),
    _prefixed(
        "airtable-pat",
        "Airtable personal access token",
        HIGH,
        "pat",
        r"[A-Za-z0-9]{14}\.[a-f0-9]{64}",
        "Regenerate or delete it at airtable.com/create/tokens.",
        prefilter=True,
    ),
    _prefixed(
        "figma-pat",
        "Figma personal access token",
        HIGH,
        "figd_",
        r"[A-Za-z0-9_-]{40}",
        "Revoke it in Figma → Settings → Security → Personal access tokens.",
        right=_R_DASH,
    ),
    _prefixed(
        "contentful-pat",
        "Contentful personal access token",
        HIGH,
        "CFPAT-",
        r"[A-Za-z0-9_-]{43}",
        "Revoke it in Contentful → Account settings → CMA tokens.",
        right=_R_DASH,
    ),
    _rule(
        "dropbox-token",
        "Dropbox short-lived access token",
        HIGH,
        rf"{_L}(?P<secret>sl\.(?:u\.)?[A-Za-z0-9_-]{{130,1400}}){_R_DASH}",
        prefilter=r"sl\.(?:u\.)?[A-Za-z0-9_-]{130}",
        remediation=(
            "Revoke it with Dropbox's /2/auth/token/revoke or disconnect the app at "
            "dropbox.com → Settings → Connected apps."
        ),
        check=not_example,
    ),
    _prefixed(
        "mapbox-secret-token",
        "Mapbox secret access token",
        HIGH,
        "sk.eyJ1Ijoi",
        r"[A-Za-z0-9_-]{10,100}\.[A-Za-z0-9_-]{22}",
        "Delete it at account.mapbox.com → Access tokens, then create a new one.",
        right=_R_DASH,
    ),
    _named(
        "algolia-admin-key",
        "Algolia admin API key",
        CRITICAL,
        ("algolia",),
        r"[a-f0-9]{32}",
        "Regenerate it in the Algolia dashboard → Settings → API Keys.",
        right=_R,
    ),
    _prefixed(
        "pinecone-api-key",
        "Pinecone API key",
        HIGH,
        "pcsk_",
        r"[A-Za-z0-9]{5,6}_[A-Za-z0-9]{60,70}",
        "Delete it in the Pinecone console → API Keys, then create a new one.",
    ),
    _prefixed(
        "supabase-access-token",
        "Supabase personal access token",
        CRITICAL,
        "sbp_",
        r"[a-f0-9]{40}",
        "Revoke it in the Supabase dashboard → Account → Access Tokens.",
    ),
    _prefixed(
        "supabase-secret-key",
        "Supabase secret API key",
        CRITICAL,
        "sb_secret_",
        r"[A-Za-z0-9_-]{20,64}",
        "Delete it in the Supabase dashboard → Project settings → API Keys, then create a new one.",
        right=_R_DASH,
    ),
    _prefixed(
        "render-api-key",
        "Render API key",
        HIGH,
        "rnd_",
        r"[A-Za-z0-9]{32}",
        "Revoke it in the Render dashboard → Account settings → API Keys.",
    ),
    _prefixed(
        "planetscale-token",
        "PlanetScale service token or OAuth token",
        CRITICAL,
        "pscale_",
        r"(?:tkn|oauth)_[A-Za-z0-9_.=-]{32,64}",
        "Delete it in PlanetScale → the organization → Settings → Service tokens (or revoke "
        "the OAuth application).",
        keywords=("pscale_tkn_", "pscale_oauth_"),
        right=_R_DASH,
    ),
    _prefixed(
        "planetscale-password",
        "PlanetScale database password",
        CRITICAL,
        "pscale_pw_",
        r"[A-Za-z0-9_.=-]{32,64}",
        "Delete the password in PlanetScale → the database → Settings → Passwords, then "
        "create a new one.",
        right=_R_DASH,
    ),
    _prefixed(
        "prefect-api-key",
        "Prefect Cloud API key",
        HIGH,
        "pnu_",
        r"[A-Za-z0-9]{36}",
        "Delete it in Prefect Cloud → the profile → API keys.",
    ),
    _prefixed(
        "scalingo-api-token",
        "Scalingo API token",
        HIGH,
        "tk-us-",
        r"[A-Za-z0-9_-]{48}",
        "Revoke it in the Scalingo dashboard → Profile → API tokens.",
        right=_R_DASH,
    ),
    _prefixed(
        "frameio-token",
        "Frame.io developer token",
        MEDIUM,
        "fio-u-",
        r"[A-Za-z0-9_=-]{64}",
        "Delete it in the Frame.io developer site → Tokens.",
        right=_R_DASH,
    ),
    _rule(
        "x-bearer-token",
        "X (Twitter) API bearer token",
        HIGH,
        r"(?<![A-Za-z0-9_+/])(?P<secret>A{20}[A-Za-z0-9%]{30,150})(?![A-Za-z0-9_+/=%])",
        prefilter=r"A{20}[A-Za-z0-9%]{30}",
        remediation=(
            "Regenerate it in the X developer portal → the project → the app → Keys and "
            "tokens → Bearer token."
        ),
        check=not_example,
    ),
    _prefixed(
        "facebook-access-token",
        "Facebook (Meta) Graph API access token",
        HIGH,
        "EAACEdEose0cBA",
        r"[A-Za-z0-9]{20,400}",
        "Invalidate it by changing the app secret or removing the app's access in Facebook "
        "→ Settings → Apps and websites.",
    ),
    _named(
        "facebook-app-secret",
        "Facebook (Meta) app secret",
        CRITICAL,
        (
            "facebook_app_secret",
            "facebook-app-secret",
            "fb_app_secret",
            "facebook_secret",
            "fb_secret",
        ),
        r"[a-f0-9]{32}",
        "Reset it in the Meta for Developers dashboard → the app → App settings → Basic → "
        "App secret → Reset.",
        right=_R,
    ),  # fmt: skip
    _named(
        "cohere-api-key",
        "Cohere API key",
        HIGH,
        ("cohere", "co_api_key"),
        r"[A-Za-z0-9]{40}",
        "Delete it in the Cohere dashboard → API keys, then create a new one.",
        right=_R,
    ),
    _named(
        "mistral-api-key",
        "Mistral AI API key",
        HIGH,
        ("mistral",),
        r"[A-Za-z0-9]{32}",
        "Delete it in the Mistral console → API keys, then create a new one.",
        right=_R,
    ),
    _named(
        "wandb-api-key",
        "Weights & Biases API key",
        HIGH,
        ("wandb", "weights_and_biases"),
        r"[a-f0-9]{40}",
        "Revoke it at wandb.ai → User settings → API keys, then create a new one.",
        right=_R,
    ),
    _prefixed(
        "anthropic-admin-key",
        "Anthropic Admin API key",
        CRITICAL,
        "sk-ant-admin01-",
        r"[A-Za-z0-9_-]{93}AA",
        "Delete it in the Anthropic Console → Settings → Admin keys, then create a new one.",
        right=_R_DASH,
    ),
    _prefixed(
        "huggingface-org-token",
        "Hugging Face organization API token",
        HIGH,
        "api_org_",
        r"[A-Za-z]{34}",
        "Invalidate it in the organization's settings on huggingface.co, then create a new one.",
    ),
    _prefixed(
        "replicate-api-token",
        "Replicate API token",
        HIGH,
        "r8_",
        r"[A-Za-z0-9]{37}",
        "Disable it at replicate.com → Account → API tokens, then create a new one.",
    ),
    _prefixed(
        "groq-api-key",
        "Groq API key",
        HIGH,
        "gsk_",
        r"[A-Za-z0-9]{52}",
        "Delete it in the GroqCloud console → API Keys, then create a new one.",
    ),
    _prefixed(
        "perplexity-api-key",
        "Perplexity API key",
        HIGH,
        "pplx-",
        r"[A-Za-z0-9]{48,64}",
        "Revoke it in Perplexity → Settings → API, then generate a new one.",
    ),
    _prefixed(
        "xai-api-key",
        "xAI API key",
        HIGH,
        "xai-",
        r"[A-Za-z0-9]{80}",
        "Delete it in the xAI console → API Keys, then create a new one.",
    ),
    _prefixed(
        "langsmith-api-key",
        "LangSmith API key",
        HIGH,
        "lsv2_",
        r"(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",
        "Delete it in LangSmith → Settings → API Keys, then create a new one.",
    ),
    _rule(
        "cloudinary-url",
        "Cloudinary URL with API secret",
        HIGH,
        r"cloudinary://\d{6,20}:(?P<secret>[A-Za-z0-9_-]{20,40})@[a-z0-9_-]+",
        ("cloudinary://",),
        remediation=(
            "Rotate the API secret in the Cloudinary console → Settings → API Keys, then "
            "update CLOUDINARY_URL."
        ),
    ),
]

# -- database connection strings ---------------------------------------------------------------
# URLs with user:password (postgres://, mysql://, mongodb+srv://, redis://, amqp://) are
# the generic `url-credentials` rule's; these are the forms it cannot see.

DATABASES = [
    _rule(
        "mssql-connection-string",
        "SQL Server (ADO.NET) connection string with a password",
        HIGH,
        r"(?i)(?:server|data source|address|addr)[ \t]*=[^;\"'\n]{1,200};[^\"'\n]{0,300}?"
        r"(?:password|pwd)[ \t]*=[ \t]*(?P<secret>[^;\"'\s]{3,128})",
        prefilter=r"(?i);[ \t]*(?:password|pwd)[ \t]*=",
        remediation=(
            "Change that login's password in SQL Server (ALTER LOGIN ... WITH PASSWORD), or "
            "switch to integrated or managed-identity authentication."
        ),
        check=_check_url_password,
    ),
    _rule(
        "jdbc-password",
        "JDBC URL with a password parameter",
        HIGH,
        r"(?i)jdbc:[a-z0-9]+:[^\s\"'<>]*?[?&;:](?:password|pwd)=(?P<secret>[^&;\s\"'<>]{3,128})",
        ("jdbc:",),
        remediation=(
            "Change that user's password on the database server and pass credentials to the "
            "driver at run time instead of in the URL."
        ),
        check=_check_url_password,
    ),
]

RULES: list[Rule] = [
    *CLOUDS,
    *DEVTOOLS,
    *SECRET_STORES,
    *MESSAGING,
    *COMMERCE,
    *SERVICES,
    *DATABASES,
]
