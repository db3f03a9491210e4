"""scikit-learn estimators over :class:`autoenc.Model`.

- :class:`Autoencoder`: a transformer (``transform`` gives latent codes,
  ``inverse_transform`` decodes them), with ``reconstruct`` and ``score``;
- :class:`AnomalyDetector`: an outlier detector in scikit-learn's contract
  (``predict`` gives +1 for inliers and -1 for outliers, ``score_samples`` is
  higher for more normal rows, ``decision_function`` is ``score_samples -
  offset_``) and PyOD's vocabulary (``contamination``, ``threshold_``,
  ``decision_scores_``, ``labels_``);
- :class:`VariationalAutoencoder`: a transformer (the codes are the means) that
  also samples new rows and interpolates between rows.

They follow scikit-learn's rules: ``__init__`` only stores its arguments,
``fit`` returns the estimator, learned state ends in ``_``. Each works with its
default arguments on data of any width: the architecture is then derived from
the number of features at fit time (:func:`default_architecture`). The fitted
model is ``model_``, an :class:`autoenc.Model`; pickling and joblib go through
its own bytes.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

try:  # scikit-learn 1.6 and later
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # scikit-learn up to 1.5 (Debian 12 has 1.2)
    def _validate_data(estimator: Any, X: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(X, **kwargs)

from ._arrays import as_array
from ._enums import PARAMS, Activation, param_info
from ._errors import StateError
from ._model import FitReport, Model
from ._numbers import SIZE_MAX, checked_int

_MAX_SEED = 2 ** 53


def default_architecture(n_features: int) -> Tuple[Tuple[int, ...], int]:
    """The architecture an estimator uses when ``hidden_layer_sizes`` or
    ``latent_dim`` is None.

    The code has ``k = min(64, ceil(n_features / 8))`` units (at least 1); one
    hidden layer of ``round(sqrt(n_features * k))`` units, the geometric mean
    of the input and code widths, lies between them when that width is
    strictly between ``k`` and ``n_features``. For 784 features that is
    784-224-64, for 20 features 20-8-3, for 2 features 2-1.

    Returns
    -------
    (hidden_layer_sizes, latent_dim)
    """
    d = int(n_features)
    if d < 1:
        raise ValueError("n_features must be at least 1, got %d" % d)
    k = max(1, min(64, math.ceil(d / 8)))
    h = int(round(math.sqrt(d * k)))
    hidden: Tuple[int, ...] = (h,) if k < h < d else ()
    return hidden, k


def _seed(random_state: Any) -> int:
    """``random_state`` as the model's seed: an integer is the seed itself; None
    or a RandomState draws one (None from numpy's global generator)."""
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(random_state, bool):
        seed = int(random_state)
        if not 0 <= seed <= _MAX_SEED:
            raise ValueError("random_state must be an integer in [0, 2**53], None or a "
                             "numpy RandomState; got %d" % seed)
        return seed
    return int(check_random_state(random_state).randint(0, 2 ** 31 - 1))


def _check_choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(repr(a) for a in allowed), value))


def _check_int(name: str, value: Any, low: int, optional: bool = False, high: int = SIZE_MAX) -> None:
    if value is None and optional:
        return
    try:  # by default bounded to size_t: the widest C type an estimator's integer goes to
        checked_int(value, name, low, high)
    except TypeError as exc:  # scikit-learn's convention: a bad parameter is a ValueError
        raise ValueError(str(exc)) from None


def _check_real(name: str, value: Any, low: float, high: float, low_open: bool = False,
                high_open: bool = False) -> None:
    ok = isinstance(value, (numbers.Real, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        raise ValueError("%s must be a number in %s%g, %g%s, got %r" % (
            name, "(" if low_open else "[", low, high, ")" if high_open else "]", value))


class _AutoencoderBase(BaseEstimator):
    """What the three estimators share: validation, building and fitting the model."""

    _variational = False

    # --- building -----------------------------------------------------------------------
    def _architecture(self, n_features: int) -> Tuple[Tuple[int, ...], int]:
        hidden_default, latent_default = default_architecture(n_features)
        hidden = self.hidden_layer_sizes
        if hidden is None:
            hidden = hidden_default
        elif isinstance(hidden, (str, bytes)):  # not a sequence of widths ("32" is not (3, 2))
            raise ValueError("hidden_layer_sizes must be None, an integer or a sequence of "
                             "integers, got %r" % (hidden,))
        elif isinstance(hidden, (numbers.Integral, np.integer)) and not isinstance(hidden, bool):
            hidden = (int(hidden),)
        else:
            try:
                hidden = tuple(hidden)
            except TypeError:
                raise ValueError("hidden_layer_sizes must be None, an integer or a sequence of "
                                 "integers, got %r" % (self.hidden_layer_sizes,)) from None
        for width in hidden:
            _check_int("hidden_layer_sizes", width, 1)
        latent = self.latent_dim if self.latent_dim is not None else latent_default
        _check_int("latent_dim", latent, 1)
        return tuple(int(w) for w in hidden), int(latent)

    def _settings(self) -> Dict[str, Any]:
        """The library settings of this estimator, in an order the library accepts
        (activations before the loss, the scaling before both)."""
        out: Dict[str, Any] = {
            "seed": _seed(self.random_state),
            "hidden_activation": self.activation,
        }
        if not self._variational:
            out["latent_activation"] = self.latent_activation
        out["output_activation"] = self.output_activation
        out["scaling"] = self._scaling()
        out["loss"] = self.loss
        out.update({
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "validation_fraction": self.validation_fraction,
            "noise": self.noise if self.noise is not None else "none",
            "noise_level": self.noise_level,
            "dropout_input": self.dropout_input,
            "dropout_hidden": self.dropout_hidden,
        })
        if self._variational:
            out["kl_weight"] = self.kl_weight
            out["kl_warmup_epochs"] = self.kl_warmup_epochs
        if self.n_threads is not None:
            out["threads"] = self.n_threads
        if self.settings is not None:
            if not isinstance(self.settings, dict):
                raise ValueError("settings must be None or a dict of library settings, got %r"
                                 % (self.settings,))
            for name, value in self.settings.items():
                try:  # any case, as Model takes it
                    info = param_info(name)
                except (TypeError, ValueError) as exc:
                    raise ValueError("settings: %s" % exc) from None
                out[info.name] = value
        return out

    def _scaling(self) -> Any:
        """``scaling`` with "auto" resolved: standardised features for an output that
        can reproduce them (linear or leaky ReLU), the data as it is otherwise."""
        if self.scaling is None:
            return "none"
        if isinstance(self.scaling, str) and self.scaling.lower() == "auto":
            try:
                output = Activation.parse(self.output_activation)
            except (TypeError, ValueError):
                return "none"  # the library refuses the activation itself, naming it
            return "standardize" if output in (Activation.LINEAR, Activation.LEAKY_RELU) else "none"
        return self.scaling

    def _check_params(self) -> None:
        _check_int("epochs", self.epochs, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("patience", self.patience, 0, optional=True)
        # the library would name its own setting, threads
        _check_int("n_threads", self.n_threads, 0, optional=True,
                   high=int(PARAMS["threads"].max_value))
        _check_real("learning_rate", self.learning_rate, 0.0, 1e3, low_open=True)
        _check_real("weight_decay", self.weight_decay, 0.0, 1e3)
        _check_real("min_delta", self.min_delta, 0.0, 1e30)
        _check_real("validation_fraction", self.validation_fraction, 0.0, 0.9)
        _check_real("noise_level", self.noise_level, 0.0, 1e6)
        _check_real("dropout_input", self.dropout_input, 0.0, 1.0, high_open=True)
        _check_real("dropout_hidden", self.dropout_hidden, 0.0, 1.0, high_open=True)
        if not isinstance(self.tied_weights, (bool, np.bool_)):
            raise ValueError("tied_weights must be True or False, got %r" % (self.tied_weights,))

    def _new_model(self, n_features: int) -> Model:
        self._check_params()
        hidden, latent = self._architecture(n_features)
        settings = self._settings()
        if settings.get("patience") is None:
            settings["patience"] = 0
        widths = (n_features,) + hidden + (latent,)
        try:
            return Model(widths, tied=bool(self.tied_weights), variational=self._variational,
                         **settings)
        except StateError as exc:
            raise ValueError("incompatible parameters of %s: %s" % (type(self).__name__, exc.message)) from exc
        except TypeError as exc:
            raise ValueError("invalid parameter of %s: %s" % (type(self).__name__, exc)) from exc

    def _validate(self, X: Any, reset: bool) -> np.ndarray:
        if isinstance(X, np.ma.MaskedArray):  # check_array would drop the mask silently
            X = as_array(X, "X")
        return _validate_data(self, X, reset=reset, dtype=np.float32, accept_sparse=False)

    @contextlib.contextmanager
    def _fitting(self) -> Iterator[None]:
        """A fit as one step: if the block fails, every fitted attribute (``n_features_in_``
        included, which validation sets first) is put back as it was and a new model is
        closed; if it succeeds, the model it replaced is closed."""
        def fitted() -> Dict[str, Any]:
            return {k: v for k, v in self.__dict__.items() if k.endswith("_") and not k.startswith("_")}
        saved = fitted()
        old = saved.get("model_")
        try:
            yield
        except BaseException:
            new = self.__dict__.get("model_")
            if isinstance(new, Model) and new is not old:
                new.close()
            for name in fitted():
                del self.__dict__[name]
            self.__dict__.update(saved)
            raise
        if isinstance(old, Model) and old is not self.__dict__.get("model_"):
            old.close()

    def _fit(self, X: Any) -> None:
        """Validate ``X``, train a new model on it, and set the fitted attributes; all or
        nothing (:meth:`_fitting`)."""
        with self._fitting():
            X = self._validate(X, reset=True)
            model = self._new_model(X.shape[1])
            try:
                report = model.fit(X, verbose=bool(self.verbose))
            except StateError as exc:  # a rule the settings break only at training time
                model.close()
                raise ValueError("incompatible parameters of %s: %s"
                                 % (type(self).__name__, exc.message)) from exc
            except BaseException:
                model.close()
                raise
            self._set_fitted(model, report)
            self._fitted_on(X)

    def _fitted_on(self, X32: np.ndarray) -> None:
        """What an estimator learns from the training rows besides the model."""

    def _set_fitted(self, model: Model, report: FitReport) -> None:
        self.model_ = model
        self.fit_report_ = report
        self.n_iter_ = report.epochs_run
        self.loss_curve_ = list(report.train_loss_history)
        self.validation_loss_curve_ = list(report.val_loss_history)
        self.latent_dim_ = model.latent_dim
        self.widths_ = model.widths

    def partial_fit(self, X: Any, y: Any = None) -> "_AutoencoderBase":
        """One epoch over ``X``, continuing from the current weights and optimizer
        state (the first call builds the model, and fits its scaling to this
        first ``X``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        with self._fitting():
            first = not hasattr(self, "model_")
            X = self._validate(X, reset=first)
            model = self._new_model(X.shape[1]) if first else self.model_
            if first:  # closed by _fitting if what follows fails
                self.model_ = model
            epochs, patience = model.epochs, model.patience
            model.epochs, model.patience = 1, 0
            try:
                report = model.fit(X, verbose=bool(self.verbose))
            finally:
                model.epochs, model.patience = epochs, patience
            if first:
                self._set_fitted(model, report)
            else:
                self.fit_report_ = report
                self.n_iter_ = getattr(self, "n_iter_", 0) + report.epochs_run
                self.loss_curve_ = list(getattr(self, "loss_curve_", [])) + report.train_loss_history
                self.validation_loss_curve_ = list(getattr(self, "validation_loss_curve_", [])) + \
                    report.val_loss_history
            self._fitted_on(X)
        return self

    # --- using it -----------------------------------------------------------------------
    def _fitted_input(self, X: Any) -> Tuple[Model, np.ndarray]:
        """The fitted model and ``X`` validated against it (NotFittedError before fit)."""
        check_is_fitted(self, "model_")
        return self.model_, self._validate(X, reset=False)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Reconstructions of the rows of ``X``, in the original units
        (``ae_model_reconstruct``): float32, shape (n_samples, n_features)."""
        model, X32 = self._fitted_input(X)
        return model.reconstruct(X32)

    def feature_errors(self, X: Any) -> np.ndarray:
        """Per-feature reconstruction errors (squared errors for MSE; scaled
        units when the model scales its features): float32, shape
        (n_samples, n_features); a row's mean is its reconstruction error."""
        model, X32 = self._fitted_input(X)
        return model.feature_errors(X32)

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Each row's mean reconstruction loss (``ae_model_score``): float64,
        shape (n_samples,); higher means worse reconstructed."""
        model, X32 = self._fitted_input(X)
        return model.score(X32).astype(np.float64)

    def _more_tags(self) -> Dict[str, Any]:
        return {
            "X_types": ["2darray"],
            "allow_nan": False,
            "preserves_dtype": [np.float32],
            "requires_y": False,
            # The check wants a row's result bit for bit the same whether it comes alone or
            # with others (atol 1e-7 on values near 1: one float32 ulp). In float32 through
            # OpenBLAS it is not: one row goes through sgemv, many through sgemm, and
            # OpenBLAS picks its kernels by the matrices' shapes (on some cores per number
            # of rows), so the last bits of a row may differ between calls.
            "_xfail_checks": {
                "check_methods_subset_invariance": (
                    "float32 through OpenBLAS: a row's last bits depend on the call's "
                    "number of rows (sgemv for one row, shape-chosen sgemm kernels)"
                ),
            },
        }

    def __sklearn_is_fitted__(self) -> bool:
        return isinstance(self.__dict__.get("model_"), Model)


class _TransformerBase(TransformerMixin, _AutoencoderBase):
    def fit(self, X: Any, y: Any = None) -> "_TransformerBase":
        """Train a new model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows; converted once to float32.
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Latent codes (``ae_model_encode``): float32, shape (n_samples, latent_dim_)."""
        model, X32 = self._fitted_input(X)
        return model.encode(X32)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Rows decoded from latent codes (``ae_model_decode``), in the original
        units: float32, shape (n_samples, n_features_in_)."""
        check_is_fitted(self, "model_")
        from sklearn.utils import check_array
        Z = check_array(X, dtype=np.float32, accept_sparse=False)
        if Z.shape[1] != self.model_.latent_dim:
            raise ValueError("X has %d features, but %s decodes codes of %d features"
                             % (Z.shape[1], type(self).__name__, self.model_.latent_dim))
        return self.model_.decode(Z)

    def score(self, X: Any, y: Any = None) -> float:
        """The negative mean squared reconstruction error of ``X``, in ``X``'s own
        units: ``-mean((reconstruct(X) - X) ** 2)`` over all rows and features,
        computed in float64. Higher is better, as scikit-learn's model selection
        expects.

        The same measure whatever the model's ``loss`` and ``scaling`` (the
        model's own loss, ``model_.compute_loss(X)``, is computed on the scaled
        features, and for ``loss="bce"`` is a cross-entropy), so that scores of
        estimators with different settings compare. A row whose reconstruction
        overflows makes it ``-inf``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        """
        model, X32 = self._fitted_input(X)
        error = model.reconstruct(X32).astype(np.float64)
        error -= X32
        return -float(np.mean(np.square(error, out=error)))


_COMMON_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int or None, default None
        Widths of the encoder's hidden layers (the decoder mirrors them); None
        derives them from the number of features (:func:`default_architecture`).
    latent_dim : int or None, default None
        Width of the code; None derives it from the number of features.
    activation : str, default "relu"
        Activation of the hidden layers: "linear", "relu", "leaky_relu",
        "elu", "sigmoid", "tanh" or "softplus".
    output_activation : str, default "linear"
        Activation of the output layer ("sigmoid" for data in [0, 1] with
        ``loss="bce"``).
    loss : {"mse", "bce"}, default "mse"
        Reconstruction loss; "bce" needs ``output_activation="sigmoid"``,
        data in [0, 1] and a scaling other than "standardize".
    scaling : {"auto", "standardize", "minmax", "none"}, default "auto"
        Per-feature scaling fitted on the training data and kept in the model.
        "auto" standardises the features when the output activation can
        reproduce standardised values ("linear" or "leaky_relu") and leaves
        them as they are otherwise (a bounded output expects data in its
        range, e.g. [0, 1] for "sigmoid"); "standardize" needs a "linear" or
        "leaky_relu" output; "minmax" maps the training rows into [0, 1]
        (with "bce", later rows outside that range are refused).
    tied_weights : bool, default False
        Decoder layers use the transposed weights of their mirror encoder layers.
    optimizer : {"adam", "adamw", "sgd"}, default "adam"
    learning_rate : float, default 1e-3
    weight_decay : float, default 0.0
    batch_size : int, default 64
    epochs : int, default 200
        The most epochs a fit runs.
    patience : int or None, default 10
        Stop after this many epochs without an improvement of more than
        ``min_delta`` in the monitored loss (the validation loss with
        ``validation_fraction``, else the training loss); None or 0: never.
    min_delta : float, default 1e-4
    validation_fraction : float, default 0.0
        Share of the rows held out to monitor; with it the weights of the best
        epoch are kept.
    noise : {"none", "gaussian", "masking", "salt_and_pepper"}, default "none"
        Corruption of the training inputs (a denoising autoencoder).
    noise_level : float, default 0.1
    dropout_input, dropout_hidden : float, default 0.0
    n_threads : int or None, default None
        Threads for training's elementwise work (None: one per processor);
        the matrix products use OpenBLAS's threads (``OPENBLAS_NUM_THREADS``).
    settings : dict or None, default None
        Any other library settings by name (see ``autoenc.PARAMS``), applied
        after the ones above, e.g. ``{"clip_norm": 1.0}``.
    random_state : int, RandomState or None, default None
        An integer is the model's seed (weights, shuffling, noise); None draws
        one from numpy's global generator.
    verbose : bool, default False
        Show a progress bar while fitting.
"""

_FITTED_DOC = """
    Attributes
    ----------
    model_ : autoenc.Model
        The trained model.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a table with string column names.
    latent_dim_ : int
    widths_ : tuple of int
        Every layer's width from input to output.
    fit_report_ : autoenc.FitReport
    n_iter_ : int
        Epochs run.
    loss_curve_, validation_loss_curve_ : list of float
        Each epoch's training and validation loss.
"""


class Autoencoder(_TransformerBase):
    __doc__ = """A deep stacked autoencoder as a scikit-learn transformer.

    ``transform`` gives the latent codes, ``inverse_transform`` decodes codes,
    ``reconstruct`` does both; ``score`` is the negative mean squared
    reconstruction error in the data's units.
    """ + _COMMON_DOC + """    latent_activation : str, default "linear"
        Activation of the code layer.
    """ + _FITTED_DOC

    def __init__(self, hidden_layer_sizes: Optional[Sequence[int]] = None,
                 latent_dim: Optional[int] = None, *, activation: str = "relu",
                 latent_activation: str = "linear", output_activation: str = "linear",
                 loss: str = "mse", scaling: Optional[str] = "auto",
                 tied_weights: bool = False, optimizer: str = "adam",
                 learning_rate: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 64,
                 epochs: int = 200, patience: Optional[int] = 10, min_delta: float = 1e-4,
                 validation_fraction: float = 0.0, noise: Optional[str] = "none",
                 noise_level: float = 0.1, dropout_input: float = 0.0, dropout_hidden: float = 0.0,
                 n_threads: Optional[int] = None, settings: Optional[Dict[str, Any]] = None,
                 random_state: Any = None, verbose: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.activation = activation
        self.latent_activation = latent_activation
        self.output_activation = output_activation
        self.loss = loss
        self.scaling = scaling
        self.tied_weights = tied_weights
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.min_delta = min_delta
        self.validation_fraction = validation_fraction
        self.noise = noise
        self.noise_level = noise_level
        self.dropout_input = dropout_input
        self.dropout_hidden = dropout_hidden
        self.n_threads = n_threads
        self.settings = settings
        self.random_state = random_state
        self.verbose = verbose


class VariationalAutoencoder(_TransformerBase):
    __doc__ = """A variational autoencoder as a scikit-learn transformer.

    ``transform`` gives the means of the codes, ``encode_distribution`` means
    and log-variances; ``sample`` generates new rows from the prior and
    ``interpolate`` walks the code space between two rows.
    """ + _COMMON_DOC + """    kl_weight : float, default 1.0
        Weight beta of the KL term.
    kl_warmup_epochs : int, default 0
        Epochs over which beta grows linearly from 0.
    """ + _FITTED_DOC

    _variational = True

    def __init__(self, hidden_layer_sizes: Optional[Sequence[int]] = None,
                 latent_dim: Optional[int] = None, *, activation: str = "relu",
                 output_activation: str = "linear", loss: str = "mse",
                 scaling: Optional[str] = "auto", optimizer: str = "adam",
                 learning_rate: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 64,
                 epochs: int = 200, patience: Optional[int] = 10, min_delta: float = 1e-4,
                 validation_fraction: float = 0.0, kl_weight: float = 1.0,
                 kl_warmup_epochs: int = 0, noise: Optional[str] = "none", noise_level: float = 0.1,
                 dropout_input: float = 0.0, dropout_hidden: float = 0.0,
                 n_threads: Optional[int] = None, settings: Optional[Dict[str, Any]] = None,
                 random_state: Any = None, verbose: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.scaling = scaling
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.min_delta = min_delta
        self.validation_fraction = validation_fraction
        self.kl_weight = kl_weight
        self.kl_warmup_epochs = kl_warmup_epochs
        self.noise = noise
        self.noise_level = noise_level
        self.dropout_input = dropout_input
        self.dropout_hidden = dropout_hidden
        self.n_threads = n_threads
        self.settings = settings
        self.random_state = random_state
        self.verbose = verbose

    tied_weights = False  # not a parameter: variational models cannot tie weights
    latent_activation = "linear"

    def _check_params(self) -> None:
        super()._check_params()
        _check_real("kl_weight", self.kl_weight, 0.0, 1e3)
        _check_int("kl_warmup_epochs", self.kl_warmup_epochs, 0)

    def encode_distribution(self, X: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Mean and log-variance of each row's Gaussian code: two float32
        arrays of shape (n_samples, latent_dim_)."""
        model, X32 = self._fitted_input(X)
        return model.encode_distribution(X32)

    def sample(self, n_samples: int = 1, random_state: Any = None) -> np.ndarray:
        """``n_samples`` new rows decoded from codes drawn from the standard normal
        prior: float32, shape (n_samples, n_features_in_). The same integer
        ``random_state`` gives the same rows."""
        check_is_fitted(self, "model_")
        _check_int("n_samples", n_samples, 0)
        return self.model_.sample(int(n_samples), seed=_seed(random_state))

    def interpolate(self, x_a: Any, x_b: Any, n_steps: int = 10) -> np.ndarray:
        """Decode ``n_steps`` points on the line between the codes of two rows:
        float32, shape (n_steps, n_features_in_); the first row decodes
        ``x_a``'s code, the last ``x_b``'s."""
        model, rows = self._fitted_input(np.vstack([np.asarray(x_a).reshape(1, -1),
                                                    np.asarray(x_b).reshape(1, -1)]))
        _check_int("n_steps", n_steps, 2)
        return model.interpolate(rows[0], rows[1], int(n_steps))


class AnomalyDetector(OutlierMixin, _AutoencoderBase):
    __doc__ = """Anomaly detection by reconstruction error, as a scikit-learn outlier detector.

    A row's anomaly score is its mean reconstruction loss. After training,
    the threshold is the ``1 - contamination`` quantile of the training rows'
    scores. ``predict`` gives -1 for rows scoring above it (outliers) and 1
    otherwise; ``score_samples`` is the negative score (higher is more
    normal) and ``decision_function`` is ``score_samples - offset_``, negative
    for outliers. Detection fails closed: a row beyond float range is an
    outlier whatever the threshold.
    """ + _COMMON_DOC + """    latent_activation : str, default "linear"
    contamination : float, default 0.1
        The expected share of outliers in the training data, in [0, 0.5].
    """ + _FITTED_DOC + """    threshold_ : float
        The reconstruction error above which a row is an outlier.
    offset_ : float
        ``-threshold_``: ``decision_function = score_samples - offset_``.
    decision_scores_ : ndarray of shape (n_samples,)
        The training rows' anomaly scores (reconstruction errors; higher is
        more abnormal, as in PyOD).
    labels_ : ndarray of shape (n_samples,)
        The training rows' labels as PyOD gives them: 0 inlier, 1 outlier.
    """

    def __init__(self, hidden_layer_sizes: Optional[Sequence[int]] = None,
                 latent_dim: Optional[int] = None, *, contamination: float = 0.1,
                 activation: str = "relu", latent_activation: str = "linear",
                 output_activation: str = "linear", loss: str = "mse",
                 scaling: Optional[str] = "auto", tied_weights: bool = False,
                 optimizer: str = "adam", learning_rate: float = 1e-3, weight_decay: float = 0.0,
                 batch_size: int = 64, epochs: int = 200, patience: Optional[int] = 10,
                 min_delta: float = 1e-4, validation_fraction: float = 0.0,
                 noise: Optional[str] = "none", noise_level: float = 0.1,
                 dropout_input: float = 0.0, dropout_hidden: float = 0.0,
                 n_threads: Optional[int] = None, settings: Optional[Dict[str, Any]] = None,
                 random_state: Any = None, verbose: bool = False) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.contamination = contamination
        self.activation = activation
        self.latent_activation = latent_activation
        self.output_activation = output_activation
        self.loss = loss
        self.scaling = scaling
        self.tied_weights = tied_weights
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.min_delta = min_delta
        self.validation_fraction = validation_fraction
        self.noise = noise
        self.noise_level = noise_level
        self.dropout_input = dropout_input
        self.dropout_hidden = dropout_hidden
        self.n_threads = n_threads
        self.settings = settings
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        super()._check_params()
        _check_real("contamination", self.contamination, 0.0, 0.5)

    def fit(self, X: Any, y: Any = None) -> "AnomalyDetector":
        """Train on ``X`` (mostly normal rows) and set the threshold from its scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> "AnomalyDetector":
        """One epoch over ``X``, continuing the training (see
        :meth:`Autoencoder.partial_fit`), then the threshold set again from the
        scores of ``X``, this latest chunk.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        return super().partial_fit(X)

    def _fitted_on(self, X32: np.ndarray) -> None:
        """The threshold from the scores of the training rows."""
        model = self.model_
        self.threshold_ = float(model.fit_threshold(X32, float(self.contamination)))
        self.offset_ = -self.threshold_
        self.decision_scores_ = model.score(X32).astype(np.float64)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    def score_samples(self, X: Any) -> np.ndarray:
        """The negative reconstruction error of each row: higher is more normal
        (float64, shape (n_samples,))."""
        model, X32 = self._fitted_input(X)
        return -model.score(X32).astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, zero or positive
        for inliers (float64, shape (n_samples,))."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """1 for inliers, -1 for outliers (``ae_model_detect``): int array of shape
        (n_samples,)."""
        model, X32 = self._fitted_input(X)
        labels = model.detect(X32)
        return np.where(labels, -1, 1)
