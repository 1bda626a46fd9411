"""Which documents a run is given: files, folders and globs (`notes/`, `'posts/**/*.md'`), less
what `.gitignore` files and `--exclude-path` patterns leave out (gitignore syntax, by pathspec)."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import pathspec

from pipeline.errors import InputError, UsageError
from pipeline.extract import extract
from pipeline.extract.reading import DOCUMENT_SUFFIXES
from pipeline.model import Extraction

_SKIPPED_FOLDERS = {".git", ".hg", ".svn"}


class _Ignored:
    """What the `.gitignore` files on a path's way down from `root` say of it, and the
    exclusion patterns given."""

    def __init__(self, root: Path, exclude: Sequence[str]) -> None:
        self.root = root
        self.exclude = pathspec.GitIgnoreSpec.from_lines(exclude)
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            rules = folder / ".gitignore"
            self._specs[folder] = pathspec.GitIgnoreSpec.from_lines(rules.read_text(errors="replace").splitlines()) \
                if rules.is_file() else None
        return self._specs[folder]

    def __call__(self, path: Path) -> bool:
        path = path.resolve()
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            relative = None
        if relative is not None and self.exclude.match_file(relative.as_posix()):
            return True
        folders = [self.root, *[self.root / Path(*relative.parts[:n]) for n in range(1, len(relative.parts))]] \
            if relative is not None else [path.parent]
        return any((spec := self._spec(folder)) is not None and spec.match_file(path.relative_to(folder).as_posix())
                   for folder in folders)


def find_documents(arguments: Sequence[str], exclude: Sequence[str] = (), *, root: Path | None = None) -> list[str]:
    """The documents named: `-` (standard input) and files as given (named, they are wanted,
    ignored or not); every document (.txt, .md, .html, …) under a folder; every file a glob
    matches (`**` for any depth). Files found in a folder or by a glob are left out when a
    `.gitignore` on their way down from `root` (the working directory) or an `exclude`
    pattern says so. UsageError when a folder or a glob finds no document."""
    ignored = _Ignored((root or Path.cwd()).resolve(), exclude)
    found: list[str] = []
    for argument in arguments:
        if argument == "-" or (not glob.has_magic(argument) and not Path(argument).is_dir()):
            found.append(argument)  # a file named outright; one that cannot be read says so later
            continue
        if glob.has_magic(argument):
            matches = sorted(p for p in glob.glob(argument, recursive=True) if Path(p).is_file())
        else:
            matches = []
            for folder, subfolders, files in os.walk(argument):
                subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED_FOLDERS
                                       and not ignored(Path(folder) / d / "_"))
                matches += [os.path.join(folder, name) for name in sorted(files)
                            if Path(name).suffix.lower() in DOCUMENT_SUFFIXES]
        kept = [path for path in matches if not ignored(Path(path))]
        if not kept:
            raise UsageError(f"{argument}: no document there (or all of them ignored)")
        found += kept
    return list(dict.fromkeys(found))


def read_documents(arguments: Sequence[str], exclude: Sequence[str] = ()) -> tuple[list[Extraction], list[dict[str, str]]]:
    """The documents `find_documents` names, extracted, and those that could not be read
    ({path, reason}), so that one unreadable file stops none of the others. InputError when
    none can be read."""
    extractions, skipped = [], []
    for path in find_documents(arguments, exclude):
        try:
            extractions.append(extract(path))
        except InputError as exc:
            skipped.append({"path": path, "reason": str(exc)})
    if not extractions:
        raise InputError("; ".join(s["reason"] for s in skipped) if skipped else "no document to read")
    return extractions, skipped
