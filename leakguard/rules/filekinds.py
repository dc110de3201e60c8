"""Credential files, named by their path alone.

Tools keep their logins in well-known places (`~/.docker/config.json`,
`~/.npmrc`, `~/.aws/credentials`, `~/.kube/config`, ...). The kind a path
names is the `Context.kind` the engine gives such a file, so that rules that
only make sense in one kind of file (an `_authToken` line in an `.npmrc`) can
ask for it.
"""

from __future__ import annotations

import posixpath

# The rule id of a finding made from a file's name and presence alone.
CREDENTIAL_FILE_RULE = "credential-file"

# Every kind `credential_file_kind` can return (stable names, used as Context.kind).
KINDS = (
    "docker-config", "npmrc", "pypirc", "netrc", "git-credentials", "aws-credentials",
    "kubeconfig", "pgpass", "mycnf", "maven-settings", "composer-auth", "dotenv",
    "private-key", "keystore", "htpasswd", "gcloud-credentials", "azure-tokens",
)  # fmt: skip

# Kinds whose content is binary or opaque: the file's presence is the finding.
BINARY_KINDS = frozenset({"keystore"})

# Exact base names (lower case) that mean the same thing wherever they are.
_BY_NAME = {
    ".npmrc": "npmrc",
    "npmrc": "npmrc",
    ".pypirc": "pypirc",
    ".netrc": "netrc",
    "_netrc": "netrc",
    ".git-credentials": "git-credentials",
    ".pgpass": "pgpass",
    "pgpass.conf": "pgpass",
    ".my.cnf": "mycnf",
    ".mylogin.cnf": "mycnf",
    ".htpasswd": "htpasswd",
    "htpasswd": "htpasswd",
    "application_default_credentials.json": "gcloud-credentials",
    "accesstokens.json": "azure-tokens",
    "msal_token_cache.json": "azure-tokens",
    "msal_token_cache.bin": "azure-tokens",
    ".dockercfg": "docker-config",
    "kubeconfig": "kubeconfig",
    ".kubeconfig": "kubeconfig",
}

# (parent folder, base name) -> kind, for names that are only telling in their folder.
_BY_FOLDER = {
    (".docker", "config.json"): "docker-config",
    (".aws", "credentials"): "aws-credentials",
    (".aws", "config"): "aws-credentials",
    (".kube", "config"): "kubeconfig",
    (".m2", "settings.xml"): "maven-settings",
    (".m2", "settings-security.xml"): "maven-settings",
    (".composer", "auth.json"): "composer-auth",
    ("composer", "auth.json"): "composer-auth",
    ("gcloud", "credentials.db"): "gcloud-credentials",
    ("gcloud", "access_tokens.db"): "gcloud-credentials",
    ("gcloud", "legacy_credentials"): "gcloud-credentials",
    (".azure", "accesstokens.json"): "azure-tokens",
    (".azure", "msal_token_cache.json"): "azure-tokens",
    (".azure", "service_principal_entries.json"): "azure-tokens",
}

# SSH and other private keys by their conventional names.
_KEY_NAMES = frozenset({
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity",
    "ssh_host_rsa_key", "ssh_host_dsa_key", "ssh_host_ecdsa_key", "ssh_host_ed25519_key",
})  # fmt: skip
_KEY_SUFFIXES = (".pem", ".key", ".ppk", ".pkcs8", ".der.key", ".asc.key", ".gpg.key")
_KEYSTORE_SUFFIXES = (".p12", ".pfx", ".jks", ".keystore", ".jceks", ".bks", ".pkcs12")
# `.pem` files that are conventionally public: certificate bundles and public keys.
_PUBLIC_HINTS = ("cert", "chain", "ca-bundle", "cacert", "fullchain", "pub", "public", "ca.pem")


_FOLDER_NAMES = frozenset(name for _, name in _BY_FOLDER)


def credential_file_kind(path: str) -> str | None:
    """The kind of credential file `path` names, or None for any other file.

    Only the path is read (base name and parent folders), never the file, so
    this is cheap enough to ask for every file of a tree or an image layer.
    """
    if not path:
        return None
    norm = (path.replace("\\", "/") if "\\" in path else path).rstrip("/")
    name = norm[norm.rfind("/") + 1 :].lower()
    if not name:
        return None
    # Folder names are looked at only for the few names that need them: this runs
    # for every file of a tree or a layer.
    if name in _FOLDER_NAMES or name in ("settings.xml", "auth.json"):
        parent = posixpath.basename(posixpath.dirname(norm)).lower()
        kind = _BY_FOLDER.get((parent, name))
        if kind is not None:
            return kind
        if name == "settings.xml" and parent in (".m2", "conf", "maven"):
            return "maven-settings"
        if name == "auth.json" and parent in (".composer", "composer", ".config"):
            return "composer-auth"
    if "legacy_credentials" in norm.lower():
        folders = norm.lower().split("/")[:-1]
        if folders[-2:].count("legacy_credentials"):
            return "gcloud-credentials"
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        if name.endswith((".example", ".sample", ".template", ".dist", ".tmpl", ".tpl")):
            return None
        return "dotenv"
    if name in _KEY_NAMES:
        return "private-key"
    if name.endswith(_KEYSTORE_SUFFIXES):
        return "keystore"
    if name.endswith(_KEY_SUFFIXES):
        if name.endswith(".pem") and any(hint in name for hint in _PUBLIC_HINTS):
            return None
        return "private-key"
    return None


ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip", ".jar", ".war", ".ear", ".whl")


def is_archive_name(path: str) -> bool:
    """Whether a file of this name is opened as an archive: a tarball, plain or
    compressed, or a zip-based one (jar, war, ear, wheel)."""
    return path.lower().endswith(ARCHIVE_SUFFIXES)
