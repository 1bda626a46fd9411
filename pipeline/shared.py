"""A run on PostgreSQL shared with workers, through Procrastinate.

Procrastinate keeps its jobs in the run's own database (`SELECT … FOR UPDATE SKIP LOCKED`),
so nothing else has to run. A job here is one piece of a run (`pipeline.pieces`), named by
its row in `pieces`. Each piece has a lock key, `host:<name>` for a host's links and
`archive` for verification, and the pieces of one key are a chain: one is queued or being
done at a time, and each queues the next when it is done. So a host is asked by one piece at
a time across every worker (`check_per_host` holds for all of them together), and one piece
asks the archive at a time (its pace is one budget). Workers beat a heartbeat; the pieces of
a worker that stopped beating (killed, or its machine gone) are tried again by whoever
notices first: the run or another worker.

The run (`Sharing`) plans a stage's pieces, takes part with a worker of its own unless told
not to, and waits until every piece of the stage is done by whichever worker. A piece of a
run that is no longer running (interrupted, taken over) does nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from pipeline.config import Settings, plan_of, with_plan
from pipeline.database import DatabaseError
from pipeline.errors import CannotRunError, ConfigError
from pipeline.evidence.model import Keep
from pipeline.evidence.store import EvidenceStore
from pipeline.history import database_errors, open_database
from pipeline.pieces import PieceStopped, links_piece, verify_piece
from pipeline.progress import Progress
from pipeline.store import Store
from pipeline.times import clock, iso

QUEUE = "citewatch"
TASK = "citewatch.piece"
LINKS, VERIFICATION = "links", "verification"
ATTEMPTS = 4  # a piece is tried this many times in all (a worker that died mid-piece counts as none)
_POLL = 0.2  # seconds between two looks at a stage's progress
_TOP_UP = 2.0  # seconds between two looks for a failed piece, or a lock whose next piece nobody queued

log = logging.getLogger(__name__)
T = TypeVar("T")


class PieceFailed(CannotRunError):
    """A piece failed every time it was tried: the run cannot be completed."""


def _engine() -> Any:
    try:
        import procrastinate
        import procrastinate.schema
        import procrastinate.worker
    except ImportError as exc:
        raise DatabaseError("a run on PostgreSQL shares its work through Procrastinate: "
                            "pip install 'citewatch[postgres]'") from exc
    return procrastinate


def check_timing(settings: Settings) -> None:
    if settings.worker_stalled_after <= settings.worker_heartbeat:
        raise ConfigError(f"worker_stalled_after ({settings.worker_stalled_after:g} s) must be more than "
                          f"worker_heartbeat ({settings.worker_heartbeat:g} s), or live workers are taken for dead")


def prepare(store: Store) -> None:
    """Procrastinate's tables in the database, made once (under the writers' lock)."""
    schema = _engine().schema.SchemaManager.get_schema()
    with store.db.exclusive():
        if store.db.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is None:
            store.db.execute(schema)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class WorkerContext:
    """What a worker's pieces share: its own settings (a run's plan goes over them), its
    evidence store, its name, and whether it has been told to stop."""

    def __init__(self, settings: Settings, keep: Keep | None, name: str) -> None:
        self.settings = settings
        self.keep = keep
        self.name = name
        self.stopping = threading.Event()
        self.app: Any = None  # the engine, set when the worker starts

    async def do(self, piece_id: int, should_abort: Callable[[], bool]) -> None:
        """One piece, on the worker's event loop: a host's links there, beside its other
        pieces; a verification on a thread (the archive's requests have threads of their own);
        the store's reads and writes on threads."""
        store = await asyncio.to_thread(Store.open, self.settings.db)
        try:
            piece = await asyncio.to_thread(store.piece, piece_id)
            found = await asyncio.to_thread(store.plan, piece["run_id"]) if piece is not None else None
            if piece is None or found is None or found[0] != "running":
                return  # its run ended: the next run plans afresh
            if piece["done_at"]:  # done already (queued twice): the chain goes on
                await self.hand_on(store, piece)
                return
            settings = with_plan(self.settings, found[1]["settings"])
            should_stop = lambda: should_abort() or self.stopping.is_set()  # noqa: E731
            try:
                if piece["stage"] == LINKS:
                    held = await asyncio.to_thread(store.held_until, piece["run_id"], piece["lock_key"])
                    result = await links_piece(store, settings, piece["run_id"], piece["work"], keep=self.keep,
                                               should_stop=should_stop, not_before=held)
                else:
                    result = await asyncio.to_thread(verify_piece, store, settings, piece["run_id"], piece["work"],
                                                     keep=self.keep, should_stop=should_stop)
            except PieceStopped:
                raise
            except Exception as exc:
                await asyncio.to_thread(store.fail_piece, piece_id, f"{type(exc).__name__}: {exc}")
                raise
            await asyncio.to_thread(store.finish_piece, piece_id, self.name, iso(clock(settings.now)()), result)
            await self.hand_on(store, piece)
        finally:
            await asyncio.to_thread(store.close)

    async def hand_on(self, store: Store, piece: dict[str, Any]) -> None:
        """Queue the next piece of this piece's lock (its host, or the archive), now that this
        one is done: a lock's pieces are a chain, one in the queue or being done at a time.
        (Procrastinate's own job locks would hold them apart too, but it wakes its workers
        when a job is queued, not when a lock is let go: pieces queued all at once under one
        lock each waited for the workers' next poll, seconds apiece, one after another.)"""
        following = await asyncio.to_thread(store.next_piece, piece["run_id"], piece["stage"], piece["lock_key"],
                                            after=piece["id"])
        if following is not None and self.app is not None:
            await queue_piece(self.app, piece["run_id"], following)


async def queue_piece(app: Any, run_id: int, piece_id: int) -> None:
    """A piece's job, queued once (a second time while it waits is a no-op)."""
    with contextlib.suppress(_engine().exceptions.AlreadyEnqueued):
        await app.configure_task(TASK, queueing_lock=f"piece {piece_id}", queue=QUEUE).defer_async(
            run=run_id, piece=piece_id)


def make_app(settings: Settings) -> Any:
    """The engine on the settings' database, with the one task: a piece."""
    procrastinate = _engine()
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=settings.db, min_size=1, max_size=4, kwargs={"application_name": "citewatch worker"}))

    async def piece(context: Any, run: int, piece: int) -> None:
        """One piece (run `run`, row `piece`), on the worker's event loop."""
        ctx: WorkerContext = context.additional_context["citewatch"]
        try:
            await ctx.do(piece, context.should_abort)
        except PieceStopped:
            raise procrastinate.exceptions.JobAborted() from None  # handed back: tried again by another worker

    app.task(name=TASK, queue=QUEUE, pass_context=True,
             retry=procrastinate.RetryStrategy(max_attempts=ATTEMPTS - 1, wait=1))(piece)
    return app


def _worker(app: Any, settings: Settings, context: WorkerContext, concurrency: int, *, signals: bool) -> Any:
    return _engine().worker.Worker(
        app, queues=[QUEUE], name=context.name, concurrency=concurrency, wait=True, install_signal_handlers=signals,
        additional_context={"citewatch": context}, update_heartbeat_interval=settings.worker_heartbeat,
        stalled_worker_timeout=settings.worker_stalled_after, shutdown_graceful_timeout=settings.worker_grace,
        fetch_job_polling_interval=min(5.0, settings.worker_heartbeat), delete_jobs="successful")


async def retry_stalled(app: Any, settings: Settings) -> int:
    """The pieces of workers whose heartbeat stopped, given back to the queue."""
    stalled = list(await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=settings.worker_stalled_after))
    for job in stalled:
        log.warning("piece %s of run %s: its worker stopped beating; tried again", job.task_kwargs.get("piece"),
                    job.task_kwargs.get("run"))
        await app.job_manager.retry_job(job)
    return len(stalled)


async def _watch_stalled(app: Any, settings: Settings) -> None:
    while True:
        await asyncio.sleep(settings.worker_heartbeat)
        await retry_stalled(app, settings)


# --- `citewatch worker` --------------------------------------------------------------------

def default_concurrency(settings: Settings) -> int:
    """Pieces at once: enough hosts' pieces to fill `check_concurrency` at `check_per_host` each."""
    return max(1, settings.check_concurrency // settings.check_per_host)


def piece_threads(concurrency: int) -> concurrent.futures.ThreadPoolExecutor:
    """The threads of a worker's store calls and verification (its loop's default executor,
    which would hold only cores + 4 threads: on 2 cores, fewer than the pieces at once)."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=concurrency + 4, thread_name_prefix="citewatch-piece")


@database_errors
def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    """Take pieces of any run in the database until SIGTERM or SIGINT; then let the pieces
    held finish within `worker_grace` and hand back the rest."""
    check_timing(settings)
    store = Store.open(settings.db)
    try:
        prepare(store)
    finally:
        store.close()
    with _evidence(settings, "worker") as keep:
        context = WorkerContext(settings, keep, worker_name())
        app = make_app(settings)

        async def main() -> None:
            context.app = app
            asyncio.get_running_loop().set_default_executor(piece_threads(concurrency or default_concurrency(settings)))
            async with app.open_async():
                watch = asyncio.create_task(_watch_stalled(app, settings))
                try:
                    await _worker(app, settings, context, concurrency or default_concurrency(settings),
                                  signals=True).run()
                finally:
                    watch.cancel()

        asyncio.run(main())


@contextlib.contextmanager
def _evidence(settings: Settings, label: str) -> Iterator[Keep | None]:
    """A worker's evidence store: its own WARC files in the (shared) folder."""
    if not settings.keep_evidence:
        yield None
        return
    store = EvidenceStore.of_database(settings.db, settings.evidence_dir, read_cap=settings.max_body_bytes,
                                      label=f"{label} {worker_name()}")
    try:
        yield store.keep
    finally:
        store.close()


# --- the run's side --------------------------------------------------------------------------

class Sharing:
    """A run's stages as pieces in the queue: planned here, taken by any worker (this process
    too, unless `take_part` is false), waited for here."""

    def __init__(self, store: Store, settings: Settings, run_id: int, keep: Keep | None, *,
                 take_part: bool = True, concurrency: int | None = None) -> None:
        check_timing(settings)
        self.store = store
        self.settings = settings
        self.run_id = run_id
        self.context = WorkerContext(settings, keep, worker_name())
        self.take_part = take_part
        self.concurrency = concurrency or default_concurrency(settings)
        self.app = make_app(settings)
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(piece_threads(self.concurrency))
        self.context.app = self.app
        self.thread = threading.Thread(target=self.loop.run_forever, name="citewatch-sharing", daemon=True)
        self.worker: Any = None
        self.working: concurrent.futures.Future[Any] | None = None

    def __enter__(self) -> Sharing:
        prepare(self.store)
        self.store.save_plan(self.run_id, {"settings": plan_of(self.settings)})
        self.store.db.execute("DELETE FROM live_pages WHERE run_id IN (SELECT id FROM runs WHERE status <> 'running')")
        self.thread.start()
        try:
            self._call(self._open())
            if self.take_part:
                self.worker = _worker(self.app, self.settings, self.context, self.concurrency, signals=False)
                self.working = asyncio.run_coroutine_threadsafe(self.worker.run(), self.loop)
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.context.stopping.set()  # pieces held here end at their next step, and are handed back
        try:
            if self.worker is not None and self.working is not None:
                self.loop.call_soon_threadsafe(self.worker.stop)
                with contextlib.suppress(Exception):
                    self.working.result(timeout=None if kind is None else self.settings.worker_grace + 5)
            with contextlib.suppress(Exception):
                self._call(self.app.close_async(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)

    async def _open(self) -> None:
        await self.app.open_async()

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stage(self, stage: str, pieces: Sequence[tuple[str, dict[str, Any], int]], on_progress: Progress) -> None:
        """Put a stage's pieces (lock key, work, size) in the queue and wait until each is done."""
        store, run_id = self.store, self.run_id
        ids = [store.add_piece(run_id, stage, lock, work, size) for lock, work, size in pieces]
        total = sum(size for _, _, size in pieces)
        self._top_up(stage)  # the first piece of each lock; each queues the next (`WorkerContext.hand_on`)
        on_progress(stage, 0, total)
        last_look = last_top_up = time.monotonic()
        while True:
            done, count, units, _ = store.pieces_done(run_id).get(stage, (0, 0, 0, 0))
            on_progress(stage, units, total)
            if done >= count:
                return
            if self.working is not None and self.working.done():
                self.working.result()  # this process's worker ended: say why
            if time.monotonic() - last_look >= self.settings.worker_heartbeat:
                self._call(retry_stalled(self.app, self.settings))
                last_look = time.monotonic()
            if time.monotonic() - last_top_up >= _TOP_UP:
                self._failed(ids)
                self._top_up(stage)
                last_top_up = time.monotonic()
            time.sleep(_POLL)

    def _top_up(self, stage: str) -> None:
        """Queue the next piece of each lock of the stage that has pieces left and none queued
        or being done: the first of each, and a chain a worker broke (it died between
        finishing a piece and queueing the next)."""
        active = {row[0] for row in self.store.db.execute(
            "SELECT DISTINCT p.lock_key FROM procrastinate_jobs j JOIN pieces p ON p.id = (j.args->>'piece')::bigint "
            "WHERE j.task_name = ? AND j.status IN ('todo', 'doing') AND p.run_id = ?", (TASK, self.run_id))}
        waiting = self.store.first_pieces_left(self.run_id, stage)

        async def queue_all() -> None:
            for lock, piece_id in waiting.items():
                if lock not in active:
                    await queue_piece(self.app, self.run_id, piece_id)

        self._call(queue_all())

    def _failed(self, ids: Sequence[int]) -> None:
        rows = self.store.db.execute(
            "SELECT (args->>'piece')::bigint FROM procrastinate_jobs WHERE task_name = ? AND status IN ('failed', "
            "'aborted', 'cancelled') AND (args->>'run')::bigint = ?", (TASK, self.run_id)).fetchall()
        wanted = set(ids)
        failed = [row[0] for row in rows if row[0] in wanted]
        if failed:
            piece = self.store.piece(failed[0])
            why = (piece or {}).get("result") or {}
            raise PieceFailed(f"{len(failed)} piece(s) of run {self.run_id} failed after {ATTEMPTS} tries; the first "
                              f"({(piece or {}).get('stage')} {(piece or {}).get('lock_key')}): "
                              f"{why.get('error', 'no reason recorded')}")


# --- `citewatch runs` ----------------------------------------------------------------------

def runs_in_progress(store: Store, settings: Settings) -> list[dict[str, Any]]:
    """The runs going on: each stage's pieces and units (URLs, citations) done of all, the
    workers that have done a piece, and the workers beating now (all runs)."""
    beating = None
    if store.db.kind == "postgresql" and \
            store.db.execute("SELECT to_regclass('procrastinate_workers')").fetchone()[0] is not None:
        beating = int(store.db.execute(
            "SELECT COUNT(*) FROM procrastinate_workers WHERE last_heartbeat >= NOW() - make_interval(secs => ?)",
            (settings.worker_stalled_after,)).fetchone()[0])
    found = []
    for run in store.running_runs():
        stages = {stage: {"pieces_done": p_done, "pieces": pieces, "done": done, "total": total}
                  for stage, (p_done, pieces, done, total) in store.pieces_done(run["id"]).items()}
        found.append({"run": run["id"], "kind": run["kind"], "started_at": run["started_at"], "pid": run["pid"],
                      "stages": stages, "workers": store.piece_workers(run["id"]), "workers_beating": beating})
    return found


@database_errors
def runs_going_on(settings: Settings) -> list[dict[str, Any]]:
    """`citewatch runs`: `runs_in_progress` of the settings' database."""
    with open_database(settings) as store:
        return runs_in_progress(store, settings)
