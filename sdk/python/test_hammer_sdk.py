"""Tests of hammer_sdk (run by tests/all/polyglot.rs with the venv's Python)."""

import dataclasses
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


def option_value(case, value):
    """An option value as componentize-py's bindings make it: a dataclass `OptionValue_<Case>`."""
    cls = dataclasses.make_dataclass(f"OptionValue_{case}", [("value", object)])
    return cls(value)


class Options(unittest.TestCase):
    def options(self, known=("T_max", "eta_min", "by_epoch", "milestones")):
        pairs = [
            ("T_max", option_value("Integer", 10)),
            ("eta_min", option_value("Integer", 0)),
            ("by_epoch", option_value("Boolean", True)),
            ("milestones", option_value("Integers", [4, 8])),
        ]
        return hammer_sdk.Options(pairs, known)

    def test_values_are_read_as_their_type_with_defaults_for_absent_ones(self):
        opts = self.options()
        self.assertEqual(opts.integer("T_max", minimum=1), 10)
        eta_min = opts.number("eta_min", 0.5)
        self.assertEqual((eta_min, type(eta_min)), (0.0, float))
        # Given, it is converted even when it equals the default.
        self.assertIs(type(opts.number("eta_min", 0)), float)
        self.assertIs(opts.boolean("by_epoch", False), True)
        self.assertEqual(opts.numbers("milestones"), [4.0, 8.0])
        self.assertEqual(opts.integers("milestones"), [4, 8])
        self.assertEqual(opts.text("missing", "x"), "x")
        self.assertIsNone(opts.number("missing", None))
        self.assertIn("T_max", opts)
        self.assertNotIn("missing", opts)

    def test_mistakes_are_errors_that_name_the_option(self):
        opts = self.options()
        cases = [
            (lambda: opts.text("T_max"), "option `T_max` must be a text, found an integer (10)"),
            (lambda: opts.integer("T_max", minimum=11), "option `T_max` must be an integer >= 11, found 10"),
            (lambda: opts.number("by_epoch"), "option `by_epoch` must be a number, found a boolean (True)"),
            (lambda: opts.integer("absent"), "option `absent` is required (an integer)"),
        ]
        for read, message in cases:
            with self.assertRaises(hammer_sdk.Err) as caught:
                read()
            self.assertEqual(caught.exception.value, message)

    def test_an_unknown_option_names_the_closest_known_one(self):
        with self.assertRaises(hammer_sdk.Err) as caught:
            self.options(known=("T_max", "eta_min", "by_epoch", "milestone"))
        self.assertEqual(caught.exception.value,
                         "unknown option `milestones` (did you mean `milestone`?); "
                         "known options: T_max, eta_min, by_epoch, milestone")
        with self.assertRaises(hammer_sdk.Err) as caught:
            hammer_sdk.Options([("gamma", option_value("Float", 0.5))], ())
        self.assertEqual(caught.exception.value, "unknown option `gamma`; this plugin takes no options")


if __name__ == "__main__":
    unittest.main()
