"""The daemon's main loop: signals, reloads, the status it reports, and when to wait.

* SIGTERM/SIGINT: stop reading, deliver what is queued for up to ``run.stop_timeout`` seconds,
  save the checkpoints of what the output acknowledged, exit 0. What was not delivered is read
  again at the next start (its checkpoints did not move). An output that could not be opened is
  not waited for: what was read is in the disk buffer already. Stopping on an error, an error
  while stopping is logged as secondary, never in its place.
* SIGHUP: read the configuration file again and check it, read its inputs' checkpoints (one
  damaged or unreadable refuses the reload), open its output and move the metrics endpoint if
  ``run.metrics`` changed; if all that works, the running session ends as on SIGTERM
  (without exiting) and a new one starts; if not, the old one goes on and the reason is logged.
  A new output that cannot be reached or refuses shipper's credentials is refused so too while
  the old one works, and taken while the old one fails as well (`Session.connect`). An old output
  still at work after ``run.stop_timeout`` lets go: what it did not deliver goes to the disk buffer,
  for the new one (`shipper.daemon.switch.give_back`).
* These signals, sent while shipper starts, are held back until the loop's handlers are in place
  (`shipper.cli`), then taken as above: a stop once the first session is open, a reload then too.
* Between turns with nothing to read, the loop sleeps on the followers' descriptors (the journal's
  inotify) and on a self-pipe that signals write to, for at most `IDLE_WAIT` seconds (files are
  polled); once an input wakes it, `GATHER` more, so that new entries are read in full polls.
* Python's garbage collector runs from the loop, once a second (`Collector`).
* Once a turn the loop watches the output (`shipper.daemon.watch`): an output that could not be
  opened and is open now is said in the log; one stuck in a write shows so in the status.
* Once a second, and before it writes its status, the loop checks that the state directory's lock
  is still its own (`StateLock.lost`): if the directory was deleted (or its lock file deleted or
  replaced), it says so, stops reading, lets the output take what is queued (up to
  ``run.stop_timeout``) and exits 5 (`ExitCode.OUTPUT`), writing nothing there again (no
  checkpoint, no status: it would make the directory again, beside a shipper that may have
  started on it). Nothing else makes it again either: the output's dead letter and disk buffer
  fail instead (an output failing so is reported with the directory's loss).
"""

from __future__ import annotations

import math
import os
import select
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any, Callable

from shipper.config.model import Config, load_config
from shipper.daemon import SIGNALS
from shipper.daemon.collector import Collector
from shipper.daemon.console import Console
from shipper.daemon.courier import describe
from shipper.daemon.malloc import tune_malloc
from shipper.daemon.metrics import MetricsEndpoint
from shipper.daemon.notify import Notifier
from shipper.daemon.plan import Plan, same_state_dir
from shipper.daemon.session import Session
from shipper.daemon.stats import Stats, human_bytes
from shipper.daemon.watch import OutputWatch
from shipper.errors import ConfigError, ExitCode, ShipperError
from shipper.sources.live import iso
from shipper.state.lock import StateLock
from shipper.state.status import write_status

IDLE_WAIT = 0.1
# Once an input wakes the loop, its new entries are left to gather this long before they are read:
# read as they are written, a busy journal comes a few entries a poll, each poll costing as much as
# a full one (following a journal written at ~95k entries/s: 8.7 -> 7.9 us of CPU an event).
GATHER = 0.005
PAUSED_WAIT = 0.01  # reading waits for the output: look again soon
TICK = 1.0  # status line, metrics snapshot, watchdog check

PlanMaker = Callable[[Config], Plan]


class Daemon:
    def __init__(self, plan: Plan, make_plan: PlanMaker, config_path: Path | None, console: Console,
                 notifier: Notifier, lock: StateLock | None = None) -> None:
        self._plan = plan
        self._lock = lock
        self._lost: str | None = None  # what became of the state directory (`StateLock.lost`)
        self._make_plan = make_plan
        self._config_path = config_path
        self._console = console
        self._notify = notifier
        self._stats = Stats()
        self._collector = Collector()
        self._watch = OutputWatch()
        self._stop = False
        self._reload = False
        self._started = time.time()
        self._next_tick = 0.0
        self._next_status = 0.0
        self.status: dict[str, Any] = {}  # the latest status document (the metrics endpoint reads it)
        self._metrics = MetricsEndpoint(lambda: self.status)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def run(self) -> int:
        """Until SIGTERM (0) or a fatal error (its exit code); a `ConfigError` before it starts
        when the metrics endpoint cannot listen where it is configured to."""
        try:
            self._metrics.switch(self._plan.cfg.run.metrics)
            return self._serve()
        finally:
            self._metrics.stop()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _serve(self) -> int:
        tune_malloc()
        old = self._install_signals()
        session: Session | None = None  # (a session that failed to open closed what it opened)
        code = int(ExitCode.OK)
        raised = False
        try:
            session = self._open(self._plan)
            self._collector.start(time.monotonic())
            self._notify.ready(f"shipping from {len(self._plan.followers)} inputs")
            self._console.log(f"shipper: running; inputs: {', '.join(f.label for f in self._plan.followers)}; "
                              f"state in {self._plan.cfg.state_dir}")
            while not self._stop:
                if self._reload:
                    session = self._reloaded(session)
                busy = session.step()
                courier = session.courier
                if courier is not None and courier.error is not None:
                    # The output's failure may come of the state directory's loss (its dead letter): say that
                    self._lost = self._lock.lost() if self._lock is not None else None
                    code = self._fatal(courier.error) if self._lost is None else self._state_lost(session)
                    break
                self._tick(session)
                if self._lost is not None:
                    code = self._state_lost(session)
                    break
                if not busy:
                    self._wait(session.fds(), PAUSED_WAIT if session.paused else IDLE_WAIT)
        except BaseException:
            raised = True
            raise
        finally:
            self._notify.send("STOPPING=1")
            if session is not None:
                self._stopped(session, failed=raised or code != ExitCode.OK)
            self._collector.stop()
            self._notify.close()
            self._console.end()
            self._restore_signals(old)
        return code

    # -- sessions ---------------------------------------------------------------------------------
    def _open(self, plan: Plan) -> Session:
        session = Session(plan, self._console.log, self._stats, self._lock)
        session.open()
        return session

    def _close(self, session: Session, state: str) -> None:
        timeout = float(session.cfg.run.stop_timeout)
        delivered = session.close(timeout, save=self._lost is None, let_go=state == "reloading")
        if self._lost is not None:
            error = session.courier.error if session.courier is not None else None
            if error is not None:
                self._console.log(f"shipper: the output failed: {describe(error)}")
            told = "the output took everything read" if delivered else (
                "the output did not take everything read (it failed, is unreachable, or exceeded run.stop_timeout)")
            self._console.log(f"shipper: stopped; {told}; no checkpoint was saved: "
                              "the next start reads the inputs afresh")
            return
        if not delivered:
            self._console.log(f"shipper: {_undelivered(session, timeout, reloading=state == 'reloading')}")
        elif state == "stopped":
            self._console.log("shipper: stopped; everything read was acknowledged by the output")
        self._write_status(session, state)
        courier = session.courier
        self._stats.end(session.ledger.snapshot(), courier.counters if courier is not None else {})

    def _stopped(self, session: Session, failed: bool) -> None:
        """`_close` at the end, unless a reload closed it already (the next session then failed
        to open: `Session.open` closed what it opened). When the daemon stops on an error, an error
        while stopping (on a full disk, the checkpoints fail too) is logged as secondary: the first
        one stays the one reported."""
        if session.closed:
            return
        try:
            self._close(session, "stopped")
        except Exception as exc:
            if not failed:
                raise
            said = str(exc) if isinstance(exc, ShipperError) else f"{type(exc).__name__}: {exc}"
            self._console.log(f"shipper: while stopping after that error, another one (secondary): {said}")

    def _reloaded(self, session: Session) -> Session:
        """A new session on the new configuration, or the old one if the new one is not valid."""
        self._reload = False
        if self._lock is not None and (lost := self._lock.lost()) is not None:
            self._lost = lost  # a new session would make the directory again: the loop stops instead
            return session
        self._notify.send("RELOADING=1")
        try:
            new = self._prepared(session)
        except ShipperError as exc:
            self._console.log(f"shipper: not reloading {self._config_path}: {exc}; still running on the previous "
                              "configuration: fix it and reload again")
            self._notify.send("READY=1")
            return session
        self._close(session, "reloading")
        self._plan = new.plan
        new.open()
        self._console.log(f"shipper: reloaded {self._config_path}")
        self._notify.send("READY=1", "STATUS=reloaded")
        return new

    def _prepared(self, old: Session) -> Session:
        """The session of the configuration file as it is now, its inputs' checkpoints readable
        (`Session.check_checkpoints`), its output open (`Session.connect`) and the metrics endpoint
        where it says; a `ShipperError` (and nothing changed) when any of that fails."""
        cfg = load_config(self._config_path)
        if not same_state_dir(old.cfg, cfg):
            raise ConfigError(f"state_dir changed to {cfg.state_dir}", hint="restart shipper to move its state")
        new = Session(self._make_plan(cfg), self._console.log, self._stats, self._lock)
        new.check_checkpoints()
        new.connect(replacing=old)
        try:
            self._metrics.switch(cfg.run.metrics)
        except ShipperError:
            new.discard()
            raise
        return new

    def _state_lost(self, session: Session) -> int:
        state_dir = session.cfg.state_dir
        self._console.log(f"shipper: error: the state directory {state_dir} {self._lost} while shipper was running: "
                          "the checkpoints and the rest of what shipper kept there are gone, and another shipper "
                          "could start on it; stopping without writing there again")
        self._console.log(f"shipper: start shipper again to begin afresh in {state_dir} (it reads its inputs again; "
                          "Elasticsearch keeps one copy of each event, by its id)")
        return int(ExitCode.OUTPUT)

    def _fatal(self, error: BaseException) -> int:
        """The output's error, said as the command line says errors: the message, then the fix."""
        self._console.log(f"shipper: error: {error.message if isinstance(error, ShipperError) else describe(error)}")
        if isinstance(error, ShipperError):
            if error.hint:
                self._console.log(f"shipper: {error.hint}")
            return int(error.exit_code)
        return int(ExitCode.ERROR)

    # -- timing -----------------------------------------------------------------------------------
    def _tick(self, session: Session) -> None:
        now = time.monotonic()
        self._notify.watchdog(now)
        self._collector.tick(now)
        self._output_back(session)
        if now < self._next_tick:
            return
        self._next_tick = now + TICK
        if self._lock is not None:
            self._lost = self._lock.lost()
            if self._lost is not None:
                return
        status = self._status_doc(session, "running")
        self._console.status(status["line"])
        if now >= self._next_status:
            self._next_status = now + float(session.cfg.run.status_interval)
            self._write(session, status)
            self._notify.status(status["line"])

    def _output_back(self, session: Session) -> None:
        """Say once that an output seen unreachable takes events again (`OutputWatch`): the log
        has its recovery, and `shipper status` no longer shows "cannot reach" as the last message."""
        courier, outbox = session.courier, session.outbox
        if courier is None or outbox is None or not self._watch.back(courier):
            return
        waiting = outbox.spool.size
        first = f"; the {human_bytes(waiting)} in the disk buffer go first" if waiting else ""
        name = courier.sink_name or "output"
        self._console.log(f"shipper: the {name} output is reachable again: shipping resumes{first}")

    def _wait(self, fds: list[int], timeout: float) -> None:
        """Until an input or a signal wakes the loop, or ``timeout``; after an input, `GATHER` more
        (a signal still ends the wait at once). poll, not select: a journal follower's descriptors
        can be above 1023 (the unit allows 65536 open files: one reader per host of a journal-remote
        directory), which select cannot watch."""
        try:
            readable = _ready([self._wake_r, *fds], timeout)
            if readable and self._wake_r not in readable:
                readable = _ready([self._wake_r], GATHER)
        except InterruptedError:
            return
        if self._wake_r in readable:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass

    # -- status -------------------------------------------------------------------------------------
    def _status_doc(self, session: Session, state: str) -> dict[str, Any]:
        base = {"pid": os.getpid(), "state": state, "started": iso(self._started), "updated": iso(time.time()),
                "config": str(self._config_path) if self._config_path else None,
                "state_dir": str(session.cfg.state_dir)}
        snap = session.snapshot(self._console.last_message)
        snap.stalled_seconds = self._watch.stalled_for(snap.now)
        self.status = self._stats.status(snap, base)
        return self.status

    def _write_status(self, session: Session, state: str) -> None:
        self._write(session, self._status_doc(session, state))

    def _write(self, session: Session, status: dict[str, Any]) -> None:
        if self._lock is not None and self._lock.lost() is not None:
            return  # writing would make the directory again (the loop stops at its next check)
        try:
            write_status(session.cfg.state_dir, status)
        except ShipperError as exc:
            self._console.log(f"shipper: {exc}")

    # -- signals ------------------------------------------------------------------------------------
    def _install_signals(self) -> tuple[dict[int, Any], set[int | signal.Signals]]:
        """The handlers, then the signals unblocked: one `shipper.cli` held back while shipper
        started is taken now (a stop or a reload before the first session opens is done once it
        has). What was before, for `_restore_signals`."""
        old: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        return old, signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    def _restore_signals(self, old: tuple[dict[int, Any], set[int | signal.Signals]]) -> None:
        handlers, mask = old
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # (first: none comes between to the old handlers)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True
        self._wake()

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self._reload = True
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass


def _undelivered(session: Session, timeout: float, reloading: bool = False) -> str:
    """Why the output did not acknowledge everything read when the session stopped, and what becomes of it."""
    courier, left = session.courier, session.ledger.in_flight
    assert courier is not None and session.outbox is not None  # (a session that was opened)
    where = "the new configuration's output" if reloading else "the next start"
    again = left - session.ledger.in_buffer  # (not written to the buffer: a full disk, a lost state directory)
    kept = (f"the {left} batches it did not acknowledge wait in the disk buffer in {session.outbox.spool.dir} for "
            f"{where}" + (f", but {again}, whose lines will be read again" if again else "") + " (nothing is lost)")
    if courier.error is not None:
        return f"the output failed; {kept}"
    if session.given_back is not None:
        return f"the output did not take everything within {timeout:.0f} s (run.stop_timeout): it let go; {kept}"
    if courier.running and reloading:  # (an output that cannot let go: it ends once its write returns)
        return (f"the output did not take everything within {timeout:.0f} s (run.stop_timeout); {kept}; it is left "
                "to finish the write it is stuck in (should it end, its lines reach both outputs), and gets nothing more")
    if courier.running:
        return f"the output did not take everything within {timeout:.0f} s (run.stop_timeout); {kept}"
    if courier.failing:  # it never could be opened: there was nothing to wait for
        return f"the output is unreachable: {kept}"
    return f"the output stopped before it acknowledged everything; {kept}"


def _ready(fds: list[int], timeout: float) -> set[int]:
    """Which of ``fds`` can be read within ``timeout`` seconds (or have hung up, or failed)."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return {fd for fd, _ in poller.poll(max(0, math.ceil(timeout * 1000)))}
