"""The main job as a script: two-step BABW training with Adam, LCE export, report.

The paper's scheme (Sec. 3.3.3) on the offline digits, as ``larq-adam train`` runs it:
a real-valued teacher; step 1 binary activations with weight decay 5e-6; step 2 fully
binary from step 1's best weights with decay 0, both distilled; then the LCE file is
checked against Keras and RUN_DIR/report.md is written. Run it again to resume.

    python recipes/two_step.py [RUN_DIR]
"""
import sys

import larq_adam as la  # before tensorflow: selects Keras 2
from larq_adam import presets


def main(run_dir: str = "runs/two_step", **changes) -> la.results.RunResult:
    config = presets.MAIN_JOB.replace(**changes)  # larq-adam train's defaults
    result = la.training.train(run_dir, config, resume="allow")
    exported = la.export.export_run(run_dir, config=config)  # final_model.h5, its own data
    print(f"LCE check {'PASSED' if exported.passed else 'FAILED'}; "
          f"report: {la.report.make_report(run_dir)}")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:2])
