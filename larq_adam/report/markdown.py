"""``report.md`` of one run: the only writer of a training run's report.

:func:`make_report` reads the run folder (:mod:`larq_adam.report.read`), draws the figures
(:mod:`larq_adam.report.sections`), explains a final top-1 far below its best epoch's
(``## BN statistics``, :mod:`larq_adam.report.top1`), adds the ``## Model`` section from
the final model (:mod:`larq_adam.report.model`) and the ``## Export`` section from
``RUN/export.json`` (:mod:`larq_adam.report.export_section`), and writes ``report.md``
atomically, every link in it relative to its own folder.
"""
from pathlib import Path
from typing import List

from larq_adam.atomic import atomic_write_text
from larq_adam.errors import UserInputError
from larq_adam.report.export_section import EXPORT_FILE, export_section, read_export
from larq_adam.report.model import final_model_path, read_model_section
from larq_adam.report.read import PathLike, RunData, load_run
from larq_adam.report.sections import RUN_SECTIONS, FigureSections
from larq_adam.report.tables import summary_table
from larq_adam.report.top1 import selection_line
from larq_adam.report.top1 import bn_section

__all__ = ["REPORT_FILE", "make_report", "report_text"]

REPORT_FILE = "report.md"
_SETUP_KEYS = ("kind", "data", "model", "order", "init", "width", "epochs", "batch_size",
               "teacher", "pad_values", "strategy")


def _head(run: RunData) -> List[str]:
    """Title, the run's settings and the summary table (Tables 1, 4, 5's numbers)."""
    cfg = run.config
    setup = ", ".join(f"{k}={cfg[k]}" for k in _SETUP_KEYS if k in cfg)
    text = [f"# Run report: {run.dir.name}\n",
            f"Run folder `{run.dir.resolve()}`; {setup or 'no config.json'}.\n",
            "## Summary\n"]
    if run.steps or run.teacher:
        text.append(summary_table(run))
        text.append(selection_line(run))
    else:
        text.append("No training step in this folder (step/, step1/, step2/).\n")
    if "final_model" in cfg:
        text.append(f"Final model: `{cfg['final_model']}`.\n")
    return text


def report_text(run: RunData, sections: FigureSections, *, model: str = "",
                export: str = "") -> str:
    """The markdown of ``report.md``: the head, the ``## BN statistics`` section (when a
    step's final top-1 needs it), the figure sections, the model and export sections (each
    left out when empty) and the list of what is not shown."""
    bn = bn_section(run)
    text = _head(run) + ([bn] if bn else []) + sections.blocks
    text += [part for part in (model, export) if part]
    if sections.missing:
        text.append("## Not shown\n\n" + "".join(f"- {m}\n" for m in sections.missing))
    return "\n".join(text)


def _export_markdown(run: RunData, out: FigureSections) -> str:
    export = read_export(run.dir)
    if export is None:
        out.missing.append(f"export (no {EXPORT_FILE}; run larq-adam export on this folder)")
        return ""
    return export_section(export, run_dir=run.dir)


def make_report(run_dir: PathLike, *, trust_model: bool = False) -> Path:
    """Write ``run_dir/report.md`` and ``run_dir/figures/*.png``; returns ``report.md``.

    Sections: the configuration, a summary table (teacher / step top-1 final and best,
    top-5, FF and C2I ratios (Eq. 4-7, Table 1), weight decay, time per step), accuracy
    curves (Fig. 2), the first binary layer's input distribution with the saturation share
    (Fig. 3), CAM per kernel (Eq. 3, Fig. 4), update CAM (Fig. 5), latent weight
    distributions (Fig. 7), the FF ratio per epoch, the final model's summary, parameters
    and OPs (Table 3) and the export (``RUN/export.json``). What cannot be shown (records
    off, no model file, not exported) is listed under "Not shown". A folder without step
    folders is accepted when it holds a final model or ``export.json``. A final model with
    ``Lambda`` layers or unknown classes (code that runs on load) is not read unless
    ``trust_model``.
    """
    run = load_run(run_dir, require_steps=False)
    if not run.steps and not (final_model_path(run).exists()
                              or (run.dir / EXPORT_FILE).exists()):
        raise UserInputError(f"{run.dir} holds no step folder (step/, step1/, step2/), no "
                             f"final model and no {EXPORT_FILE}; is it a run folder written "
                             "by la.training.one_step / two_step?")
    sections = FigureSections(run.dir / "figures")
    for add in RUN_SECTIONS:
        add(run, sections)
    model, note = read_model_section(run, trust=trust_model)
    if note:
        sections.missing.append(note)
    export = _export_markdown(run, sections)
    path = run.dir / REPORT_FILE
    atomic_write_text(path, report_text(run, sections, model=model, export=export))
    return path
