"""The report's ``## Model`` section: Larq's summary, parameters and Table 3's OPs."""
import json

import larq as lq
import pytest
import tensorflow as tf

from larq_adam import report
from test_report import fake_two_step_run


def tiny_bnn():
    """8x8x3 -> real 3x3 conv (8) -> fully binary 3x3 conv (16) -> pool -> FC (10).

    MACs per image: stem 64 px * 8 * 27 = 13,824 and FC 16 * 10 = 160 (FLOPs 13,984);
    binary conv 64 px * 16 * 72 = 73,728 (BOPs). Parameters: stem 216, binary kernel 1,152,
    FC 170 (1,538 in all).
    """
    x = inputs = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(x)
    x = lq.layers.QuantConv2D(16, 3, padding="same", use_bias=False, name="bconv",
                              input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                              kernel_constraint="weight_clip")(x)
    x = tf.keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(10, name="fc")(x), name="tiny_bnn")


def test_paper_ops_are_flops_plus_bops_over_64():
    # Table 3, ReActNet-A: 4.82e9 BOPs and 0.12e8 FLOPs give 0.87e8 OPs
    assert report.paper_ops(4.82e9, 0.12e8) == pytest.approx(0.873e8, rel=1e-3)
    # Table 3, StrongBaseline + our training strategy: 1.68e9 and 1.54e8 give 1.80e8
    assert report.paper_ops(1.68e9, 1.54e8) == pytest.approx(1.80e8, rel=2e-3)


def test_model_facts_count_parameters_and_table3_ops():
    facts = report.model_facts(tiny_bnn())
    assert (facts.total_params, facts.latent_params, facts.other_params) == (1538, 1152, 386)
    assert facts.trainable_params == 1538
    assert (facts.binary_macs, facts.float_macs) == (73_728, 13_984)
    assert facts.ops == 13_984 + 73_728 / 64
    assert facts.elementwise > 0  # the pooling
    assert "bconv" in facts.summary and "tiny_bnn summary" in facts.summary


def test_report_has_the_model_section_when_the_final_model_exists(tmp_path):
    run = fake_two_step_run(tmp_path)
    tiny_bnn().save(run / "final_model.h5")
    text = report.make_report(run).read_text()
    section = text[text.index("## Model"):]
    assert "`final_model.h5` (`tiny_bnn`): 1,538 parameters (1,538 trainable), 1,152 of them " \
           "the latent" in section
    assert "386 others" in section
    headers, rows = report.parse_markdown_table(section)
    assert headers[:3] == ["BOPs (binary MACs)", "FLOPs (real MACs)", "OPs = FLOPs + BOPs/64"]
    assert rows[0][:3] == ["7.373e+04", "1.398e+04", "1.514e+04"]
    facts = report.model_facts(tiny_bnn())
    n = len(facts.summary.splitlines())
    block = section[section.index("<details>"):section.index("</details>")]
    assert block.startswith(f"<details><summary>Model summary ({n} lines)</summary>\n\n"
                            "```text\n")
    assert "bconv" in block and block.count("```") == 2
    assert text.index("Fig. 7") < text.index("## Model")
    assert "model summary and OPs" not in text


@pytest.mark.parametrize("content,note", [
    (None, "model summary and OPs (no final_model.h5)"),
    (b"not an hdf5 file", "model summary and OPs (final_model.h5 cannot be read: "),
])
def test_report_notes_a_missing_or_unreadable_model_in_one_line(tmp_path, content, note):
    run = fake_two_step_run(tmp_path)
    if content is not None:
        (run / "final_model.h5").write_bytes(content)
    text = report.make_report(run).read_text()
    assert "## Model" not in text and "## Summary" in text
    (line,) = [ln for ln in text.splitlines() if ln.startswith("- model summary")]
    assert line.startswith("- " + note)


def test_the_model_named_in_config_json_is_summarised(tmp_path):
    (tmp_path / "models").mkdir()
    tiny_bnn().save(tmp_path / "models" / "net.h5")
    (tmp_path / "config.json").write_text(json.dumps({"final_model": "models/net.h5"}))
    text = report.make_report(tmp_path).read_text()
    assert "`models/net.h5` (`tiny_bnn`): 1,538 parameters" in text


def test_a_failed_larq_summary_stays_one_plain_line():
    line = "lq.models.summary failed: ValueError: a layer Larq cannot profile"
    assert report.summary_block(line) == line
    assert report.summary_block("a\nb").startswith("<details><summary>Model summary (2 lines)")
