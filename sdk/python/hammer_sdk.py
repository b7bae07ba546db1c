"""Helpers for hammer plugins written in Python (built with componentize-py).

Put this directory on the build's Python path (``componentize-py ...
componentize app -p . -p <hammer>/sdk/python``) and call the helpers from
the plugin's module: ``fast_enums`` once at import, ``Options`` in ``setup``.
"""

import enum

try:
    from componentize_py_types import Err
except ImportError:  # Outside a componentize-py build (the unit tests).

    class Err(Exception):
        """componentize-py's error of a WIT ``result``, as the unit tests see it."""

        def __init__(self, value):
            super().__init__(value)
            self.value = value


__all__ = ["fast_enums", "Options", "Err"]

# A getter's default meaning "the option must be given".
REQUIRED = object()

# An option-value case (componentize-py's class `OptionValue_<Case>`), for messages.
_WHAT = {
    "Boolean": "a boolean", "Integer": "an integer", "Float": "a number", "Text": "a text",
    "Integers": "a list of integers", "Floats": "a list of numbers", "Texts": "a list of texts",
}


class Options:
    """A plugin's options, as ``setup`` receives them (``(name, value)``
    pairs, each value a ``types.OptionValue_<Case>``), read by name as the
    type the plugin expects. Mistakes raise ``Err`` (``setup`` then returns
    the message to hammer, which names the plugin) in the Rust SDK's words::

        opts = hammer_sdk.Options(options, known=("T_max", "eta_min"))
        t_max = opts.integer("T_max", minimum=1)      # required
        eta_min = opts.number("eta_min", 0.0)         # an integer is accepted
    """

    def __init__(self, pairs, known):
        """Keeps ``pairs`` (the last of a repeated name wins); an option
        whose name is not in ``known`` is an ``Err`` naming the closest one."""
        self._values = {}
        for key, value in pairs:
            if key not in known:
                close = _closest(key, known)
                hint = f" (did you mean `{close}`?)" if close else ""
                names = f"known options: {', '.join(known)}" if known else "this plugin takes no options"
                raise Err(f"unknown option `{key}`{hint}; {names}")
            self._values[key] = value

    def __contains__(self, key):
        return key in self._values

    def _get(self, key, default, cases, expected, convert=None):
        """The value of ``key`` if its case is one of ``cases``, passed
        through ``convert``; ``default`` when absent."""
        value = self._values.get(key)
        if value is None:
            if default is REQUIRED:
                raise Err(f"option `{key}` is required ({expected})")
            return default
        case = type(value).__name__.rpartition("_")[2]
        if case not in cases:
            found = f"{_WHAT[case]} ({value.value!r})" if case in _WHAT else repr(value)
            raise Err(f"option `{key}` must be {expected}, found {found}")
        return value.value if convert is None else convert(value.value)

    def number(self, key, default=REQUIRED):
        """``key`` as a float (an integer is accepted)."""
        return self._get(key, default, ("Float", "Integer"), "a number", float)

    def integer(self, key, default=REQUIRED, minimum=None):
        """``key`` as an int, at least ``minimum`` if given."""

        def at_least(value):
            if minimum is not None and value < minimum:
                raise Err(f"option `{key}` must be an integer >= {minimum}, found {value}")
            return value

        return self._get(key, default, ("Integer",), "an integer", at_least)

    def boolean(self, key, default=REQUIRED):
        """``key`` as a bool."""
        return self._get(key, default, ("Boolean",), "a boolean")

    def text(self, key, default=REQUIRED):
        """``key`` as a str."""
        return self._get(key, default, ("Text",), "a text")

    def numbers(self, key, default=REQUIRED):
        """``key`` as a list of floats (a list of integers is accepted)."""
        return self._get(key, default, ("Floats", "Integers"), "a list of numbers", lambda v: [float(x) for x in v])

    def integers(self, key, default=REQUIRED):
        """``key`` as a list of ints."""
        return self._get(key, default, ("Integers",), "a list of integers")

    def texts(self, key, default=REQUIRED):
        """``key`` as a list of strs."""
        return self._get(key, default, ("Texts",), "a list of texts")


def _edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        cur = [i + 1]
        for j, cb in enumerate(b):
            cur.append(min(prev[j] + (ca != cb), prev[j + 1] + 1, cur[j] + 1))
        prev = cur
    return prev[-1]


def _closest(name, known):
    """The name in ``known`` closest to ``name`` (ignoring case), if close
    enough to be a typo (as the Rust SDK's ``closest_name``)."""
    scored = [(_edit_distance(name.lower(), k.lower()), k) for k in known]
    scored = [(d, k) for d, k in scored if d <= max(2, len(k) // 3)]
    return min(scored, key=lambda s: s[0])[1] if scored else None


def fast_enums(*modules):
    """Makes lifting the WIT enums of ``modules`` (e.g. the bindings'
    ``wit_world.imports.types``) a C-level tuple lookup.

    componentize-py lifts a WIT enum (a hook's ``phase``, the ``phase`` and
    ``mode`` of a ``step-info``) by calling its Python ``Enum`` class with the
    case's index, which runs two Python frames of the ``enum`` module per
    value: with hammer:plugin 0.1, whose hook calls carried a step-info,
    about a quarter of a Python hook's call into hammer. Each enum class
    gets a metaclass whose call is its members' tuple's ``__getitem__``, so
    ``Phase(3)`` returns the fourth member directly. Members, names,
    iteration, ``Phase["AFTER_RUN"]`` and ``isinstance`` are unchanged; only
    calling the class with something other than a case's index (its own
    member, a name) no longer works.

    Enums whose values are not ``0..n-1`` in declaration order (not
    generated from WIT) are left alone, as are ``Flag`` classes.
    """
    for module in modules:
        for value in list(vars(module).values()):
            if _is_wit_enum(value):
                _index_by_value(value)


def _is_wit_enum(cls):
    if not (isinstance(cls, type) and issubclass(cls, enum.Enum)) or issubclass(cls, enum.Flag):
        return False
    members = tuple(cls)
    return bool(members) and all(m.value == i for i, m in enumerate(members))


def _index_by_value(cls):
    if type(cls).__name__.endswith("ByIndex"):
        return
    members = tuple(cls)
    # A staticmethod: the call gets the index alone, not the class.
    meta = type(f"{cls.__name__}ByIndex", (type(cls),), {"__call__": staticmethod(members.__getitem__)})
    cls.__class__ = meta
