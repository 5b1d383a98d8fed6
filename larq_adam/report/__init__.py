"""Figures and tables like the paper's, from a run folder's records.

:func:`make_report` turns one run folder (``la.training.one_step`` / ``two_step``, layout in
:mod:`larq_adam.training.run`) into ``report.md`` and ``figures/*.png`` (each written
atomically); it is the only writer of a run's ``report.md``, whose links are relative to
its own folder. :func:`compare` puts several runs in one figure and one table (the
comparison experiments: Tables 1, 4, 5 and Fig. 2 and 8). A damaged ``result.json``,
``config.json``, ``history.csv`` or ``export.json`` gives one line naming it
(:class:`~larq_adam.errors.CorruptFileError`)::

    import larq_adam as la
    la.report.make_report("runs/two_step")                       # runs/two_step/report.md
    la.report.compare({"Adam": "runs/f2/adam", "SGD": "runs/f2/sgd"}, "runs/f2", kind="curves")

The parts, one job each:

* :mod:`~larq_adam.report.read` - the run folder as typed data (:func:`load_run`).
* :mod:`~larq_adam.report.series` - the numbers each figure takes, from records and history.
* :mod:`~larq_adam.report.figures` - the figure builders (Fig. 2-8, FF ratio) and
  :func:`save_figure`.
* :mod:`~larq_adam.report.tables` - markdown tables: :func:`summary_table`, the comparison
  tables, :func:`markdown_table` / :func:`parse_markdown_table`.
* :mod:`~larq_adam.report.top1` - a step's test top-1 as people read it: epochs 1-based,
  a final top-1 far below the best explained (``## BN statistics``).
* :mod:`~larq_adam.report.model` - the final model's summary (collapsed), parameters and
  OPs (Table 3).
* :mod:`~larq_adam.report.export_section` - the ``## Export`` section from ``export.json``,
  naming the verification criterion that decided it (:func:`verification_verdict`).
* :mod:`~larq_adam.report.sections`, :mod:`~larq_adam.report.markdown` - one run's report.
* :mod:`~larq_adam.report.comparison` - several runs' report.
"""
from larq_adam.report.comparison import compare
from larq_adam.report.export_section import (EXPORT_HEADING, export_section, read_export,
                                             verification_verdict)
from larq_adam.report.figures import (accuracy_figure, activation_figure, cam_figure,
                                      ff_figure, lr_sweep_figure, save_figure,
                                      toy_landscape_figure, update_cam_figure, weight_figure)
from larq_adam.report.markdown import make_report
from larq_adam.report.model import (ModelFacts, model_facts, model_section, paper_ops,
                                    summary_block)
from larq_adam.report.read import RunData, StepData, load_run
from larq_adam.report.tables import (COMPARE_KINDS, SUMMARY_HEADERS, comparison_table,
                                     markdown_table, parse_markdown_table, summary_table)
from larq_adam.report.top1 import FAR_BELOW, bn_section, best_epoch

__all__ = [
    "COMPARE_KINDS",
    "EXPORT_HEADING",
    "FAR_BELOW",
    "SUMMARY_HEADERS",
    "ModelFacts",
    "RunData",
    "StepData",
    "load_run",
    "make_report",
    "compare",
    "comparison_table",
    "markdown_table",
    "parse_markdown_table",
    "summary_table",
    "export_section",
    "read_export",
    "verification_verdict",
    "bn_section",
    "best_epoch",
    "model_facts",
    "model_section",
    "paper_ops",
    "summary_block",
    "accuracy_figure",
    "activation_figure",
    "cam_figure",
    "update_cam_figure",
    "weight_figure",
    "ff_figure",
    "lr_sweep_figure",
    "toy_landscape_figure",
    "save_figure",
]
