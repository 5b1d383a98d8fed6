"""GitHub markdown tables: the run summary and the comparison tables (Tables 1, 4, 5).

:func:`markdown_table` writes a table and :func:`parse_markdown_table` reads the first one
of a text back (the tests and recipes check reports with it).
"""
import re
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

from larq_adam.errors import UserInputError
from larq_adam.formats import fix, num, pct, sci
from larq_adam.report.read import RunData, StepData
from larq_adam.report.series import run_curve
from larq_adam.report.top1 import best_cell, final_cell

__all__ = ["COMPARE_KINDS", "SUMMARY_HEADERS", "markdown_table", "parse_markdown_table",
           "summary_table", "comparison_table"]

#: The comparison tables :func:`comparison_table` (and ``compare``) can write.
COMPARE_KINDS = ("curves", "weight_decay", "order", "optimizer", "lr_sweep")
SUMMARY_HEADERS = ("step", "stage", "optimizer", "learning rate", "weight decay", "epochs",
                   "top-1 (%)", "best top-1 (%)", "top-5 (%)", "FF ratio", "C2I ratio",
                   "time (s)")
_SEPARATOR = re.compile(r"\|(\s*:?-{3,}:?\s*\|)+")


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; raises ``ValueError`` when a row has the wrong length."""
    if not headers:
        raise UserInputError("a table needs at least one column header")
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise UserInputError(f"row {i} has {len(row)} cells for {len(headers)} columns: "
                                 f"{row}")
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _split_row(line: str) -> List[str]:
    inner = line.strip()[1:-1] if line.endswith("|") else line[1:]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _first_table_lines(text: str) -> List[str]:
    lines = [ln.strip() for ln in text.splitlines()]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("|")), None)
    if start is None:
        raise UserInputError("no markdown table (no line starting with '|') in the text")
    block = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        block.append(ln)
    return block


def parse_markdown_table(text: str) -> Tuple[List[str], List[List[str]]]:
    """The first markdown table in ``text`` as ``(headers, rows)``.

    Raises ``ValueError`` when there is no table, the separator line is missing or a row's
    cell count differs from the header's.
    """
    block = _first_table_lines(text)
    if len(block) < 2 or not _SEPARATOR.fullmatch(block[1].replace(" ", "")):
        raise UserInputError("markdown table without a '|---|' separator line under its header")
    headers = _split_row(block[0])
    if len(_split_row(block[1])) != len(headers):
        raise UserInputError("separator line and header have different numbers of columns")
    rows = [_split_row(ln) for ln in block[2:]]
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise UserInputError(f"table row {i} has {len(row)} cells for {len(headers)} "
                                 "columns")
    return headers, rows


def _summary_row(s: StepData) -> List[Any]:
    return [s.name, s.setting("stage", "-"), s.setting("optimizer", "-"),
            num(s.setting("learning_rate")), num(s.setting("weight_decay")),
            s.setting("epochs", len(s.history)),
            final_cell(s), best_cell(s), pct(s.measured("test_top5")),
            sci(s.measured("ff_ratio")), fix(s.measured("c2i_ratio")),
            fix(s.measured("seconds"), 0)]


def summary_table(run: RunData) -> str:
    """The run's numbers, one row per step (teacher first): stage, optimizer, learning rate,
    weight decay, test top-1 of the final weights (moving BN statistics; the re-estimated
    statistics' beside it when measured, and a note when far below the best epoch, see
    :func:`larq_adam.report.top1.final_cell`) and of the best epoch's with that epoch,
    1-based (``epoch 2 of 3``; two-step's step 2 starts from step 1's best), top-5, FF
    ratio (Eq. 4-5, the mean over the step's iterations, Table 1), C2I ratio (Eq. 6-7,
    final vs the step's initial latent weights, Table 1) and the step's time in seconds
    (all processes of a resumed step, up to its last checkpoint). An unfinished step shows
    its settings and ``-`` for its numbers."""
    return markdown_table(SUMMARY_HEADERS, [_summary_row(s) for s in run.all_steps()])


def _weight_decay_table(runs: Mapping[str, RunData]) -> str:
    """Table 1: weight decay of each step | FF ratio | C2I ratio | top-1."""
    rows = []
    for label, run in runs.items():
        wd = " / ".join(f"{s.name}: {num(s.setting('weight_decay'))}" for s in run.steps)
        last = run.last
        rows.append([label, wd, sci(last.measured("ff_ratio")),
                     fix(last.measured("c2i_ratio")), pct(last.measured("test_accuracy"))])
    return markdown_table(["run", "weight decay", "FF ratio", "C2I ratio", "top-1 (%)"], rows)


def _top1_top5_table(first_header: str) -> Callable[[Mapping[str, RunData]], str]:
    """Table 4 (``order``) and Table 5 (``optimizer``): label | top-1 | top-5."""
    def table(runs: Mapping[str, RunData]) -> str:
        rows = [[label, pct(run.last.measured("test_accuracy")),
                 pct(run.last.measured("test_top5"))] for label, run in runs.items()]
        return markdown_table([first_header, "top-1 (%)", "top-5 (%)"], rows)
    return table


def _lr_sweep_table(runs: Mapping[str, RunData]) -> str:
    """Fig. 8's numbers: optimizer | initial learning rate | top-1 | top-5."""
    rows = [[label, run.last.setting("optimizer", "-"), num(run.last.setting("learning_rate")),
             pct(run.last.measured("test_accuracy")), pct(run.last.measured("test_top5"))]
            for label, run in runs.items()]
    return markdown_table(["run", "optimizer", "initial LR", "top-1 (%)", "top-5 (%)"], rows)


def _curves_table(runs: Mapping[str, RunData]) -> str:
    """Fig. 2's end points: final train / validation top-1 and the test top-1 / top-5."""
    rows = []
    for label, run in runs.items():
        c = run_curve(run)
        rows.append([label, run.last.setting("optimizer", "-"),
                     pct(c["train"][-1] if c["train"] else None),
                     pct(c["val"][-1] if c["val"] else None),
                     pct(run.last.measured("test_accuracy")), pct(run.last.measured("test_top5"))])
    return markdown_table(["run", "optimizer", "final train top-1 (%)", "final val top-1 (%)",
                           "test top-1 (%)", "test top-5 (%)"], rows)


_TABLES: Dict[str, Callable[[Mapping[str, RunData]], str]] = {
    "weight_decay": _weight_decay_table,
    "order": _top1_top5_table("order"),
    "optimizer": _top1_top5_table("optimizer"),
    "lr_sweep": _lr_sweep_table,
    "curves": _curves_table,
}


def comparison_table(kind: str, runs: Mapping[str, RunData]) -> str:
    """The comparison table of ``kind`` (one of :data:`COMPARE_KINDS`) over labelled runs,
    each run's numbers those of its last step: ``"weight_decay"`` Table 1, ``"order"``
    Table 4, ``"optimizer"`` Table 5, ``"lr_sweep"`` Fig. 8, ``"curves"`` Fig. 2."""
    if kind not in _TABLES:
        raise UserInputError(f"unknown comparison kind {kind!r}; valid kinds: {COMPARE_KINDS}")
    return _TABLES[kind](runs)
