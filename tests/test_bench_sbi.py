"""The data conversion of benchmarks/bench_sbi.py (cigars surveys -> sbi's fixed-size sets)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sbi")
_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sbi.py"
_spec = importlib.util.spec_from_file_location("bench_sbi", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _surveys(rng, n=4, n_max=10, n_feat=3, n_ctx=2):
    data = rng.normal(size=(n, n_max, n_feat))
    context = rng.normal(size=(n, n_max, n_ctx))
    mask = rng.random((n, n_max)) < 0.5
    mask[0] = False
    mask[0, [2, 7]] = True
    return data, mask, context


def test_compact_keeps_valid_objects_in_order():
    rng = np.random.default_rng(0)
    data, mask, context = _surveys(rng)
    feats, m = bench.compact_surveys(data, mask, context, n_rows=8)
    assert feats.shape == (4, 8, 5)
    for i in range(4):  # oracle: a plain loop over the valid rows
        valid = np.concatenate([data[i], context[i]], -1)[mask[i]]
        assert m[i].sum() == len(valid)
        np.testing.assert_allclose(feats[i, : len(valid)], valid, rtol=1e-6)
        assert np.all(feats[i, len(valid) :] == 0)


def test_compact_rejects_too_small_n_rows():
    data, mask, context = _surveys(np.random.default_rng(1))
    mask[1] = True
    with pytest.raises(ValueError, match="n_rows"):
        bench.compact_surveys(data, mask, context, n_rows=5)


def test_sbi_inputs_standardise_valid_rows_and_flag_padding():
    rng = np.random.default_rng(2)
    feats, m = bench.compact_surveys(*_surveys(rng, n=50), n_rows=10)
    x, mean, sd = bench.sbi_inputs(feats, m)
    assert x.shape == feats.shape[:2] + (feats.shape[-1] + 1,)
    np.testing.assert_array_equal(x[..., -1], m.astype(np.float32))
    np.testing.assert_allclose(x[..., :-1][m].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x[..., :-1][m].std(0), 1.0, atol=1e-4)
    assert np.all(x[..., :-1][~m] == 0)
