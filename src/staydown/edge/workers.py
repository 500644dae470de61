"""Keep an edge's worker processes alive while their supervisor lives, and never a moment longer.

A worker that outlives the process that started it keeps a port bound and, if a request has it
stuck in CPU-bound code, a core busy, with nobody left to stop it. A worker whose event loop has
stopped turning still accepts connections on the shared port and answers none of them. So:

- **The kernel ends a worker when its supervisor ends** (Linux): each worker asks for
  ``PR_SET_PDEATHSIG`` = ``SIGKILL`` first thing, then checks that its parent is still the
  supervisor that started it (had the supervisor died before the request, the worker would already
  belong to another parent and no signal would come). ``SIGKILL`` because a stuck worker cannot
  run a handler; nothing is lost by it, since the local store makes every feed page durable
  before it is applied. The kernel sends it when the *thread* that started the worker ends, so
  workers are started from the supervisor's main thread. Elsewhere, each worker also checks for
  its parent between requests (see ``edge.main``).
- **The supervisor ends a worker whose loop has stopped turning.** Each worker stamps a heartbeat
  (``CLOCK_MONOTONIC``, the same clock in every process) into a slot of memory it shares with
  the supervisor, from a timer on its event loop, and the request line while it decides a request.
  A worker whose stamp is older than the stall bound is logged with that request line, asked for a
  traceback of every thread (``faulthandler`` on ``SIGUSR1``, which runs even while a C call holds
  the GIL) and then killed; the supervisor starts another in its place and the stuck connection
  is dropped. A worker that exits is restarted too, backing off if it keeps failing at start.
  The check lives in the supervisor because nothing inside the stuck worker can be relied on: a
  regex backtracking in C holds the GIL, so a watchdog thread of the worker would never run, and
  a stopped (``SIGSTOP``) worker runs nothing at all.
  ``RLIMIT_CPU`` does not fit either: it bounds the CPU time of the process's whole life, which a
  long-lived worker exceeds in normal service, not the time one request takes.
- **Workers run in a process group of their own**, so that a stop signals all of them, and
  anything they started, at once; and so that a terminal's Ctrl-C reaches the supervisor alone,
  which then stops them in order: ``SIGTERM`` to the group, ``SIGKILL`` to what is left after a
  grace period (at once to a worker already stalled, which could not run its handler).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import logging
import mmap
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("staydown.edge.workers")

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STARTUP_LIMIT = 600.0  # seconds a worker may take to load its state and start serving
STABLE_AFTER = 30.0  # a worker that served this long before exiting is restarted at once
REQUEST_LINE = 256  # bytes of a request line kept for a stall report
GIVE_UP_AFTER = 5  # failures in a row of every worker, none of which ever served: the edge cannot start
DUMP_WAIT = 0.3  # seconds between asking a stalled worker for its traceback and killing it


class WorkerSlot(ctypes.Structure):
    """What one worker tells its supervisor, in memory they share."""

    _fields_ = [
        ("beat", ctypes.c_double),  # CLOCK_MONOTONIC of its loop's last turn; 0 until it serves
        ("metrics_port", ctypes.c_int32),  # its own metrics listener on loopback; 0 until it has one
        ("request", ctypes.c_char * REQUEST_LINE),  # the request being decided, if one is; else empty
    ]

    def answering(self, line: str | None) -> None:
        """Say which request the worker is deciding (None once decided)."""
        self.request = line.encode("utf-8", "replace")[: REQUEST_LINE - 1] if line else b""


class WorkerState(enum.Enum):
    starting = "starting"
    serving = "serving"
    stalled = "stalled"
    exited = "exited"


def judge(*, exited: bool, beat: float, started: float, now: float, stall: float) -> WorkerState:
    """The state of one worker from what it last stamped and when it was started."""
    if exited:
        return WorkerState.exited
    if beat == 0.0:
        return WorkerState.stalled if now - started > STARTUP_LIMIT else WorkerState.starting
    return WorkerState.stalled if now - beat > stall else WorkerState.serving


def restart_delay(failures: int) -> float:
    """Seconds before restarting a worker that has exited ``failures`` times in a row soon after
    starting: at once the first time, then backing off so a worker that cannot start does not spin."""
    return 0.0 if failures <= 1 else min(30.0, 0.5 * 2 ** (failures - 2))


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` ends; exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != parent:  # it ended before the request above: no signal will come
        os._exit(1)


class Heartbeat:
    """Stamp a worker's slot each time its event loop turns a timer."""

    def __init__(self, slot: WorkerSlot, interval: float) -> None:
        self.slot, self.interval = slot, interval
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._beat()

    def _beat(self) -> None:
        self.slot.beat = time.monotonic()
        self._handle = self._loop.call_later(self.interval, self._beat)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


def heartbeat_interval(stall: float) -> float:
    """How often a worker stamps its slot: several times within the stall bound."""
    return min(1.0, stall / 4)


@dataclass(frozen=True)
class Launch:
    """What a worker process reads on its standard input: what to run, and where its slot is."""

    target: Callable[[Any, int, WorkerSlot], None]
    payload: Any
    index: int
    slots_fd: int
    slots_size: int


def worker_entry() -> None:
    """Entry point of a worker process: tie its life to its parent's, then run its target."""
    die_with_parent(int(sys.argv[1]))
    import faulthandler

    # The supervisor asks for every thread's traceback before it kills a stalled worker.
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    # The parent's import path first, so that the target is found wherever the parent found it.
    sys.path[:] = pickle.load(sys.stdin.buffer)  # noqa: S301 -- written by the parent itself
    launch: Launch = pickle.load(sys.stdin.buffer)  # noqa: S301
    sys.stdin.close()
    shared = mmap.mmap(launch.slots_fd, launch.slots_size)
    slot = WorkerSlot.from_buffer(shared, launch.index * ctypes.sizeof(WorkerSlot))
    launch.target(launch.payload, launch.index, slot)


_ENTRY = "from staydown.edge.workers import worker_entry; worker_entry()"


class CannotStart(RuntimeError):
    """No worker of this edge could start."""


@dataclass
class _Worker:
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    condemned_at: float | None = None
    served: bool = False


class Supervisor:
    """Start ``count`` workers running ``target(payload, index, slot)``, keep them serving, stop them.

    ``check`` is called every ``interval`` seconds from the thread that called ``start`` (the
    thread whose end the kernel ties the workers' lives to); it restarts exited workers and
    kills stalled ones.
    """

    def __init__(
        self,
        target: Callable[[Any, int, WorkerSlot], None],
        payload: Any,
        count: int,
        *,
        stall: float,
        clock: Callable[[], float] = time.monotonic,
        name: str = "edge worker",
    ) -> None:
        self.target, self.payload, self.count, self.stall, self.clock = target, payload, count, stall, clock
        self.name = name  # what the log calls a worker
        self.interval = heartbeat_interval(stall)
        self.workers = [_Worker() for _ in range(count)]
        self.group: int | None = None
        size = max(mmap.PAGESIZE, count * ctypes.sizeof(WorkerSlot))
        # Lives as long as the supervisor; closed by stop().
        self._file = tempfile.TemporaryFile(prefix="staydown-edge-slots-")  # noqa: SIM115
        self._file.truncate(size)
        self._size = size
        self._shared = mmap.mmap(self._file.fileno(), size)
        self.slots = [
            WorkerSlot.from_buffer(self._shared, i * ctypes.sizeof(WorkerSlot)) for i in range(count)
        ]
        self.stopping = False
        # Workers replaced, by slot and reason ("exited" or "stalled"), for the admin metrics.
        self.restarts: dict[tuple[int, str], int] = {}

    # --- starting -----------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker."""
        for index in range(self.count):
            self._spawn(index)

    def _spawn(self, index: int) -> None:
        slot, worker = self.slots[index], self.workers[index]
        slot.beat, slot.metrics_port, slot.request = 0.0, 0, b""
        launch = Launch(self.target, self.payload, index, self._file.fileno(), self._size)
        command = [sys.executable, "-c", _ENTRY, str(os.getpid())]
        group = self._live_group()
        try:
            process = self._popen(command, group)
        except (OSError, subprocess.SubprocessError):
            if group is None:
                raise
            process = self._popen(command, None)  # the group emptied meanwhile: begin another
        with contextlib.suppress(OSError):  # set in the child before its exec, so known by now
            self.group = os.getpgid(process.pid)
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(pickle.dumps(list(sys.path)) + pickle.dumps(launch))
            process.stdin.close()
        worker.process, worker.started, worker.condemned_at = process, self.clock(), None
        log.info("%s %d started (pid %d)", self.name, index, process.pid)

    def _popen(self, command: list[str], group: int | None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 -- this interpreter, a fixed entry point
            command,
            stdin=subprocess.PIPE,
            pass_fds=(self._file.fileno(),),
            process_group=0 if group is None else group,
        )

    def _live_group(self) -> int | None:
        """The workers' process group, while one of them is still in it."""
        for worker in self.workers:
            process = worker.process
            if process is not None and process.poll() is None and self.group is not None:
                with contextlib.suppress(OSError):
                    if os.getpgid(process.pid) == self.group:
                        return self.group
        return None

    # --- watching -----------------------------------------------------------------------

    def check(self) -> None:
        """Restart the workers that exited and kill those whose loop has stalled."""
        if self.stopping:
            return
        now = self.clock()
        for index, worker in enumerate(self.workers):
            process = worker.process
            if process is None:
                if now >= worker.restart_at:
                    self._respawn(index, worker, now)
                continue
            state = judge(
                exited=process.poll() is not None,
                beat=self.slots[index].beat,
                started=worker.started,
                now=now,
                stall=self.stall,
            )
            if state is WorkerState.exited:
                reason = "stalled" if worker.condemned_at is not None else "exited"
                self.restarts[index, reason] = self.restarts.get((index, reason), 0) + 1
                lived = now - worker.started
                worker.failures = 0 if lived >= STABLE_AFTER else worker.failures + 1
                worker.process = None
                worker.restart_at = now + restart_delay(worker.failures)
                log.warning(
                    "%s %d (pid %d) exited with %s after %.1fs; starting another in %.1fs",
                    self.name,
                    index,
                    process.pid,
                    _exit_status(process.returncode),
                    lived,
                    worker.restart_at - now,
                )
                if now >= worker.restart_at:
                    self._respawn(index, worker, now)
            elif state is WorkerState.stalled:
                self._condemn(index, worker, process, now)
            elif state is WorkerState.serving:
                worker.served = True

    def _respawn(self, index: int, worker: _Worker, now: float) -> None:
        try:
            self._spawn(index)
        except (OSError, subprocess.SubprocessError) as exc:  # out of processes or memory: later
            log.error("%s %d could not be started (%s); trying again", self.name, index, exc)
            worker.failures += 1
            worker.restart_at = now + max(1.0, restart_delay(worker.failures))

    def _condemn(self, index: int, worker: _Worker, process: subprocess.Popen[bytes], now: float) -> None:
        """Ask a stalled worker for its traceback, then kill it at the next check."""
        if worker.condemned_at is None:
            beat = self.slots[index].beat
            request = self.slots[index].request.decode("utf-8", "replace")
            log.error(
                "%s %d (pid %d) has not turned its event loop for %.1fs (bound %.1fs)%s; "
                "killing it and dropping its connections; its threads' tracebacks follow",
                self.name,
                index,
                process.pid,
                now - (beat or worker.started),
                self.stall,
                f" while deciding {request!r}" if request else "",
            )
            worker.condemned_at = now
            if beat:  # it registered the traceback handler before it began to serve
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGUSR1)
            return
        if now - worker.condemned_at >= DUMP_WAIT or not self.slots[index].beat:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    def run(self, stop: Callable[[float], bool]) -> None:
        """Check every ``interval`` until ``stop(timeout)`` (e.g. ``threading.Event.wait``) is true;
        raise ``CannotStart`` if no worker can start at all (a port taken, a store unreadable)."""
        while not stop(self.interval):
            self.check()
            if self.hopeless():
                raise CannotStart(f"every edge worker failed {GIVE_UP_AFTER} times without serving")

    def hopeless(self) -> bool:
        """Whether every worker has failed again and again to start, and none ever served."""
        return all(not w.served and w.failures >= GIVE_UP_AFTER for w in self.workers)

    # --- reading ------------------------------------------------------------------------

    def pids(self) -> list[int | None]:
        """Each worker's pid, while it runs."""
        return [
            w.process.pid if w.process is not None and w.process.poll() is None else None
            for w in self.workers
        ]

    def metrics_ports(self) -> list[int]:
        """Each worker's own metrics port on loopback (0 while it has none)."""
        return [int(slot.metrics_port) for slot in self.slots]

    def serving(self) -> bool:
        """Whether every worker has started serving."""
        return all(slot.beat > 0 for slot in self.slots) and all(p is not None for p in self.pids())

    def alive(self) -> bool:
        """Whether every worker is running (a worker that failed to start is not)."""
        return all(pid is not None for pid in self.pids())

    # --- stopping -----------------------------------------------------------------------

    def stop(self, grace: float = 10.0) -> None:
        """Ask every worker to stop (``SIGTERM`` to the group), and kill those that have not
        within ``grace`` seconds: a worker stuck in a request cannot run its handler."""
        self.stopping = True
        self._signal(signal.SIGTERM)
        now = self.clock()
        for index, worker in enumerate(self.workers):  # a stalled one cannot stop itself: at once
            process = worker.process
            if process is not None and process.poll() is None:
                beat = self.slots[index].beat
                if beat and now - beat > self.stall:
                    process.kill()
        deadline = time.monotonic() + grace
        for worker in self.workers:
            if worker.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.process.wait(max(0.0, deadline - time.monotonic()))
        self._signal(signal.SIGKILL)
        for worker in self.workers:
            if worker.process is not None:
                worker.process.wait()
                if worker.process.stdin is not None:
                    worker.process.stdin.close()
        self.slots.clear()  # the views into the shared memory go before it does
        with contextlib.suppress(BufferError):
            self._shared.close()
        self._file.close()

    def _signal(self, sig: int) -> None:
        group = self._live_group()
        if group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
        for worker in self.workers:  # one that is not in the group, if any, is signalled too
            if worker.process is not None and worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(sig)


def _exit_status(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
    return f"status {code}"
