"""``autoenc.Model``: the C API one-to-one, with numpy arrays."""

from __future__ import annotations

import numbers
import os
import threading
import time
import weakref
from ctypes import byref, c_double, c_int, c_size_t, c_uint64, c_void_p, sizeof
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._arrays import (
    F32,
    address,
    as_array,
    as_matrix,
    as_vector,
    check_no_overlap,
    output_matrix,
    output_vector,
    to_float32,
)
from ._enums import (
    PARAMS,
    Activation,
    Architecture,
    Loss,
    Noise,
    Optimizer,
    ParamInfo,
    SaveFlags,
    Scaling,
    StopReason,
    param_info,
)
from ._errors import (
    BusyError,
    CancelledError,
    DivergedError,
    Error,
    StateError,
    make_error,
    raise_status,
)
from ._numbers import UINT64_MAX, checked_double, checked_int
from ._progress import FitMonitor, ProgressCallback, sigint_guard
from ._source import DataSource

_L = _lib.lib
ArrayLike = Any
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# Cached function pointers: attribute lookups on the CDLL cost more than the hot calls.
_encode = _L.ae_model_encode
_decode = _L.ae_model_decode
_reconstruct = _L.ae_model_reconstruct
_score = _L.ae_model_score
_free = _L.ae_model_free

_SEED_PARAM = "seed"


@dataclass
class FitReport:
    """What a fit did (``ae_fit_report``), with the losses of every epoch.

    Attributes
    ----------
    epochs_run, steps_run : int
        Completed epochs and optimizer steps.
    best_epoch : int
        1-based epoch with the lowest monitored loss (0 if none completed).
    stop_reason : StopReason
        ``completed``, ``early`` (early stopping), ``cancelled`` (your callback,
        or Ctrl-C) or ``diverged``.
    restored_best : bool
        Whether the best epoch's weights were restored at the end.
    final_train_loss, final_val_loss, best_loss : float
        The last epoch's training and validation losses and the lowest
        monitored loss (NaN where there is none).
    seconds, samples_per_second : float
        Wall-clock time of the call, and training rows per second.
    final_kl, final_elbo : float
        Variational models: the last epoch's mean KL divergence and ELBO per
        row (NaN for other models).
    train_loss_history, val_loss_history, epoch_seconds : list of float
        Each completed epoch's training loss, validation loss (NaN without
        validation) and time since the start, from the progress calls.
    """

    epochs_run: int
    steps_run: int
    best_epoch: int
    stop_reason: StopReason
    restored_best: bool
    final_train_loss: float
    final_val_loss: float
    best_loss: float
    seconds: float
    samples_per_second: float
    final_kl: float
    final_elbo: float
    train_loss_history: List[float] = field(default_factory=list)
    val_loss_history: List[float] = field(default_factory=list)
    epoch_seconds: List[float] = field(default_factory=list)

    @classmethod
    def _from_c(cls, report: _lib.FitReport_c, history: Optional[Tuple[List[float], ...]] = None) -> "FitReport":
        try:
            reason: Any = StopReason(report.stop_reason)
        except ValueError:  # pragma: no cover - a reason a newer library knows
            reason = int(report.stop_reason)
        train, val, seconds = history if history else ([], [], [])
        return cls(int(report.epochs_run), int(report.steps_run), int(report.best_epoch), reason,
                   bool(report.restored_best), report.final_train_loss, report.final_val_loss,
                   report.best_loss, report.seconds, report.samples_per_second, report.final_kl,
                   report.final_elbo, list(train), list(val), list(seconds))


@dataclass(frozen=True)
class LayerDescription:
    """One dense layer (``ae_layer_description``).

    Attributes
    ----------
    index : int
        The layer's number, 0 (first encoder layer) to ``layer_count - 1``.
    n_in, n_out : int
        Input and output widths (a variational latent layer has twice the code).
    activation : Activation
    tied : bool
        Whether the layer uses the transposed weights of ``weights_layer``.
    weights_layer : int
        The layer whose weights it uses (itself unless tied).
    weight_offset, weight_count, bias_offset, bias_count : int
        Where its weights and bias lie in :meth:`Model.get_flat_params`.
    """

    index: int
    n_in: int
    n_out: int
    activation: Activation
    tied: bool
    weights_layer: int
    weight_offset: int
    weight_count: int
    bias_offset: int
    bias_count: int


@dataclass
class OptimizerState:
    """The optimizer's state in the flat parameter layout.

    Attributes
    ----------
    step : int
        The step counter (torch's ``step``; 0 for SGD).
    first_moment : ndarray or None
        Adam's first moment (``exp_avg``) or SGD's momentum buffer.
    second_moment : ndarray or None
        Adam's second moment (``exp_avg_sq``); None for SGD.
    """

    step: int
    first_moment: Optional[np.ndarray]
    second_moment: Optional[np.ndarray]


def _closed_error() -> ValueError:
    return ValueError("operation on a closed autoenc.Model")


def _release(handle: int, inflight: List[Any]) -> None:
    # A model some call still uses (a daemon thread at exit) is left to the OS.
    if not inflight:
        _free(handle)


def _widths(values: Iterable[Any], name: str) -> Tuple[Any, int]:
    if isinstance(values, (str, bytes)):
        raise TypeError("%s must be a sequence of integers" % name)
    try:
        items = list(values)
    except TypeError:
        raise TypeError("%s must be a sequence of integers, not %s" % (name, type(values).__name__)) from None
    out = [checked_int(v, "%s[%d]" % (name, i), 1) for i, v in enumerate(items)]
    array = (c_size_t * max(len(out), 1))(*out)
    return array, len(out)


def _c_path(path: Any) -> bytes:
    """``path`` as the bytes the library opens. A NUL byte would end the C string early
    (another file), so it is refused as ``open()`` refuses it."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError("path: embedded null byte in %r" % (path,))
    return raw


class Model:
    """A deep stacked autoencoder: one ``ae_model`` of libautoenc.

    Parameters
    ----------
    encoder_widths : sequence of int
        ``(input_dim, hidden..., latent_dim)``: at least two widths.
    decoder_widths : sequence of int, optional
        ``(latent_dim, hidden..., input_dim)``; by default the decoder mirrors
        the encoder.
    tied : bool, default False
        Tied weights: each decoder layer uses the transposed weights of its
        mirror encoder layer (``AE_ARCH_TIED_WEIGHTS``).
    variational : bool, default False
        A variational autoencoder (``AE_ARCH_VARIATIONAL``).
    **settings
        Settings applied in the order given, as with :meth:`configure`: any
        name of :data:`autoenc.PARAMS`, e.g. ``output_activation="sigmoid",
        loss="bce", epochs=20``.

    Notes
    -----
    Every setting is also a typed attribute generated from the library's own
    table: ``model.learning_rate = 1e-3``; enum settings take names or enum
    members and return members (``model.loss = "bce"``; ``model.loss is
    Loss.BCE``). A setting that conflicts with one chosen before is refused
    with :class:`StateError` (set the output activation before a loss that
    needs it).

    Arrays: float32 C-contiguous inputs and row-strided views of them go to
    the library without a copy; other dtypes and layouts are converted once. A
    1-D input is one row, and its result is 1-D too. Calls with zero rows
    return empty results without calling the library (training calls refuse
    them).

    Threads: calls that only read the model (encode, decode, reconstruct,
    score, ...) release the GIL and may run concurrently on one model from
    several threads. Calls that change it need it alone; overlapping them is
    detected by the library and raises :class:`BusyError`.

    The model is freed by :meth:`close`, by leaving a ``with`` block, or when
    the object is garbage collected. It pickles through its own bytes
    (:meth:`to_bytes`, with the optimizer state).
    """

    __slots__ = ("_h", "_inflight", "_finalizer", "_d_in", "_d_lat", "_n_layers", "_n_enc",
                 "_arch", "_n_params", "_stale_callback", "_gate", "_training", "__weakref__")

    # Settings, generated below from the library's table (type hints for readers and checkers).
    seed: int
    hidden_activation: Activation
    latent_activation: Activation
    output_activation: Activation
    loss: Loss
    leaky_slope: float
    elu_alpha: float
    optimizer: Optimizer
    learning_rate: float
    momentum: float
    nesterov: bool
    adam_beta1: float
    adam_beta2: float
    adam_epsilon: float
    weight_decay: float
    clip_norm: float
    epochs: int
    batch_size: int
    shuffle: bool
    validation_fraction: float
    patience: int
    min_delta: float
    restore_best: bool
    progress_every_batch: bool
    divergence_factor: float
    shuffle_buffer: int
    threads: int
    noise: Noise
    noise_level: float
    scaling: Scaling
    scaling_min_scale: float
    sparsity_weight: float
    sparsity_target: float
    sparsity_layer: int
    activity_l1: float
    contractive_weight: float
    dropout_input: float
    dropout_hidden: float
    kl_weight: float
    kl_warmup_epochs: int

    def __init__(self, encoder_widths: Sequence[int], decoder_widths: Optional[Sequence[int]] = None,
                 *, tied: bool = False, variational: bool = False, **settings: Any) -> None:
        self._h: Optional[int] = None
        enc, n_enc = _widths(encoder_widths, "encoder_widths")
        if n_enc < 2:
            raise ValueError("encoder_widths needs at least 2 widths (input and latent), got %d" % n_enc)
        if decoder_widths is None:
            dec, n_dec = None, 0
        else:
            dec, n_dec = _widths(decoder_widths, "decoder_widths")
            if n_dec < 2:
                raise ValueError("decoder_widths needs at least 2 widths (latent and output), got %d" % n_dec)
        flags = (Architecture.TIED_WEIGHTS if tied else 0) | (Architecture.VARIATIONAL if variational else 0)
        out = c_void_p()
        if flags:
            status = _L.ae_model_create_ex(byref(out), enc, n_enc, dec, n_dec, int(flags))
            fname = "ae_model_create_ex"
        else:
            status = _L.ae_model_create(byref(out), enc, n_enc, dec, n_dec)
            fname = "ae_model_create"
        if status:
            raise_status(status, fname)
        self._adopt(out.value)
        if settings:
            try:
                self.configure(**settings)
            except BaseException:
                self.close()
                raise

    # --- lifetime ---------------------------------------------------------------------
    def _adopt(self, handle: Optional[int]) -> None:
        assert handle
        self._inflight: List[Any] = []
        self._stale_callback: Any = None
        self._gate = threading.Lock()  # held by _alone: other threads' calls wait at _enter
        self._training = threading.Lock()  # held by the one training call (_run_monitored)
        self._h = handle
        self._finalizer = weakref.finalize(self, _release, handle, self._inflight)
        self._d_in = int(_L.ae_model_input_dim(handle))
        self._d_lat = int(_L.ae_model_latent_dim(handle))
        self._n_layers = int(_L.ae_model_layer_count(handle))
        self._n_enc = int(_L.ae_model_encoder_layer_count(handle))
        self._arch = Architecture(int(_L.ae_model_architecture(handle)))
        self._n_params = int(_L.ae_model_param_count(handle))

    @classmethod
    def _from_handle(cls, handle: Optional[int]) -> "Model":
        model = cls.__new__(cls)
        model._h = None
        try:
            model._adopt(handle)
        except BaseException:
            if handle:
                _free(handle)
            raise
        # Clones and exported encoders may carry the source's progress callback, whose
        # ctypes object the source owns; the new model starts without one.
        _L.ae_model_set_progress(handle, _lib.PROGRESS_FN(), None)
        return model

    def _enter(self) -> int:
        if self._gate.locked():  # another thread must change the model undisturbed: wait
            with self._gate:
                pass
        self._inflight.append(None)
        handle = self._h
        if handle is None:
            self._inflight.pop()
            raise _closed_error()
        return handle

    def _alone(self, call: Any) -> int:
        """Make a C call that changes the model and must not fail for being concurrent
        (what a fit changes and must put back): other threads' new calls wait at
        :meth:`_enter` meanwhile, and the call is retried while the calls already inside
        the library, which all return soon, hold the model (``AE_ERR_BUSY``)."""
        with self._gate:
            delay = 0.0001
            status = call()
            while status == BusyError.status:
                time.sleep(delay)
                delay = min(2 * delay, 0.005)
                status = call()
            return int(status)

    def close(self) -> None:
        """Free the model now (``ae_model_free``). Closing twice is allowed; any
        later use raises ValueError.

        Raises
        ------
        BusyError
            Another call (another thread, or the progress callback of a fit)
            is using the model.
        """
        handle = self._h
        if handle is None:
            return
        self._h = None
        if self._inflight:
            self._h = handle
            raise BusyError("the model is in use by another call; close it after that call returns",
                            BusyError.status, "close")
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._h is None

    def __enter__(self) -> "Model":
        if self._h is None:
            raise _closed_error()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._h is None:
            return "<autoenc.Model (closed)>"
        kinds = []
        if self._arch & Architecture.TIED_WEIGHTS:
            kinds.append("tied")
        if self._arch & Architecture.VARIATIONAL:
            kinds.append("variational")
        if self.encoder_only:
            kinds.append("encoder only")
        return "<autoenc.Model %s%s>" % ("-".join(str(w) for w in self.widths),
                                         (" " + ", ".join(kinds)) if kinds else "")

    # --- copies and pickling ----------------------------------------------------------
    def clone(self) -> "Model":
        """An independent deep copy (``ae_model_clone``): architecture, settings,
        parameters, optimizer and generator state, threshold and scaling."""
        handle = self._enter()
        try:
            out = c_void_p()
            status = _L.ae_model_clone(handle, byref(out))
            if status:
                raise_status(status, "ae_model_clone")
            return type(self)._from_handle(out.value)
        finally:
            self._inflight.pop()

    __copy__ = clone

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Model":
        return self.clone()

    def __reduce__(self) -> Any:
        return (_model_from_bytes, (self.to_bytes(optimizer_state=True), type(self)))

    # --- architecture -----------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        """Input (and output) features (``ae_model_input_dim``)."""
        return self._d_in

    @property
    def latent_dim(self) -> int:
        """Width of the latent code (``ae_model_latent_dim``)."""
        return self._d_lat

    @property
    def layer_count(self) -> int:
        """Dense layers, encoder and decoder (``ae_model_layer_count``)."""
        return self._n_layers

    @property
    def encoder_layer_count(self) -> int:
        """Encoder layers; the latent layer is the last (``ae_model_encoder_layer_count``)."""
        return self._n_enc

    @property
    def param_count(self) -> int:
        """Trainable scalars, all weights and biases (``ae_model_param_count``)."""
        return self._n_params

    @property
    def architecture(self) -> Architecture:
        """The architecture flags (``ae_model_architecture``)."""
        return self._arch

    @property
    def tied(self) -> bool:
        """Whether decoder layers use their mirror's transposed weights."""
        return bool(self._arch & Architecture.TIED_WEIGHTS)

    @property
    def variational(self) -> bool:
        """Whether the model is a variational autoencoder."""
        return bool(self._arch & Architecture.VARIATIONAL)

    @property
    def encoder_only(self) -> bool:
        """Whether the model is an encoder without decoder (:meth:`export_encoder`)."""
        return self._n_layers == self._n_enc

    @property
    def widths(self) -> Tuple[int, ...]:
        """Every layer's width from the input to the output, e.g. ``(784, 256, 32, 256, 784)``
        (a variational latent layer counts as its code width)."""
        out = [self._d_in]
        for layer in range(self._n_layers):
            n_out = self.layer_info(layer)[0]
            if layer == self._n_enc - 1:
                n_out = self._d_lat
            out.append(n_out)
        return tuple(out)

    def _layer(self, layer: Any) -> int:
        if isinstance(layer, bool) or not isinstance(layer, (numbers.Integral, np.integer)):
            raise TypeError("layer must be an integer, not %r" % (layer,))
        index = int(layer)
        if index < 0:
            index += self._n_layers
        if not 0 <= index < self._n_layers:
            raise IndexError("layer %d out of range: the model has %d layers" % (int(layer), self._n_layers))
        return index

    def layer_info(self, layer: int) -> Tuple[int, int, Activation]:
        """``(n_out, n_in, activation)`` of a layer (``ae_model_layer_info``);
        negative indices count from the output layer."""
        index = self._layer(layer)
        handle = self._enter()
        try:
            n_out, n_in, act = c_size_t(), c_size_t(), c_int()
            status = _L.ae_model_layer_info(handle, index, byref(n_out), byref(n_in), byref(act))
            if status:
                raise_status(status, "ae_model_layer_info")
            return int(n_out.value), int(n_in.value), Activation(act.value)
        finally:
            self._inflight.pop()

    def describe_layer(self, layer: int) -> LayerDescription:
        """Everything about a layer, where its parameters lie in the flat vector
        included (``ae_model_describe_layer``)."""
        index = self._layer(layer)
        handle = self._enter()
        try:
            desc = _lib.LayerDescription_c()
            desc.size = sizeof(desc)
            status = _L.ae_model_describe_layer(handle, index, byref(desc))
            if status:
                raise_status(status, "ae_model_describe_layer")
            return LayerDescription(index, int(desc.n_in), int(desc.n_out), Activation(desc.activation),
                                    bool(desc.tied), int(desc.weights_layer), int(desc.weight_offset),
                                    int(desc.weight_count), int(desc.bias_offset), int(desc.bias_count))
        finally:
            self._inflight.pop()

    @property
    def layers(self) -> List[LayerDescription]:
        """:meth:`describe_layer` of every layer."""
        return [self.describe_layer(i) for i in range(self._n_layers)]

    @property
    def last_error(self) -> str:
        """The message of the last failed call that changed this model
        (``ae_model_last_error``); "" if none."""
        handle = self._enter()
        try:
            raw = _L.ae_model_last_error(handle)
            return raw.decode("utf-8", "replace") if raw else ""
        finally:
            self._inflight.pop()

    # --- settings ---------------------------------------------------------------------
    def set_param(self, param: Union[str, int], value: Any) -> None:
        """Set one setting (``ae_model_set_param``).

        Parameters
        ----------
        param : str, Param or int
            The setting's name (``"learning_rate"``) or id.
        value
            A number, a bool, or for enum settings a name or member.

        Raises
        ------
        InvalidArgumentError
            The value is outside the setting's bounds (a ValueError).
        StateError
            The value conflicts with a setting chosen before.
        TypeError, ValueError
            A value of the wrong type, an unknown setting or enum name.
        """
        info = param_info(param)
        self._set(info, value)

    def _set(self, info: ParamInfo, value: Any) -> None:
        number = info.to_c(value)
        handle = self._enter()
        try:
            status = _L.ae_model_set_param(handle, info.id, number)
            if status:
                raise_status(status, "ae_model_set_param", handle)
        finally:
            self._inflight.pop()

    def get_param(self, param: Union[str, int]) -> Any:
        """Read one setting (``ae_model_get_param``), as its Python type."""
        return self._get(param_info(param))

    def _get(self, info: ParamInfo) -> Any:
        handle = self._enter()
        try:
            value = c_double()
            status = _L.ae_model_get_param(handle, info.id, byref(value))
            if status:
                raise_status(status, "ae_model_get_param")
            return info.from_c(value.value)
        finally:
            self._inflight.pop()

    def configure(self, **settings: Any) -> "Model":
        """Set several settings, in the order given; returns the model.

        Each is set as by :meth:`set_param`; on an error the settings before
        the failing one stay set."""
        for name, value in settings.items():
            self._set(param_info(name), value)
        return self

    def settings(self) -> Dict[str, Any]:
        """Every setting of the library, by name, with its current value."""
        return {name: self._get(info) for name, info in PARAMS.items()}

    # --- training ---------------------------------------------------------------------
    def fit(self, x: ArrayLike, x_val: Optional[ArrayLike] = None, *,
            callback: Optional[ProgressCallback] = None, verbose: bool = False,
            catch_interrupt: bool = True) -> FitReport:
        """Train for ``epochs`` epochs (``ae_model_fit``, or with ``x_val``
        ``ae_model_fit_validated``).

        Parameters
        ----------
        x : array_like, shape (n_rows, input_dim)
            Training rows.
        x_val : array_like, shape (n_val_rows, input_dim), optional
            An explicit validation set (instead of ``validation_fraction``).
        callback : callable, optional
            Called with a :class:`Progress` at the end of every epoch (and
            after every batch with ``progress_every_batch``); a true result
            stops the fit, which then returns normally with ``stop_reason``
            ``cancelled``. It may make read-only calls on the model (encode,
            get_flat_params, ...); a call that changes the model raises
            :class:`BusyError` inside it. An exception it raises stops the fit
            and is re-raised here.
        verbose : bool, default False
            Show a tqdm progress bar (a line per epoch on stderr without tqdm).
        catch_interrupt : bool, default True
            In the main thread, Ctrl-C stops the fit at the next batch, leaving
            the weights of the last completed step (of the best epoch when
            validation and ``restore_best`` are on), and then raises
            KeyboardInterrupt. An application's own SIGINT handler is called at
            that point instead; an exception it raises stops the fit.

        Returns
        -------
        FitReport

        Raises
        ------
        DivergedError
            The loss or gradient became non-finite; the weights from the start
            of that epoch were restored (``err.report`` holds the report).
        NonFiniteInputError, InputRangeError
            Bad data (ValueError; the message names row and column).
        KeyboardInterrupt
            Ctrl-C stopped the fit; the model is usable.
        """
        xa, ld, n, _ = as_matrix(x, self._d_in, "x")
        if n == 0:
            raise ValueError("x: fit needs at least one row, got shape %s" % (np.shape(x),))
        if x_val is not None:
            va, ld_val, n_val, _ = as_matrix(x_val, self._d_in, "x_val")
            if n_val == 0:
                raise ValueError("x_val: a validation set needs at least one row")

            def call(handle: int, report: Any) -> int:
                return _L.ae_model_fit_validated(handle, address(xa), n, ld, address(va), n_val,
                                                 ld_val, report)
            fname = "ae_model_fit_validated"
        else:
            def call(handle: int, report: Any) -> int:
                return _L.ae_model_fit(handle, address(xa), n, ld, report)
            fname = "ae_model_fit"
        report = _lib.FitReport_c()
        report.size = sizeof(report)
        monitor = self._run_monitored(call, byref(report), fname, callback, verbose, catch_interrupt,
                                      "fit", report)
        return FitReport._from_c(report, monitor.histories[0] if monitor.histories else None)

    def fit_source(self, train: Any, validation: Any = None, *,
                   callback: Optional[ProgressCallback] = None, verbose: bool = False,
                   catch_interrupt: bool = True) -> FitReport:
        """Train on rows streamed from Python a chunk at a time (``ae_model_fit_source``),
        so that the fit never holds the data.

        Parameters
        ----------
        train : callable, re-iterable or 2-D array
            The training rows: a function that returns an iterable of chunks
            for one pass (called for every pass), an object that can be
            iterated over again and again (a list of arrays), or a 2-D array
            such as a ``numpy.memmap``. Chunks are ``(n_rows, input_dim)``
            arrays or single ``(input_dim,)`` rows; every pass must give the
            same rows in the same order. A one-pass iterator (a generator
            object) is refused with TypeError.
        validation : same kinds, optional
            Validation rows, read once per epoch (``validation_fraction``
            must then be 0).
        callback, verbose, catch_interrupt
            As for :meth:`fit`. Ctrl-C is also seen between chunks of the
            passes that count the rows before training.

        Returns
        -------
        FitReport

        Raises
        ------
        Exception
            Whatever a source raised (a bad chunk shape is a ValueError); the
            fit stops there with the weights of its last completed step.
        NotImplementedError
            The loaded library has no ``ae_model_fit_source``.
        """
        if not _lib.has("ae_model_fit_source"):
            raise NotImplementedError("the loaded libautoenc (%s) has no ae_model_fit_source"
                                      % _lib.path)
        sources = [DataSource(train, self._d_in, "train")]
        if validation is not None:
            sources.append(DataSource(validation, self._d_in, "validation"))

        def call(handle: int, report_arg: Any) -> int:
            return _L.ae_model_fit_source(handle, byref(sources[0].struct),
                                          byref(sources[1].struct) if len(sources) > 1 else None,
                                          report_arg)
        report = _lib.FitReport_c()
        report.size = sizeof(report)
        try:
            monitor = self._run_monitored(call, byref(report), "ae_model_fit_source", callback,
                                          verbose, catch_interrupt, "fit", report, sources)
        except Error:
            for source in sources:  # the library's AE_ERR_IO stands for a source's exception
                if source.exception is not None:
                    raise source.exception from None
            raise
        return FitReport._from_c(report, monitor.histories[0] if monitor.histories else None)

    def _run_monitored(self, call: Any, report_arg: Any, fname: str,
                       callback: Optional[ProgressCallback], verbose: bool, catch_interrupt: bool,
                       label: str, report: Any, sources: Sequence[Any] = ()) -> FitMonitor:
        """Run a training call with the progress callback installed, then restore
        the model's callback and ``progress_every_batch`` and raise what the
        callback caught, KeyboardInterrupt, or the call's error."""
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable, not %r" % (callback,))
        # One training call at a time: a second one (another thread, or a callback) would
        # see this one's temporary progress_every_batch, and holding the gate while it
        # trains could deadlock with its callback.
        if not self._training.acquire(blocking=False):
            raise BusyError("the model is being trained by another call", BusyError.status, label)
        every_batch_id = PARAMS["progress_every_batch"].id
        handle = self._enter()
        try:
            value = c_double()
            status = self._alone(lambda: _L.ae_model_get_param(handle, every_batch_id, byref(value)))
            if status:
                raise_status(status, "ae_model_get_param", handle)
            user_every_batch = bool(value.value)
            monitor = FitMonitor(callback, verbose, user_every_batch, label)
            for source in sources:
                source.monitor = monitor
            with sigint_guard(monitor, catch_interrupt) as guarded:
                # Ctrl-C and the bar need a call after every batch; the user's callback
                # still sees only what the setting asks for. The C API has no per-call
                # switch, so the setting is turned on for the call and always put back.
                per_batch = (guarded or verbose) and not user_every_batch
                status = self._alone(lambda: _L.ae_model_set_progress(handle, monitor.c_function, None))
                if status:
                    raise_status(status, "ae_model_set_progress", handle)
                try:
                    if per_batch:
                        status = self._alone(lambda: _L.ae_model_set_param(handle, every_batch_id, 1.0))
                        if status:
                            raise_status(status, "ae_model_set_param", handle)
                    try:
                        status = call(handle, report_arg)
                        # the message is read now, in this thread, before any other call
                        error = make_error(status, fname, handle) if status else None
                    finally:
                        if per_batch:  # cannot fail: _alone waits out other threads' calls
                            self._alone(lambda: _L.ae_model_set_param(handle, every_batch_id, 0.0))
                finally:
                    # Until the callback is removed its ctypes object must live, or a later
                    # training call would call freed memory.
                    status = self._alone(lambda: _L.ae_model_set_progress(handle, _lib.PROGRESS_FN(), None))
                    self._stale_callback = monitor.c_function if status else None
                    monitor.close()
        finally:
            self._inflight.pop()
            self._training.release()
        if monitor.pending_signal is not None and monitor.exception is None:
            # Ctrl-C after the last callback: deliver it now (the handler is restored)
            try:
                monitor.deliver_signal()
            except BaseException as exc:  # noqa: B902
                monitor.exception = exc
        if monitor.exception is not None:
            exc = monitor.exception
            monitor.exception = None
            raise exc
        if monitor.interrupted:
            raise KeyboardInterrupt("training stopped by Ctrl-C; the model is usable, with the "
                                    "weights of its last completed step (of its best epoch "
                                    "when validation and restore_best are on)")
        if error is not None:
            if isinstance(error, CancelledError) and monitor.user_stopped:
                return monitor
            if isinstance(error, DivergedError) and report is not None:
                error.report = FitReport._from_c(report, monitor.histories[0] if monitor.histories else None)
            raise error
        return monitor

    def train_batch(self, x: ArrayLike) -> float:
        """One optimizer step on all rows of ``x`` (``ae_model_train_batch``);
        returns the batch loss before the step.

        Raises
        ------
        DivergedError
            The step would make the loss, gradient or weights non-finite; it
            was skipped.
        """
        xa, ld, n, _ = as_matrix(x, self._d_in, "x")
        if n == 0:
            raise ValueError("x: train_batch needs at least one row")
        handle = self._enter()
        try:
            loss = c_double()
            status = _L.ae_model_train_batch(handle, address(xa), n, ld, byref(loss))
            if status:
                raise_status(status, "ae_model_train_batch", handle)
            return loss.value
        finally:
            self._inflight.pop()

    def gradient(self, x: ArrayLike, out: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        """Loss and gradient of the training objective on ``x``, weights unchanged
        (``ae_model_gradient``). Returns ``(loss, gradient)``, the gradient in the
        flat layout of :meth:`get_flat_params` (into ``out`` when given)."""
        xa, ld, n, _ = as_matrix(x, self._d_in, "x")
        if n == 0:
            raise ValueError("x: gradient needs at least one row")
        grad = output_vector(out, self._n_params, "out")
        handle = self._enter()
        try:
            loss = c_double()
            status = _L.ae_model_gradient(handle, address(xa), n, ld, address(grad), self._n_params,
                                          byref(loss))
            if status:
                raise_status(status, "ae_model_gradient", handle)
            return loss.value, grad
        finally:
            self._inflight.pop()

    def pretrain(self, x: ArrayLike, *, callback: Optional[ProgressCallback] = None,
                 verbose: bool = False, catch_interrupt: bool = True) -> List[FitReport]:
        """Greedy layer-wise pre-training (``ae_model_pretrain``): one report per
        encoder layer. The callback's :class:`Progress` carries the stage."""
        xa, ld, n, _ = as_matrix(x, self._d_in, "x")
        if n == 0:
            raise ValueError("x: pretrain needs at least one row")
        stages = self._n_enc
        reports = (_lib.FitReport_c * stages)()
        for r in reports:
            r.size = sizeof(_lib.FitReport_c)

        def call(handle: int, arg: Any) -> int:
            return _L.ae_model_pretrain(handle, address(xa), n, ld, reports, stages)
        monitor = self._run_monitored(call, None, "ae_model_pretrain", callback, verbose,
                                      catch_interrupt, "pretrain", None)
        hist = monitor.histories
        return [FitReport._from_c(reports[i], hist[i] if i < len(hist) else None) for i in range(stages)]

    def reset(self) -> None:
        """Redraw the weights from ``seed`` and clear the optimizer state (``ae_model_reset``)."""
        handle = self._enter()
        try:
            status = _L.ae_model_reset(handle)
            if status:
                raise_status(status, "ae_model_reset", handle)
        finally:
            self._inflight.pop()

    # --- inference --------------------------------------------------------------------
    def _rows_to_rows(self, fn: Any, fname: str, x: ArrayLike, in_cols: int, out_cols: int,
                      out: Optional[np.ndarray], in_name: str = "x", overlap: bool = False) -> np.ndarray:
        xa, ld, n, one = as_matrix(x, in_cols, in_name)
        if one and out is not None and isinstance(out, np.ndarray) and out.ndim == 1:
            if out.shape != (out_cols,):
                raise ValueError("out: expected shape (%d,), got %s" % (out_cols, out.shape))
            target, ld_out = output_matrix(out[np.newaxis, :], 1, out_cols, "out")
        else:
            target, ld_out = output_matrix(out, n, out_cols, "out")
        if n == 0:
            return out if out is not None else target
        if overlap:
            check_no_overlap(xa, target, in_name, "out")
        handle = self._enter()
        try:
            status = fn(handle, address(xa), n, ld, address(target), ld_out)
            if status:
                raise_status(status, fname)
        finally:
            self._inflight.pop()
        if out is not None:
            return out
        return target[0] if one else target

    def encode(self, x: ArrayLike, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Latent codes of the rows of ``x`` (``ae_model_encode``).

        Parameters
        ----------
        x : array_like, shape (n_rows, input_dim) or (input_dim,)
        out : ndarray, shape (n_rows, latent_dim), float32, optional
            Where to write the codes (a row-strided view is fine).

        Returns
        -------
        ndarray, shape (n_rows, latent_dim) (or (latent_dim,) for a 1-D input)
        """
        # The common case in a few attribute reads: a float32 C-contiguous matrix or row.
        if out is None and type(x) is np.ndarray and x.dtype is F32 and x.flags.c_contiguous:
            ndim = x.ndim
            d = x.shape[-1] if ndim else 0
            n = x.shape[0] if ndim == 2 else 1
            if d == self._d_in and n > 0 and 0 < ndim <= 2:
                k = self._d_lat
                z = np.empty((n, k) if ndim == 2 else k, F32)
                handle = self._enter()
                try:
                    status = _encode(handle, address(x), n, d, address(z), k)
                    if status:
                        raise_status(status, "ae_model_encode")
                finally:
                    self._inflight.pop()
                return z
        return self._rows_to_rows(_encode, "ae_model_encode", x, self._d_in, self._d_lat, out)

    def decode(self, z: ArrayLike, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Outputs decoded from latent codes (``ae_model_decode``), in the
        original units when the model scales its features.

        Parameters
        ----------
        z : array_like, shape (n_rows, latent_dim) or (latent_dim,)
        out : ndarray, shape (n_rows, input_dim), float32, optional
        """
        return self._rows_to_rows(_decode, "ae_model_decode", z, self._d_lat, self._d_in, out, "z")

    def reconstruct(self, x: ArrayLike, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Reconstructions of the rows of ``x``, decode of encode
        (``ae_model_reconstruct``); ``out`` may not overlap ``x``."""
        return self._rows_to_rows(_reconstruct, "ae_model_reconstruct", x, self._d_in, self._d_in,
                                  out, overlap=True)

    def feature_errors(self, x: ArrayLike, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Elementwise reconstruction losses, ``(n_rows, input_dim)``
        (``ae_model_feature_errors``); a row's mean is its :meth:`score`."""
        return self._rows_to_rows(_L.ae_model_feature_errors, "ae_model_feature_errors", x,
                                  self._d_in, self._d_in, out, overlap=True)

    def score(self, x: ArrayLike, out: Optional[np.ndarray] = None) -> Any:
        """Per-row reconstruction error, the anomaly score (``ae_model_score``):
        float32 of shape (n_rows,), or a float for a 1-D input. A row beyond
        float range scores the largest float (``numpy.finfo(numpy.float32).max``)."""
        xa, ld, n, one = as_matrix(x, self._d_in, "x")
        scores = output_vector(out, n, "out")
        if n == 0:
            return scores
        handle = self._enter()
        try:
            status = _score(handle, address(xa), n, ld, address(scores))
            if status:
                raise_status(status, "ae_model_score")
        finally:
            self._inflight.pop()
        return float(scores[0]) if one and out is None else scores

    def compute_loss(self, x: ArrayLike) -> float:
        """Mean reconstruction loss over all rows of ``x`` (``ae_model_loss``;
        the setting ``loss`` has the name ``loss``, hence this one's)."""
        xa, ld, n, _ = as_matrix(x, self._d_in, "x")
        if n == 0:
            raise ValueError("x: the loss of zero rows is undefined")
        handle = self._enter()
        try:
            loss = c_double()
            status = _L.ae_model_loss(handle, address(xa), n, ld, byref(loss))
            if status:
                raise_status(status, "ae_model_loss")
            return loss.value
        finally:
            self._inflight.pop()

    def encode_distribution(self, x: ArrayLike, out_mean: Optional[np.ndarray] = None,
                            out_log_variance: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Mean and log-variance of each row's Gaussian code, variational models only
        (``ae_model_encode_distribution``). Returns ``(mean, log_variance)``."""
        xa, ld, n, one = as_matrix(x, self._d_in, "x")
        k = self._d_lat
        mean, ld_m = output_matrix(out_mean, n, k, "out_mean")
        logv, ld_v = output_matrix(out_log_variance, n, k, "out_log_variance")
        if n == 0:
            return mean, logv
        check_no_overlap(mean, logv, "out_mean", "out_log_variance")
        handle = self._enter()
        try:
            status = _L.ae_model_encode_distribution(handle, address(xa), n, ld, address(mean), ld_m,
                                                     address(logv), ld_v)
            if status:
                raise_status(status, "ae_model_encode_distribution")
        finally:
            self._inflight.pop()
        if one and out_mean is None and out_log_variance is None:
            return mean[0], logv[0]
        return mean, logv

    def sample(self, n_rows: int, seed: int = 0, out: Optional[np.ndarray] = None) -> np.ndarray:
        """``n_rows`` rows generated from the prior of a variational model
        (``ae_model_sample``); the same seed gives the same rows."""
        n = checked_int(n_rows, "n_rows")
        s = checked_int(seed, "seed", high=UINT64_MAX)
        y, ld = output_matrix(out, n, self._d_in, "out")
        if n == 0:
            return y
        handle = self._enter()
        try:
            status = _L.ae_model_sample(handle, s, n, address(y), ld)
            if status:
                raise_status(status, "ae_model_sample")
        finally:
            self._inflight.pop()
        return y

    def interpolate(self, x_a: ArrayLike, x_b: ArrayLike, n_steps: int = 10,
                    out: Optional[np.ndarray] = None) -> np.ndarray:
        """Decode ``n_steps`` points on the line between the codes of two rows
        (``ae_model_interpolate``): the first row decodes ``x_a``'s code, the
        last ``x_b``'s. Returns ``(n_steps, input_dim)``."""
        a = as_vector(x_a, self._d_in, "x_a")
        b = as_vector(x_b, self._d_in, "x_b")
        steps = checked_int(n_steps, "n_steps")
        if steps < 2:
            raise ValueError("n_steps must be at least 2, got %d" % steps)
        y, ld = output_matrix(out, steps, self._d_in, "out")
        handle = self._enter()
        try:
            status = _L.ae_model_interpolate(handle, address(a), address(b), steps, address(y), ld)
            if status:
                raise_status(status, "ae_model_interpolate")
        finally:
            self._inflight.pop()
        return y

    # --- anomaly detection ------------------------------------------------------------
    def fit_threshold(self, x: ArrayLike, contamination: float = 0.1) -> float:
        """Set the threshold to the ``1 - contamination`` quantile of the scores of
        ``x`` (``ae_model_fit_threshold``) and return it."""
        xa, ld, n, _ = as_matrix(x, self._d_in, "x")
        if n == 0:
            raise ValueError("x: fit_threshold needs at least one row")
        contamination = checked_double(contamination, "contamination")
        handle = self._enter()
        try:
            threshold = c_double()
            status = _L.ae_model_fit_threshold(handle, address(xa), n, ld, contamination,
                                               byref(threshold))
            if status:
                raise_status(status, "ae_model_fit_threshold", handle)
            return threshold.value
        finally:
            self._inflight.pop()

    def set_threshold(self, threshold: float) -> None:
        """Set the anomaly threshold (finite, at least 0; ``ae_model_set_threshold``)."""
        value = checked_double(threshold, "threshold")
        handle = self._enter()
        try:
            status = _L.ae_model_set_threshold(handle, value)
            if status:
                raise_status(status, "ae_model_set_threshold", handle)
        finally:
            self._inflight.pop()

    def get_threshold(self) -> float:
        """The anomaly threshold (``ae_model_get_threshold``).

        Raises
        ------
        StateError
            No threshold was set or fitted.
        """
        handle = self._enter()
        try:
            threshold = c_double()
            status = _L.ae_model_get_threshold(handle, byref(threshold))
            if status:
                raise_status(status, "ae_model_get_threshold")
            return threshold.value
        finally:
            self._inflight.pop()

    @property
    def threshold(self) -> Optional[float]:
        """The anomaly threshold, or None if none was set or fitted; assignable."""
        try:
            return self.get_threshold()
        except StateError:
            return None

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.set_threshold(value)

    def detect(self, x: ArrayLike, out: Optional[np.ndarray] = None, *,
               return_scores: bool = False) -> Any:
        """Label rows scoring above the threshold (``ae_model_detect``).

        Returns a bool array of shape (n_rows,), True for anomalies (with
        ``return_scores``, also the float32 scores). Detection fails closed: a
        row beyond float range is anomalous whatever the threshold.

        Raises
        ------
        StateError
            No threshold was set or fitted.
        """
        xa, ld, n, one = as_matrix(x, self._d_in, "x")
        labels = output_vector(out, n, "out", np.bool_)
        scores = np.empty(n, F32) if return_scores else None
        if n > 0:
            handle = self._enter()
            try:
                status = _L.ae_model_detect(handle, address(xa), n, ld, address(labels),
                                            address(scores) if scores is not None else None)
                if status:
                    raise_status(status, "ae_model_detect")
            finally:
                self._inflight.pop()
        if one and out is None:
            return (bool(labels[0]), float(scores[0])) if scores is not None else bool(labels[0])
        return (labels, scores) if scores is not None else labels

    # --- scaling ----------------------------------------------------------------------
    def fit_scaling(self, x: ArrayLike) -> None:
        """Fit the scaling of the setting ``scaling`` to the rows of ``x`` now
        (``ae_model_fit_scaling``)."""
        xa, ld, n, _ = as_matrix(x, self._d_in, "x")
        if n == 0:
            raise ValueError("x: fit_scaling needs at least one row")
        handle = self._enter()
        try:
            status = _L.ae_model_fit_scaling(handle, address(xa), n, ld)
            if status:
                raise_status(status, "ae_model_fit_scaling", handle)
        finally:
            self._inflight.pop()

    def get_scaling(self) -> Tuple[np.ndarray, np.ndarray]:
        """The fitted ``(offset, scale)`` per feature (``ae_model_get_scaling``).

        Raises
        ------
        StateError
            No scaling was fitted.
        """
        offset = np.empty(self._d_in, F32)
        scale = np.empty(self._d_in, F32)
        handle = self._enter()
        try:
            status = _L.ae_model_get_scaling(handle, address(offset), address(scale), self._d_in)
            if status:
                raise_status(status, "ae_model_get_scaling")
        finally:
            self._inflight.pop()
        return offset, scale

    def set_scaling(self, offset: ArrayLike, scale: ArrayLike) -> None:
        """Set the offsets and scales explicitly (``ae_model_set_scaling``)."""
        o = as_vector(offset, self._d_in, "offset")
        s = as_vector(scale, self._d_in, "scale")
        handle = self._enter()
        try:
            status = _L.ae_model_set_scaling(handle, address(o), address(s), self._d_in)
            if status:
                raise_status(status, "ae_model_set_scaling", handle)
        finally:
            self._inflight.pop()

    # --- weights ----------------------------------------------------------------------
    def _dense(self, values: ArrayLike, shape: Tuple[int, int], name: str) -> np.ndarray:
        """``values`` as a C-contiguous float32 array of exactly ``shape`` (converted once)."""
        array = as_array(values, name)
        if array.shape != shape:
            raise ValueError("%s: expected shape (%d, %d), got %s" % (name, shape[0], shape[1],
                                                                      tuple(array.shape)))
        if array.dtype != F32 or not array.flags.c_contiguous or not array.flags.aligned:
            array = to_float32(array, name)
        return array

    def get_weights(self, layer: int) -> np.ndarray:
        """Layer ``layer``'s weights, shape ``(n_out, n_in)`` as
        ``torch.nn.Linear.weight`` (``ae_model_get_weights``). A tied decoder
        layer gives its mirror's transposed weights."""
        n_out, n_in, _ = self.layer_info(layer)
        w = np.empty((n_out, n_in), F32)
        handle = self._enter()
        try:
            status = _L.ae_model_get_weights(handle, self._layer(layer), address(w), n_out * n_in)
            if status:
                raise_status(status, "ae_model_get_weights")
        finally:
            self._inflight.pop()
        return w

    def set_weights(self, layer: int, weights: ArrayLike) -> None:
        """Replace layer ``layer``'s weights, shape ``(n_out, n_in)``
        (``ae_model_set_weights``; finite values only; a tied decoder layer is
        refused with StateError: set its mirror)."""
        n_out, n_in, _ = self.layer_info(layer)
        w = self._dense(weights, (n_out, n_in), "weights")
        handle = self._enter()
        try:
            status = _L.ae_model_set_weights(handle, self._layer(layer), address(w), n_out * n_in)
            if status:
                raise_status(status, "ae_model_set_weights", handle)
        finally:
            self._inflight.pop()

    def get_bias(self, layer: int) -> np.ndarray:
        """Layer ``layer``'s bias, shape ``(n_out,)`` (``ae_model_get_bias``)."""
        n_out, _, _ = self.layer_info(layer)
        b = np.empty(n_out, F32)
        handle = self._enter()
        try:
            status = _L.ae_model_get_bias(handle, self._layer(layer), address(b), n_out)
            if status:
                raise_status(status, "ae_model_get_bias")
        finally:
            self._inflight.pop()
        return b

    def set_bias(self, layer: int, bias: ArrayLike) -> None:
        """Replace layer ``layer``'s bias, shape ``(n_out,)`` (``ae_model_set_bias``)."""
        n_out, _, _ = self.layer_info(layer)
        b = as_vector(bias, n_out, "bias")
        handle = self._enter()
        try:
            status = _L.ae_model_set_bias(handle, self._layer(layer), address(b), n_out)
            if status:
                raise_status(status, "ae_model_set_bias", handle)
        finally:
            self._inflight.pop()

    def get_flat_params(self, out: Optional[np.ndarray] = None) -> np.ndarray:
        """All parameters in the flat layout (every layer's weights in layer order,
        then every layer's bias) (``ae_model_get_params``)."""
        params = output_vector(out, self._n_params, "out")
        handle = self._enter()
        try:
            status = _L.ae_model_get_params(handle, address(params), self._n_params)
            if status:
                raise_status(status, "ae_model_get_params")
        finally:
            self._inflight.pop()
        return params

    def set_flat_params(self, params: ArrayLike) -> None:
        """Replace all parameters from the flat layout (``ae_model_set_params``)."""
        p = as_vector(params, self._n_params, "params")
        handle = self._enter()
        try:
            status = _L.ae_model_set_params(handle, address(p), self._n_params)
            if status:
                raise_status(status, "ae_model_set_params", handle)
        finally:
            self._inflight.pop()

    def get_optimizer_state(self) -> OptimizerState:
        """The optimizer's step counter and moments (``ae_model_get_optimizer_state``);
        a buffer the optimizer does not keep is None."""
        n = self._n_params
        handle = self._enter()
        try:
            step = c_uint64()
            status = _L.ae_model_get_optimizer_state(handle, byref(step), None, None, n)
            if status:
                raise_status(status, "ae_model_get_optimizer_state")
            moments: List[Optional[np.ndarray]] = []
            for which in (0, 1):
                buf = np.empty(n, F32)
                ptrs = (address(buf), None) if which == 0 else (None, address(buf))
                status = _L.ae_model_get_optimizer_state(handle, None, ptrs[0], ptrs[1], n)
                if status == StateError.status:
                    moments.append(None)
                elif status:
                    raise_status(status, "ae_model_get_optimizer_state")
                else:
                    moments.append(buf)
            return OptimizerState(int(step.value), moments[0], moments[1])
        finally:
            self._inflight.pop()

    def set_optimizer_state(self, step: int = 0, first_moment: Optional[ArrayLike] = None,
                            second_moment: Optional[ArrayLike] = None) -> None:
        """Set the state of the current optimizer (``ae_model_set_optimizer_state``):
        for Adam both moments and a step counter, for SGD the momentum buffer (or
        None) and step 0; all None and step 0 clears it."""
        s = checked_int(step, "step", high=UINT64_MAX)
        n = self._n_params
        first = as_vector(first_moment, n, "first_moment") if first_moment is not None else None
        second = as_vector(second_moment, n, "second_moment") if second_moment is not None else None
        handle = self._enter()
        try:
            status = _L.ae_model_set_optimizer_state(
                handle, s, address(first) if first is not None else None,
                address(second) if second is not None else None, n)
            if status:
                raise_status(status, "ae_model_set_optimizer_state", handle)
        finally:
            self._inflight.pop()

    # --- transfer ---------------------------------------------------------------------
    def export_encoder(self) -> "Model":
        """A new model of the encoder alone (``ae_model_export_encoder``)."""
        handle = self._enter()
        try:
            out = c_void_p()
            status = _L.ae_model_export_encoder(handle, byref(out))
            if status:
                raise_status(status, "ae_model_export_encoder")
            return type(self)._from_handle(out.value)
        finally:
            self._inflight.pop()

    def copy_layers(self, src: "Model", src_layer: int = 0, dst_layer: int = 0,
                    n_layers: int = 1) -> None:
        """Copy ``n_layers`` consecutive layers of ``src``, from ``src_layer``, into this
        model from ``dst_layer`` (``ae_model_copy_layers``); shapes must match."""
        if not isinstance(src, Model):
            raise TypeError("src must be an autoenc.Model, not %s" % type(src).__name__)
        sl = checked_int(src_layer, "src_layer")
        dl = checked_int(dst_layer, "dst_layer")
        count = checked_int(n_layers, "n_layers")
        handle = self._enter()
        try:
            src_handle = src._enter()
            try:
                status = _L.ae_model_copy_layers(handle, dl, src_handle, sl, count)
                if status:
                    raise_status(status, "ae_model_copy_layers", handle)
            finally:
                src._inflight.pop()
        finally:
            self._inflight.pop()

    # --- files and bytes --------------------------------------------------------------
    def save(self, path: PathLike, *, optimizer_state: bool = False) -> None:
        """Save to ``path`` atomically (``ae_model_save``); with ``optimizer_state``
        training resumes exactly after :meth:`load`.

        Raises
        ------
        FileIOError
            The file could not be written (an OSError).
        """
        raw = _c_path(path)
        flags = int(SaveFlags.OPTIMIZER_STATE if optimizer_state else SaveFlags.DEFAULT)
        handle = self._enter()
        try:
            status = _L.ae_model_save(handle, raw, flags)
            if status:
                raise_status(status, "ae_model_save")
        finally:
            self._inflight.pop()

    @classmethod
    def load(cls, path: PathLike) -> "Model":
        """Load a model file (``ae_model_load``).

        Raises
        ------
        FileIOError
            Not a readable regular file (an OSError).
        FormatError, ChecksumError, VersionError
            Damaged data, or a file of a newer format (ValueError).
        """
        raw = _c_path(path)
        out = c_void_p()
        status = _L.ae_model_load(byref(out), raw)
        if status:
            raise_status(status, "ae_model_load")
        return cls._from_handle(out.value)

    def save_size(self, *, optimizer_state: bool = False) -> int:
        """The exact size of :meth:`to_bytes` (``ae_model_save_size``)."""
        flags = int(SaveFlags.OPTIMIZER_STATE if optimizer_state else SaveFlags.DEFAULT)
        handle = self._enter()
        try:
            size = c_size_t()
            status = _L.ae_model_save_size(handle, flags, byref(size))
            if status:
                raise_status(status, "ae_model_save_size")
            return int(size.value)
        finally:
            self._inflight.pop()

    def to_bytes(self, *, optimizer_state: bool = False) -> bytes:
        """The model file's bytes (``ae_model_save_to_memory``)."""
        flags = int(SaveFlags.OPTIMIZER_STATE if optimizer_state else SaveFlags.DEFAULT)
        handle = self._enter()
        try:
            size = c_size_t()
            status = _L.ae_model_save_size(handle, flags, byref(size))
            if status:
                raise_status(status, "ae_model_save_size")
            buffer = bytearray(size.value)
            written = c_size_t()
            pointer = address(np.frombuffer(buffer, np.uint8)) if size.value else None
            status = _L.ae_model_save_to_memory(handle, flags, pointer, size.value, byref(written))
            if status:
                raise_status(status, "ae_model_save_to_memory")
            return bytes(buffer[:written.value])
        finally:
            self._inflight.pop()

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview, np.ndarray]) -> "Model":
        """A model from the bytes of a model file (``ae_model_load_from_memory``)."""
        if isinstance(data, np.ndarray):
            data = data.tobytes()
        elif not isinstance(data, bytes):
            try:
                data = bytes(memoryview(data))
            except TypeError:
                raise TypeError("model data must be bytes-like, not %s" % type(data).__name__) from None
        out = c_void_p()
        status = _L.ae_model_load_from_memory(byref(out), data, len(data))
        if status:
            raise_status(status, "ae_model_load_from_memory")
        return cls._from_handle(out.value)


def _model_from_bytes(data: bytes, cls: type = Model) -> Model:
    # cls: the subclass, as clone keeps it (pickles of older packages name no class)
    return cls.from_bytes(data)  # type: ignore[attr-defined,no-any-return]


def _make_property(info: ParamInfo) -> property:
    def getter(self: Model) -> Any:
        return self._get(info)

    def setter(self: Model, value: Any) -> None:
        self._set(info, value)

    kind = {"enum": info.enum.__name__ if info.enum else "enum", "bool": "bool", "int": "int",
            "float": "float"}[info.kind]
    doc = "Setting ``%s`` (%s, ``ae_param`` %d), in %s%s." % (
        info.name, kind, info.id, info.range_text,
        "" if info.default is None else "; default %s" % info.from_c(info.default))
    return property(getter, setter, doc=doc)


#: Settings whose names are taken by methods of Model (reach them with get_param/set_param).
SHADOWED_SETTINGS: List[str] = []
for _name, _info in PARAMS.items():
    if _name in Model.__dict__ or _name in ("close", "closed"):
        SHADOWED_SETTINGS.append(_name)
        continue
    setattr(Model, _name, _make_property(_info))
del _name, _info
