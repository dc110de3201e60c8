"""A build's whole surface at once (`leakguard build-check`): its Dockerfiles, its
Compose files (and the env files they name), and what each build's context would
put into the image. The surfaces are the ones `scan` and `context` read; this
module only finds the files of a build and puts their results together."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from leakguard.engine import Engine, kind_of_path
from leakguard.errors import TargetUnreadable, UsageError
from leakguard.models import ScanResult, Skipped


@dataclass(frozen=True, slots=True)
class BuildFiles:
    """What a build is made of."""

    dockerfiles: tuple[str, ...]
    compose_files: tuple[str, ...]
    builds: tuple[tuple[str, str], ...]  # (context folder, Dockerfile), each once
    skipped: tuple[Skipped, ...] = ()


def find_build_files(target: str, dockerfile: str | None = None) -> BuildFiles:
    """The Dockerfiles and Compose files of `target` and the builds they make.

    `target` is a folder (its Dockerfiles and Compose files, by name: Dockerfile,
    *.Dockerfile, Dockerfile.*, Containerfile, compose.yaml, docker-compose.yml, ...;
    `dockerfile` instead of the folder's own), a Dockerfile (its folder is the
    context) or a Compose file. A Compose service's `build:` adds its context and
    Dockerfile wherever they are.
    """
    if not os.path.lexists(target):
        raise TargetUnreadable(
            f"{target} does not exist", hint="give a folder, Dockerfile or Compose file"
        )
    dockerfiles: list[str] = []
    compose: list[str] = []
    builds: list[tuple[str, str]] = []
    skipped: list[Skipped] = []
    if os.path.isdir(target):
        names = sorted(os.listdir(target))
        own = [os.path.join(target, n) for n in names if _is_file(target, n, "dockerfile")]
        if dockerfile is not None:
            if not os.path.isfile(dockerfile):
                raise UsageError(f"no Dockerfile at {dockerfile}")
            own = [dockerfile]
        dockerfiles.extend(own)
        builds.extend((target, f) for f in own)
        compose.extend(os.path.join(target, n) for n in names if _is_file(target, n, "compose"))
    elif kind_of_path(target) == "compose":
        compose.append(target)
    else:
        dockerfiles.append(target)
        builds.append((os.path.dirname(target) or ".", target))
    for file in compose:
        _add_compose_builds(file, dockerfiles, builds, skipped)
    if not dockerfiles and not compose:
        raise UsageError(
            f"no Dockerfile or Compose file in {target}",
            hint="give the Dockerfile with --dockerfile, or the file itself",
        )
    # Each once, by one spelling: `./Dockerfile` and a Compose file's `Dockerfile`
    # must not be read (and reported) twice.
    return BuildFiles(
        tuple(dict.fromkeys(os.path.normpath(f) for f in dockerfiles)),
        tuple(os.path.normpath(f) for f in compose),
        tuple(dict.fromkeys((os.path.normpath(c), os.path.normpath(f)) for c, f in builds)),
        tuple(skipped),
    )


def _is_file(folder: str, name: str, kind: str) -> bool:
    return kind_of_path(name) == kind and os.path.isfile(os.path.join(folder, name))


def _add_compose_builds(
    file: str,
    dockerfiles: list[str],
    builds: list[tuple[str, str]],
    skipped: list[Skipped],
) -> None:
    from leakguard.detectors.compose import build_targets

    try:
        targets = build_targets(file)
    except TargetUnreadable:
        return  # the Compose scan reports the file itself
    for build in targets:
        if not os.path.isfile(build.dockerfile):
            skipped.append(Skipped(
                build.dockerfile,
                f"no such Dockerfile (the `build:` of service {build.service} in {file})",
            ))  # fmt: skip
            continue
        dockerfiles.append(build.dockerfile)
        builds.append((build.context, build.dockerfile))


def check_build(engine: Engine, files: BuildFiles, max_file_size: int | None = None) -> ScanResult:
    """Findings in the build's files and in what each context sends into its image.

    A secret both in a file and in the context that copies it is found twice; the
    policy (`leakguard.policy.apply_policy`) keeps one.
    """
    from leakguard.detectors.context import scan_context
    from leakguard.detectors.files import WalkOptions, scan_paths

    started = time.perf_counter()
    result = ScanResult(skipped=list(files.skipped))
    paths = list(files.compose_files)
    for dockerfile in files.dockerfiles:
        # One whose name does not say Dockerfile (`--dockerfile build/app.docker`) is
        # still read as one; by name, the walk does that.
        named = kind_of_path(dockerfile) == "dockerfile"
        found = None if named else _as_dockerfile(engine, dockerfile, max_file_size)
        if found is None:
            paths.append(dockerfile)
        else:
            result.extend(found)
    result.extend(scan_paths(engine, paths, WalkOptions(max_file_size=max_file_size), jobs=1))
    for folder, dockerfile in files.builds:
        try:
            result.extend(scan_context(engine, dockerfile, folder, max_file_size=max_file_size))
        except TargetUnreadable as e:
            result.skipped.append(Skipped(dockerfile, e.message))
    result.stats.duration_s = time.perf_counter() - started
    return result


def _as_dockerfile(engine: Engine, path: str, max_file_size: int | None) -> ScanResult | None:
    """`path` through the Dockerfile detector; None when it is too large to read
    whole (the walk streams it as text) or is not a regular file."""
    from leakguard.detectors import structured_scanner
    from leakguard.engine import CHUNK_SIZE
    from leakguard.fsutil import NotRegularFile, read_regular
    from leakguard.tree import DISK

    limit = min(CHUNK_SIZE - 1, max_file_size or CHUNK_SIZE - 1)
    try:
        data = read_regular(path, limit)
    except NotRegularFile:
        return None
    except OSError as e:
        return ScanResult(skipped=[Skipped(path, (e.strerror or str(e)).lower())])
    scanner = structured_scanner("dockerfile")
    if data is None or scanner is None:
        return None
    found = scanner(engine, data, path, DISK)
    found.stats.files += 1
    found.stats.bytes += len(data)
    return found
