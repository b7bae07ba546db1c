"""Helpers for hammer plugins written in Python (built with componentize-py).

Put this directory on the build's Python path (``componentize-py ...
componentize app -p . -p <hammer>/sdk/python``) and call the helpers from
the plugin's module.
"""

import enum

__all__ = ["fast_enums"]


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
