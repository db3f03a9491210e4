"""The progress callback of a fit: history, the user's callback, a progress bar, Ctrl-C.

One :class:`FitMonitor` serves one training call. Its C callback

- records each epoch's losses (the report's history);
- calls the user's callback, whose true result stops the fit;
- draws a tqdm bar (or prints a line per epoch without tqdm) when verbose;
- catches any exception raised inside it (the user's callback, the bar), stops
  the fit and keeps the exception, which the caller re-raises after the C call;
- stops the fit when Ctrl-C was pressed: :func:`sigint_guard` installs, in the
  main thread and for the duration of the call, a SIGINT handler that only
  sets a flag; the callback sees it at the next batch and returns non-zero,
  the library stops with a usable model, and the caller raises
  KeyboardInterrupt.
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
            if self.interrupted:
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
            return 1 if self.interrupted else 0
        except BaseException as exc:  # noqa: B902 - re-raised by the caller after the C call
            self.exception = exc
            return 1

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
    """While the block runs, a SIGINT sets ``monitor.interrupted`` instead of raising.

    Installed only in the main thread and only over Python's default handler
    (a handler of the application's own is left alone). Yields whether it was
    installed."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield False
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
    except (ValueError, OSError):  # pragma: no cover - no signals in this interpreter
        yield False
        return
    if previous is not signal.default_int_handler:
        yield False
        return

    def on_sigint(_signum: int, _frame: Any) -> None:
        monitor.interrupted = True

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous)
