"""Feature-extraction speed: serkit's one-STFT spectral_stats vs the seeds' librosa code, and the cache.

    python benchmarks/features.py [--data ../shared/data] [--limit N]

Prints, for the same files in one run:
  1. per-clip compute time (decode excluded, one thread) of the seeds' librosa code —
     zcr, chroma_stft, mfcc, rms, melspectrogram, each with its own STFT — vs serkit's
     spectral_stats, and the ratio;
  2. the whole `extract_features` pipeline (decode + features, all cores) cold, into an
     empty cache, and warm (served from the cache), and the ratio;
  3. the compute time per clip of every registered feature set (one thread, --cost-clips
     clips, decode excluded), the figures docs/features.md quotes for eGeMAPS, ComParE and Whisper.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402


def seeds_way(y: np.ndarray, sr: int) -> np.ndarray:
    """What the seed repositories do: one librosa call (and one STFT) per feature."""
    import librosa

    feats = [
        librosa.feature.zero_crossing_rate(y),
        librosa.feature.rms(y=y),
        librosa.feature.chroma_stft(y=y, sr=sr),
        librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20),
        librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128)),
    ]
    return np.concatenate([np.concatenate([f.mean(axis=1), f.std(axis=1)]) for f in feats])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=0, help="use only the first N files (0: all)")
    ap.add_argument("--cost-clips", type=int, default=100, help="clips timed per feature set in part 3")
    args = ap.parse_args()

    from serkit import audio
    from serkit.corpora import load_dataset
    from serkit.features import FeatureCache, extract_features, get_extractor

    specs = [str(p) for p in sorted(Path(args.data).iterdir()) if p.is_dir() and p.name in ("ravdess", "savee")]
    paths = load_dataset(specs).table["path"].tolist()
    if args.limit:
        paths = paths[: args.limit]
    print(f"{len(paths)} files from {', '.join(specs)}")

    t0 = time.perf_counter()
    signals = [audio.load(p) for p in paths]
    decode = time.perf_counter() - t0
    seconds_audio = sum(len(s) for s in signals) / audio.SAMPLE_RATE
    print(f"decode: {decode:.2f} s for {seconds_audio / 3600:.2f} h of audio")

    ex = get_extractor("spectral_stats")
    seeds_way(signals[0], 16000), ex.extract(signals[0])  # warm-up (imports, filterbanks, numba)
    t0 = time.perf_counter()
    for s in signals:
        seeds_way(s, 16000)
    t_seed = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in signals:
        ex.extract(s)
    t_ours = time.perf_counter() - t0
    n = len(signals)
    print(f"seeds' librosa code : {t_seed:7.2f} s  ({t_seed / n * 1000:6.2f} ms/clip)")
    print(f"serkit spectral_stats: {t_ours:7.2f} s  ({t_ours / n * 1000:6.2f} ms/clip)")
    print(f"speed-up (compute only, one thread): {t_seed / t_ours:.1f}x")

    with tempfile.TemporaryDirectory() as tmp:
        cache = FeatureCache(tmp)
        t0 = time.perf_counter()
        cold = extract_features(paths, ["spectral_stats"], cache=cache, progress=False)
        t_cold = time.perf_counter() - t0
        cache = FeatureCache(tmp)  # a new process would start like this: index read from disk
        t0 = time.perf_counter()
        warm = extract_features(paths, ["spectral_stats"], cache=cache, progress=False)
        t_warm = time.perf_counter() - t0
    assert warm.from_cache == len(paths) and cold.computed == len(paths)
    print(f"extract_features cold (decode + features, {os.cpu_count()} workers): {t_cold:6.2f} s")
    print(f"extract_features warm (from cache):                       {t_warm:6.2f} s")
    print(f"cache speed-up: {t_cold / t_warm:.0f}x")

    import torch

    torch.set_num_threads(1)
    from serkit.features import feature_names

    sample = signals[:: max(1, n // args.cost_clips)][: args.cost_clips]
    mean_s = sum(len(s) for s in sample) / len(sample) / audio.SAMPLE_RATE
    print(f"compute per clip, one thread, {len(sample)} clips of {mean_s:.1f} s on average:")
    for name in feature_names():
        fx = get_extractor(name)
        fx.extract(sample[0])  # warm-up: model loading, openSMILE start-up
        t0 = time.perf_counter()
        for s in sample:
            fx.extract(s)
        print(f"  {name:16s} {(time.perf_counter() - t0) / len(sample) * 1000:7.1f} ms/clip")


if __name__ == "__main__":
    main()
