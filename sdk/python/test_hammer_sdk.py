"""Tests of hammer_sdk (run by tests/all/polyglot.rs with the venv's Python)."""

import enum
import types
import unittest

import hammer_sdk


def bindings():
    """A module like componentize-py's `types`: WIT enums, a flag, another enum."""
    module = types.ModuleType("types")

    class Phase(enum.Enum):
        BEFORE_RUN = 0
        AFTER_TRAIN_ITER = 1
        AFTER_RUN = 2

    class Mode(enum.Enum):
        TRAIN = 0
        VAL = 1

    class Access(enum.Flag):
        READ = enum.auto()
        WRITE = enum.auto()

    class Color(enum.Enum):
        RED = "red"

    for cls in (Phase, Mode, Access, Color):
        setattr(module, cls.__name__, cls)
    return module


class FastEnums(unittest.TestCase):
    def test_lifting_by_index_gives_the_members(self):
        m = bindings()
        hammer_sdk.fast_enums(m)
        self.assertIs(m.Phase(1), m.Phase.AFTER_TRAIN_ITER)
        self.assertIs(m.Mode(0), m.Mode.TRAIN)
        with self.assertRaises(IndexError):
            m.Phase(3)

    def test_everything_else_about_the_enum_is_unchanged(self):
        m = bindings()
        hammer_sdk.fast_enums(m)
        self.assertEqual(list(m.Phase), [m.Phase.BEFORE_RUN, m.Phase.AFTER_TRAIN_ITER, m.Phase.AFTER_RUN])
        self.assertIs(m.Phase["AFTER_RUN"], m.Phase.AFTER_RUN)
        self.assertIsInstance(m.Phase.AFTER_RUN, m.Phase)
        self.assertEqual(m.Phase.AFTER_RUN.name, "AFTER_RUN")
        self.assertEqual(m.Phase.AFTER_RUN.value, 2)
        self.assertNotEqual(m.Phase.BEFORE_RUN, m.Mode.TRAIN)

    def test_flags_and_enums_not_from_wit_are_left_alone(self):
        m = bindings()
        before = (type(m.Access), type(m.Color))
        hammer_sdk.fast_enums(m)
        self.assertEqual((type(m.Access), type(m.Color)), before)
        self.assertIs(m.Color("red"), m.Color.RED)
        self.assertEqual(m.Access(3), m.Access.READ | m.Access.WRITE)

    def test_applying_twice_is_harmless(self):
        m = bindings()
        hammer_sdk.fast_enums(m)
        meta = type(m.Phase)
        hammer_sdk.fast_enums(m)
        self.assertIs(type(m.Phase), meta)
        self.assertIs(m.Phase(2), m.Phase.AFTER_RUN)


if __name__ == "__main__":
    unittest.main()
