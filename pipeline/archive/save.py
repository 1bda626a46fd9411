"""Asking an archive to capture a URL now: Save Page Now 2 at the Internet Archive, record
mode on pywb (docs/archives.md, "Saving")."""

from __future__ import annotations

import time
from typing import Protocol

from pipeline.archive.model import ArchiveUnavailable, SaveResult, SaveState
from pipeline.archive.policy import Endpoint, RequestPolicy
from pipeline.config import ArchiveConfig, ArchiveKind
from pipeline.times import memento_timestamp


class Saver(Protocol):
    def save(self, url: str) -> SaveResult: ...


class SavePageNow2:
    """POST with the user's S3 keys, then poll the job's status."""

    def __init__(self, policy: RequestPolicy, save_url: str) -> None:
        self.policy = policy
        self.save_url = save_url

    def save(self, url: str) -> SaveResult:
        settings = self.policy.settings
        if not (settings.ia_access_key and settings.ia_secret_key):
            return SaveResult(url, SaveState.NEEDS_KEYS, None,
                              "saving needs Internet Archive keys: set CITEWATCH_IA_ACCESS_KEY and CITEWATCH_IA_SECRET_KEY")
        headers = {"Accept": "application/json",
                   "Authorization": f"LOW {settings.ia_access_key}:{settings.ia_secret_key}"}
        data = {"url": url, "if_not_archived_within": settings.save_if_not_archived_within,
                "skip_first_archive": "1", "js_behavior_timeout": "0"}
        try:
            answer = self.policy.request(Endpoint.SAVE, self.save_url, method="POST", headers=headers,
                                         data=data).json()
        except ArchiveUnavailable as exc:
            return SaveResult(url, SaveState.FAILED, None, str(exc))
        except ValueError:
            return SaveResult(url, SaveState.FAILED, None, "save answered something that is not JSON")
        job = answer.get("job_id")
        if not job:
            return SaveResult(url, SaveState.FAILED, None, answer.get("message") or "no job id in the save answer")
        deadline = time.monotonic() + settings.save_timeout
        status_url = self.save_url.rstrip("/") + f"/status/{job}"
        while time.monotonic() < deadline:
            try:
                state = self.policy.request(Endpoint.REPLAY, status_url, headers=headers).json()
            except (ArchiveUnavailable, ValueError) as exc:
                return SaveResult(url, SaveState.FAILED, None, f"save status: {exc}")
            if state.get("status") == "success":
                return SaveResult(url, SaveState.SAVED, state.get("timestamp"), "saved by Save Page Now")
            if state.get("status") == "error":
                return SaveResult(url, SaveState.FAILED, None,
                                  state.get("message") or state.get("status_ext") or "save failed")
            time.sleep(min(5.0, max(0.2, deadline - time.monotonic())))
        return SaveResult(url, SaveState.PENDING, None,
                          f"the save was still running after {settings.save_timeout:g} s (job {job})")


class PywbRecorder:
    """pywb's record mode: `GET <save_url>id_/<url>` captures the page into a new WARC."""

    def __init__(self, policy: RequestPolicy, save_url: str) -> None:
        self.policy = policy
        self.save_url = save_url

    def save(self, url: str) -> SaveResult:
        record = self.save_url.rstrip("/") + "/id_/" + url
        try:
            response = self.policy.request(Endpoint.SAVE, record)
        except ArchiveUnavailable as exc:
            return SaveResult(url, SaveState.FAILED, None, str(exc))
        memento = memento_timestamp(response.headers.get("Memento-Datetime"))
        if response.status != 200:
            return SaveResult(url, SaveState.FAILED, None, f"record answered {response.status}")
        return SaveResult(url, SaveState.SAVED, memento, "recorded by pywb; visible once indexed")


class NoSaver:
    """An archive that is not asked to capture (a Memento archive known by its TimeMap, an
    archive given with no save_url)."""

    def save(self, url: str) -> SaveResult:
        return SaveResult(url, SaveState.NOT_SAVED, None, "this archive cannot be asked to save a page")


def saver_for(config: ArchiveConfig, policy: RequestPolicy) -> Saver:
    """How the archive of `config` is asked to save: by its kind, at its save_url."""
    if config.save_url is None or config.kind is ArchiveKind.MEMENTO:
        return NoSaver()
    if config.kind is ArchiveKind.PYWB:
        return PywbRecorder(policy, config.save_url)
    return SavePageNow2(policy, config.save_url)
