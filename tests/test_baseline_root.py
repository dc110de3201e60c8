"""A baseline lives at the project's root and gives the same verdict from any folder.

Real repositories, real `leakguard` processes, real `git push` running the hook.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.clirun import git, lg
from tests.conftest import GITHUB_PAT, STRIPE_KEY
from tests.detectors.test_git_history import Repo

NAME = ".leakguard-baseline.json"


@pytest.fixture
def project(tmp_path: Path) -> Repo:
    """A repository with an accepted leak in app/settings.py, pushed to a local remote."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo = Repo(tmp_path / "work")
    repo.git("remote", "add", "origin", str(remote))
    repo.commit("base", **{"README.md": "hi\n", "docs/index.md": "docs\n"})
    assert git(repo.path, "push", "-q", "origin", "main").returncode == 0
    repo.commit("settings", **{"app/settings.py": f"TOKEN = '{GITHUB_PAT}'\n"})
    return repo


def test_a_baseline_made_in_a_sub_folder_is_written_at_the_root_and_says_where(project):
    proc = lg("baseline", "create", ".", cwd=project.path / "app")
    assert proc.returncode == 0, proc.stderr
    written = project.path / NAME
    assert f"wrote {written.resolve()} with 1 finding(s)" in proc.stderr
    assert not (project.path / "app" / NAME).exists()
    [entry] = json.loads(written.read_text())["entries"]
    assert entry["path"] == "app/settings.py"  # relative to the root, wherever it was made


@pytest.mark.parametrize("where", [".", "app", "docs"])
def test_the_same_verdict_from_the_root_a_sub_folder_or_a_hook(project, where):
    assert lg("baseline", "create", cwd=project.path).returncode == 0
    cwd = project.path / where
    root = os.path.relpath(project.path, cwd)
    for args in (("scan", root), ("scan", "-f", "json", root), ("git", root)):
        proc = lg(*args, cwd=cwd)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    assert lg("scan", "--no-baseline", root, cwd=cwd).returncode == 1
    # a new secret is still reported from there
    (project.path / "docs" / "new.py").write_text(f"KEY = '{STRIPE_KEY}'\n")
    assert lg("scan", root, cwd=cwd).returncode == 1
    (project.path / "docs" / "new.py").unlink()
    # the pre-push hook, run by git, follows the same baseline
    assert lg("hook", "install", cwd=project.path).returncode == 0
    proc = git(cwd, "push", "origin", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_baseline_holds_when_the_folder_is_reached_through_a_link(project, tmp_path):
    assert lg("baseline", "create", cwd=project.path).returncode == 0
    link = tmp_path / "link"
    link.symlink_to(project.path)
    # a path named through the link, from the root and from elsewhere
    assert lg("scan", str(link / "app"), cwd=project.path).returncode == 0
    assert lg("scan", str(link / "app"), cwd=tmp_path).returncode == 0
    assert lg("scan", ".", cwd=link / "app").returncode == 0


def test_the_readme_sample_config_works_before_its_baseline_exists(project):
    (project.path / ".leakguard.toml").write_text(f'baseline = "{NAME}"\n')
    proc = lg("scan", ".", cwd=project.path / "app")
    assert proc.returncode == 1, proc.stderr  # the finding, not a usage error
    assert "does not exist yet" in proc.stderr and "baseline create" in proc.stderr
    assert lg("git", ".", cwd=project.path).returncode == 1
    proc = lg("baseline", "create", cwd=project.path / "app")
    assert proc.returncode == 0 and str((project.path / NAME).resolve()) in proc.stderr
    assert lg("scan", ".", cwd=project.path / "app").returncode == 0
    assert lg("scan", ".", cwd=project.path).returncode == 0
    # naming a baseline that does not exist on the command line is still a usage error
    proc = lg("scan", "--baseline", "missing.json", ".", cwd=project.path)
    assert proc.returncode == 2 and "missing.json does not exist" in proc.stderr


def test_baseline_update_finds_the_root_baseline_from_a_sub_folder(project):
    assert lg("baseline", "create", cwd=project.path).returncode == 0
    (project.path / "app" / "more.py").write_text(f"KEY = '{STRIPE_KEY}'\n")
    proc = lg("baseline", "update", "..", cwd=project.path / "app")
    assert proc.returncode == 0, proc.stderr
    assert f"{(project.path / NAME).resolve()}: 2 finding(s), 1 new" in proc.stderr
    assert not (project.path / "app" / NAME).exists()
