"""Provider rules, through the real engine.

Every token below is assembled at run time from a prefix and random characters,
so this file holds no literal a scanner would report.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from leakguard.engine import Engine
from leakguard.models import Confidence, Finding, Location
from leakguard.rules import Rule, RuleSet
from leakguard.rules.checks import crc32_base62
from leakguard.rules.providers import RULES

BY_ID = {rule.id: rule for rule in RULES}

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
BASE32 = string.ascii_uppercase + "234567"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"

_rng = random.Random(20240611)


def r(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def digits(n: int) -> str:
    return _rng.choice("123456789") + r(n - 1, string.digits)


def github(prefix: str) -> str:
    body = r(30)
    return prefix + body + crc32_base62(body.encode()).decode()


def b64json(payload: dict[str, object]) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def discord(id_digits: int, last: int = 27) -> str:
    user_id = base64.urlsafe_b64encode(digits(id_digits).encode()).decode().rstrip("=")
    return user_id + "." + r(6, URLSAFE) + "." + r(last, URLSAFE)


@dataclass(frozen=True)
class Hit:
    line: str
    secret: str
    confidence: Confidence = Confidence.HIGH


@dataclass(frozen=True)
class Case:
    rule_id: str
    positives: tuple[Hit, ...]
    negatives: tuple[str, ...]


def prefixed(
    rule_id: str,
    prefix: str,
    n: int,
    alphabet: str = ALNUM,
    *,
    wrong_prefix: str,
    shortest: int | None = None,
    exact: bool = True,
) -> Case:
    """A prefix and `n` characters: found assigned and quoted; not when one character
    short, behind a wrong prefix, glued to a word, or filled with one character."""
    token, other = prefix + r(n, alphabet), prefix + r(n, alphabet)
    filler = "x" if "x" in alphabet else alphabet[0]
    negatives = [
        f"TOKEN={prefix}{r((shortest or n) - 1, alphabet)}",
        f"TOKEN={wrong_prefix}{r(n, alphabet)}",
        f"TOKEN=a{prefix}{r(n, alphabet)}",
        f'token = "{prefix}{filler * n}"',
    ]
    if exact:
        negatives.append(f"TOKEN={prefix}{r(n + 1, alphabet)}")
    return Case(
        rule_id,
        (Hit(f"TOKEN={token}", token), Hit(f'  "token": "{other}",', other)),
        tuple(negatives),
    )


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append

    # -- GitHub
    pat, pat2 = github("ghp_"), github("ghp_")
    add(
        Case(
            "github-pat",
            (
                Hit(f"GITHUB_TOKEN={pat}", pat),
                Hit(f"git clone https://x-access-token:{pat2}@github.com/o/r.git", pat2),
                # The checksum does not add up: a made-up token, reported as doubtful.
                Hit(f"token: ghp_{pat[4:-1]}{'A' if pat[-1] != 'A' else 'B'}", "", Confidence.LOW),
            ),
            (
                f"GITHUB_TOKEN={pat[:-1]}",
                f"GITHUB_TOKEN=ghq_{pat[4:]}",
                f"GITHUB_TOKEN=my{pat}",
                f"GITHUB_TOKEN={pat}0",
                "GITHUB_TOKEN=ghp_" + "x" * 36,
            ),
        )
    )
    add(prefixed("github-oauth", "gho_", 36, wrong_prefix="ghz_", exact=False))
    add(prefixed("github-app-token", "ghs_", 36, wrong_prefix="ghx_", exact=False))
    add(Case("github-app-token", (Hit(f"T={(t := 'ghs_' + r(90))}", t),), ("T=ghs_" + r(252),)))
    add(
        Case(
            "github-app-token",
            (Hit(f"GH_TOKEN={(t := 'ghu_' + r(36))}", t),),
            (),
        )
    )
    add(prefixed("github-refresh-token", "ghr_", 36, wrong_prefix="gh_r_", exact=False))
    add(Case("github-refresh-token", (Hit(f"refresh_token={(t := 'ghr_' + r(76))}", t),), ()))
    fine = "github_pat_" + r(22) + "_" + r(59)
    fine2 = "github_pat_" + r(22) + "_" + r(59)
    add(
        Case(
            "github-fine-grained-pat",
            (Hit(f"GH_TOKEN={fine}", fine), Hit(f"echo '{fine2}' | gh auth login", fine2)),
            (
                "GH_TOKEN=github_pat_" + r(22) + "_" + r(58),
                "GH_TOKEN=github_pat_" + r(21) + "_" + r(59),
                "GH_TOKEN=gitlab_pat_" + r(22) + "_" + r(59),
                "GH_TOKEN=mygithub_pat_" + r(22) + "_" + r(59),
                "GH_TOKEN=github_pat_" + "x" * 22 + "_" + "x" * 59,
            ),
        )
    )

    # -- GitLab
    for rule_id, prefix, n, shortest, exact in (
        ("gitlab-pat", "glpat-", 20, 20, False),
        ("gitlab-deploy-token", "gldt-", 24, 20, False),
        ("gitlab-feed-token", "glft-", 20, 20, False),
        ("gitlab-scim-token", "glsoat-", 20, 20, False),
        ("gitlab-runner-token", "glrt-", 29, 20, False),
        ("gitlab-runner-registration-token", "GR1348941", 20, 20, False),
        ("gitlab-ci-job-token", "glcbt-", 20, 20, False),
        ("gitlab-incoming-mail-token", "glimt-", 25, 25, True),
        ("gitlab-pipeline-trigger-token", "glptt-", 40, 40, True),
        ("gitlab-agent-token", "glagent-", 50, 50, False),
        ("gitlab-oauth-app-secret", "gloas-", 64, 64, True),
    ):
        wrong = prefix[:-2] + ("X" if prefix[-2] != "X" else "Y") + prefix[-1]
        add(
            prefixed(
                rule_id, prefix, n, URLSAFE, wrong_prefix=wrong, shortest=shortest, exact=exact
            )
        )

    # -- AWS
    key_id, session_key = "AKIA" + r(16, BASE32), "ASIA" + r(16, BASE32)
    add(
        Case(
            "aws-access-key-id",
            (
                Hit(f"aws_access_key_id = {key_id}", key_id),
                Hit(f'    "AccessKeyId": "{session_key}",', session_key),
                Hit(f"key = AKIA{r(15, BASE32)}0", "", Confidence.MEDIUM),  # not base32
            ),
            (
                "ENV AWS_ACCESS_KEY_ID=AKIAIOSFODNN7" + "EXAMPLE",  # AWS's documentation key
                "aws_access_key_id = AKIA" + r(15, BASE32),
                "aws_access_key_id = AKIA" + r(17, BASE32),
                "aws_access_key_id = AKIB" + r(16, BASE32),
                "aws_access_key_id = XAKIA" + r(16, BASE32),
                "aws_access_key_id = AKIA" + "X" * 16,
            ),
        )
    )
    secret_key, secret_key2, secret_key3 = r(40, B64), r(40, B64), r(40, B64)
    add(
        Case(
            "aws-secret-access-key",
            (
                Hit(f"aws_secret_access_key = {secret_key}", secret_key),
                Hit(f'ENV AWS_SECRET_ACCESS_KEY="{secret_key2}"', secret_key2),
                Hit(f'    "SecretAccessKey": "{secret_key3}",', secret_key3),
                Hit(f"aws-secret-key: {secret_key}", secret_key),
            ),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
                f"aws_secret_access_key = {secret_key[:-1]}",
                f"aws_secret_access_key = {secret_key}Z",
                f"secret_key = {secret_key}",
                "aws_secret_access_key = " + "x" * 40,
                "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
            ),
        )
    )

    # -- other clouds
    storage = r(86, B64) + "=="
    storage2 = r(86, B64) + "=="
    add(
        Case(
            "azure-storage-account-key",
            (
                Hit(
                    "DefaultEndpointsProtocol=https;AccountName=acme;"
                    f"AccountKey={storage};EndpointSuffix=core.windows.net",
                    storage,
                ),
                Hit(f'AZURE_STORAGE_KEY="{storage2}"', storage2),
            ),
            (
                f"AccountKey={storage[1:]}",
                f"AccountKey={r(88, B64)}",
                f"Password={storage}",
                "AccountKey=" + "A" * 86 + "==",
            ),
        )
    )
    add(prefixed("google-api-key", "AIza", 35, URLSAFE, wrong_prefix="AIzb"))
    iam, iam2 = r(44, URLSAFE), r(44, URLSAFE)
    add(
        Case(
            "ibm-cloud-iam-key",
            (
                Hit(f"IBM_CLOUD_API_KEY={iam}", iam),
                Hit(f'ibm_iam_token: "{iam2}"', iam2),
            ),
            (
                f"IBM_CLOUD_API_KEY={iam[:-1]}",
                f"IBM_CLOUD_API_KEY={iam}x",
                f"AWS_API_KEY={iam}",
                "IBM_CLOUD_API_KEY=" + "x" * 44,
            ),
        )
    )
    hmac, hmac2 = r(48, HEX), r(48, HEX)
    add(
        Case(
            "ibm-cos-hmac-secret",
            (
                Hit(f'cos_hmac_secret_access_key = "{hmac}"', hmac),
                Hit(f"secret_access_key: {hmac2}", hmac2, Confidence.MEDIUM),
            ),
            (
                f'cos_hmac_secret_access_key = "{hmac[:-1]}"',
                f'cos_hmac_secret_access_key = "{hmac.upper()}"',
                f'cos_hmac_access_key_id = "{hmac}"',
                "cos_hmac_secret_access_key = " + "0" * 48,
            ),
        )
    )
    sl, sl2 = r(64, LOWER_ALNUM), r(64, LOWER_ALNUM)
    add(
        Case(
            "softlayer-api-key",
            (
                Hit(f'SOFTLAYER_API_KEY = "{sl}"', sl),
                Hit(f"url = https://api.softlayer.com/soap/v3.1/{sl2}", sl2),
            ),
            (
                f'SOFTLAYER_API_KEY = "{sl[:-1]}"',
                f'slack_api_key = "{sl}"',
                f'SOFTLAYER_API_KEY = "{sl}a"',
                'SOFTLAYER_API_KEY = "' + "0" * 64 + '"',
            ),
        )
    )
    for rule_id, prefix in (
        ("digitalocean-pat", "dop_v1_"),
        ("digitalocean-oauth-token", "doo_v1_"),
        ("digitalocean-refresh-token", "dor_v1_"),
    ):
        add(prefixed(rule_id, prefix, 64, HEX, wrong_prefix=prefix.replace("v1", "v2")))
    add(prefixed("heroku-api-key", "HRKU-AA", 58, URLSAFE, wrong_prefix="HRKU-AB"))
    add(prefixed("databricks-token", "dapi", 32, HEX, wrong_prefix="dapx"))
    add(Case("databricks-token", (Hit(f"token={(t := 'dapi' + r(32, HEX) + '-2')}", t),), ()))

    # -- registries and CI
    npm, npm2 = github("npm_"), github("npm_")
    bad_npm = npm[:-1] + ("A" if npm[-1] != "A" else "B")
    add(
        Case(
            "npm-access-token",
            (
                Hit(f"//registry.npmjs.org/:_authToken={npm}", npm),
                Hit(f"NPM_TOKEN={npm2}", npm2),
                # A failing checksum: a made-up token, reported as doubtful.
                Hit(f"NPM_TOKEN={bad_npm}", bad_npm, Confidence.LOW),
            ),
            (
                f"NPM_TOKEN={npm[:-1]}",
                f"NPM_TOKEN={npm}x",
                f"NPM_TOKEN=pnpm_{npm[4:]}",
                "NPM_TOKEN=npm_" + "x" * 36,
            ),
        )
    )
    legacy, legacy2 = str(uuid.UUID(int=_rng.getrandbits(128))), str(uuid.uuid4())
    add(
        Case(
            "npm-legacy-token",
            (
                Hit(f"//registry.npmjs.org/:_authToken={legacy}", legacy),
                Hit(f'_authToken = "{legacy2}"', legacy2),
            ),
            (
                "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
                f"//registry.npmjs.org/:_authToken={legacy[:-1]}",
                f"session_id={legacy}",
                "_authToken=00000000-0000-0000-0000-000000000000",
            ),
        )
    )
    pypi = "pypi-AgEIcHlwaS5vcmc" + r(150, URLSAFE)
    testpypi = "pypi-AgENdGVzdC5weXBpLm9yZw" + r(90, URLSAFE)
    add(
        Case(
            "pypi-upload-token",
            (
                Hit(f"password = {pypi}", pypi),
                Hit(f"TWINE_PASSWORD={testpypi}", testpypi),
            ),
            (
                "password = pypi-AgEIcHlwaS5vcmc" + r(69, URLSAFE),
                "password = pypi-AgEIcHlwaS5vcmX" + r(150, URLSAFE),
                "password = xpypi-AgEIcHlwaS5vcmc" + r(150, URLSAFE),
                "password = pypi-" + r(150, URLSAFE),
            ),
        )
    )
    add(prefixed("dockerhub-pat", "dckr_pat_", 27, URLSAFE, wrong_prefix="dckr_pet_"))
    akc, akc2 = "AKCp" + r(69), "AKCp" + r(69)
    add(
        Case(
            "artifactory-api-key",
            (Hit(f"ARTIFACTORY_API_KEY={akc}", akc), Hit(f'password: "{akc2}"', akc2)),
            (
                f"ARTIFACTORY_API_KEY={akc[:-1]}",
                f"ARTIFACTORY_API_KEY={akc}x",
                f"ARTIFACTORY_API_KEY=AKCq{akc[4:]}",
                "ARTIFACTORY_API_KEY=AKCp" + "x" * 69,
            ),
        )
    )
    ap, ap2 = "AP6" + r(40), "APB" + r(20)
    add(
        Case(
            "artifactory-password",
            (
                Hit(f"ARTIFACTORY_PASSWORD={ap}", ap, Confidence.MEDIUM),
                Hit(f'password: "{ap2}"', ap2, Confidence.MEDIUM),
            ),
            (
                "ENV APBCDEFGHIJKLM=1",  # an upper-case word
                f"password={ap[:10]}",
                f"password=APG{ap[3:]}",
                f"password=X{ap}",
                "password=AP6Aa1" + "x" * 20,
            ),
        )
    )
    add(prefixed("pulumi-access-token", "pul-", 40, HEX, wrong_prefix="pol-"))

    # -- secret stores and keys
    add(prefixed("vault-service-token", "hvs.", 24, URLSAFE, wrong_prefix="hvx.", exact=False))
    add(Case("vault-service-token", (Hit(f"VAULT_TOKEN={(t := 'hvs.' + r(91, URLSAFE))}", t),), ()))
    add(
        prefixed(
            "vault-batch-token", "hvb.", 138, URLSAFE, wrong_prefix="hbv.", shortest=24, exact=False
        )
    )
    add(prefixed("doppler-personal-token", "dp.pt.", 43, wrong_prefix="dp.pz."))
    add(prefixed("age-secret-key", "AGE-SECRET-KEY-1", 58, BECH32, wrong_prefix="AGE-SECRET-KEY-2"))

    # -- messaging
    bot = "xoxb-" + digits(12) + "-" + digits(13) + "-" + r(24)
    bot2 = "xoxb-" + digits(11) + "-" + r(24)
    add(
        Case(
            "slack-bot-token",
            (Hit(f"SLACK_BOT_TOKEN={bot}", bot), Hit(f'slack_token: "{bot2}"', bot2)),
            (
                "SLACK_BOT_TOKEN=xoxb-" + digits(12) + "-" + digits(13) + "-" + r(12),
                "SLACK_BOT_TOKEN=xoxq-" + digits(12) + "-" + digits(13) + "-" + r(24),
                f"SLACK_BOT_TOKEN=a{bot}",
                "SLACK_BOT_TOKEN=xoxb-" + digits(12) + "-" + digits(13) + "-" + "x" * 24,
            ),
        )
    )
    user = "xoxp-" + digits(12) + "-" + digits(12) + "-" + digits(13) + "-" + r(32, HEX)
    user2 = "xoxp-" + digits(10) + "-" + digits(11) + "-" + digits(12) + "-" + r(32, HEX)
    add(
        Case(
            "slack-user-token",
            (Hit(f"SLACK_TOKEN={user}", user), Hit(f"'{user2}'", user2)),
            (
                f"SLACK_TOKEN={user[:-5]}",
                f"SLACK_TOKEN={user.replace('xoxp', 'xoxz')}",
                f"SLACK_TOKEN=my{user}",
                "SLACK_TOKEN=xoxp-"
                + digits(12)
                + "-"
                + digits(12)
                + "-"
                + digits(13)
                + "-"
                + "0" * 32,
            ),
        )
    )
    legacy_slack = "xoxs-" + digits(12) + "-" + digits(12) + "-" + r(32)
    refresh_slack = "xoxr-" + digits(1) + "-" + digits(12) + "-" + r(40)
    add(
        Case(
            "slack-legacy-token",
            (
                Hit(f"token={legacy_slack}", legacy_slack),
                Hit(f"token={refresh_slack}", refresh_slack),
            ),
            (
                "token=xoxs-" + digits(12) + "-" + r(5),
                "token=xoxz-" + digits(12) + "-" + digits(12) + "-" + r(32),
                f"token=a{legacy_slack}",
                "token=xoxs-" + digits(12) + "-" + digits(12) + "-" + "x" * 32,
            ),
        )
    )
    hook = f"https://hooks.slack.com/services/T{r(10, UPPER_ALNUM)}/B{r(10, UPPER_ALNUM)}/{r(24)}"
    hook2 = f"https://hooks.slack.com/services/T{r(8, UPPER_ALNUM)}/B{r(11, UPPER_ALNUM)}/{r(24)}"
    add(
        Case(
            "slack-webhook-url",
            (Hit(f"SLACK_WEBHOOK={hook}", hook), Hit(f'curl -X POST "{hook2}" -d @m.json', hook2)),
            (
                f"SLACK_WEBHOOK=https://hooks.slack.com/services/X{r(10)}/B{r(10)}/{r(24)}",
                f"SLACK_WEBHOOK=https://hooks.slack.com/services/T{r(10)}/B{r(10)}/{r(8)}",
                f"SLACK_WEBHOOK={hook.rsplit('/', 1)[0]}",
                f"SLACK_WEBHOOK={hook.rsplit('/', 1)[0]}/" + "X" * 24,
            ),
        )
    )
    disc, disc2, disc3 = discord(18), discord(19), discord(19, last=38)
    add(
        Case(
            "discord-bot-token",
            (
                Hit(f"DISCORD_TOKEN={disc}", disc),
                Hit(f'client.run("{disc2}")', disc2),
                Hit(f"DISCORD_TOKEN={disc3}", disc3),
                # The right shape, but the first part is not a user id.
                Hit(
                    f"t={(t := 'M' + r(25, URLSAFE) + '.' + r(6) + '.' + r(27))}",
                    t,
                    Confidence.MEDIUM,
                ),
            ),
            (
                f"DISCORD_TOKEN={disc[:-1]}",
                f"DISCORD_TOKEN=A{disc[1:]}",
                f"DISCORD_TOKEN=x{disc}",
                "DISCORD_TOKEN=" + disc.split(".")[0] + ".xxxxxx." + "x" * 27,
            ),
        )
    )
    tg, tg2 = digits(10) + ":AA" + r(33, URLSAFE), digits(9) + ":AA" + r(33, URLSAFE)
    add(
        Case(
            "telegram-bot-token",
            (
                Hit(f"TELEGRAM_BOT_TOKEN={tg}", tg),
                Hit(f"curl https://api.telegram.org/bot{tg2}/getMe", tg2),
                Hit(f"t={(t := digits(10) + ':' + r(35, URLSAFE))}", t, Confidence.MEDIUM),
            ),
            (
                f"TELEGRAM_BOT_TOKEN={digits(7)}:AA{r(33, URLSAFE)}",
                f"TELEGRAM_BOT_TOKEN={tg[:-1]}",
                f"TELEGRAM_BOT_TOKEN=1{tg}",
                f"TELEGRAM_BOT_TOKEN={digits(10)}:" + "x" * 35,
            ),
        )
    )
    sid, sid2 = "SK" + r(32, HEX), "SK" + r(32, HEX)
    add(
        Case(
            "twilio-api-key",
            (
                Hit(f"TWILIO_API_KEY={sid}", sid),
                Hit(f'api_key_sid: "{sid2}"', sid2, Confidence.MEDIUM),
            ),
            (
                f"TWILIO_API_KEY={sid[:-1]}",
                f"TWILIO_API_KEY=SK{sid[2:].upper()}",
                f"TWILIO_API_KEY=X{sid}",
                "TWILIO_API_KEY=SK" + "0" * 32,
            ),
        )
    )
    sg = "SG." + r(22, URLSAFE) + "." + r(43, URLSAFE)
    sg2 = "SG." + r(22, URLSAFE) + "." + r(43, URLSAFE)
    add(
        Case(
            "sendgrid-api-key",
            (Hit(f"SENDGRID_API_KEY={sg}", sg), Hit(f"sg = SendGridAPIClient('{sg2}')", sg2)),
            (
                f"SENDGRID_API_KEY={sg[:-1]}",
                f"SENDGRID_API_KEY=SH{sg[2:]}",
                f"SENDGRID_API_KEY=x{sg}",
                "SENDGRID_API_KEY=SG." + "x" * 22 + "." + "x" * 43,
            ),
        )
    )
    mc, mc2 = r(32, HEX) + "-us12", r(32, HEX) + "-us6"
    add(
        Case(
            "mailchimp-api-key",
            (Hit(f"MAILCHIMP_API_KEY={mc}", mc), Hit(f'"apikey": "{mc2}"', mc2)),
            (
                f"MAILCHIMP_API_KEY={mc[1:]}",
                f"MAILCHIMP_API_KEY={mc[:32]}-eu1",
                f"MAILCHIMP_API_KEY=x{mc}",
                "MAILCHIMP_API_KEY=" + "0" * 32 + "-us1",
            ),
        )
    )

    # -- commerce
    add(prefixed("stripe-secret-key", "sk_live_", 24, wrong_prefix="sk_test_", exact=False))
    add(Case("stripe-secret-key", (Hit(f"STRIPE_KEY={(t := 'sk_live_' + r(99))}", t),), ()))
    add(prefixed("stripe-restricted-key", "rk_live_", 24, wrong_prefix="rk_test_", exact=False))
    add(prefixed("square-oauth-secret", "sq0csp-", 43, URLSAFE, wrong_prefix="sq0atp-"))
    for rule_id, prefix in (
        ("shopify-access-token", "shpat_"),
        ("shopify-custom-app-token", "shpca_"),
        ("shopify-private-app-token", "shppa_"),
        ("shopify-shared-secret", "shpss_"),
    ):
        add(prefixed(rule_id, prefix, 32, HEX, wrong_prefix="shpxx_"))

    # -- AI and developer services
    oa = "sk-" + r(20) + "T3BlbkFJ" + r(20)
    oa2 = "sk-proj-" + r(74, URLSAFE) + "T3BlbkFJ" + r(74, URLSAFE)
    oa3 = "sk-proj-" + r(20) + "T3BlbkFJ" + r(20)
    add(
        Case(
            "openai-api-key",
            (Hit(f"OPENAI_API_KEY={oa}", oa), Hit(f'api_key="{oa2}"', oa2), Hit(f"k={oa3}", oa3)),
            (
                f"OPENAI_API_KEY={oa[:-2]}",
                f"OPENAI_API_KEY=sk-{r(48)}",
                f"OPENAI_API_KEY=task-{oa[3:]}",
                "OPENAI_API_KEY=sk-" + "x" * 20 + "T3BlbkFJ" + "x" * 20,
            ),
        )
    )
    ant = "sk-ant-api03-" + r(93, URLSAFE) + "AA"
    ant2 = "sk-ant-api03-" + r(93, URLSAFE) + "AA"
    add(
        Case(
            "anthropic-api-key",
            (Hit(f"ANTHROPIC_API_KEY={ant}", ant), Hit(f'Anthropic(api_key="{ant2}")', ant2)),
            (
                f"ANTHROPIC_API_KEY={ant[:-3]}AA",
                f"ANTHROPIC_API_KEY={ant[:-2]}AB",
                f"ANTHROPIC_API_KEY=sk-ant-api02-{ant[13:]}",
                "ANTHROPIC_API_KEY=sk-ant-api03-" + "x" * 93 + "AA",
            ),
        )
    )
    add(prefixed("huggingface-token", "hf_", 34, string.ascii_letters, wrong_prefix="hx_"))
    pw, key24 = r(64, HEX), r(24, string.ascii_lowercase)
    add(
        Case(
            "cloudant-credentials",
            (
                Hit(f'cloudant_password = "{pw}"', pw),
                Hit(f"cl_api_key: {key24}", key24, Confidence.MEDIUM),
                Hit(f"url = https://acme:{pw}@acme.cloudant.com", pw),
            ),
            (
                f'cloudant_password = "{pw[:-1]}"',
                f"url = https://acme:{pw}@acme.example.com",
                f'class_key = "{pw}"',
                'cloudant_password = "' + "0" * 64 + '"',
            ),
        )
    )
    payload = b64json({"iat": 1700000000.5, "url": "https://sentry.io", "org": "acme"})
    payload2 = b64json({"iat": 1710000000.25, "url": "https://sentry.io", "region_url": "x"})
    sentry, sentry2 = f"sntrys_{payload}_{r(43, B64)}", f"sntrys_{payload2}_{r(43, B64)}"
    add(
        Case(
            "sentry-org-token",
            (Hit(f"SENTRY_AUTH_TOKEN={sentry}", sentry), Hit(f"auth.token={sentry2}", sentry2)),
            (
                f"SENTRY_AUTH_TOKEN={sentry[:-1]}",
                f"SENTRY_AUTH_TOKEN=sntrys_{r(60)}_{r(43)}",
                f"SENTRY_AUTH_TOKEN=x{sentry}",
                f"SENTRY_AUTH_TOKEN={sentry}A",
            ),
        )
    )
    glsa = "glsa_" + r(32) + "_" + r(8, HEX)
    glsa2 = "glsa_" + r(32) + "_" + r(8, HEX)
    add(
        Case(
            "grafana-service-account-token",
            (Hit(f"GRAFANA_TOKEN={glsa}", glsa), Hit(f'"token": "{glsa2}"', glsa2)),
            (
                f"GRAFANA_TOKEN={glsa[:-1]}",
                f"GRAFANA_TOKEN=glsb_{glsa[5:]}",
                f"GRAFANA_TOKEN=x{glsa}",
                "GRAFANA_TOKEN=glsa_" + "x" * 32 + "_" + "0" * 8,
            ),
        )
    )
    glc = "glc_" + b64json({"o": digits(6), "n": "stack-" + digits(6) + "-hm-read", "k": r(24)})
    glc2 = "glc_" + b64json({"o": digits(7), "n": "deploy", "k": r(24), "m": {"r": "eu"}})
    add(
        Case(
            "grafana-cloud-token",
            (Hit(f"GRAFANA_CLOUD_TOKEN={glc}", glc), Hit(f"password: {glc2}", glc2)),
            (
                f"GRAFANA_CLOUD_TOKEN=glc_{r(31)}",
                f"GRAFANA_CLOUD_TOKEN=glx_{glc[4:]}",
                f"GRAFANA_CLOUD_TOKEN=x{glc}",
                "GRAFANA_CLOUD_TOKEN=glc_" + "x" * 10,
            ),
        )
    )
    add(prefixed("newrelic-user-api-key", "NRAK-", 27, UPPER_ALNUM, wrong_prefix="NRAX-"))
    add(prefixed("linear-api-key", "lin_api_", 40, wrong_prefix="lin_apx_"))
    return cases


def params(cases: list[Case]) -> tuple[list[Any], list[Any]]:
    """pytest parameters of every positive hit and every negative line of `cases`."""
    positives = [
        pytest.param(case.rule_id, hit, id=f"{case.rule_id}-{i}")
        for case in cases
        for i, hit in enumerate(case.positives)
    ]
    negatives = [
        pytest.param(case.rule_id, line, id=f"{case.rule_id}-{i}")
        for case in cases
        for i, line in enumerate(case.negatives)
    ]
    return positives, negatives


CASES = _cases()
POSITIVES, NEGATIVES = params(CASES)


def scan(rules: list[Rule], line: str) -> list[Finding]:
    return Engine(RuleSet(rules)).scan_bytes(line.encode(), Location(path="config.py"))


@pytest.mark.parametrize(("rule_id", "hit"), POSITIVES)
def test_finds(rule_id: str, hit: Hit) -> None:
    findings = scan([BY_ID[rule_id]], hit.line)
    assert [(f.rule_id, f.confidence) for f in findings] == [(rule_id, hit.confidence)]
    if hit.secret:
        assert findings[0].secret.raw == hit.secret.encode()
        assert findings[0].location.column == hit.line.index(hit.secret) + 1


@pytest.mark.parametrize(("rule_id", "hit"), POSITIVES)
def test_the_rule_wins_among_all_providers(rule_id: str, hit: Hit) -> None:
    findings = scan(RULES, hit.line)
    assert rule_id in [f.rule_id for f in findings]


@pytest.mark.parametrize(("rule_id", "line"), NEGATIVES)
def test_ignores_near_misses(rule_id: str, line: str) -> None:
    assert scan([BY_ID[rule_id]], line) == []


@pytest.mark.parametrize(("rule_id", "hit"), [p for p in POSITIVES if BY_ID[p.values[0]].keywords])
def test_every_match_holds_a_keyword(rule_id: str, hit: Hit) -> None:
    """The prefilter never hides a match: each match contains one of the keywords."""
    rule = BY_ID[rule_id]
    for match in rule.regex.finditer(hit.line.encode()):
        text = match.group(0).lower()
        assert any(k.lower().encode() in text for k in rule.keywords)


def test_every_rule_has_cases() -> None:
    positives: dict[str, int] = {}
    negatives: dict[str, int] = {}
    for case in CASES:
        positives[case.rule_id] = positives.get(case.rule_id, 0) + len(case.positives)
        negatives[case.rule_id] = negatives.get(case.rule_id, 0) + len(case.negatives)
    for rule in RULES:
        assert positives.get(rule.id, 0) >= 2, rule.id
        assert negatives.get(rule.id, 0) >= 2, rule.id
    assert set(positives) <= set(BY_ID)


def test_rules_are_well_formed() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    RuleSet(RULES)  # validates too
    default = Rule.__dataclass_fields__["remediation"].default
    for rule in RULES:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rule.id), rule.id
        assert rule.description and "\n" not in rule.description, rule.id
        assert rule.remediation and rule.remediation != default, rule.id
        assert "\n" not in rule.remediation, rule.id
        assert rule.keywords or rule.prefilter, rule.id
        assert all(k and k == k.lower() for k in rule.keywords), rule.id
        assert "secret" in rule.regex.groupindex, rule.id


# -- detect-secrets parity ---------------------------------------------------------------

PLUGINS: list[type[RegexBasedDetector]] = [
    ArtifactoryDetector, AWSKeyDetector, AzureStorageKeyDetector, CloudantDetector,
    DiscordBotTokenDetector, GitHubTokenDetector, GitLabTokenDetector, IbmCloudIamDetector,
    IbmCosHmacDetector, MailchimpDetector, NpmDetector, OpenAIDetector, PypiTokenDetector,
    SendGridDetector, SlackDetector, SoftlayerDetector, SquareOAuthDetector, StripeDetector,
    TelegramBotTokenDetector, TwilioKeyDetector,
]  # fmt: skip


def test_each_detect_secrets_type_has_one_rule() -> None:
    types = [rule.detect_secrets_type for rule in RULES if rule.detect_secrets_type]
    assert len(types) == len(set(types))
    assert set(types) == {plugin.secret_type for plugin in PLUGINS}


def _ds_values(plugin: type[RegexBasedDetector], line: str) -> set[str]:
    found = plugin().analyze_line(filename="x.py", line=line, line_number=1)
    # Some plugins report the delimiters around a token (Artifactory) or only the
    # group they capture (GitHub and GitLab report "ghp", "glpat"), or the name
    # before the value (Azure reports "AccountKey=...").
    values = (s.secret_value.strip(" \t\"'=:") for s in found if s.secret_value)
    return {re.sub(r"^[A-Za-z]+=(?=.)", "", v) for v in values}


ALL_PROVIDERS = Engine(RuleSet(RULES))


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.__name__)
def test_finds_what_detect_secrets_finds(plugin: type[RegexBasedDetector]) -> None:
    """On every example line, whatever the plugin reports lies inside a leakguard
    finding; and the plugin does report some of its own rule's examples."""
    (rule,) = [r for r in RULES if r.detect_secrets_type == plugin.secret_type]
    compared = 0
    for case in CASES:
        for hit in case.positives:
            values = _ds_values(plugin, hit.line)
            if not values:
                continue
            compared += case.rule_id == rule.id
            found = ALL_PROVIDERS.scan_bytes(hit.line.encode(), Location(path="config.py"))
            secrets = [f.secret.raw.decode() for f in found]
            for value in values:
                assert any(value in secret for secret in secrets), (hit.line, value)
    assert compared, f"detect-secrets found none of {rule.id}'s examples"
