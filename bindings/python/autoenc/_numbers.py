"""Python numbers crossing into C: checked against the C type's range instead of
wrapping (ctypes takes ``size_t`` and ``uint64_t`` modulo 2**64) or overflowing.

numpy's integers and floats count as Python's (numpy registers them with
:mod:`numbers`); bools, numpy's included, are not numbers here.
"""

from __future__ import annotations

import ctypes
import numbers
from typing import Any

import numpy as np

SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1
UINT64_MAX = (1 << 64) - 1
BOOLS = (bool, np.bool_)


def show(number: Any) -> str:
    """An integer for a message: ``2**64 - 1`` rather than its 20 digits, and a huge one
    by its size."""
    number = int(number)
    for offset in (0, -1, 1):
        if number - offset > 1 << 32 and (number - offset) & (number - offset - 1) == 0:
            return "2**%d%s" % ((number - offset).bit_length() - 1,
                                {0: "", -1: " - 1", 1: " + 1"}[offset])
    text = str(number)
    return text if len(text) <= 24 else "an integer of %d digits" % len(text)


def checked_int(value: Any, name: str, low: int = 0, high: int = SIZE_MAX) -> int:
    """``value`` as an int in ``[low, high]``, the range of the C type it goes to.

    Raises TypeError for anything but an integer, ValueError outside the range."""
    if isinstance(value, BOOLS) or not isinstance(value, numbers.Integral):
        raise TypeError("%s must be an integer, not %r" % (name, value))
    number = int(value)
    if number < low:
        raise ValueError("%s must be at least %d, got %s" % (name, low, show(number)))
    if number > high:
        raise ValueError("%s must be at most %s, got %s" % (name, show(high), show(number)))
    return number


def checked_double(value: Any, name: str) -> float:
    """A real number as a C ``double``.

    Raises TypeError for anything but a real number, ValueError for an integer
    beyond the range of a double (``float()`` would raise OverflowError)."""
    if isinstance(value, BOOLS) or not isinstance(value, numbers.Real):
        raise TypeError("%s takes a number, not %r" % (name, value))
    try:
        return float(value)
    except OverflowError:
        raise ValueError("%s: %s is beyond the range of a double" % (name, show(value))) from None


def exact_double(value: int, name: str) -> float:
    """An integer as a ``double`` that holds it exactly (the library takes integer
    settings as doubles); ValueError for one that would be rounded."""
    number = checked_double(value, name)
    if number != value:
        raise ValueError("%s: %s is not exactly representable as a double (integers up to "
                         "2**53 are)" % (name, show(value)))
    return number
