"""The progress callback of a fit: history, the user's callback, a progress bar, Ctrl-C.

One :class:`FitMonitor` serves one training call. Its C callback

- records each epoch's losses (the report's history);
- calls the user's callback, whose true result stops the fit;
- draws a tqdm bar (or prints a line per epoch without tqdm) when verbose;
- catches any exception raised inside it (the user's callback, the bar), stops
  the fit and keeps the exception, which the caller re-raises after the C call;
- stops the fit when Ctrl-C was pressed: :func:`sigint_guard` installs, in the
  main thread and for the duration of the call, a SIGINT handler that only
  records the signal; the callback sees it at the next batch and returns
  non-zero, the library stops with a usable model, and the caller raises
  KeyboardInterrupt. An application's own SIGINT handler is called by the
  callback at that point instead, inside its exception guard: if it raises,
  the fit stops and its exception is re-raised after the call; if it returns,
  training goes on. (A Python signal handler left in place would run at
  whatever bytecode the callback happens to execute, possibly in ctypes' glue
  outside any ``try``, where ctypes prints the exception and loses it.)
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple

from . import _lib


@dataclass(frozen=True)
class Progress:
    """What the library reports to a progress callback (``ae_progress``).

    Attributes
    ----------
    epoch : int
        1-based epoch.
    epochs : int
        Epochs requested.
    batch : int
        1-based batch within the epoch (``batches`` at the end of an epoch).
    batches : int
        Batches per epoch.
    epoch_end : bool
        True at the end of an epoch; False after a single batch (only with the
        setting ``progress_every_batch``).
    train_loss : float
        At an epoch's end its mean training loss, else this batch's loss.
    val_loss : float
        At an epoch's end with validation, the validation loss; else NaN.
    seconds : float
        Time since the fit began.
    stage : int
        0 for a fit; the 0-based stage of :meth:`Model.pretrain`.
    """

    epoch: int
    epochs: int
    batch: int
    batches: int
    epoch_end: bool
    train_loss: float
    val_loss: float
    seconds: float
    stage: int = 0


ProgressCallback = Callable[[Progress], Any]


def _make_bar(total: int, desc: str) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a Debian dependency
        return None
    return tqdm(total=total, desc=desc, unit="batch", leave=True, file=sys.stderr,
                dynamic_ncols=True)


class FitMonitor:
    """The progress callback of one training call (see the module docstring)."""

    def __init__(self, callback: Optional[ProgressCallback], verbose: bool,
                 user_every_batch: bool, label: str = "fit") -> None:
        self.callback = callback
        self.verbose = bool(verbose)
        self.user_every_batch = bool(user_every_batch)
        self.label = label
        self.exception: Optional[BaseException] = None
        self.interrupted = False
        # set by sigint_guard: the signal seen and the handler it replaced
        self.pending_signal: Optional[Tuple[int, Any]] = None
        self.sigint_handler: Any = None
        self.user_stopped = False
        self.stage = 0
        # per stage (one for a fit): the epochs' training losses, validation losses, times
        self.histories: List[Tuple[List[float], List[float], List[float]]] = []
        self._last = (0, 0)
        self._bar: Any = None
        self._bar_done = 0
        self._use_tqdm = True
        self.c_function = _lib.PROGRESS_FN(self._on_progress)

    # --- the C callback -------------------------------------------------------------
    def _on_progress(self, pointer: Any, _user_data: Any) -> int:
        try:
            if self.pending_signal is not None and self.deliver_signal():
                return 1
            p = pointer.contents
            epoch, batch, epoch_end = p.epoch, p.batch, bool(p.epoch_end)
            if (epoch, batch) <= self._last:  # pretraining: the next stage began
                self.stage += 1
                self._close_bar()
            self._last = (epoch, batch)
            if epoch_end:
                while len(self.histories) <= self.stage:
                    self.histories.append(([], [], []))
                train, val, seconds = self.histories[self.stage]
                train.append(float(p.train_loss))
                val.append(float(p.val_loss))
                seconds.append(float(p.seconds))
            if self.verbose:
                self._show(p, epoch_end)
            if self.callback is not None and (epoch_end or self.user_every_batch):
                info = Progress(int(epoch), int(p.epochs), int(batch), int(p.batches), epoch_end,
                                float(p.train_loss), float(p.val_loss), float(p.seconds), self.stage)
                if self.callback(info):
                    self.user_stopped = True
                    return 1
            if self.pending_signal is not None and self.deliver_signal():
                return 1
            return 0
        except BaseException as exc:  # noqa: B902 - re-raised by the caller after the C call
            self.exception = exc
            return 1

    def deliver_signal(self) -> bool:
        """Act on a SIGINT recorded by the guard; True when the fit must stop.

        Python's default handler means Ctrl-C: stop, and the caller raises
        KeyboardInterrupt. An application's handler is called here; whatever it
        raises propagates to the callback's guard, which stops the fit."""
        pending, self.pending_signal = self.pending_signal, None
        if pending is None:
            return self.interrupted
        if self.sigint_handler is signal.default_int_handler:
            self.interrupted = True
            return True
        self.sigint_handler(*pending)
        return False

    # --- verbose output -------------------------------------------------------------
    def _desc(self) -> str:
        return self.label if self.label != "pretrain" else "pretrain stage %d" % self.stage

    def _show(self, p: Any, epoch_end: bool) -> None:
        if self._use_tqdm and self._bar is None:
            self._bar = _make_bar(int(p.epochs * p.batches), self._desc())
            self._bar_done = 0
            if self._bar is None:
                self._use_tqdm = False
        if self._bar is not None:
            done = int((p.epoch - 1) * p.batches + p.batch)
            self._bar.update(done - self._bar_done)
            self._bar_done = done
            if epoch_end:
                post = {"epoch": "%d/%d" % (p.epoch, p.epochs), "loss": "%.4g" % p.train_loss}
                if not math.isnan(p.val_loss):
                    post["val"] = "%.4g" % p.val_loss
                self._bar.set_postfix(post, refresh=False)
        elif epoch_end:
            line = "%s: epoch %d/%d  loss %.6g" % (self._desc(), p.epoch, p.epochs, p.train_loss)
            if not math.isnan(p.val_loss):
                line += "  val %.6g" % p.val_loss
            line += "  (%.1f s)" % p.seconds
            print(line, file=sys.stderr, flush=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        """Close the progress bar, if any."""
        try:
            self._close_bar()
        except Exception:  # pragma: no cover - a bar that fails to close is no error of the fit
            pass


@contextlib.contextmanager
def sigint_guard(monitor: FitMonitor, enabled: bool = True) -> Iterator[bool]:
    """While the block runs, a SIGINT is recorded in ``monitor`` for its callback to
    act on at the next batch (see the module docstring).

    Installed only in the main thread (the only one where Python runs signal
    handlers) and only over a Python-level handler (SIG_IGN and SIG_DFL are
    left as they are). Yields whether it was installed. A signal the callback
    had no chance to see is acted on when the block ends."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield False
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
    except (ValueError, OSError):  # pragma: no cover - no signals in this interpreter
        yield False
        return
    if not callable(previous):
        yield False
        return

    def on_sigint(signum: int, frame: Any) -> None:
        monitor.pending_signal = (signum, frame)

    monitor.sigint_handler = previous
    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous)
