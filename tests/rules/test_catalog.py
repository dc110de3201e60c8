"""The catalog of provider rules, through the real engine: each rule finds format-valid
fakes (assembled here at run time) and ignores near misses."""

from __future__ import annotations

import re
import string
import uuid

import pytest

from leakguard.engine import Engine
from leakguard.models import Confidence, Finding, Location
from leakguard.rules import Rule, RuleSet, builtin_rules, catalog, providers
from tests.rules.test_providers import (
    ALNUM,
    B64,
    BASE32,
    HEX,
    LOWER_ALNUM,
    UPPER_ALNUM,
    URLSAFE,
    Case,
    Hit,
    _rng,
    digits,
    prefixed,
    r,
)

RULES = catalog.RULES
BY_ID = {rule.id: rule for rule in RULES}
LETTERS = string.ascii_letters
BASE32_LOWER = BASE32.lower()


def uid() -> str:
    return str(uuid.UUID(int=int(r(32, HEX), 16)))


def named(rule_id: str, name: str, make: str, short: str, *, other: str = "SOME_VALUE") -> Case:
    """A value that counts only under the provider's name: found as `NAME=v` and as a
    JSON member; not under another name, one character short, a filler, or a name that
    only holds the provider's in the middle of a word (`passkey` holds `skey`)."""
    value, value2 = make, _reshuffled(make)
    filler = "x" * len(make) if re.fullmatch(r"[a-z0-9_-]+", make) else "A" * len(make)
    glued = "pass" + re.sub(r"[_.-]", "", name.lower())
    return Case(
        rule_id,
        (Hit(f"{name}={value}", value), Hit(f'  "{name.lower()}": "{value2}",', value2)),
        (f"{other}={value}", f"{name}={short}", f"{name}={filler}", f"{name}=x{value}",
         f"{glued}={value}"),
    )  # fmt: skip


def _reshuffled(value: str) -> str:
    """`value` with its letters and digits after the first three shuffled: another value
    of the same format (prefix, separators and character classes kept)."""
    head, tail = value[:3], list(value[3:])
    spots = [i for i, c in enumerate(tail) if c.isalnum()]
    chars = [tail[i] for i in spots]
    _rng.shuffle(chars)
    for i, c in zip(spots, chars, strict=True):
        tail[i] = c
    return head + "".join(tail)


def custom(rule_id: str, hits: list[tuple[str, str]], misses: list[str]) -> Case:
    return Case(rule_id, tuple(Hit(line, secret) for line, secret in hits), tuple(misses))


def _cases() -> list[Case]:  # noqa: PLR0915 - one table
    cases: list[Case] = []
    add = cases.append

    # -- clouds
    tok = r(300, B64)
    add(
        custom(
            "aws-session-token",
            [
                (f"AWS_SESSION_TOKEN={tok}", tok),
                (f'"x-amz-security-token": "{tok[:200]}"', tok[:200]),
            ],
            [
                f"SESSION={tok}",
                f"AWS_SESSION_TOKEN={tok[:99]}",
                "AWS_SESSION_TOKEN=${AWS_SESSION_TOKEN}",
            ],
        )
    )
    u = uid()
    add(
        custom(
            "aws-mws-key",
            [(f"MWS_AUTH_TOKEN=amzn.mws.{u}", f"amzn.mws.{u}"), (f'"t": "amzn.mws.{uid()}"', "")],
            [f"MWS_AUTH_TOKEN=amzn.mws.{u[:-1]}", f"t=amzn.mwz.{u}", f"t=xamzn.mws.{u}"],
        )
    )
    bed = "ABSK" + r(120)
    add(
        custom(
            "aws-bedrock-api-key",
            [(f"AWS_BEARER_TOKEN_BEDROCK={bed}", bed), (f'key: "{(b2 := "ABSK" + r(200))}"', b2)],
            ["k=ABSK" + r(100), "k=ABSX" + r(120), "k=x" + bed],
        )
    )
    add(prefixed("google-oauth-client-secret", "GOCSPX-", 28, URLSAFE, wrong_prefix="GOCSPY-"))
    ya = "ya29." + r(120, URLSAFE)
    add(
        custom(
            "google-oauth-access-token",
            [
                (f"Authorization: Bearer {ya}", ya),
                (f'"access_token": "{(y2 := "ya29." + r(60))}"', y2),
            ],
            ["t=ya29." + r(20), "t=ya28." + r(120), "t=x" + ya, "t=ya29.<token>"],
        )
    )
    rt = "1//0" + r(60, URLSAFE)
    add(
        custom(
            "google-oauth-refresh-token",
            [(f"refresh_token={rt}", rt), (f'"refresh_token": "{(r2 := "1//0" + r(100))}"', r2)],
            ["t=1//0" + r(30), "t=1//1" + r(60), "t=x" + rt],
        )
    )
    body = "\\n".join(r(64, B64) for _ in range(6))
    begin, end = "-----BEGIN PRIVATE" + " KEY-----", "-----END PRIVATE" + " KEY-----"
    pem = f"{begin}\\n{body}\\n{end}\\n"
    add(
        custom(
            "gcp-service-account-key",
            [(f'  "private_key": "{pem}",', pem), (f'{{"private_key":"{pem}"}}', pem)],
            [
                f'  "private_key": "{begin}\\n{body}\\n",',
                f'  "private_key_id": "{r(40, HEX)}",',
                f'  "private_key": "{begin}\\n...\\n{end}\\n",',
            ],
        )
    )
    fcm = "AAAA" + r(7, URLSAFE) + ":APA91b" + r(134, URLSAFE)
    add(
        custom(
            "firebase-cloud-messaging-key",
            [
                (f"FCM_SERVER_KEY={fcm}", fcm),
                (f'"key": "{(f2 := "AAAA" + r(7) + ":APA91b" + r(134))}"', f2),
            ],
            ["k=" + fcm[:-1], "k=" + fcm.replace("APA91b", "APA92b"), "k=x" + fcm],
        )
    )
    tail = URLSAFE.replace("-", "") + "~."
    ad = r(3) + "8Q~" + r(34, tail)
    add(
        custom(
            "azure-ad-client-secret",
            [
                (f"AZURE_CLIENT_SECRET={ad}", ad),
                (f'"secret": "{(a2 := r(3) + "2Q~" + r(31))}"', a2),
            ],
            [f"s={r(3)}8Q~{r(30)}", f"s={r(3)}8Q-{r(34)}", f"s=x{ad}", f"s={r(3)}8Q~" + "x" * 34],
        )
    )
    ado = r(76) + "AZDO" + r(4)
    add(
        custom(
            "azure-devops-pat",
            [
                (f"AZURE_DEVOPS_EXT_PAT={ado}", ado),
                (f'"pat": "{(d2 := r(76) + "AZDO" + r(4))}"', d2),
            ],
            [f"p={r(75)}AZDO{r(4)}", f"p={r(76)}AZDX{r(4)}", f"p=x{ado}"],
        )
    )
    add(
        named(
            "azure-devops-pat-legacy", "AZURE_DEVOPS_PAT", r(52, BASE32_LOWER), r(51, BASE32_LOWER)
        )
    )
    sig = r(43, ALNUM) + "%3D"
    url = f"https://acct.blob.core.windows.net/c/b?sv=2022-11-02&se=2030-01-01&sp=r&sig={sig}"
    add(
        custom(
            "azure-sas-token",
            [(url, sig), (f'SAS="?sv=2021-06-08&ss=b&sig={(s2 := r(44, ALNUM))}"', s2)],
            [
                f"https://x.example.org/?page=2&sig={sig}",
                f"{url[: url.index('sig=')]}sig={r(20)}",
                f"?sv=2022-11-02&sig={'A' * 43}%3D",
            ],
        )
    )
    sak = r(43, B64) + "="
    add(
        custom(
            "azure-shared-access-key",
            [
                (
                    f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
                    f"SharedAccessKey={sak}",
                    sak,
                ),
                (
                    f'"conn": "HostName=h.azure-devices.net;SharedAccessKey={(k2 := r(43, B64) + "=")}"',  # noqa: E501
                    k2,
                ),
            ],
            [
                f"SharedAccessKey={r(42, B64)}=",
                f"SharedAccessKey={r(43, B64)}",
                f"SharedAccessKeyX={sak}",
            ],
        )
    )
    sec = r(43, B64) + "="
    add(
        custom(
            "azure-app-configuration-secret",
            [
                (f"Endpoint=https://conf.azconfig.io;Id=AbCd-l0-s0:Xy;Secret={sec}", sec),
                (
                    f'"c": "Endpoint=https://my-app.azconfig.io;Id=1;Secret={(c2 := r(43, B64) + "=")}"',  # noqa: E501
                    c2,
                ),
            ],
            [
                f"Endpoint=https://conf.azconfig.io;Id=1;Secret={r(42, B64)}=",
                f"Endpoint=https://conf.example.org;Id=1;Secret={sec}",
                "Endpoint=https://conf.azconfig.io;Id=1;Secret=${APPCONFIG_SECRET}",
            ],
        )
    )
    oca = "v1.0-" + r(24, HEX) + "-" + r(146, HEX)
    add(
        custom(
            "cloudflare-origin-ca-key",
            [
                (f"CF_ORIGIN_CA_KEY={oca}", oca),
                (f'"key": "{(o2 := "v1.0-" + r(24, HEX) + "-" + r(146, HEX))}"', o2),
            ],
            [f"k={oca[:-1]}", "k=" + oca.replace("v1.0-", "v1.1-"), f"k=x{oca}"],
        )
    )
    add(named("cloudflare-api-token", "CLOUDFLARE_API_TOKEN", r(40, URLSAFE), r(39, URLSAFE)))
    add(named("cloudflare-global-api-key", "CLOUDFLARE_API_KEY", r(37, HEX), r(36, HEX)))
    add(named("fastly-api-token", "FASTLY_API_TOKEN", r(32, URLSAFE), r(31, URLSAFE)))
    add(named("vercel-token", "VERCEL_TOKEN", r(24), r(23)))
    add(prefixed("netlify-pat", "nfp_", 36, wrong_prefix="nfq_"))
    add(named("netlify-legacy-token", "NETLIFY_AUTH_TOKEN", r(43, URLSAFE), r(42, URLSAFE)))
    add(named("linode-token", "LINODE_TOKEN", r(64, HEX), r(63, HEX)))
    add(named("vultr-api-key", "VULTR_API_KEY", r(36, UPPER_ALNUM), r(35, UPPER_ALNUM)))
    add(named("hetzner-cloud-token", "HCLOUD_TOKEN", r(64), r(63)))
    add(prefixed("scaleway-access-key", "SCW", 17, UPPER_ALNUM, wrong_prefix="SCX"))
    add(named("scaleway-secret-key", "SCW_SECRET_KEY", uid(), uid()[:-1]))
    add(
        prefixed("alibaba-access-key-id", "LTAI", 16, wrong_prefix="LTAX", shortest=12, exact=False)
    )
    add(named("alibaba-access-key-secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", r(30), r(29)))
    add(prefixed("tencent-secret-id", "AKID", 32, wrong_prefix="AKIX"))
    add(
        prefixed(
            "yandex-api-key", "AQVN", 36, URLSAFE, wrong_prefix="AQVX", shortest=35, exact=False
        )
    )
    add(named("heroku-legacy-api-key", "HEROKU_API_KEY", uid(), uid()[:-1]))

    # -- source hosting, CI, registries
    add(named("github-oauth-app-secret", "GITHUB_CLIENT_SECRET", r(40, HEX), r(39, HEX)))
    add(
        prefixed(
            "gitlab-feature-flags-token",
            "glffct-",
            20,
            URLSAFE,
            wrong_prefix="glffcx-",
            shortest=20,
            exact=False,
        )
    )
    add(prefixed("bitbucket-app-password", "ATBB", 32, wrong_prefix="ATBX"))
    add(prefixed("dockerhub-org-token", "dckr_oat_", 32, URLSAFE, wrong_prefix="dckr_oax_"))
    add(named("quay-robot-token", "QUAY_ROBOT_TOKEN", r(64, UPPER_ALNUM), r(63, UPPER_ALNUM)))
    add(prefixed("rubygems-api-key", "rubygems_", 48, HEX, wrong_prefix="rubygemz_"))
    add(prefixed("nuget-api-key", "oy2", 43, LOWER_ALNUM, wrong_prefix="oy3"))
    add(prefixed("jfrog-reference-token", "cmVmdGtuOjAxOj", 50, wrong_prefix="cmVmdGtuOjAxOk"))
    add(prefixed("clojars-token", "CLOJARS_", 60, LOWER_ALNUM, wrong_prefix="CLOJARZ_"))
    sq = "sqp_" + r(40, HEX)
    add(
        custom(
            "sonarqube-token",
            [(f"SONAR_TOKEN={sq}", sq), (f'"token": "{(q2 := "squ_" + r(40, HEX))}"', q2)],
            [
                f"SONAR_TOKEN={sq[:-1]}",
                "SONAR_TOKEN=sqx_" + r(40, HEX),
                f"SONAR_TOKEN=x{sq}",
                "SONAR_TOKEN=sqp_" + "a" * 40,
            ],
        )
    )
    cc = "CCIPAT_" + r(22) + "_" + r(40, HEX)
    add(
        custom(
            "circleci-pat",
            [
                (f"CIRCLE_TOKEN={cc}", cc),
                (f'"t": "{(c3 := "CCIPAT_" + r(22) + "_" + r(40, HEX))}"', c3),
            ],
            [f"CIRCLE_TOKEN={cc[:-1]}", "CIRCLE_TOKEN=CCIPAX_" + cc[7:], f"CIRCLE_TOKEN=x{cc}"],
        )
    )
    add(prefixed("buildkite-token", "bkua_", 40, HEX, wrong_prefix="bkux_"))
    add(named("jenkins-api-token", "JENKINS_API_TOKEN", "11" + r(32, HEX), "11" + r(31, HEX)))
    add(named("codecov-token", "CODECOV_TOKEN", uid(), uid()[:-1]))
    add(named("snyk-token", "SNYK_TOKEN", uid(), uid()[:-1]))
    add(prefixed("octopus-deploy-api-key", "API-", 26, UPPER_ALNUM, wrong_prefix="APX-"))
    tfc = r(14) + ".atlasv1." + r(67, URLSAFE)
    add(
        custom(
            "terraform-cloud-token",
            [(f"TFE_TOKEN={tfc}", tfc), (f'token = "{(t2 := r(14) + ".atlasv1." + r(60))}"', t2)],
            [
                f"TFE_TOKEN={r(13)}.atlasv1.{r(67)}",
                f"TFE_TOKEN={r(14)}.atlasv2.{r(67)}",
                f"TFE_TOKEN={r(14)}.atlasv1.{r(50)}",
            ],
        )
    )
    add(
        prefixed(
            "vault-recovery-token",
            "hvr.",
            90,
            URLSAFE,
            wrong_prefix="hvx.",
            shortest=24,
            exact=False,
        )
    )
    add(named("vault-legacy-token", "VAULT_TOKEN", "s." + r(24), "s." + r(23)))
    ts = "tskey-auth-" + r(16) + "-" + r(30)
    add(
        custom(
            "tailscale-key",
            [
                (f"TS_AUTHKEY={ts}", ts),
                (f'"key": "{(t3 := "tskey-api-" + r(12) + "-" + r(35))}"', t3),
            ],
            [
                f"TS_AUTHKEY=tskey-auth-{r(16)}-{r(10)}",
                f"TS_AUTHKEY=tskey-oops-{r(16)}-{r(30)}",
                f"TS_AUTHKEY=x{ts}",
            ],
        )
    )
    ra = "token-" + r(5, LOWER_ALNUM) + ":" + r(54, LOWER_ALNUM)
    add(
        custom(
            "rancher-api-token",
            [
                (f"CATTLE_TOKEN={ra}", ra),
                (
                    f'"token": "{(ra2 := "token-" + r(5, LOWER_ALNUM) + ":" + r(54, LOWER_ALNUM))}"',  # noqa: E501
                    ra2,
                ),
            ],
            [
                f"CATTLE_TOKEN={ra[:-1]}",
                "CATTLE_TOKEN=" + ra.replace("token-", "tokem-"),
                f"CATTLE_TOKEN=x{ra}",
            ],
        )
    )
    add(prefixed("infracost-api-key", "ico-", 32, wrong_prefix="icx-"))
    pm = "PMAK-" + r(24, HEX) + "-" + r(34, HEX)
    add(
        custom(
            "postman-api-key",
            [
                (f"POSTMAN_API_KEY={pm}", pm),
                (f'"k": "{(pm2 := "PMAK-" + r(24, HEX) + "-" + r(34, HEX))}"', pm2),
            ],
            [f"k={pm[:-1]}", "k=PMAX-" + pm[5:], f"k=x{pm}"],
        )
    )
    add(prefixed("readme-api-key", "rdme_", 70, LOWER_ALNUM, wrong_prefix="rdmx_"))
    dn = "dnkey-" + r(26, LOWER_ALNUM) + "-" + r(52, LOWER_ALNUM)
    add(
        custom(
            "defined-networking-key",
            [
                (f"DN_API_KEY={dn}", dn),
                (
                    f'"k": "{(dn2 := "dnkey-" + r(26, LOWER_ALNUM) + "-" + r(52, LOWER_ALNUM))}"',
                    dn2,
                ),
            ],
            [f"k={dn[:-1]}", "k=dnkex-" + dn[6:], f"k=x{dn}"],
        )
    )

    # -- secret stores
    for rule_id, prefix in (
        ("doppler-service-token", "dp.st."),
        ("doppler-cli-token", "dp.ct."),
        ("doppler-scim-token", "dp.scim."),
        ("doppler-service-account-token", "dp.sa."),
        ("doppler-audit-token", "dp.audit."),
    ):
        wrong = prefix[:-2] + "x."
        add(prefixed(rule_id, prefix, 43, wrong_prefix=wrong, shortest=40, exact=False))
    ops = "ops_eyJ" + r(300, B64)
    add(
        custom(
            "onepassword-service-account-token",
            [
                (f"OP_SERVICE_ACCOUNT_TOKEN={ops}", ops),
                (f'"t": "{(o3 := "ops_eyJ" + r(260))}"', o3),
            ],
            ["t=ops_eyJ" + r(100), "t=ops_eyK" + r(300), f"t=x{ops}"],
        )
    )

    def op_key() -> str:
        return f"A3-{r(6, UPPER_ALNUM)}-{r(11, UPPER_ALNUM)}-" + "-".join(
            r(5, UPPER_ALNUM) for _ in range(3)
        )

    k1 = op_key()
    add(
        custom(
            "onepassword-secret-key",
            [(f"OP_SECRET_KEY={k1}", k1), (f"Secret Key: {(k2 := op_key())}", k2)],
            [f"k={k1[:-1]}", "k=A4" + k1[2:], f"k=X{k1}"],
        )
    )

    # -- messaging
    xa = f"xapp-1-A{r(10, UPPER_ALNUM)}-{digits(13)}-{r(64, HEX)}"
    add(
        custom(
            "slack-app-token",
            [
                (f"SLACK_APP_TOKEN={xa}", xa),
                (
                    f'"t": "{(xa2 := f"xapp-1-A{r(9, UPPER_ALNUM)}-{digits(12)}-{r(64, HEX)}")}"',
                    xa2,
                ),
            ],
            [f"t={xa[:-1]}", "t=xapq" + xa[4:], f"t=x{xa}"],
        )
    )
    xe = "xoxe.xoxp-1-" + r(164)
    add(
        custom(
            "slack-config-token",
            [(f"SLACK_CONFIG_TOKEN={xe}", xe), (f'"t": "{(xe2 := "xoxe.xoxb-1-" + r(166))}"', xe2)],
            ["t=xoxe.xoxp-1-" + r(160), "t=xoxe.xoxq-1-" + r(164), f"t=x{xe}"],
        )
    )
    xr = "xoxe-1-" + r(146)
    add(
        custom(
            "slack-config-refresh-token",
            [(f"SLACK_REFRESH={xr}", xr), (f'"t": "{(xr2 := "xoxe-1-" + r(146))}"', xr2)],
            [f"t={xr[:-1]}", f"t={xr}a", f"t=x{xr}"],
        )
    )
    wf = f"https://hooks.slack.com/workflows/T{r(9, UPPER_ALNUM)}/A{r(9, UPPER_ALNUM)}/{digits(18)}/{r(32)}"  # noqa: E501
    add(
        custom(
            "slack-workflow-webhook-url",
            [
                (f"WEBHOOK={wf}", wf),
                (f'"url": "{(wf2 := wf.replace("/workflows/", "/triggers/"))}"', wf2),
            ],
            [
                f"WEBHOOK={wf[:-1]}",
                "WEBHOOK=" + wf.replace("/workflows/", "/services/"),
                "WEBHOOK=" + wf.replace("hooks.slack.com", "hooks.example.com"),
            ],
        )
    )
    dw = f"https://discord.com/api/webhooks/{digits(18)}/{r(68, URLSAFE)}"
    add(
        custom(
            "discord-webhook-url",
            [
                (f"DISCORD_WEBHOOK={dw}", dw),
                (
                    f'"u": "{(dw2 := f"https://discordapp.com/api/webhooks/{digits(19)}/{r(64)}")}"',
                    dw2,
                ),
            ],
            [
                f"u=https://discord.com/api/webhooks/{digits(18)}/{r(40)}",
                f"u=https://discord.com/api/webhooks/abc/{r(68)}",
                "u=" + dw.replace("discord.com", "d.com"),
            ],
        )
    )
    add(named("twilio-auth-token", "TWILIO_AUTH_TOKEN", r(32, HEX), r(31, HEX)))
    mg = "key-" + r(32, HEX)
    add(
        Case(
            "mailgun-api-key",
            (
                Hit(f"MAILGUN_API_KEY={mg}", mg),
                Hit(f'api_key = "{(mg2 := "key-" + r(32, HEX))}"', mg2, Confidence.MEDIUM),
            ),
            (
                f"MAILGUN_API_KEY={mg[:-1]}",
                "MAILGUN_API_KEY=kez-" + mg[4:],
                f"MAILGUN_API_KEY=a{mg}",
                "MAILGUN_API_KEY=key-" + "a" * 32,
            ),
        )
    )
    add(
        named(
            "mailgun-private-key",
            "MAILGUN_WEBHOOK_SIGNING_KEY",
            f"{r(32, HEX)}-{r(8, HEX)}-{r(8, HEX)}",
            f"{r(32, HEX)}-{r(8, HEX)}-{r(7, HEX)}",
        )
    )
    add(named("mandrill-api-key", "MANDRILL_API_KEY", "md-" + r(22, ALNUM), "md-" + r(21)))
    add(named("postmark-server-token", "POSTMARK_SERVER_TOKEN", uid(), uid()[:-1]))
    add(
        custom(
            "brevo-api-key",
            [
                (f"BREVO_API_KEY={(bv := 'xkeysib-' + r(64, HEX) + '-' + r(16))}", bv),
                (f'"k": "{(bv2 := "xkeysib-" + r(64, HEX) + "-" + r(16))}"', bv2),
            ],
            [f"k={bv[:-1]}", "k=xkeysiq-" + bv[8:], f"k=x{bv}"],
        )
    )
    add(prefixed("typeform-token", "tfp_", 59, wrong_prefix="tfq_"))
    add(prefixed("intercom-access-token", "dG9rOi", 54, URLSAFE, wrong_prefix="dG9rOj"))
    hs = "pat-na1-" + uid()
    add(
        custom(
            "hubspot-private-app-token",
            [(f"HUBSPOT_TOKEN={hs}", hs), (f'"t": "{(hs2 := "pat-eu1-" + uid())}"', hs2)],
            [f"t={hs[:-1]}", "t=pat-xx1-" + uid(), f"t=x{hs}"],
        )
    )
    add(named("zendesk-api-token", "ZENDESK_API_TOKEN", r(40), r(39)))

    # -- commerce
    add(
        prefixed(
            "stripe-webhook-secret", "whsec_", 32, wrong_prefix="whsex_", shortest=32, exact=False
        )
    )
    add(
        prefixed(
            "stripe-test-key", "sk_test_", 24, wrong_prefix="sk_tesx_", shortest=24, exact=False
        )
    )
    sqa = "EAAA" + r(60, URLSAFE)
    add(
        custom(
            "square-access-token",
            [
                (f"SQUARE_ACCESS_TOKEN={sqa}", sqa),
                (f'"t": "{(sq2 := "sq0atp-" + r(22, URLSAFE))}"', sq2),
            ],
            [f"t={sqa[:-1]}", "t=EAAB" + r(60), f"t=x{sqa}", "t=sq0atp-" + r(21)],
        )
    )
    bt = f"access_token$production${r(16, LOWER_ALNUM)}${r(32, HEX)}"
    bs = f"access_token$sandbox${r(16, LOWER_ALNUM)}${r(32, HEX)}"
    add(
        Case(
            "braintree-access-token",
            (Hit(f"BT_TOKEN={bt}", bt), Hit(f'"t": "{bs}"', bs, Confidence.MEDIUM)),
            (f"t={bt[:-1]}", "t=" + bt.replace("production", "staging"), f"t=x{bt}"),
        )
    )
    add(named("paypal-client-secret", "PAYPAL_CLIENT_SECRET", r(80, URLSAFE), r(79, URLSAFE)))
    sh = "shippo_live_" + r(40, HEX)
    add(
        custom(
            "shippo-api-token",
            [(f"SHIPPO_TOKEN={sh}", sh), (f'"t": "{(sh2 := "shippo_test_" + r(40, HEX))}"', sh2)],
            [f"t={sh[:-1]}", "t=shippo_prod_" + r(40, HEX), f"t=x{sh}"],
        )
    )
    add(prefixed("easypost-api-key", "EZAK", 54, LOWER_ALNUM, wrong_prefix="EZXK"))
    fw = "FLWSECK-" + r(32, HEX) + "-X"
    add(
        custom(
            "flutterwave-secret-key",
            [
                (f"FLW_SECRET_KEY={fw}", fw),
                (f'"k": "{(fw2 := "FLWSECK_TEST-" + r(32, HEX) + "-X")}"', fw2),
            ],
            [f"k=FLWSECK-{r(31, HEX)}-X", "k=FLWSECX-" + fw[8:], f"k=x{fw}"],
        )
    )
    du = "duffel_test_" + r(43, URLSAFE)
    add(
        custom(
            "duffel-token",
            [(f"DUFFEL_TOKEN={du}", du), (f'"t": "{(du2 := "duffel_live_" + r(43))}"', du2)],
            [f"t={du[:-1]}", "t=duffel_prod_" + r(43), f"t=x{du}"],
        )
    )
    pl = "access-sandbox-" + uid()
    add(
        custom(
            "plaid-access-token",
            [
                (f"PLAID_ACCESS_TOKEN={pl}", pl),
                (f'"t": "{(pl2 := "access-production-" + uid())}"', pl2),
            ],
            [f"t={pl[:-1]}", "t=access-staging-" + uid(), f"t=x{pl}"],
        )
    )
    fo = "fo1_" + r(43, URLSAFE)
    add(
        custom(
            "flyio-token",
            [(f"FLY_API_TOKEN={fo}", fo), (f'"t": "{(fo2 := "fm2_" + r(150, B64))}"', fo2)],
            [f"t={fo[:-1]}", "t=fo2_" + r(43), f"t=x{fo}"],
        )
    )

    # -- services
    add(named("datadog-api-key", "DD_API_KEY", r(32, HEX), r(31, HEX)))
    add(named("datadog-app-key", "DD_APP_KEY", r(40, HEX), r(39, HEX)))
    nr = r(36, HEX) + "NRAL"
    add(
        custom(
            "newrelic-license-key",
            [(f"NEW_RELIC_LICENSE_KEY={nr}", nr), (f'"k": "{(nr2 := r(36, HEX) + "NRAL")}"', nr2)],
            [f"k={r(35, HEX)}NRAL", f"k={r(36, HEX)}NRAX", f"k=x{nr}"],
        )
    )
    add(prefixed("newrelic-insert-key", "NRII-", 32, URLSAFE, wrong_prefix="NRIX-"))
    add(prefixed("newrelic-browser-key", "NRJS-", 19, HEX, wrong_prefix="NRJX-"))
    add(prefixed("newrelic-admin-key", "NRAA-", 27, HEX, wrong_prefix="NRAX-"))
    add(prefixed("sentry-user-token", "sntryu_", 64, HEX, wrong_prefix="sntryx_"))
    gf = "eyJrIjoi" + r(100)
    add(
        custom(
            "grafana-api-key",
            [(f"GRAFANA_API_KEY={gf}", gf), (f'"k": "{(gf2 := "eyJrIjoi" + r(80))}"', gf2)],
            ["k=eyJrIjoi" + r(60), "k=eyJrIjox" + r(100), f"k=x{gf}"],
        )
    )
    dt = "dt0c01." + r(24, UPPER_ALNUM) + "." + r(64, UPPER_ALNUM)
    add(
        custom(
            "dynatrace-token",
            [
                (f"DT_API_TOKEN={dt}", dt),
                (
                    f'"t": "{(dt2 := "dt0c01." + r(24, UPPER_ALNUM) + "." + r(64, UPPER_ALNUM))}"',
                    dt2,
                ),
            ],
            [f"t={dt[:-1]}", "t=dt0c02" + dt[6:], f"t=x{dt}"],
        )
    )
    add(named("okta-api-token", "OKTA_API_TOKEN", "00" + r(40, URLSAFE), "00" + r(39, URLSAFE)))
    add(
        prefixed(
            "atlassian-api-token", "ATATT3", 186, wrong_prefix="ATATT4", shortest=180, exact=False
        )
    )
    add(named("atlassian-legacy-token", "JIRA_API_TOKEN", r(24), r(23)))
    add(prefixed("linear-oauth-token", "lin_oauth_", 64, HEX, wrong_prefix="lin_oautx_"))
    nt = "ntn_" + digits(11) + r(35)
    add(
        custom(
            "notion-api-token",
            [(f"NOTION_TOKEN={nt}", nt), (f'"t": "{(nt2 := "ntn_" + digits(11) + r(35))}"', nt2)],
            [f"t={nt[:-1]}", "t=ntx_" + nt[4:], f"t=x{nt}", "t=ntn_" + r(11, LETTERS) + r(35)],
        )
    )
    nl = "secret_" + r(43)
    add(
        Case(
            "notion-legacy-token",
            (
                Hit(f"NOTION_TOKEN={nl}", nl),
                Hit(f'"token": "{(nl2 := "secret_" + r(43))}"', nl2, Confidence.MEDIUM),
            ),
            (
                f"NOTION_TOKEN={nl[:-1]}",
                f"NOTION_TOKEN={nl}a",
                f"NOTION_TOKEN=x{nl}",
                "NOTION_TOKEN=secret_" + "x" * 43,
            ),
        )
    )
    at = "pat" + r(14) + "." + r(64, HEX)
    add(
        custom(
            "airtable-pat",
            [
                (f"AIRTABLE_TOKEN={at}", at),
                (f'"t": "{(at2 := "pat" + r(14) + "." + r(64, HEX))}"', at2),
            ],
            [f"t={at[:-1]}", "t=pax" + at[3:], f"t=x{at}"],
        )
    )
    add(prefixed("figma-pat", "figd_", 40, URLSAFE, wrong_prefix="figx_"))
    add(prefixed("contentful-pat", "CFPAT-", 43, URLSAFE, wrong_prefix="CFPAX-"))
    db = "sl." + r(140, URLSAFE)
    add(
        custom(
            "dropbox-token",
            [(f"DROPBOX_TOKEN={db}", db), (f'"t": "{(db2 := "sl.u." + r(200, URLSAFE))}"', db2)],
            ["t=sl." + r(100), "t=sx." + r(140), f"t=x{db}"],
        )
    )
    mb = "sk.eyJ1Ijoi" + r(20, URLSAFE) + "." + r(22, URLSAFE)
    add(
        custom(
            "mapbox-secret-token",
            [
                (f"MAPBOX_TOKEN={mb}", mb),
                (f'"t": "{(mb2 := "sk.eyJ1Ijoi" + r(30) + "." + r(22))}"', mb2),
            ],
            [
                "t=sk.eyJ1Ijoi" + r(20) + "." + r(21),
                "t=pk.eyJ1Ijoi" + r(20) + "." + r(22),
                f"t=x{mb}",
            ],
        )
    )
    add(named("algolia-admin-key", "ALGOLIA_ADMIN_KEY", r(32, HEX), r(31, HEX)))
    pc = "pcsk_" + r(6) + "_" + r(65)
    add(
        custom(
            "pinecone-api-key",
            [
                (f"PINECONE_API_KEY={pc}", pc),
                (f'"k": "{(pc2 := "pcsk_" + r(5) + "_" + r(70))}"', pc2),
            ],
            ["k=pcsk_" + r(6) + "_" + r(50), "k=pcsx_" + pc[5:], f"k=x{pc}"],
        )
    )
    add(prefixed("supabase-access-token", "sbp_", 40, HEX, wrong_prefix="sbx_"))
    add(
        prefixed(
            "supabase-secret-key",
            "sb_secret_",
            31,
            URLSAFE,
            wrong_prefix="sb_secrex_",
            shortest=20,
            exact=False,
        )
    )
    add(prefixed("render-api-key", "rnd_", 32, wrong_prefix="rnx_"))
    add(
        prefixed(
            "planetscale-token",
            "pscale_tkn_",
            43,
            URLSAFE,
            wrong_prefix="pscale_tkx_",
            shortest=32,
            exact=False,
        )
    )
    add(
        prefixed(
            "planetscale-password",
            "pscale_pw_",
            43,
            URLSAFE,
            wrong_prefix="pscale_px_",
            shortest=32,
            exact=False,
        )
    )
    add(prefixed("prefect-api-key", "pnu_", 36, wrong_prefix="pnx_"))
    add(prefixed("scalingo-api-token", "tk-us-", 48, URLSAFE, wrong_prefix="tk-ux-"))
    add(prefixed("frameio-token", "fio-u-", 64, URLSAFE, wrong_prefix="fio-x-"))
    xb = "A" * 22 + r(80, ALNUM + "%")
    add(
        custom(
            "x-bearer-token",
            [(f"TWITTER_BEARER_TOKEN={xb}", xb), (f'"bearer": "{(xb2 := "A" * 21 + r(90))}"', xb2)],
            ["t=" + "A" * 22 + r(20), "t=" + "A" * 19 + "B" + r(80), f"t=x{xb}"],
        )
    )
    add(
        prefixed(
            "facebook-access-token",
            "EAACEdEose0cBA",
            100,
            wrong_prefix="EAACEdEose0cBB",
            shortest=20,
            exact=False,
        )
    )
    add(named("facebook-app-secret", "FACEBOOK_APP_SECRET", r(32, HEX), r(31, HEX)))
    add(named("cohere-api-key", "COHERE_API_KEY", r(40), r(39)))
    add(named("mistral-api-key", "MISTRAL_API_KEY", r(32), r(31)))
    add(named("wandb-api-key", "WANDB_API_KEY", r(40, HEX), r(39, HEX)))
    an = "sk-ant-admin01-" + r(93, URLSAFE) + "AA"
    add(
        custom(
            "anthropic-admin-key",
            [
                (f"ANTHROPIC_ADMIN_KEY={an}", an),
                (f'"k": "{(an2 := "sk-ant-admin01-" + r(93, URLSAFE) + "AA")}"', an2),
            ],
            [f"k={an[:-3]}AA", "k=sk-ant-admin02-" + an[15:], f"k=x{an}"],
        )
    )
    add(prefixed("huggingface-org-token", "api_org_", 34, LETTERS, wrong_prefix="api_orx_"))
    add(prefixed("replicate-api-token", "r8_", 37, wrong_prefix="r9_"))
    add(prefixed("groq-api-key", "gsk_", 52, wrong_prefix="gsx_"))
    add(prefixed("perplexity-api-key", "pplx-", 48, wrong_prefix="pplz-", exact=False))
    add(
        custom(
            "perplexity-api-key", [(f"PPLX_KEY={(px := 'pplx-' + r(56))}", px)], ["k=pplx-" + r(65)]
        )
    )
    add(prefixed("xai-api-key", "xai-", 80, wrong_prefix="xaj-"))
    ls = "lsv2_pt_" + r(32, HEX) + "_" + r(10, HEX)
    add(
        custom(
            "langsmith-api-key",
            [
                (f"LANGSMITH_API_KEY={ls}", ls),
                (f'"k": "{(ls2 := "lsv2_sk_" + r(32, HEX) + "_" + r(10, HEX))}"', ls2),
            ],
            [f"k={ls[:-1]}", "k=lsv2_xx_" + ls[8:], f"k=x{ls}"],
        )
    )
    cs = r(27, URLSAFE)
    add(
        custom(
            "cloudinary-url",
            [
                (f"CLOUDINARY_URL=cloudinary://{digits(15)}:{cs}@democloud", cs),
                (f'"url": "cloudinary://{digits(12)}:{(cs2 := r(30))}@my-cloud"', cs2),
            ],
            [
                f"CLOUDINARY_URL=cloudinary://{digits(15)}:{r(10)}@democloud",
                f"CLOUDINARY_URL=cloudinary://abc:{cs}@democloud",
                f"CLOUDINARY_URL=https://x:{cs}@y",
            ],
        )
    )

    # -- databases
    pw = r(16)
    add(
        custom(
            "mssql-connection-string",
            [
                (f"Server=db.internal;Database=app;User Id=sa;Password={pw};", pw),
                (
                    f'"c": "Data Source=tcp:sql1,1433;Initial Catalog=x;User ID=app;Pwd={(pw2 := r(20))}"',  # noqa: E501
                    pw2,
                ),
            ],
            [
                "Server=db;Database=app;Integrated Security=true;",
                "Server=db;Database=app;User Id=sa;Password=${SA_PASSWORD};",
                "Server=db;Database=app;User Id=sa;Password=changeme;",
            ],
        )
    )
    pw3 = r(18)
    add(
        custom(
            "jdbc-password",
            [
                (f"jdbc:postgresql://db:5432/app?user=app&password={pw3}", pw3),
                (f"jdbc:oracle:thin:@db:1521:ORCL;user=app;password={(pw5 := r(12))}", pw5),
                (
                    f'url = "jdbc:sqlserver://db:1433;databaseName=x;user=sa;password={(pw4 := r(14))}"',  # noqa: E501
                    pw4,
                ),
            ],
            [
                "jdbc:postgresql://db:5432/app?user=app",
                "jdbc:mysql://db/app?password=${DB_PASSWORD}",
                "jdbc:mysql://db/app?password=example",
            ],
        )
    )
    return cases


CASES = _cases()
POSITIVES = [
    pytest.param(case.rule_id, hit, id=f"{case.rule_id}-{i}")
    for case in CASES
    for i, hit in enumerate(case.positives)
]
NEGATIVES = [
    pytest.param(case.rule_id, line, id=f"{case.rule_id}-{i}")
    for case in CASES
    for i, line in enumerate(case.negatives)
]
ALL = Engine(RuleSet([*providers.RULES, *RULES]))


def scan(engine: Engine, line: str) -> list[Finding]:
    return engine.scan_bytes(line.encode(), Location(path="config.env"))


@pytest.mark.parametrize(("rule_id", "hit"), POSITIVES)
def test_finds(rule_id: str, hit: Hit) -> None:
    findings = scan(Engine(RuleSet([BY_ID[rule_id]])), hit.line)
    assert [(f.rule_id, f.confidence) for f in findings] == [(rule_id, hit.confidence)]
    if hit.secret:
        assert findings[0].secret.raw == hit.secret.encode()


@pytest.mark.parametrize(("rule_id", "hit"), POSITIVES)
def test_the_rule_wins_among_all_providers(rule_id: str, hit: Hit) -> None:
    assert rule_id in [f.rule_id for f in scan(ALL, hit.line)]


@pytest.mark.parametrize(("rule_id", "line"), NEGATIVES)
def test_ignores_near_misses(rule_id: str, line: str) -> None:
    assert scan(Engine(RuleSet([BY_ID[rule_id]])), line) == []


@pytest.mark.parametrize(("rule_id", "hit"), [p for p in POSITIVES if BY_ID[p.values[0]].keywords])
def test_every_match_holds_a_keyword(rule_id: str, hit: Hit) -> None:
    rule = BY_ID[rule_id]
    for match in rule.regex.finditer(hit.line.encode()):
        assert any(k.encode() in match.group(0).lower() for k in rule.keywords)


def test_every_rule_has_two_hits_and_two_near_misses() -> None:
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
    default = Rule.__dataclass_fields__["remediation"].default
    for rule in RULES:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rule.id), rule.id
        assert rule.description and rule.remediation and rule.remediation != default, rule.id
        assert rule.keywords or rule.prefilter, rule.id
        assert all(k and k == k.lower() for k in rule.keywords), rule.id
        assert "secret" in rule.regex.groupindex, rule.id
        assert rule.detect_secrets_type is None, rule.id


def test_at_least_150_provider_rules_ship() -> None:
    shipped = [rule for rule in builtin_rules() if "provider" in rule.tags]
    assert len(shipped) >= 150
    assert len({rule.id for rule in builtin_rules()}) == len(builtin_rules())
