"""The command line: parse, build objects, call the core, render, return an exit code.

Heavy modules (the engine, detectors, renderers) are imported inside the
commands that need them, so `leakguard --help` and git hooks start fast.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakguard import __version__
from leakguard.errors import ExitCode, LeakguardError, UsageError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from leakguard.config import Config
    from leakguard.models import ScanResult
    from leakguard.progress import Progress

log = logging.getLogger("leakguard")

# Kept in step with leakguard.formats.Format (a test checks), without importing
# the renderers: `leakguard --help` and git hooks start fast.
FORMATS = ("text", "json", "sarif", "gitlab", "junit", "csv", "markdown", "detect-secrets", "html")
SEVERITIES = ("low", "medium", "high", "critical")
COLORS = ("auto", "always", "never")


@dataclass
class State:
    verbose: bool = False
    config_path: Path | None = None
    explicit_config: bool = False
    _config: Config | None = field(default=None, repr=False)

    def config(self, paths: Sequence[str] = ()) -> Config:
        from leakguard.config import find_config, load_config

        if self._config is None:
            path = self.config_path
            if path is None:
                start = next((p for p in paths if p != "-"), ".")
                path = find_config(Path(os.path.realpath(start)))  # a link loop: no raise
            self._config = load_config(path)
        return self._config


pass_state = click.make_pass_decorator(State, ensure=True)


def existing_path(_ctx: Any, _param: Any, value: Path | None) -> Path | None:
    """A PATH argument that must exist: a missing one could not be read (exit 3)."""
    if value is not None and not os.path.lexists(value):
        from leakguard.errors import TargetUnreadable

        raise TargetUnreadable(f"{value} does not exist", hint="check the path")
    return value


def _parse_size(_ctx: Any, _param: Any, value: str | None) -> int | None:
    if value is None:
        return None
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = value.strip().lower().removesuffix("ib").removesuffix("b")
    try:
        size = int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{value!r} is not a size (e.g. 100M, 2G, 4096)") from None
    if size <= 0:
        raise click.BadParameter(f"{value!r}: the size bound must be positive")
    return size


# Commands that live in their own modules, imported only when run (or listed
# by --help), so that `leakguard scan` in a git hook does not pay for docker,
# hvac or GitPython. name -> (module, function)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "migrate": ("leakguard.commands.migrate", "migrate"),
    "fix": ("leakguard.commands.migrate", "migrate"),  # the same command, by its verb
    "secrets": ("leakguard.commands.migrate", "secrets"),
    "git": ("leakguard.commands.git", "git"),
    "ci": ("leakguard.commands.ci", "ci"),
    "hook": ("leakguard.commands.hook", "hook"),
    "image": ("leakguard.commands.image", "image"),
    "sweep": ("leakguard.commands.sweep", "sweep"),
    "listen": ("leakguard.commands.listen", "listen"),
    "context": ("leakguard.commands.context", "context"),
    "build-check": ("leakguard.commands.build_check", "build_check"),
    "remediate": ("leakguard.commands.remediate", "remediate"),
    "docker-plugin": ("leakguard.commands.docker_plugin", "docker_plugin"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module, attr = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}.{attr} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="leakguard")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and tracebacks on errors.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: nearest .leakguard.toml or pyproject.toml [tool.leakguard]).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool, config_path: Path | None) -> None:
    """Find credentials leaked into container builds, and move them where they belong."""
    state = ctx.ensure_object(State)
    state.verbose = verbose
    state.config_path = config_path
    _configure_logging(verbose)


def _configure_logging(verbose: bool) -> None:
    level = "DEBUG" if verbose else os.environ.get("LEAKGUARD_LOGLEVEL", "WARNING").upper()
    logger = logging.getLogger("leakguard")
    logger.setLevel(level if level in logging.getLevelNamesMapping() else "WARNING")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("leakguard: %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


# Options every command that scans spells the same way.
DISABLE_OPTION = click.option("--disable", multiple=True, metavar="RULE",
                              help="Switch a rule off.")  # fmt: skip
ENABLE_OPTION = click.option("--enable", multiple=True, metavar="RULE",
                             help="Switch on an optional rule.")  # fmt: skip
MIN_CONFIDENCE_OPTION = click.option(
    "--min-confidence", type=click.Choice(["low", "medium", "high"]),
    help="Drop findings below this confidence.",
)  # fmt: skip
NO_BASELINE_OPTION = click.option("--no-baseline", is_flag=True,
                                  help="Report everything, baseline or not.")  # fmt: skip

# Custom detect-secrets plugins as rules, on every command that scans text.
DETECT_SECRETS_PLUGIN_OPTION = click.option(
    "--detect-secrets-plugin", "detect_secrets_plugins", multiple=True, metavar="FILE.py",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Load the detect-secrets plugins FILE.py defines as rules (repeatable; config: "
         "`detect_secrets_plugins`). Regex plugins run behind the keyword/Hyperscan "
         "prefilter; others' analyze_line runs on the lines holding one of the plugin's "
         "`keywords`, else on every line.",
)  # fmt: skip


def scan_options(f: Any) -> Any:
    options = [
        DETECT_SECRETS_PLUGIN_OPTION,
        click.option("--respect-gitignore", is_flag=True, default=None,
                     help="Skip files that .gitignore ignores (default: scan them; "
                          "ignored files such as .env are the ones that leak into images)."),
        click.option("--exclude", multiple=True, metavar="PATTERN",
                     help="gitignore-style pattern, relative to each PATH; repeatable."),
        DISABLE_OPTION,
        ENABLE_OPTION,
        click.option("--max-file-size", callback=_parse_size, metavar="SIZE",
                     help="Do not read files larger than this (each is reported, and the exit "
                          "code is 3). Default: no bound, files are streamed."),
        MIN_CONFIDENCE_OPTION,
        click.option("-j", "--jobs", type=click.IntRange(min=0), default=0,
                     help="Worker processes (default: one per core)."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


# --min-severity and --fail-on, beside --min-confidence on every command that
# scans; they flow into the config (where `min_severity` and `fail_on` may be set).
GATE_OPTIONS = (
    click.option("--min-severity", type=click.Choice(SEVERITIES),
                 help="Drop findings below this severity (default: the config's, else low)."),
    click.option("--fail-on", type=click.Choice(SEVERITIES),
                 help="Exit 1 only for findings at or above this severity; the others are "
                      "still reported (default: the config's, else low: any finding)."),
)  # fmt: skip


def gate_options(f: Any) -> Any:
    for option in reversed(GATE_OPTIONS):
        f = option(f)
    return f


@dataclass(frozen=True, slots=True)
class Output:
    """How the report is shown, from the options every reporting command shares."""

    fmt: str = "text"
    path: Path | None = None
    show_secrets: bool = False
    quiet: bool = False
    color: str = "auto"
    progress: bool = True


def output_options(f: Any) -> Any:
    """-f/--format, -o/--output, --show-secrets, -q/--quiet, --color, --no-progress,
    spelled the same on every command that reports; the command receives them as
    one `out: Output` argument."""
    import functools

    @functools.wraps(f)
    def wrapper(
        *args: Any, fmt: str, output: Path | None, show_secrets: bool, quiet: bool,
        color: str, no_progress: bool, **kwargs: Any,
    ) -> Any:  # fmt: skip
        kwargs["out"] = Output(fmt, output, show_secrets, quiet, color, not no_progress)
        return f(*args, **kwargs)

    options = [
        click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="text",
                     show_default=True,
                     help="Report format: text, json, sarif (GitHub code scanning), gitlab "
                          "(GitLab secret detection), junit (test tabs), csv, markdown "
                          "(PR comments, job summaries), detect-secrets (a .secrets.baseline) "
                          "or html (one page to browse)."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the report here instead of standard output."),
        click.option("--show-secrets", is_flag=True,
                     help="Print full secret values (default: redacted)."),
        click.option("-q", "--quiet", is_flag=True,
                     help="Only the report: no summary, skipped list or exit line."),
        click.option("--color", type=click.Choice(COLORS), default="auto", show_default=True,
                     help="Colour the text report: auto colours a terminal unless NO_COLOR "
                          "is set (FORCE_COLOR colours anything)."),
        click.option("--no-progress", is_flag=True,
                     help="No progress on standard error (a live line on a terminal, else "
                          "a line every few seconds, once the work runs long)."),
    ]  # fmt: skip
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def use_color(choice: str, isatty: bool, env: Mapping[str, str]) -> bool:
    """--color always/never win; auto: NO_COLOR (set, not empty) turns colour off,
    FORCE_COLOR (set, not empty or "0") turns it on, else only on a terminal."""
    if choice != "auto":
        return choice == "always"
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR")
    if force is not None and force not in ("", "0", "false"):
        return True
    return isatty


def effective_config(state: State, paths: Sequence[str], **overrides: Any) -> Config:
    from leakguard.config import merged
    from leakguard.models import Confidence, Severity

    if overrides.get("min_confidence"):
        overrides["min_confidence"] = Confidence(overrides["min_confidence"])
    for key in ("min_severity", "fail_on"):
        if overrides.get(key):
            overrides[key] = Severity(overrides[key])
    return merged(state.config(paths), **overrides)


def run_scan(
    config: Config,
    paths: Sequence[str],
    jobs: int,
    cli_excludes: tuple[str, ...] = (),
    out: Output | None = None,
) -> ScanResult:
    """Walk and scan `paths` as the config says (excludes, .gitignore, size bound)."""
    from leakguard.detectors.files import WalkOptions, scan_paths
    from leakguard.engine import Engine

    excludes = [(p, cli_excludes) for p in paths if p != "-" and cli_excludes]
    if config.exclude and config.root is not None:
        excludes.append((str(config.root), config.exclude))
    walk_options = WalkOptions(
        respect_gitignore=config.respect_gitignore,
        excludes=tuple(excludes),
        max_file_size=config.max_file_size,
    )
    with progress_for(out) as progress:
        result: ScanResult = scan_paths(
            Engine(config.ruleset()), paths, walk_options, jobs=jobs, progress=progress
        )
    return result


def progress_for(out: Output | None) -> AbstractContextManager[Progress]:
    """Where long work shows how far it has got (leakguard.display): a live line on
    a terminal, a heartbeat line every few seconds elsewhere; nothing with
    --no-progress or --quiet."""
    if out is None or not out.progress or out.quiet or sys.stderr is None:
        import contextlib

        from leakguard.progress import NO_PROGRESS

        return contextlib.nullcontext(NO_PROGRESS)
    from leakguard.display import for_stream

    return for_stream(sys.stderr)


@cli.command()
@click.argument("paths", nargs=-1, metavar="[PATH]... [-]")
@output_options
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Do not report findings in this baseline (default: the config's "
                   "`baseline`, else .leakguard-baseline.json at the repository root or "
                   "here).")  # fmt: skip
@NO_BASELINE_OPTION
@scan_options
@gate_options
@pass_state
def scan(
    state: State,
    /,
    paths: tuple[str, ...],
    out: Output,
    baseline_path: Path | None,
    no_baseline: bool,
    jobs: int,
    exclude: tuple[str, ...],
    **overrides: Any,
) -> ExitCode:
    """Scan files and folders (default: the current folder; `-` reads standard input).

    Every file under PATH is scanned except `.git/` and binary files. Exit
    codes: 0 clean, 1 findings (at or above --fail-on), 2 usage error,
    3 something could not be read.
    """
    paths = paths or (".",)
    config = effective_config(state, paths, **overrides)
    result = run_scan(config, paths, jobs, exclude, out)
    baseline = None if no_baseline else find_baseline(baseline_path, config, paths)
    return finish(policy(result, config, baseline), config, out)


def policy(result: ScanResult, config: Config, baseline: Any = None) -> ScanResult:
    """What is reported: the config's filters (and a baseline) applied."""
    from leakguard.policy import apply_policy

    return apply_policy(
        result,
        baseline=baseline,
        min_confidence=config.min_confidence,
        disable=config.disable,
        min_severity=config.min_severity,
    )


def finish(
    result: ScanResult,
    config: Config,
    out: Output,
    notes: Sequence[str] = (),
    facts: Sequence[tuple[str, str]] = (),
    amend: Callable[[str, str], str] | None = None,
) -> ExitCode:
    """Show the report, then (unless --quiet) the summary, `notes` and one line
    saying what the exit code is and why; the code comes from the policy.
    `facts` about the run go to the formats that show them (html); `amend(format,
    text)` may add to the rendered report (a sweep store's changes)."""
    from leakguard.policy import exit_code_for, explain

    code = exit_code_for(result, config.fail_on)
    report(result, out, facts, amend)
    if not out.quiet:
        for note in notes:
            click.echo(note, err=True)
        click.echo(f"leakguard: {explain(result, code, config.fail_on)}", err=True)
    return code


def find_baseline(explicit: Path | None, config: Config, paths: Sequence[str] = ()) -> Any:
    """The baseline to apply: `--baseline FILE` (missing: a usage error), else the
    config's `baseline` (missing: a warning, every finding is reported), else
    .leakguard-baseline.json in the config's folder, at the root of the repository
    holding the first of `paths`, or in the current folder."""
    from leakguard.baseline import Baseline, candidates

    if explicit is not None:
        return Baseline.load(explicit)
    if config.baseline is not None:
        if not config.baseline.exists() and not config.baseline.is_symlink():
            click.echo(
                f"leakguard: warning: baseline {config.baseline} (set in {config.source}) "
                "does not exist yet; every finding is reported\n"
                "  hint: create it with `leakguard baseline create`",
                err=True,
            )
            return None
        return Baseline.load(config.baseline)
    for candidate in candidates(config.root, paths):
        if candidate.is_file():
            return Baseline.load(candidate)
    return None


def report(
    result: ScanResult,
    out: Output,
    facts: Sequence[tuple[str, str]] = (),
    amend: Callable[[str, str], str] | None = None,
) -> None:
    """The report to standard output or --output; the summary to standard error
    when the report does not end with it (another format, or a file)."""
    from leakguard.formats import Format, ReportOptions, render

    fmt, output = out.fmt, out.path
    color = (
        fmt == "text" and output is None and use_color(out.color, sys.stdout.isatty(), os.environ)
    )
    options = ReportOptions(
        show_secrets=out.show_secrets, color=color, summary=not out.quiet, facts=tuple(facts)
    )
    text = render(Format(fmt), result, options)
    if amend is not None:
        text = amend(fmt, text)
    if output is None:
        click.echo(text, nl=False, color=color or None)  # click strips colour off a TTY
    else:
        from leakguard.fsutil import atomic_write, private_mode

        try:  # 0600 (or what a stricter umask allows): it says where secrets live
            atomic_write(output, text.encode(), mode=private_mode())
        except OSError as e:
            raise UsageError(f"cannot write {output}: {e.strerror}") from e
    if (fmt != "text" or output is not None) and not out.quiet:
        summary_to_stderr(result)


def summary_to_stderr(result: ScanResult) -> None:
    from leakguard.formats import for_terminal
    from leakguard.formats.text import summary

    for skipped in result.skipped[:20]:
        what = "could not read" if skipped.error else "skipped"
        target, reason = for_terminal(skipped.target), for_terminal(skipped.reason)
        click.echo(f"leakguard: {what} {target}: {reason}", err=True)
    if len(result.skipped) > 20:
        click.echo(f"leakguard: ... and {len(result.skipped) - 20} more skipped", err=True)
    click.echo(f"leakguard: {summary(result)}", err=True)


# -- baseline -----------------------------------------------------------------


@cli.group()
def baseline() -> None:
    """Accept today's findings so that only new ones are reported."""


@baseline.command("create")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default: the config's `baseline`, else "
                   ".leakguard-baseline.json at the repository root, else here).")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing baseline.")
@scan_options
@pass_state
def baseline_create(
    state: State, /, paths: tuple[str, ...], output: Path | None, force: bool, jobs: int,
    exclude: tuple[str, ...], **overrides: Any,
) -> ExitCode:  # fmt: skip
    """Record every current finding in a new baseline file (fingerprints, no secrets)."""
    from leakguard.baseline import Baseline
    from leakguard.policy import apply_policy

    paths = paths or (".",)
    config = effective_config(state, paths, **overrides)
    output = output or _default_baseline(config, paths)
    if output.exists() and not force:
        raise UsageError(f"{output} already exists", hint="use `baseline update`, or --force")
    result = apply_policy(run_scan(config, paths, jobs, exclude), disable=config.disable)
    Baseline.from_findings(output, result.findings).save(output)
    click.echo(
        f"leakguard: wrote {output.absolute()} with {len(result.findings)} finding(s)", err=True
    )
    return ExitCode.UNREADABLE if any(s.error for s in result.skipped) else ExitCode.CLEAN


@baseline.command("update")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("-b", "--baseline", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="The baseline to update (default: the one `scan` uses).")  # fmt: skip
@scan_options
@pass_state
def baseline_update(
    state: State, /, paths: tuple[str, ...], path: Path | None, jobs: int,
    exclude: tuple[str, ...], **overrides: Any,
) -> ExitCode:  # fmt: skip
    """Re-scan: add new findings to the baseline, drop entries whose secret is gone.

    Entries imported from detect-secrets are kept as they are.
    """
    from leakguard.baseline import Baseline, candidates
    from leakguard.policy import apply_policy

    paths = paths or (".",)
    config = effective_config(state, paths, **overrides)
    if path is None:
        found = [c for c in candidates(config.root, paths) if c.is_file()]
        path = config.baseline or (found[0] if found else _default_baseline(config, paths))
    old = Baseline.load(path)
    result = apply_policy(run_scan(config, paths, jobs, exclude), disable=config.disable)
    fresh = Baseline.from_findings(path, result.findings)
    # A file that could not be read this time keeps its entries: the secret in it
    # is not known to be gone.
    unread = old.entries_under(s.target for s in result.skipped if s.error)
    kept = Baseline(path.parent, [*unread, *(e for e in old.entries if e.sha1)])
    fresh = fresh.merged_with(kept)
    fresh.save(path)
    added = len({e.key() for e in fresh.entries} - {e.key() for e in old.entries})
    note = f", {len(unread)} kept for files that could not be read" if unread else ""
    click.echo(
        f"leakguard: {path.absolute()}: {len(fresh)} finding(s), {added} new{note}", err=True
    )
    return ExitCode.UNREADABLE if any(s.error for s in result.skipped) else ExitCode.CLEAN


def _default_baseline(config: Config, paths: Sequence[str]) -> Path:
    from leakguard.baseline import default_path

    return config.baseline or default_path(config.root, paths)


@baseline.command("import")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".leakguard-baseline.json"), show_default=True)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing baseline.")
@DETECT_SECRETS_PLUGIN_OPTION
@pass_state
def baseline_import(
    state: State, /, source: Path, output: Path, force: bool, **overrides: Any
) -> ExitCode:
    """Convert a detect-secrets `.secrets.baseline` into a leakguard baseline.

    The files it names (relative to its folder) are scanned again: each secret
    becomes the leakguard entry of the finding whose value has its SHA-1 there;
    one no finding matches is kept by SHA-1 and file. Entries audited as real
    secrets (`is_secret: true`) are left out, so they are still reported.
    """
    from leakguard.baseline import import_detect_secrets, read_detect_secrets
    from leakguard.models import ScanResult
    from leakguard.policy import apply_policy

    if output.exists() and not force:
        raise UsageError(f"{output} already exists", hint="use --force to overwrite it")
    entries = read_detect_secrets(source)
    files = sorted({e.path for e in entries if os.path.isfile(e.path)})
    config = effective_config(state, files or [str(source)], **overrides)
    scanned = run_scan(config, files, jobs=0) if files else ScanResult()
    result = apply_policy(scanned, disable=config.disable)
    imported = import_detect_secrets(entries, result.findings, output)
    imported.baseline.save(output)
    click.echo(
        f"leakguard: wrote {output} from {source}: {imported.matched} secret(s) matched to "
        f"leakguard findings, {imported.unmatched} kept by SHA-1 (no leakguard finding of that "
        f"value in that file), {imported.real} marked is_secret left out",
        err=True,
    )
    return ExitCode.UNREADABLE if any(s.error for s in result.skipped) else ExitCode.CLEAN


# -- rules --------------------------------------------------------------------


@cli.command()
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def rules(state: State, fmt: str) -> ExitCode:
    """List every rule: id, severity, whether it is on, and what it finds.

    Pattern rules run on every surface; checks (kind "check") are the
    container-specific findings of the Dockerfile, Compose and context detectors.
    """
    import json

    from leakguard.rules import builtin_rules
    from leakguard.rules.container import CHECKS

    config = state.config()
    active = {r.id for r in config.ruleset()} | (CHECKS.keys() - set(config.disable))
    rows = [
        {"id": r.id, "kind": "pattern", "severity": r.severity.value, "enabled": r.id in active,
         "description": r.description, "remediation": r.remediation,
         "detect_secrets_type": r.detect_secrets_type}
        for r in (*config.custom_rules(), *builtin_rules())
    ] + [
        {"id": rule_id, "kind": "check", "severity": c.severity.value,
         "enabled": rule_id in active, "description": c.description,
         "remediation": c.remediation, "detect_secrets_type": None}
        for rule_id, c in CHECKS.items()
    ]  # fmt: skip
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        width = max(len(row["id"]) for row in rows)
        for row in rows:
            on = "on " if row["enabled"] else "off"
            click.echo(f"{row['id']:<{width}}  {row['severity']:<8}  {on}  {row['description']}")
    return ExitCode.CLEAN


# -- entry point ----------------------------------------------------------------


def _escape_unencodable(exc: UnicodeError) -> tuple[str, int]:
    """An encoding error handler: a byte that was not UTF-8 in a name (a surrogate
    escape) is written as `\\xNN`, as the report formats show it; any other
    character the stream cannot take as a backslash escape."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    from leakguard.formats import printable

    escaped = printable(exc.object[exc.start : exc.end])  # every surrogate now ASCII
    return escaped.encode("ascii", "backslashreplace").decode("ascii"), exc.end


def _escape_names_in_output() -> None:
    """Messages, plans and listings name files whose names may hold bytes that are
    not UTF-8: written as `\\xNN` instead of failing (a UTF-8 terminal) or
    passing raw bytes through (a C locale)."""
    import codecs

    codecs.register_error("leakguard.escape", _escape_unencodable)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="leakguard.escape")
            except (OSError, ValueError):  # pragma: no cover - one that cannot be reconfigured
                pass


def _where(error: BaseException) -> str:
    """`TYPE at module:line`: the exception's type and the innermost line of
    leakguard's own code it went through (the innermost line when none is)."""
    import traceback

    where = ""
    for frame, line in traceback.walk_tb(error.__traceback__):
        module = str(frame.f_globals.get("__name__", "?"))
        if module.startswith("leakguard") or not where.startswith("leakguard"):
            where = f"{module}:{line}"
    return f"{type(error).__name__} at {where}" if where else type(error).__name__


def show_error(e: LeakguardError) -> int:
    """Print a domain error (message, then hint) and return its exit code."""
    from leakguard.formats import for_terminal

    click.echo(f"leakguard: error: {for_terminal(e.message)}", err=True)
    if e.hint:
        click.echo(f"  hint: {for_terminal(e.hint)}", err=True)
    return int(e.exit_code)


def main(argv: Sequence[str] | None = None, prog_name: str = "leakguard") -> int:
    """Run the CLI; every outcome becomes one of the documented exit codes."""
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    _escape_names_in_output()
    try:
        rv = cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.Abort:
        click.echo("leakguard: aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return ExitCode.USAGE
    except LeakguardError as e:
        if verbose:
            log.exception("error")
        return show_error(e)
    except KeyboardInterrupt:
        click.echo("leakguard: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # The reader went away (`leakguard scan | head`): not an error of ours.
        sys.stderr.close()
        return ExitCode.CLEAN
    except Exception as e:
        if verbose:
            import traceback

            traceback.print_exc()  # frames and the message; never local variables' values
        # Not the message: it may quote the input (a line of the file being scanned).
        click.echo(f"leakguard: internal error: {_where(e)}", err=True)
        click.echo(
            "  hint: run again with --verbose for a traceback (it shows the error's "
            "message, which may quote the input), and report it",
            err=True,
        )
        return ExitCode.INTERNAL
    return int(rv) if isinstance(rv, int) else ExitCode.CLEAN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
