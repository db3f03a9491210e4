"""The library's enumerations, and its table of settings.

The enum values are pinned forever by the C header. The settings table is not
copied from the header: it is read from the loaded library itself
(``ae_param_name`` over the parameter ids, ``ae_param_bounds`` for each), so a
newer library's settings appear without a new package.
"""

from __future__ import annotations

import enum
import math
import numbers
from ctypes import byref, c_double, c_int, sizeof
from dataclasses import dataclass
from typing import Dict, List, Optional, Type, Union

from . import _lib
from ._numbers import BOOLS, checked_double, exact_double

_L = _lib.lib


class _NamedEnum(enum.IntEnum):
    """An IntEnum whose members also parse from their lower-case names."""

    @classmethod
    def parse(cls, value: Union[str, int, "enum.IntEnum"]) -> "_NamedEnum":
        """Return the member for ``value``: a member, its integer value, or its
        name in any case (``"relu"``, ``"LEAKY_RELU"``, ``"leaky-relu"``).

        Raises
        ------
        ValueError
            No member has that name or value (the message lists the names).
        TypeError
            ``value`` is neither a string nor an integer.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, enum.Enum):  # another enumeration's member is no value of this one
            raise TypeError("%r is a member of %s, not a %s" % (value, type(value).__name__,
                                                               cls._label()))
        if isinstance(value, str):
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            try:
                return cls[key]
            except KeyError:
                raise ValueError("%r is not a %s; use one of %s" % (
                    value, cls._label(), ", ".join(repr(m.name.lower()) for m in cls))) from None
        if isinstance(value, BOOLS) or not isinstance(value, (numbers.Integral, float)):
            raise TypeError("a %s is given by name (%s) or value, not %r" % (
                cls._label(), ", ".join(repr(m.name.lower()) for m in cls), value))
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("%r is not a %s value" % (value, cls._label()))
        try:
            return cls(int(value))
        except ValueError:
            raise ValueError("%r is not a %s value; use one of %s" % (
                value, cls._label(), ", ".join(
                    "%s (%d)" % (m.name.lower(), m.value) for m in cls))) from None

    @classmethod
    def _label(cls) -> str:
        return cls.__name__.lower()

    def __str__(self) -> str:
        return self.name.lower()


class Activation(_NamedEnum):
    """``ae_activation``: the activation of a layer role."""
    LINEAR = 0
    RELU = 1
    LEAKY_RELU = 2
    ELU = 3
    SIGMOID = 4
    TANH = 5
    SOFTPLUS = 6


class Loss(_NamedEnum):
    """``ae_loss``: the reconstruction loss."""
    MSE = 0
    BCE = 1


class Optimizer(_NamedEnum):
    """``ae_optimizer``."""
    SGD = 0
    ADAM = 1
    ADAMW = 2


class Noise(_NamedEnum):
    """``ae_noise``: the corruption of training inputs for denoising."""
    NONE = 0
    GAUSSIAN = 1
    MASKING = 2
    SALT_AND_PEPPER = 3


class Scaling(_NamedEnum):
    """``ae_scaling``: the per-feature scaling kept in the model."""
    NONE = 0
    MINMAX = 1
    STANDARDIZE = 2


class StopReason(_NamedEnum):
    """``ae_stop_reason``: why a fit ended."""
    COMPLETED = 0
    EARLY = 1
    CANCELLED = 2
    DIVERGED = 3
    FAILED = 4  # another error ended it: a data source, a validation overflow, a peer


class Architecture(enum.IntFlag):
    """``ae_architecture_flags``."""
    PLAIN = 0
    TIED_WEIGHTS = 1
    VARIATIONAL = 2


class SaveFlags(enum.IntFlag):
    """``ae_save_flags``."""
    DEFAULT = 0
    OPTIMIZER_STATE = 1


#: The enumerations of the enum settings this package knows; the library's own names
#: for their values must agree (checked below). An enum setting of a newer library
#: gets an enumeration made from the library's names.
ENUM_SETTINGS: Dict[str, Type[_NamedEnum]] = {
    "hidden_activation": Activation,
    "latent_activation": Activation,
    "output_activation": Activation,
    "loss": Loss,
    "optimizer": Optimizer,
    "noise": Noise,
    "scaling": Scaling,
}

_KINDS = {0: "float", 1: "int", 2: "bool", 3: "enum"}  # ae_param_kind


@dataclass(frozen=True)
class ParamInfo:
    """One setting, as the library describes it.

    Attributes
    ----------
    id : int
        The ``ae_param`` value.
    name : str
        ``ae_param_name``, e.g. ``"learning_rate"``.
    min_value, max_value : float
        The range of valid values (``ae_param_bounds``).
    integral : bool
        Whether the setting takes whole numbers only.
    kind : str
        ``"enum"``, ``"bool"``, ``"int"`` or ``"float"``: the Python type of
        the setting's value (``ae_param_describe``).
    enum : type or None
        The enumeration of an ``"enum"`` setting.
    min_open, max_open : bool
        Whether the end itself is refused (``learning_rate`` > 0).
    default : float or None
        The value of a new model (None from a library that does not say).
    """

    id: int
    name: str
    min_value: float
    max_value: float
    integral: bool
    kind: str
    enum: Optional[Type[_NamedEnum]] = None
    min_open: bool = False
    max_open: bool = False
    default: Optional[float] = None

    @property
    def range_text(self) -> str:
        """The range in interval notation, e.g. ``(0, 1000]``."""
        return "%s%g, %g%s" % ("(" if self.min_open else "[", self.min_value, self.max_value,
                               ")" if self.max_open else "]")

    def to_c(self, value: object) -> float:
        """Convert a Python value to the ``double`` the library takes.

        Raises
        ------
        TypeError
            A value of the wrong type (a string for a number, a fraction for an
            integer setting).
        ValueError
            An unknown enum name, or an integer other than 0 and 1 for a bool.
        """
        if self.kind == "enum":
            assert self.enum is not None
            return float(self.enum.parse(value))  # type: ignore[arg-type]
        if self.kind == "bool":
            if isinstance(value, (BOOLS, numbers.Integral)):
                if int(value) not in (0, 1):
                    raise ValueError("%s takes True or False, not %r" % (self.name, value))
                return float(int(value))
            if isinstance(value, numbers.Real) and value in (0.0, 1.0):
                return float(value)
            raise TypeError("%s takes True or False, not %r" % (self.name, value))
        if self.kind == "int":
            if isinstance(value, numbers.Integral) and not isinstance(value, BOOLS):
                return exact_double(int(value), self.name)
            number = checked_double(value, self.name)
            if not math.isfinite(number) or not number.is_integer():
                raise TypeError("%s takes whole numbers, not %r" % (self.name, value))
            return number
        return checked_double(value, self.name)

    def from_c(self, value: float) -> object:
        """Convert the library's ``double`` to this setting's Python type."""
        if self.kind == "enum":
            assert self.enum is not None
            try:
                return self.enum(int(value))
            except ValueError:  # a value a newer library knows
                return int(value)
        if self.kind == "bool":
            return bool(value)
        if self.kind == "int":
            return int(value)
        return float(value)


def _value_names(param_id: int, lo: float, hi: float) -> Dict[str, int]:
    names = {}
    for value in range(int(lo), int(hi) + 1):
        raw = _L.ae_param_value_name(param_id, float(value))
        if raw is not None:
            names[raw.decode().upper()] = value
    return names


def _enum_for(name: str, param_id: int, lo: float, hi: float) -> Type[_NamedEnum]:
    known = ENUM_SETTINGS.get(name)
    if not _lib.has("ae_param_value_name"):
        if known is None:  # pragma: no cover - only a library without value names
            raise ImportError("libautoenc's setting %r is an enum this package does not know" % name)
        return known
    names = _value_names(param_id, lo, hi)
    if known is None:  # an enum setting of a newer library
        made = _NamedEnum(name.title().replace("_", ""), names, module=__name__)  # type: ignore[call-overload]
        return made  # type: ignore[no-any-return]
    ours = {m.name: m.value for m in known}
    if any(ours.get(n) != v for n, v in names.items()):
        raise ImportError("libautoenc names the values of %r %s; the package knows %s"
                          % (name, names, ours))
    return known


def _param_ids() -> List[int]:
    if _lib.has("ae_param_count") and _lib.has("ae_param_at"):
        return [int(_L.ae_param_at(i)) for i in range(int(_L.ae_param_count()))]
    return [i for i in range(1024) if _L.ae_param_name(i) is not None]


def _read_table() -> Dict[str, ParamInfo]:
    table: Dict[str, ParamInfo] = {}
    lo, hi, integral = c_double(), c_double(), c_int()
    describe = _lib.has("ae_param_describe")
    for param_id in _param_ids():
        raw = _L.ae_param_name(param_id)
        if raw is None or _L.ae_param_bounds(param_id, byref(lo), byref(hi), byref(integral)) != 0:
            continue
        name = raw.decode()
        min_open = max_open = False
        default: Optional[float] = None
        kind = None
        if describe:
            desc = _lib.ParamDescription_c()
            desc.size = sizeof(desc)
            if _L.ae_param_describe(param_id, byref(desc)) == 0:
                kind = _KINDS.get(desc.kind, "float")
                min_open, max_open = bool(desc.min_open), bool(desc.max_open)
                default = desc.default_value
        if kind is None:  # a library without ae_param_describe: the same from the bounds
            if name in ENUM_SETTINGS:
                kind = "enum"
            elif integral.value and lo.value == 0.0 and hi.value == 1.0:
                kind = "bool"
            else:
                kind = "int" if integral.value else "float"
        enum_type = _enum_for(name, param_id, lo.value, hi.value) if kind == "enum" else None
        table[name] = ParamInfo(param_id, name, lo.value, hi.value, bool(integral.value), kind,
                                enum_type, min_open, max_open, default)
    return table


#: Every setting of the loaded library, by name, in id order.
PARAMS: Dict[str, ParamInfo] = _read_table()
PARAMS_BY_ID: Dict[int, ParamInfo] = {info.id: info for info in PARAMS.values()}

#: ``ae_param`` as an IntEnum, generated from the library's table (member names are
#: the setting names in upper case: ``Param.LEARNING_RATE``).
Param = enum.IntEnum("Param", [(name.upper(), info.id) for name, info in PARAMS.items()],  # type: ignore[misc]
                     module=__name__)
Param.__doc__ = "``ae_param``: the settings of the loaded library, read from its own table."


def param_info(param: Union[str, int]) -> ParamInfo:
    """Look a setting up by name (``"learning_rate"``), :class:`Param` member or id.

    Raises
    ------
    ValueError
        The library has no such setting (the message lists the names).
    """
    if isinstance(param, str):
        info = PARAMS.get(param.strip().lower())
    elif isinstance(param, numbers.Integral) and not isinstance(param, bool):
        info = PARAMS_BY_ID.get(int(param))
    else:
        raise TypeError("a setting is named by a string or a Param, not %r" % (param,))
    if info is None:
        raise ValueError("libautoenc has no setting %r; its settings are: %s"
                         % (param, ", ".join(PARAMS)))
    return info


def param_bounds(param: Union[str, int]) -> "tuple[float, float, bool]":
    """``ae_param_bounds``: ``(min_value, max_value, integral)`` of a setting."""
    info = param_info(param)
    return info.min_value, info.max_value, info.integral
