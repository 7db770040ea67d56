"""The galaxy bank file: contents, determinism, interruption and resumption, refusals, errors."""

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from cigars.hosts._bank import BANK_FORMAT, Bank, load_bank, write_bank
from cigars.hosts._hosts_config import BankConfig, ProspectorBetaConfig
from cigars.hosts._params import HostParams
from cigars.hosts._priors import prospector_beta_prior, sample_hosts
from cigars.hosts._sfh import logsfr_ratios_to_log_masses, sfh_log_age_edges

N, CHUNK, SEED = 250, 100, 7
BANDS = ("u", "g", "r")
FIELDS = tuple(HostParams.__dataclass_fields__)
DATASETS = (*FIELDS, "sfh_log_age_edges", "sfh_log_mass", "abs_mag")


@pytest.fixture(scope="module")
def prior():
    return prospector_beta_prior()


@jax.jit
def fake_magnitudes(hosts, edges, log_masses):
    """A cheap stand-in photometry: brighter with mass, redder with dust and redshift."""
    base = -2.5 * hosts.logmass + 5.0
    young = log_masses[:, 0] - hosts.logmass
    return jnp.stack(
        [base + 2.0 * hosts.dust2 - young, base + hosts.dust2 + hosts.z, base + 0.5 * edges[:, -1]],
        axis=-1,
    )


@jax.jit
def _sfh(hosts):
    edges = sfh_log_age_edges(hosts.z)
    return edges, logsfr_ratios_to_log_masses(hosts.logmass, hosts.logsfr_ratios, edges)


def fake_surviving(hosts, edges, log_masses):
    return hosts.logmass - 0.2


class Crash(RuntimeError):
    pass


def crashing_after(k):
    """A magnitudes function that raises on its (k+1)-th call, i.e. while doing chunk k."""
    calls = {"n": 0}

    def fn(hosts, edges, log_masses):
        if calls["n"] == k:
            raise Crash(f"simulated crash in chunk {k}")
        calls["n"] += 1
        return fake_magnitudes(hosts, edges, log_masses)

    return fn, calls


def _write(path, prior, fn=fake_magnitudes, **kw):
    args = dict(n=N, chunk_size=CHUNK, seed=SEED, progress=False)
    args.update(kw)
    return write_bank(path, prior, fn, BANDS, **args)


def _read_all(path):
    with h5py.File(path, "r") as f:
        return {name: f[name][...] for name in f}, dict(f.attrs)


@pytest.fixture(scope="module")
def reference_bank(prior, tmp_path_factory):
    path = tmp_path_factory.mktemp("bank") / "reference.h5"
    _write(path, prior, surviving_logmass_fn=fake_surviving, metadata={"git_sha": "abc"})
    return path


def test_contents_equal_the_prior_draws_and_photometry(prior, reference_bank):
    bank = load_bank(reference_bank)
    assert isinstance(bank, Bank) and len(bank) == N and bank.band_names == BANDS
    hosts = sample_hosts(jax.random.key(SEED), N, prior)
    for name in FIELDS:
        np.testing.assert_allclose(
            getattr(bank.hosts, name), getattr(hosts, name), rtol=2e-6, atol=1e-6
        )
    edges, log_m = _sfh(bank.hosts)
    np.testing.assert_allclose(bank.sfh_log_age_edges, edges, rtol=1e-6)
    np.testing.assert_allclose(bank.sfh_log_mass, log_m, atol=1e-5)
    np.testing.assert_allclose(
        bank.abs_mag,
        fake_magnitudes(bank.hosts, bank.sfh_log_age_edges, bank.sfh_log_mass),
        atol=1e-5,
    )
    np.testing.assert_allclose(bank.logmass_surviving, bank.hosts.logmass - 0.2, atol=1e-6)


def test_attributes_record_config_bands_and_provenance(prior, reference_bank):
    _, attrs = _read_all(reference_bank)
    assert attrs["format"] == BANK_FORMAT and bool(attrs["complete"])
    assert [str(b) for b in attrs["band_names"]] == list(BANDS)
    config = yaml.safe_load(attrs["config"])
    assert config["bank"] == {"n_galaxies": N, "chunk_size": CHUNK, "seed": SEED}
    assert config["hosts"]["type"] == "prospector_beta"
    assert config["hosts"]["z_max"] == prior.config.z_max
    assert config["logmass_surviving"] is True
    assert yaml.safe_load(attrs["provenance"]) == {"git_sha": "abc"}


def test_same_seed_gives_identical_files(prior, reference_bank, tmp_path):
    data_ref, _ = _read_all(reference_bank)
    again = _write(tmp_path / "again.h5", prior, surviving_logmass_fn=fake_surviving)
    data, _ = _read_all(again)
    assert data.keys() == data_ref.keys()
    for name in data:
        np.testing.assert_array_equal(data[name], data_ref[name], err_msg=name)


def test_other_chunking_gives_the_same_galaxies(prior, reference_bank, tmp_path):
    """Galaxy g uses fold_in(key, g): contents do not depend on chunk_size (up to round-off)."""
    data_ref, _ = _read_all(reference_bank)
    other = _write(tmp_path / "other.h5", prior, chunk_size=N)
    data, _ = _read_all(other)
    for name in DATASETS:
        np.testing.assert_allclose(data[name], data_ref[name], rtol=2e-6, atol=2e-6, err_msg=name)
    assert "logmass_surviving" not in data
    assert load_bank(other).logmass_surviving is None


def test_interrupted_write_resumes_to_the_same_bank(prior, reference_bank, tmp_path):
    path = tmp_path / "bank.h5"
    partial = tmp_path / "bank.h5.partial"
    crash_fn, calls = crashing_after(2)
    with pytest.raises(Crash):
        _write(path, prior, crash_fn, surviving_logmass_fn=fake_surviving)
    assert not path.exists() and partial.exists()
    with h5py.File(partial, "r") as f:
        np.testing.assert_array_equal(f["chunk_done"][...], [1, 1, 0])
        assert not bool(f.attrs["complete"])
    with pytest.raises(FileNotFoundError, match="unfinished"):
        load_bank(path)
    with pytest.raises(ValueError, match="unfinished"):
        load_bank(partial)

    resume_fn, resume_calls = crashing_after(-1)  # never crashes; counts its calls
    _write(path, prior, resume_fn, surviving_logmass_fn=fake_surviving)
    assert resume_calls["n"] == 1  # only the unfinished chunk was photometered
    assert path.exists() and not partial.exists()
    data, _ = _read_all(path)
    data_ref, _ = _read_all(reference_bank)
    for name in data_ref:
        np.testing.assert_array_equal(data[name], data_ref[name], err_msg=name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": SEED + 1}, "bank.seed"),
        ({"chunk_size": 50}, "bank.chunk_size"),
        ({"config": {"sps": "other"}}, "extra.sps"),
        ({"surviving_logmass_fn": None}, "logmass_surviving"),
    ],
)
def test_resume_refuses_other_settings(prior, tmp_path, change, message):
    path = tmp_path / "bank.h5"
    crash_fn, _ = crashing_after(1)
    with pytest.raises(Crash):
        _write(path, prior, crash_fn, surviving_logmass_fn=fake_surviving)
    kwargs = {"surviving_logmass_fn": fake_surviving, **change}
    with pytest.raises(ValueError, match=message):
        _write(path, prior, **kwargs)
    assert not path.exists()


def test_resume_refuses_another_prior(prior, tmp_path):
    path = tmp_path / "bank.h5"
    crash_fn, _ = crashing_after(1)
    with pytest.raises(Crash):
        _write(path, prior, crash_fn)
    other = prior.replace(config=ProspectorBetaConfig(z_max=1.4))
    with pytest.raises(ValueError, match="hosts.z_max"):
        _write(path, other)


def test_existing_bank_is_not_overwritten_without_permission(prior, reference_bank, tmp_path):
    path = tmp_path / "bank.h5"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _write(path, prior)
    assert path.read_bytes() == b"precious"
    _write(path, prior, overwrite=True, surviving_logmass_fn=fake_surviving)
    data, _ = _read_all(path)
    np.testing.assert_array_equal(data["abs_mag"], _read_all(reference_bank)[0]["abs_mag"])


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no galaxy bank"):
        load_bank(tmp_path / "missing.h5")
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    with pytest.raises(ValueError, match="not a readable HDF5"):
        load_bank(corrupt)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["z"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a cigars galaxy bank"):
        load_bank(foreign)


def test_corrupt_partial_file_is_refused(prior, tmp_path):
    path = tmp_path / "bank.h5"
    (tmp_path / "bank.h5.partial").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="delete it to start over"):
        _write(path, prior)


def test_bad_arguments_and_wrong_shapes(prior, tmp_path):
    with pytest.raises(ValueError, match="band_names"):
        write_bank(tmp_path / "a.h5", prior, fake_magnitudes, [], n=10, chunk_size=5, seed=0)
    with pytest.raises(ValueError, match="chunk_size"):
        _write(tmp_path / "b.h5", prior, chunk_size=0)
    with pytest.raises(ValueError, match=r"magnitudes_fn returned shape \(100, 2\)"):
        _write(tmp_path / "c.h5", prior, lambda h, e, m: fake_magnitudes(h, e, m)[:, :2])


def test_bank_is_a_pytree(reference_bank):
    bank = load_bank(reference_bank)
    brightest = jax.jit(lambda b: jnp.min(b.abs_mag, axis=0))(bank)
    assert brightest.shape == (len(BANDS),)
    assert jax.tree.structure(bank).num_leaves == len(FIELDS) + 4


def test_bank_config_defaults():
    cfg = BankConfig()
    assert (cfg.n_galaxies, cfg.chunk_size, cfg.seed) == (1_000_000, 20_000, 0)


def test_weighted_copy_carries_the_weights_and_leaves_the_source(reference_bank, tmp_path):
    from cigars.hosts import write_weighted_bank
    from cigars.survey import HostTable

    before = reference_bank.read_bytes()
    w = np.linspace(-2.0, 0.0, N)
    out = write_weighted_bank(reference_bank, tmp_path / "w.h5", w, metadata={"why": "test"})
    assert reference_bank.read_bytes() == before
    assert load_bank(reference_bank).ln_weight is None
    bank = load_bank(out)
    np.testing.assert_allclose(bank.ln_weight, w, rtol=1e-6)
    # Everything else is the source bank's, and the simulator's host table reads the weights.
    np.testing.assert_array_equal(bank.abs_mag, load_bank(reference_bank).abs_mag)
    np.testing.assert_allclose(HostTable.from_bank(bank).ln_weight, w, rtol=1e-6)
    with h5py.File(out, "r") as f:
        assert yaml.safe_load(f.attrs["ln_weight_provenance"]) == {"why": "test"}
    assert not (tmp_path / "w.h5.partial").exists()
    # Re-weighting a weighted bank replaces its weights.
    again = write_weighted_bank(out, tmp_path / "w2.h5", np.zeros(N))
    np.testing.assert_array_equal(load_bank(again).ln_weight, 0.0)


def test_weighted_copy_refusals(reference_bank, tmp_path):
    from cigars.hosts import write_weighted_bank

    with pytest.raises(ValueError, match="source bank"):
        write_weighted_bank(reference_bank, reference_bank, np.zeros(N))
    with pytest.raises(ValueError, match=rf"one value per galaxy .*\({N}\)"):
        write_weighted_bank(reference_bank, tmp_path / "a.h5", np.zeros(N - 1))
    bad = np.zeros(N)
    bad[5] = np.inf
    with pytest.raises(ValueError, match="1 non-finite values"):
        write_weighted_bank(reference_bank, tmp_path / "a.h5", bad)
    (tmp_path / "b.h5").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_weighted_bank(reference_bank, tmp_path / "b.h5", np.zeros(N))
    assert (tmp_path / "b.h5").read_bytes() == b"precious"
    assert not (tmp_path / "a.h5").exists()
