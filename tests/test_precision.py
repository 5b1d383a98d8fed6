"""``models.precision``: a bfloat16 model built where bfloat16 is emulated (an x86 CPU
without bf16 units, no GPU or TPU) warns in one line; elsewhere it stays quiet."""
import warnings

import pytest

import larq_adam as la
from larq_adam.models import precision

_X86 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni{}\n\n"


def _cpuinfo(tmp_path, text):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("extra, want", [("", False), (" avx512_bf16", True),
                                         (" amx_tile amx_bf16", True)])
def test_x86_flags_say_whether_the_cpu_has_bf16_units(tmp_path, extra, want):
    assert precision.cpu_has_bf16_units(_cpuinfo(tmp_path, _X86.format(extra))) is want


def test_a_cpuinfo_without_x86_flags_or_no_file_is_unknown(tmp_path):
    arm = _cpuinfo(tmp_path, "processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert precision.cpu_has_bf16_units(arm) is None
    assert precision.cpu_has_bf16_units(str(tmp_path / "missing")) is None


def test_build_model_warns_for_emulated_bf16_only(tmp_path, monkeypatch):
    kw = dict(input_shape=(32, 32, 3), num_classes=10, width=0.125)
    monkeypatch.setattr(precision, "accelerator_visible", lambda: False)
    monkeypatch.setattr(precision, "CPUINFO", _cpuinfo(tmp_path, _X86.format("")))
    with pytest.warns(precision.EmulatedBfloat16Warning, match="no bf16 units.*dtype_policy=None"):
        la.models.build_model("strong_baseline", "bnn", dtype_policy="mixed_bfloat16", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", precision.EmulatedBfloat16Warning)
        la.models.build_model("strong_baseline", "bnn", dtype_policy="float64", **kw)
        monkeypatch.setattr(precision, "accelerator_visible", lambda: True)  # a GPU: native
        la.models.build_model("strong_baseline", "bnn", dtype_policy="mixed_bfloat16", **kw)
        monkeypatch.setattr(precision, "accelerator_visible", lambda: False)
        monkeypatch.setattr(precision, "CPUINFO", _cpuinfo(tmp_path, _X86.format(" amx_bf16")))
        la.models.build_model("strong_baseline", "bnn", dtype_policy="mixed_bfloat16", **kw)
