"""Archives in a tree (`leakguard scan`, a build context): `ADD app.tar.gz /`
unpacks one into the image, so what is inside is scanned, named `archive!member`."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile

from leakguard.detectors.files import WalkOptions, scan_paths
from tests.conftest import AWS_KEY_ID, GITHUB_PAT
from tests.test_cli import run

ENV_FILE = f"GITHUB_TOKEN={GITHUB_PAT}\n".encode()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _found(result):
    return sorted((f.location.path, f.rule_id) for f in result.findings)


def test_tarballs_zips_and_archives_inside_them_are_read(tmp_path, engine):
    (tmp_path / "ctx.tar.gz").write_bytes(_tar({"app/.env": ENV_FILE}, "w:gz"))
    (tmp_path / "lib.jar").write_bytes(
        _zip({"conf/app.properties": b"aws.key=" + AWS_KEY_ID.encode()})
    )
    inner = _tar({"deep/.env": ENV_FILE}, "w:gz")
    (tmp_path / "release.tar").write_bytes(_tar({"bundle.tgz": inner}))
    result = scan_paths(engine, [str(tmp_path)], WalkOptions())
    assert _found(result) == [
        (f"{tmp_path}/ctx.tar.gz!/app/.env", "github-pat"),
        (f"{tmp_path}/lib.jar!/conf/app.properties", "aws-access-key-id"),
        (f"{tmp_path}/release.tar!/bundle.tgz!/deep/.env", "github-pat"),
    ]
    assert result.skipped == []
    assert result.stats.files == 3


def test_a_file_named_like_an_archive_that_is_not_one_is_scanned_as_it_is(tmp_path, engine):
    (tmp_path / "notes.tar").write_bytes(ENV_FILE)
    result = scan_paths(engine, [str(tmp_path)], WalkOptions())
    assert _found(result) == [(f"{tmp_path}/notes.tar", "github-pat")]
    assert result.skipped == []


def test_a_truncated_archive_keeps_what_was_read_and_says_it_was_cut(tmp_path):
    whole = gzip.compress(_tar({"a/.env": ENV_FILE, "b/big.txt": b"x" * 200_000}))
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    code, out, _ = run("scan", "-f", "json", str(tmp_path))
    report = json.loads(out)
    assert code == 3
    assert [f["location"]["path"] for f in report["findings"]] == [f"{tmp_path}/cut.tar.gz!/a/.env"]
    [skip] = report["skipped"]
    assert skip["target"] == f"{tmp_path}/cut.tar.gz" and "not read in full" in skip["reason"]


def test_a_member_that_climbs_out_is_read_under_its_normal_name_and_nothing_is_written(
    tmp_path, engine
):
    (tmp_path / "evil.tar").write_bytes(_tar({"../../outside/.env": ENV_FILE}))
    result = scan_paths(engine, [str(tmp_path / "evil.tar")], WalkOptions())
    assert _found(result) == [(f"{tmp_path}/evil.tar!/outside/.env", "github-pat")]
    assert not (tmp_path.parent / "outside").exists()
    [note] = result.skipped
    assert note.error is False and "leaves the archive root" in note.reason


def test_max_file_size_bounds_the_members_of_an_archive(tmp_path):
    # The archive is within the bound, one member is not (it compresses well).
    big = ENV_FILE + b"#" * 100_000
    (tmp_path / "ctx.tar").write_bytes(_tar({"small/.env": ENV_FILE, "large/.env": big}, "w:gz"))
    code, out, _ = run("scan", "-f", "json", "--max-file-size", "20k", str(tmp_path))
    report = json.loads(out)
    assert code == 3
    assert [f["location"]["path"] for f in report["findings"]] == [
        f"{tmp_path}/ctx.tar!/small/.env"
    ]
    assert [s["target"] for s in report["skipped"]] == [f"{tmp_path}/ctx.tar!/large/.env"]
