"""One home for a run's names: larq_adam.vocabulary holds every choice list, and the
configuration, the command line and the implementations read it (the tables that implement
a name hold exactly the vocabulary's)."""
import ast
import pathlib

import pytest

import larq_adam as la
from larq_adam import vocabulary as words
from larq_adam.cli import main as cli
from larq_adam.models import pytorch_import
from larq_adam.training import resume

PACKAGE = pathlib.Path(la.__file__).parent


def _imported(path: pathlib.Path):
    """Every module ``path`` imports, at any level of the file (functions included)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_the_vocabulary_needs_nothing_but_the_standard_library():
    assert set(_imported(PACKAGE / "vocabulary.py")) <= {"typing.Dict", "typing.Tuple"}


def test_the_configuration_reads_names_from_the_vocabulary_not_from_the_modules_it_feeds():
    imported = set(_imported(PACKAGE / "config.py"))
    assert not [m for m in imported if m.startswith(("larq_adam.training", "larq_adam.models",
                                                     "larq_adam.export", "tensorflow"))]
    assert "larq_adam.vocabulary" in imported


def test_the_implementations_hold_exactly_the_vocabularys_names():
    assert la.models.available() == list(words.MODELS)
    assert [m for m in words.MODELS if la.models.is_teacher(m)] == list(words.TEACHERS)
    assert tuple(s.value for s in la.Stage) == words.STAGES
    assert la.training.optimizers.DEFAULT_LEARNING_RATES is words.DEFAULT_LEARNING_RATES
    assert la.training.distribute.STRATEGIES is words.STRATEGIES
    assert resume.ALLOW_CHANGES is words.ALLOW_CHANGES
    assert pytorch_import.SUPPORTED is words.PYTORCH_IMPORTABLE
    model = la.models.build_model("reactnet_a", "ba", input_shape=(32, 32, 3), num_classes=4,
                                  width=0.125)
    for name in words.OPTIMIZERS:
        for schedule in words.SCHEDULES:
            opt = la.training.make_optimizer(name, model=model, schedule=schedule, epochs=2,
                                             steps_per_epoch=3)
            assert opt is not None


def _choices(command: str):
    sub = cli.build_parser().subcommands[command]
    return {a.dest: tuple(a.choices) for a in sub.actions if a.choices}


def test_the_command_lines_choices_are_the_vocabularys():
    train = _choices("train")
    assert train["schedule"] == words.SCHEDULES and train["stage"] == words.STAGES
    assert train["order"] == tuple(words.ORDERS) and train["init"] == words.INITS
    assert train["select_on"] == words.SELECT_ON
    assert train["allow_changes"] == tuple(words.ALLOW_CHANGES)
    assert _choices("import")["model"] == words.PYTORCH_IMPORTABLE


def test_a_table_that_drifts_from_the_vocabulary_fails_at_import():
    words.same_names({"adam": 1, "sgd": 2}, ("adam", "sgd"), what="optimizers")
    with pytest.raises(AssertionError, match=r"optimizers: .*\['adam', 'lion'\].*\['adam'\]"):
        words.same_names({"adam": 1}, ("adam", "lion"), what="optimizers")
