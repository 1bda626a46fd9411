"""Which documents a run is given: files, folders and globs (`notes/`, `'posts/**/*.md'`), less
what `.gitignore` files and `--exclude-path` patterns leave out (gitignore syntax, by pathspec).

The documents may be someone else's (a pull request), so they stay inside their root
(docs/security.md): a folder's or a glob's own folder, and the working directory for a file
named outright. A symbolic link to a file outside it, anything inside `.git`, and anything
that is not a regular file (a FIFO, a device) is skipped with the reason; `**` and folder
walks never follow a link to a folder, so a loop cannot hang the run. Patterns run on RE2
(linear time), so an ignore file cannot hang it either."""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pathspec

from pipeline.errors import InputError, UsageError
from pipeline.extract import extract
from pipeline.extract.reading import DOCUMENT_SUFFIXES
from pipeline.inert import path_shown
from pipeline.model import Extraction

_SKIPPED_FOLDERS = {".git", ".hg", ".svn"}
PATTERN_BACKEND = "re2"  # pathspec on Google's RE2: matching time linear in the name, whatever the pattern


def gitignore_spec(lines: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """Patterns in gitignore syntax, matched by RE2 (no pattern can take exponential time)."""
    return pathspec.GitIgnoreSpec.from_lines(lines, backend=PATTERN_BACKEND)


class _Ignored:
    """What the `.gitignore` files on a path's way down from `root` say of it, and the
    exclusion patterns given."""

    def __init__(self, root: Path, exclude: Sequence[str]) -> None:
        self.root = root
        self.exclude = gitignore_spec(exclude)
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            rules = folder / ".gitignore"
            self._specs[folder] = gitignore_spec(_read_small(rules).splitlines()) if _regular(rules) else None
        return self._specs[folder]

    def __call__(self, path: Path) -> bool:
        path = path.resolve()
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            relative = None
        if relative is not None and self.exclude.match_file(_matchable(relative)):
            return True
        folders = [self.root, *[self.root / Path(*relative.parts[:n]) for n in range(1, len(relative.parts))]] \
            if relative is not None else [path.parent]
        return any((spec := self._spec(folder)) is not None and spec.match_file(_matchable(path.relative_to(folder)))
                   for folder in folders)


def find_documents(arguments: Sequence[str], exclude: Sequence[str] = (), *, root: Path | None = None) -> list[str]:
    """The documents `collect_documents` finds (those it skips aside)."""
    return collect_documents(arguments, exclude, root=root)[0]


def collect_documents(arguments: Sequence[str], exclude: Sequence[str] = (), *,
                      root: Path | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """(documents, skipped {path, reason}) for the arguments: `-` (standard input) and files
    as given (named, they are wanted, ignored or not); every document (.txt, .md, .html, …)
    under a folder; every file a glob matches (`**` for any depth). Files found in a folder
    or by a glob are left out when a `.gitignore` on their way down from `root` (the working
    directory) or an `exclude` pattern says so. A file that leaves its root by a symbolic
    link, lies inside `.git`, or is not a regular file is skipped with the reason.
    UsageError when a folder or a glob finds no document."""
    cwd = (root or Path.cwd()).resolve()
    ignored = _Ignored(cwd, exclude)
    found: list[str] = []
    skipped: list[dict[str, str]] = []
    for argument in arguments:
        if argument == "-" or (not glob.has_magic(argument) and not Path(argument).is_dir()):
            why = _outside(argument, cwd) if argument != "-" and Path(argument).exists() else None
            if why:
                skipped.append({"path": argument, "reason": f"{path_shown(argument)}: {why}"})
            else:
                found.append(argument)  # a file named outright; one that cannot be read says so later
            continue
        if glob.has_magic(argument):
            base, pattern = _glob_parts(argument)
            hidden = any(part.startswith(".") for part in Path(pattern).parts)  # as glob: * skips dot files
            matches = sorted(str(p) for p in Path(base).glob(pattern)
                             if (hidden or not any(part.startswith(".") for part in p.relative_to(base).parts))
                             and not p.is_dir())
        else:
            base = argument
            matches = []
            for folder, subfolders, files in os.walk(argument):  # never into a link to a folder
                subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED_FOLDERS
                                       and not ignored(Path(folder) / d / "_"))
                matches += [os.path.join(folder, name) for name in sorted(files)
                            if Path(name).suffix.lower() in DOCUMENT_SUFFIXES]
        kept = []
        for path in matches:
            if ignored(Path(path)):
                continue
            why = _outside(path, Path(base).resolve())
            if why:
                skipped.append({"path": path, "reason": f"{path_shown(path)}: {why}"})
            else:
                kept.append(path)
        if not kept and not any(s["path"] in matches for s in skipped):
            raise UsageError(f"{path_shown(argument)}: no document there (or all of them ignored)")
        found += kept
    return list(dict.fromkeys(found)), skipped


def _matchable(path: Path) -> str:
    """A relative path as patterns see it: a name that is not UTF-8 (git allows any bytes)
    has its stray bytes as U+FFFD, which a wildcard matches and nothing else does."""
    return os.fsencode(path.as_posix()).decode("utf-8", "replace")


def _glob_parts(pattern: str) -> tuple[str, str]:
    """(the folder a glob starts in: its parts before the first with a wildcard, the rest)."""
    parts = Path(pattern).parts
    fixed = 0
    while fixed < len(parts) - 1 and not glob.has_magic(parts[fixed]):
        fixed += 1
    return str(Path(*parts[:fixed])) if fixed else ".", str(Path(*parts[fixed:]))


def _outside(path: str, root: Path) -> str | None:
    """Why `path` is not a document to read from `root`, or None. A path that leaves `root`
    through a symbolic link (of the file or of a folder on its way) is not read; a file
    named outright outside the working directory is its own root."""
    lexical = Path(os.path.abspath(path))
    try:
        resolved = lexical.resolve(strict=True)
        mode = resolved.stat().st_mode
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links
        return f"cannot be followed ({getattr(exc, 'strerror', None) or exc}): skipped"
    if any(part in _SKIPPED_FOLDERS for part in resolved.parts):
        return f"is inside {next(p for p in resolved.parts if p in _SKIPPED_FOLDERS)}: not a document, skipped"
    if not lexical.is_relative_to(root):
        root = lexical.parent
    if resolved != lexical and not resolved.is_relative_to(root.resolve()):
        return f"is a link to a file outside {path_shown(str(root))}: skipped (name the file itself to read it)"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, a device, a socket): skipped"
    return None


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _read_small(path: Path, limit: int = 1_000_000) -> str:
    with open(path, "rb") as stream:
        return stream.read(limit).decode("utf-8", "replace")


def read_documents(arguments: Sequence[str], exclude: Sequence[str] = ()) -> tuple[list[Extraction], list[dict[str, str]]]:
    """The documents `find_documents` names, extracted, and those that could not be read
    ({path, reason}), so that one unreadable file stops none of the others. InputError when
    none can be read."""
    extractions = []
    paths, skipped = collect_documents(arguments, exclude)
    for path in paths:
        try:
            extractions.append(extract(path))
        except InputError as exc:
            skipped.append({"path": path, "reason": str(exc)})
    if not extractions:
        raise InputError("; ".join(s["reason"] for s in skipped) if skipped else "no document to read")
    return extractions, skipped
