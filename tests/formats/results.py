"""Hand-built scan results covering every surface the renderers must show.

The planted values are assembled at run time, so this file holds no literal
token a scanner would report.
"""

from __future__ import annotations

from leakguard.models import (
    Confidence,
    Finding,
    Location,
    Origin,
    RuleId,
    ScanResult,
    ScanStats,
    SecretValue,
    Severity,
    Skipped,
    Surface,
)

STRIPE = "sk_" + "live_" + "4eC3" + "Qx7Lm2Vb9Rt1Wd" + "8Zp5Kn0H"
SLACK = (
    "https://hooks." + "slack.com/services/" + "T0" + "4QW7ZKD" + "/B0" + "6HJ3XRN/" + "vK9q" * 6
)
AWS_SK = "wJa" + "9Xq2Lk7Pz" * 4 + "Mn0"
GITHUB_PAT = "gh" + "p_" + "R7kZ2" * 7 + "m"
NPM = "np" + "m_" + "Hq4Tz" * 7 + "b"
DJANGO_KEY = "dj-" + "q8#v!" * 9 + "x2"

SECRETS = (STRIPE, SLACK, AWS_SK, GITHUB_PAT, NPM, DJANGO_KEY)

COMMIT = "3f9c2b7e" * 5
LAYER = "sha256:" + "0a1b2c3d" * 8
IMAGE = "registry.example.com/shop/web:1.4"


def make_finding(
    rule: str,
    severity: Severity,
    location: Location,
    value: str,
    message: str,
    remediation: str,
    confidence: Confidence = Confidence.HIGH,
) -> Finding:
    secret = SecretValue(value.encode())
    return Finding(
        rule_id=RuleId(rule),
        severity=severity,
        confidence=confidence,
        location=location,
        fingerprint=secret.fingerprint,
        redacted=secret.redacted,
        message=message,
        remediation=remediation,
        secret=secret,
    )


def leaky_result() -> ScanResult:
    env = Location(Surface.FILE, path="samples/.env")
    findings = [
        make_finding(
            "stripe-secret-key",
            Severity.CRITICAL,
            env.at(3, 19),
            STRIPE,
            "Stripe live secret key",
            "Roll the key in the Stripe dashboard.",
        ),
        make_finding(
            "slack-webhook",
            Severity.HIGH,
            env.at(4, 15),
            SLACK,
            "Slack incoming webhook URL",
            "Regenerate the webhook in Slack.",
        ),
        make_finding(
            "aws-secret-access-key",
            Severity.CRITICAL,
            Location(Surface.DOCKERFILE, path="samples/Dockerfile", line=5, column=27),
            AWS_SK,
            "AWS secret access key in ENV",
            "Deactivate the key in IAM; pass credentials with a BuildKit secret mount.",
        ),
        make_finding(
            "github-pat",
            Severity.HIGH,
            Location(
                Surface.GIT,
                path="config/prod.env",
                line=2,
                column=14,
                commit=COMMIT,
                author="Dev <dev@example.com>",
                date="2024-03-01T12:00:00+00:00",
                deleted=True,
            ),
            GITHUB_PAT,
            "GitHub personal access token",
            "Revoke the token on GitHub; deleting the file does not remove it from history.",
        ),
        make_finding(
            "aws-secret-access-key",
            Severity.CRITICAL,
            Location(Surface.IMAGE, image=IMAGE, layer=LAYER, origin=Origin.ENV),
            AWS_SK,
            "AWS secret access key in ENV",
            "Deactivate the key in IAM; pass credentials with a BuildKit secret mount.",
        ),
        make_finding(
            "npm-token",
            Severity.HIGH,
            Location(
                Surface.IMAGE,
                path="/root/.npmrc",
                line=1,
                column=31,
                image=IMAGE,
                layer=LAYER,
                origin=Origin.LAYER_FILE,
                deleted=True,
            ),
            NPM,
            "npm access token",
            "Revoke the token on npmjs.com; use a secret mount.",
        ),
        make_finding(
            "keyword-secret",
            Severity.MEDIUM,
            Location(path="samples/app/settings.py", line=7),
            DJANGO_KEY,
            "Hard-coded SECRET_KEY",
            "Read SECRET_KEY from the environment.",
            confidence=Confidence.MEDIUM,
        ),
    ]
    return ScanResult(
        findings=findings,
        skipped=[
            Skipped("registry.example.com/shop/private:2", "unauthorized: authentication required"),
            Skipped("samples/big.tar", "larger than 50 MB"),
        ],
        stats=ScanStats(files=12, bytes=348_160, duration_s=1.2345, skipped_binary=1),
    )


def empty_result() -> ScanResult:
    return ScanResult(stats=ScanStats(files=3, bytes=2_048, duration_s=0.01))
