"""Feature extractors, their registry and config keys, the disk cache and parallel/augmented extraction.

Real clips come from ../shared/data (a handful of files, never a whole corpus);
synthetic clips from tests/fixtures.py where only the plumbing matters.
"""

from __future__ import annotations

import logging
import os
import re
import struct

import numpy as np
import pytest

import fixtures as fx
import serkit.features.base as base
from serkit import audio
from serkit.errors import ConfigError, UnknownNameError
from serkit.cli import main
from serkit.experiment import feature_extractors
from serkit.features import FeatureCache, Variant, extract_features, feature_names, get_extractor
from serkit.features.cache import decode_entry, encode_entry
from serkit.features.spectral import MfccMatrix, SpectralStats, SpectralStatsConfig

SIX = ["compare", "egemaps", "logmel", "mfcc_matrix", "spectral_stats", "whisper_encoder"]
# RAVDESS Actor_02, angry, strong intensity: ~1 s of room noise, then the sentence (~3.9 s in all).
CLIP = fx.RAVDESS_ROOT / "Actor_02" / "03-01-05-02-01-01-02.flac"


@pytest.fixture(scope="module")
def clip(shared_data) -> np.ndarray:
    return audio.load(CLIP)


def near_silence(seconds: float, *, dbfs: float = -70.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * 16_000)) * 10 ** (dbfs / 20)).astype(np.float32)


# --------------------------------------------------------------------------- registry


def test_registry_lists_exactly_the_six_feature_sets():
    assert feature_names() == SIX
    for name in SIX:
        assert get_extractor(name).name == name


def test_unknown_feature_name_lists_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        get_extractor("wav2vec")
    assert err.value.choices == SIX
    msg = str(err.value)
    assert "'wav2vec'" in msg and all(name in msg for name in SIX)
    with pytest.raises(UnknownNameError, match="bogus"):
        feature_extractors("spectral_stats+bogus")


# --------------------------------------------------------------------------- shapes on a real clip


def test_every_extractor_shape_dtype_and_finiteness_on_a_real_clip(clip):
    expected = {
        "mfcc_matrix": (25, 216),
        "logmel": (64, 216),
        "spectral_stats": (324,),
        "egemaps": (88,),
        "compare": (6373,),
        "whisper_encoder": (6, 768),
    }
    assert sorted(expected) == SIX
    for name, shape in expected.items():
        value = get_extractor(name).extract(clip)
        assert value.shape == shape, name
        assert value.dtype == np.float32, name
        assert np.all(np.isfinite(value)), name
        assert float(np.std(value)) > 0, f"{name} is constant"


def test_compare_is_the_compare_2016_set_and_extends_egemaps_descriptors(clip):
    """ComParE and eGeMAPS share openSMILE's front end but not their functionals: both must be computed,
    each with its own config (so their cache keys differ)."""
    compare, egemaps = get_extractor("compare"), get_extractor("egemaps")
    assert compare.config.feature_set == "ComParE_2016" and egemaps.config.feature_set == "eGeMAPSv02"
    assert compare.key() != egemaps.key()
    a, b = compare.extract(clip), compare.extract(clip[: len(clip) // 2])
    assert a.shape == b.shape == (6373,)
    assert np.abs(a - b).max() > 0, "the functionals do not depend on the signal"


def test_mfcc_matrix_of_a_one_second_clip_is_zero_padded_to_216_frames(clip):
    one = clip[16_000:32_000]  # 1 s from inside the sentence
    m = get_extractor("mfcc_matrix").extract(one)
    assert m.shape == (25, 216)
    # Frame k (hop 186, n_fft 512, centred) sees only padding once k*186 - 256 >= 16000: k >= 88.
    tail = m[:, 90:]
    assert np.abs(tail - tail[:, :1]).max() < 1e-3, "the padded part is not constant"
    speech = m[:, :80]
    assert np.abs(speech - tail[:, :1]).max(axis=0).min() > 0.1, "speech frames look like padding"


def test_mfcc_matrix_starts_at_the_speech_onset(clip):
    ex = get_extractor("mfcc_matrix")
    plain = ex.extract(clip)
    shifted = ex.extract(np.concatenate([near_silence(1.0), clip]))
    assert np.max(np.abs(plain - shifted)) < 1e-3
    # The same comparison without onset detection differs a lot: the check above can fail.
    fixed = MfccMatrix(from_onset=False)
    off = np.max(np.abs(fixed.extract(clip) - fixed.extract(np.concatenate([near_silence(1.0), clip]))))
    assert off > 10.0


def _direct_frames(signal: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    padded = np.pad(signal.astype(np.float64), n_fft // 2)
    return np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]


def test_spectral_stats_match_numpy_and_librosa(clip):
    librosa = pytest.importorskip("librosa")
    v = get_extractor("spectral_stats").extract(clip)
    names = SpectralStats.feature_names()
    assert len(names) == v.shape[0]
    col = {n: i for i, n in enumerate(names)}

    def group(prefix: str, n: int) -> np.ndarray:
        return v[[col[f"{prefix}{i}_mean"] for i in range(n)]]

    f = _direct_frames(clip)
    rms = np.sqrt(np.mean(f * f, axis=1))
    positive = f >= 0  # zero counts as positive, as librosa's zero_pos=True
    zcr = np.mean(positive[:, 1:] != positive[:, :-1], axis=1)
    assert v[col["rms_mean"]] == pytest.approx(rms.mean(), rel=1e-5)
    assert v[col["rms_std"]] == pytest.approx(rms.std(), rel=1e-4)
    assert v[col["zcr_mean"]] == pytest.approx(zcr.mean(), rel=1e-5)
    assert v[col["zcr_std"]] == pytest.approx(zcr.std(), rel=1e-4)

    kw = dict(sr=16_000, n_fft=2048, hop_length=512)
    lr_rms = librosa.feature.rms(y=clip, frame_length=2048, hop_length=512)[0]
    assert v[col["rms_mean"]] == pytest.approx(lr_rms.mean(), rel=1e-4)
    lr_zcr = librosa.feature.zero_crossing_rate(clip, frame_length=2048, hop_length=512)[0]
    assert v[col["zcr_mean"]] == pytest.approx(lr_zcr.mean(), abs=2e-3)  # librosa pads by edge values
    lr_mfcc = librosa.feature.mfcc(y=clip, n_mfcc=20, n_mels=128, **kw).mean(axis=1)
    np.testing.assert_allclose(group("mfcc", 20), lr_mfcc, rtol=1e-3, atol=0.05)
    lr_mel = librosa.power_to_db(librosa.feature.melspectrogram(y=clip, n_mels=128, **kw), top_db=80).mean(axis=1)
    np.testing.assert_allclose(group("mel", 128), lr_mel, rtol=1e-3, atol=0.05)
    lr_chroma = librosa.feature.chroma_stft(y=clip, tuning=0.0, **kw).mean(axis=1)  # serkit fixes tuning at 0
    np.testing.assert_allclose(group("chroma", 12), lr_chroma, atol=1e-3)


# --------------------------------------------------------------------------- config and keys


def test_config_overrides_change_the_key_and_unknown_options_raise(monkeypatch):
    default = get_extractor("spectral_stats")
    assert default.key() == SpectralStats().key() == get_extractor("spectral_stats").key()
    assert default.key().startswith("spectral_stats-")
    by_dict = get_extractor("spectral_stats", {"n_mfcc": 13})
    by_kwarg = SpectralStats(n_mfcc=13)
    by_config = SpectralStats(SpectralStatsConfig(n_mfcc=13))
    assert by_dict.key() == by_kwarg.key() == by_config.key() != default.key()
    assert SpectralStats(n_mfcc=13, n_mels=64).key() not in {default.key(), by_dict.key()}
    assert by_dict.config.n_mfcc == 13 and default.config.n_mfcc == 20
    assert MfccMatrix().key() != MfccMatrix(from_onset=False).key()
    assert get_extractor("logmel").key() != get_extractor("mfcc_matrix").key()
    # A new feature version invalidates every key.
    old = default.key()
    monkeypatch.setattr(base, "FEATURE_VERSION", "999")
    assert SpectralStats().key() != old

    with pytest.raises(UnknownNameError, match="n_mfcc"):
        SpectralStats(n_mfc=13)  # typo: the message lists the valid options
    with pytest.raises(UnknownNameError, match="n_mfcc"):
        get_extractor("spectral_stats", {"n_mfc": 13})  # as a bundle's config.json would give it
    with pytest.raises(ConfigError):
        SpectralStats(config=get_extractor("mfcc_matrix").config)  # another extractor's config


def test_an_override_changes_the_output(clip):
    assert get_extractor("spectral_stats", {"n_mfcc": 13}).extract(clip).shape == (2 * (1 + 1 + 12 + 13 + 128),)
    assert get_extractor("logmel", {"n_mels": 40}).extract(clip).shape == (40, 216)


# --------------------------------------------------------------------------- cache


@pytest.fixture(scope="module")
def six_real(shared_data) -> list[str]:
    rows = fx.real_ravdess_files(actors=(1, 2), emotions=("neutral", "angry", "sad"), per_class=1)
    paths = [str(p) for p, _, _ in rows]
    assert len(paths) == 6 and len(set(paths)) == 6
    return paths


NAMES = ["spectral_stats", "mfcc_matrix"]


def test_second_run_is_served_from_cache_with_identical_arrays(six_real):
    cache_dir = os.environ["SERKIT_CACHE"]
    first = extract_features(six_real, NAMES, cache=FeatureCache(), workers=1, progress=False)
    assert (first.computed, first.from_cache, first.failed) == (6, 0, {})
    assert len(list(FeatureCache().root.rglob("*.f32"))) == 12  # one file per (clip, feature set)
    assert str(FeatureCache().root) == cache_dir
    second = extract_features(six_real, NAMES, cache=FeatureCache(), workers=1, progress=False)  # a new instance
    assert (second.computed, second.from_cache, second.failed) == (0, 6, {})
    for name in NAMES:
        for a, b in zip(first.features[name], second.features[name], strict=True):
            assert a.dtype == b.dtype == np.float32
            assert np.array_equal(a, b)
    assert second.stacked("mfcc_matrix").shape == (6, 25, 216)


def test_a_changed_config_misses_the_cache(six_real):
    cache = FeatureCache()
    extract_features(six_real, ["spectral_stats"], cache=cache, workers=1, progress=False)
    changed = extract_features(six_real, [get_extractor("spectral_stats", {"n_mfcc": 13})], cache=cache,
                               workers=1, progress=False)
    assert (changed.computed, changed.from_cache) == (6, 0)
    assert changed.stacked("spectral_stats").shape == (6, 310)
    # The same config given as an instance with overrides shares that cache entry.
    again = extract_features(six_real, [SpectralStats(n_mfcc=13)], cache=cache, workers=1, progress=False)
    assert (again.computed, again.from_cache) == (0, 6)
    assert np.array_equal(again.stacked("spectral_stats"), changed.stacked("spectral_stats"))
    # Adding a feature set that is not cached yet recomputes those files.
    more = extract_features(six_real, ["spectral_stats", "logmel"], cache=cache, workers=1, progress=False)
    assert (more.computed, more.from_cache) == (6, 0)


def test_a_truncated_cache_file_is_a_miss_and_is_rewritten(six_real):
    cache = FeatureCache()
    first = extract_features(six_real, ["spectral_stats"], cache=cache, workers=1, progress=False)
    files = sorted(cache.root.rglob("*.f32"))
    assert len(files) == 6
    victim = files[0]
    size = victim.stat().st_size
    assert size == 5 + 4 + 8 + 4 + 4 * 324  # magic + ndim, one dimension, payload length, crc32, 324 float32
    victim.write_bytes(victim.read_bytes()[: size - 7])
    second = extract_features(six_real, ["spectral_stats"], cache=FeatureCache(), workers=1, progress=False)
    assert (second.computed, second.from_cache, second.failed) == (1, 5, {})
    assert victim.stat().st_size == size
    assert np.array_equal(second.stacked("spectral_stats"), first.stacked("spectral_stats"))
    # Garbage of the right length but without the magic is a miss too.
    victim.write_bytes(b"\0" * size)
    third = extract_features(six_real, ["spectral_stats"], cache=FeatureCache(), workers=1, progress=False)
    assert (third.computed, third.from_cache) == (1, 5)
    assert np.array_equal(third.stacked("spectral_stats"), first.stacked("spectral_stats"))


def test_an_edited_audio_file_misses_the_cache(tmp_path):
    path = tmp_path / "clip.wav"
    versions = [fx.synth(0.5, seed=k, partials=(200.0 + 150 * k, 400.0 + 150 * k)) for k in range(3)]
    fx.write(path, versions[0], 16_000)
    one = extract_features([str(path)], ["spectral_stats"], cache=FeatureCache(), workers=1, progress=False)
    assert one.computed == 1
    # New content, same size, same path.
    before = path.stat()
    fx.write(path, versions[1], 16_000)
    assert path.stat().st_size == before.st_size
    two = extract_features([str(path)], ["spectral_stats"], cache=FeatureCache(), workers=1, progress=False)
    assert (two.computed, two.from_cache) == (1, 0)
    assert not np.allclose(one.stacked("spectral_stats"), two.stacked("spectral_stats"))
    # New content with the old size and modification time restored (cp -p, rsync -t, tar x do that).
    stamp = path.stat()
    fx.write(path, versions[2], 16_000)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stamp.st_size, stamp.st_mtime_ns)
    three = extract_features([str(path)], ["spectral_stats"], cache=FeatureCache(), workers=1, progress=False)
    assert (three.computed, three.from_cache) == (1, 0)
    assert not np.allclose(two.stacked("spectral_stats"), three.stacked("spectral_stats"))
    # The key is the content: a copy under another name is a hit.
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(path.read_bytes())
    four = extract_features([str(copy)], ["spectral_stats"], cache=FeatureCache(), workers=1, progress=False)
    assert (four.computed, four.from_cache) == (0, 1)
    assert np.array_equal(four.stacked("spectral_stats"), three.stacked("spectral_stats"))


def test_a_failing_file_is_reported_and_the_others_succeed(tmp_path):
    good1 = fx.write_clip(tmp_path / "a.wav")
    text = tmp_path / "b.wav"
    text.write_text("this is not audio\n" * 20)
    good2 = fx.write_clip(tmp_path / "c.wav")
    missing = tmp_path / "d.wav"
    paths = [str(good1), str(text), str(good2), str(missing)]
    res = extract_features(paths, ["spectral_stats"], cache=FeatureCache(), workers=1, progress=False)
    assert sorted(res.failed) == [1, 3]
    assert "unreadable audio" in res.failed[1]
    assert "no such file" in res.failed[3].lower() or "not found" in res.failed[3].lower()
    assert res.computed == 2
    items = res.features["spectral_stats"]
    assert items[1] is None and items[3] is None
    assert items[0].shape == items[2].shape == (324,)
    assert res.stacked("spectral_stats").shape == (2, 324)
    # Failures are not cached; the good files are.
    again = extract_features(paths, ["spectral_stats"], cache=FeatureCache(), workers=1, progress=False)
    assert (again.from_cache, again.computed, sorted(again.failed)) == (2, 0, [1, 3])
    # Without a cache the same file fails the same way.
    plain = extract_features(paths[:3], ["spectral_stats"], cache=None, workers=1, progress=False)
    assert sorted(plain.failed) == [1] and "unreadable audio" in plain.failed[1]


def test_two_workers_give_the_same_arrays_as_one(tmp_path, monkeypatch):
    import serkit.parallel

    paths = [str(fx.write_clip(tmp_path / f"clip{k}.wav", seconds=0.4)) for k in range(8)]
    one = extract_features(paths, ["spectral_stats", "mfcc_matrix"], cache=None, workers=1, progress=False)
    calls = []
    real = serkit.parallel.local_executor

    def spy(workers):
        calls.append(workers)
        return real(workers)

    monkeypatch.setattr(serkit.parallel, "local_executor", spy)
    two = extract_features(paths, ["spectral_stats", "mfcc_matrix"], cache=None, workers=2, progress=False)
    assert calls == [2], "the two-worker run did not run in parallel"
    assert one.computed == two.computed == 8
    for name in ("spectral_stats", "mfcc_matrix"):
        a, b = one.stacked(name), two.stacked(name)
        assert a.shape[0] == 8
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    # Different clips give different rows: order was kept, not just the set of rows.
    assert not np.allclose(one.stacked("spectral_stats")[0], one.stacked("spectral_stats")[1])


def test_augmented_variants_differ_from_the_original_and_are_deterministic(shared_data):
    variants = [None, Variant("noise", 0, 0), Variant("noise", 1, 0), Variant("noise", 0, 7),
                Variant("stretch", 0, 0), Variant("specaugment", 0, 0)]
    paths = [str(CLIP)] * len(variants)
    names = ["spectral_stats", "mfcc_matrix"]
    first = extract_features(paths, names, cache=None, variants=variants, workers=1, progress=False)
    second = extract_features(paths, names, cache=None, variants=variants, workers=1, progress=False)
    assert first.failed == {} and first.computed == len(variants)
    for name in names:
        for a, b in zip(first.features[name], second.features[name], strict=True):
            assert np.array_equal(a, b), f"{name}: a variant is not reproducible"
    orig_v, orig_m = first.features["spectral_stats"][0], first.features["mfcc_matrix"][0]
    for k in range(1, 5):  # audio augmentations change both feature sets
        assert not np.allclose(first.features["spectral_stats"][k], orig_v), variants[k]
        assert not np.allclose(first.features["mfcc_matrix"][k], orig_m), variants[k]
    # Copies and seeds give different copies.
    assert not np.allclose(first.features["spectral_stats"][1], first.features["spectral_stats"][2])
    assert not np.allclose(first.features["spectral_stats"][1], first.features["spectral_stats"][3])
    # SpecAugment masks matrices only: the vector is the original's, the matrix is not.
    assert np.array_equal(first.features["spectral_stats"][5], orig_v)
    assert not np.array_equal(first.features["mfcc_matrix"][5], orig_m)
    # Variants have their own cache entries, next to the original's.
    cache = FeatureCache()
    extract_features(paths[:1], names, cache=cache, workers=1, progress=False)
    mixed = extract_features(paths[:2], names, cache=cache, variants=variants[:2], workers=1, progress=False)
    assert (mixed.from_cache, mixed.computed) == (1, 1)
    assert np.array_equal(mixed.features["spectral_stats"][1], first.features["spectral_stats"][1])


# --------------------------------------------------------------------------- damaged cache, interrupted runs


@pytest.fixture()
def six_manifest(tmp_path, six_real) -> tuple[str, list[str]]:
    rows = fx.real_ravdess_files(actors=(1, 2), emotions=("neutral", "angry", "sad"), per_class=1)
    assert [str(p) for p, _, _ in rows] == six_real
    return str(fx.write_manifest(tmp_path / "six.csv", rows)), six_real


def cli_extract(capsys, manifest: str, cache_dir) -> tuple[int, int, int]:
    """`serkit features extract` through the real entry point: (exit code, computed, from cache)."""
    rc = main(["features", "extract", "--data", manifest, "--features", "spectral_stats", "--cache", str(cache_dir),
               "--workers", "1", "--quiet"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    m = re.search(r"(\d+) computed, (\d+) from cache, 0 failed", out)
    assert m, out
    return rc, int(m[1]), int(m[2])


def cache_warnings(caplog) -> list[str]:
    msgs = [r.getMessage() for r in caplog.records if r.name == "serkit.features.cache" and r.levelno == logging.WARNING]
    caplog.clear()
    return msgs


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


HEADER = 5 + 4 + 8 + 4  # one dimension
DAMAGE = {
    **{f"cut to {n} bytes": (lambda raw, n=n: raw[:n]) for n in (5, 6, 7, 8)},
    "cut inside the header": lambda raw: raw[: HEADER - 1],
    "payload overwritten with NaN": lambda raw: raw[:HEADER] + np.full((len(raw) - HEADER) // 4, np.nan, "<f4").tobytes(),
    "one byte flipped in the payload": lambda raw: _flip(raw, HEADER + 100),
    "one byte flipped in the shape": lambda raw: _flip(raw, 5),
    "one byte flipped in the checksum": lambda raw: _flip(raw, HEADER - 2),
    "bad magic": lambda raw: b"XXXX" + raw[4:],
    "NaN with a valid checksum": lambda raw: encode_entry(np.full(324, np.nan, np.float32)),
    "too many dimensions": lambda raw: raw[:4] + bytes([200]) + raw[5:],
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_entry_is_recomputed_replaced_and_warned_about_once(tmp_path, capsys, caplog, six_manifest,
                                                                            damage):
    manifest, paths = six_manifest
    cache_dir = tmp_path / "cache"
    fresh = extract_features(paths, ["spectral_stats"], cache=None, workers=1, progress=False).stacked("spectral_stats")
    assert cli_extract(capsys, manifest, cache_dir) == (0, 6, 0)
    victim = sorted(cache_dir.rglob("*.f32"))[2]
    good = victim.read_bytes()
    victim.write_bytes(DAMAGE[damage](good))
    assert victim.read_bytes() != good
    caplog.clear()

    assert cli_extract(capsys, manifest, cache_dir) == (0, 1, 5)  # a miss, not served, not fatal
    warned = cache_warnings(caplog)
    assert len(warned) == 1 and str(victim) in warned[0] and "damaged" in warned[0], warned
    assert victim.read_bytes() == good  # replaced by the same, verified entry
    value, why = decode_entry(victim.read_bytes())
    assert why is None and any(np.array_equal(value, row) for row in fresh)

    assert cli_extract(capsys, manifest, cache_dir) == (0, 0, 6)
    assert cache_warnings(caplog) == []
    served = extract_features(paths, ["spectral_stats"], cache=FeatureCache(cache_dir), workers=1, progress=False)
    assert served.from_cache == 6 and np.array_equal(served.stacked("spectral_stats"), fresh)


def test_an_entry_in_an_earlier_layout_is_a_silent_miss(tmp_path, capsys, caplog, six_manifest):
    manifest, _ = six_manifest
    cache_dir = tmp_path / "cache"
    cli_extract(capsys, manifest, cache_dir)
    victim = sorted(cache_dir.rglob("*.f32"))[0]
    good = victim.read_bytes()
    victim.write_bytes(b"SKF1" + bytes([1]) + struct.pack("<I", 324) + bytes(4 * 324))
    caplog.clear()
    assert cli_extract(capsys, manifest, cache_dir) == (0, 1, 5)
    assert cache_warnings(caplog) == [] and victim.read_bytes() == good


INDEX_DAMAGE = {
    "binary garbage": b"\x00\xff\xfe garbage",
    "cut JSON": b'{"/a|1|2|3|4": "ab',
    "a list": b"[1, 2, 3]",
    "numbers for digests": b'{"/a|1|2|3|4": 5}',
    "not a digest": b'{"/a|1|2|3|4": "../../etc"}',
}


@pytest.mark.parametrize("damage", list(INDEX_DAMAGE))
def test_a_damaged_hash_index_is_rebuilt(tmp_path, capsys, caplog, six_manifest, damage):
    manifest, _ = six_manifest
    cache_dir = tmp_path / "cache"
    cli_extract(capsys, manifest, cache_dir)
    index = cache_dir / "hashes.json"
    (index).write_bytes(INDEX_DAMAGE[damage])
    caplog.clear()
    assert cli_extract(capsys, manifest, cache_dir) == (0, 0, 6)  # the entries are still found by content
    warned = cache_warnings(caplog)
    assert len(warned) == 1 and str(index) in warned[0], warned
    import json

    rebuilt = json.loads(index.read_text())
    assert isinstance(rebuilt, dict) and len(rebuilt) == 6
    assert cli_extract(capsys, manifest, cache_dir) == (0, 0, 6)
    assert cache_warnings(caplog) == []


def test_an_interrupted_extraction_reruns_only_what_is_missing(tmp_path, capsys, six_manifest):
    """The cache is per file, written as each file is done: a rerun computes exactly the lost entries."""
    manifest, _ = six_manifest
    cache_dir = tmp_path / "cache"
    assert cli_extract(capsys, manifest, cache_dir) == (0, 6, 0)
    entries = sorted(cache_dir.rglob("*.f32"))
    for gone in entries[1:4:2]:
        gone.unlink()
    assert cli_extract(capsys, manifest, cache_dir) == (0, 2, 4)
    assert sorted(cache_dir.rglob("*.f32")) == entries


def test_non_finite_features_are_not_stored(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    cache.put("k", "ab" * 32, np.array([1.0, np.inf], np.float32))
    assert not list((tmp_path / "c").rglob("*.f32"))
    cache.put("k", "ab" * 32, np.array([[1.0, 2.0]], np.float32))
    assert np.array_equal(cache.get("k", "ab" * 32), [[1.0, 2.0]])
