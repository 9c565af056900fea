"""Extending serkit: a corpus, a feature set and a model added from one module (tests/plugin_example.py) work end
to end through the real command line: scan, evaluate, train, predict, and the model card.

docs/extending.md walks through the same module.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import fixtures as fx
import plugin_example as plugin
import pytest

from serkit import cli
from serkit.errors import ConfigError, UnknownNameError

FAST = ["--no-cache", "--quiet", "--workers", "1"]


@pytest.fixture
def plugged():
    plugin.register()
    try:
        yield plugin
    finally:
        plugin.unregister()


@pytest.fixture(scope="module")
def toy_corpus(tmp_path_factory) -> Path:
    """6 speakers x 3 emotions x 2 takes, named as the toy corpus names its files; learnable from the spectrum."""
    root = tmp_path_factory.mktemp("toy")
    for s in range(1, 7):
        for label, emotion in plugin.EMOTIONS.items():
            for take in range(2):
                name = f"toy-s{s:02d}-{label}-{take}.wav"
                data = fx.synth(fx.DURATION, 16_000, seed=fx.seed_for(name),
                                partials=tuple(f * (1.0 + 0.03 * s) for f in fx._EMOTION_PARTIALS[emotion]))
                fx.write(root / name, data, 16_000)
    return root


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_plugged_in_corpus_feature_set_and_model_run_end_to_end(plugged, toy_corpus, tmp_path, capsys):
    # scan: the reader is found by auto-detection, and by its name or alias
    code, out, _ = run(capsys, ["corpus", "scan", str(toy_corpus), "--format", "json"])
    assert code == 0
    summary = json.loads(out)
    assert summary["corpus"] == "toy" and summary["files"] == 36 and summary["speakers"] == 6
    assert summary["emotions"] == {"happy": 12, "sad": 12, "angry": 12}
    code, out, _ = run(capsys, ["corpus", "scan", str(toy_corpus), "--corpus", "toy-corpus", "--format", "json"])
    assert code == 0 and json.loads(out)["corpus"] == "toy"

    # the registries list them
    assert run(capsys, ["models"])[1].count("toy_tree") == 1
    data = f"toy={toy_corpus}"
    experiment = ["--data", data, "--features", "toy_bands[bands=12]", "--model", "toy_tree[max_depth=3]"]

    # evaluate: speaker-independent folds, reports written
    code, out, err = run(capsys, ["evaluate", *experiment, "--output", str(tmp_path / "ev"), "--jobs", "1", *FAST])
    assert code == 0, err
    assert "toy_tree[max_depth=3]" in out and "speaker-independent" in out
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["features"] == "toy_bands[bands=12]" and metrics["n_files"] == 36
    assert metrics["ua"] > 0.5  # three well-separated classes: far above chance

    # train: a bundle whose card states the corpus' language and licence, from its CorpusInfo alone
    bundle = tmp_path / "bundle"
    code, out, err = run(capsys, ["train", *experiment, "--output", str(bundle), "--jobs", "1", *FAST])
    assert code == 0, err
    assert f"model bundle written to {bundle}; speaker-independent UA" in out
    card = (bundle / "card.md").read_text()
    assert "**Languages seen in training**: Toyish" in card
    assert "TOY: generated test data, research use only" in card and "Not for commercial use." in card
    saved = json.loads((bundle / "config.json").read_text())["experiment"]
    assert saved["features"] == [{"name": "toy_bands", "options": {"bands": 12}}]
    assert saved["models"] == [{"name": "toy_tree", "options": {"max_depth": 3}}]

    # predict: the bundle loads the plugged-in features and model by name
    clip = toy_corpus / "toy-s03-ang-1.wav"
    code, out, err = run(capsys, ["predict", str(clip), "--model", str(bundle), "--format", "json", "--quiet"])
    assert code == 0, err
    [prediction] = json.loads(out)
    assert prediction["label"] in {"happy", "sad", "angry"}


def test_a_plugged_in_model_option_is_typed_and_checked_from_its_one_declaration(plugged, toy_corpus, capsys):
    base = ["evaluate", "--data", f"toy={toy_corpus}", "--features", "toy_bands", *FAST]
    code, _, err = run(capsys, [*base, "--model", "toy_tree[max_depth=0]"])
    assert code == 2 and "toy_tree option max_depth must be an integer from 1 to 64, got 0" in err
    code, _, err = run(capsys, [*base, "--model", "toy_tree[depth=3]"])
    assert code == 2 and "unknown toy_tree option 'depth'; valid choices: max_depth" in err
    code, _, err = run(capsys, [*base, "--model", "logreg", "--features", "toy_bands[bands=1]"])
    assert code == 2 and "toy_bands option bands must be an integer from 2 to 256, got 1" in err


def test_unregistered_names_are_gone_and_taken_names_are_refused(plugged):
    from serkit.corpora import corpus_names, get_reader
    from serkit.features import get_extractor
    from serkit.models import get_model_spec

    assert get_reader("TOY").name == "toy" and "toy" in corpus_names()
    with pytest.raises(ConfigError, match="corpus name 'toy' is already registered"):
        plugin.register_corpus(plugin.ToyCorpus)
    with pytest.raises(ConfigError, match="model name 'logreg' is already registered"):
        plugin.register_model(dataclasses.replace(get_model_spec("toy_tree"), name="logreg"))
    plugin.unregister()
    for lookup, name in ((get_reader, "toy"), (get_extractor, "toy_bands"), (get_model_spec, "toy_tree")):
        with pytest.raises(UnknownNameError):
            lookup(name)
    plugin.register()  # for the fixture's unregister


@pytest.mark.parametrize("command", [["evaluate"], ["train"], ["features", "extract"]], ids=" ".join)
def test_the_data_help_names_every_registered_corpus_reader(plugged, command, capsys, monkeypatch):
    """--data's help lists the registry's names when it is shown, a reader registered at run time (the plug-in's
    `toy`) included: a built-in corpus is one class in serkit/corpora/readers.py, with no list to keep in step."""
    from serkit.corpora import corpus_names

    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no name wrapped
    with pytest.raises(SystemExit):
        cli.main([*command, "--help"])
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("--data")]
    listed = line.rsplit("NAME forces the reader (", 1)[1].rstrip(")").split(", ")
    assert listed == corpus_names() and listed[-2:] == ["toy", "manifest"]
    assert listed[:9] == ["ravdess", "crema_d", "tess", "savee", "emodb", "emovo", "urdu", "nemo", "folders"]


@pytest.mark.parametrize("command", [["evaluate"], ["train"], ["features", "extract"]], ids=" ".join)
def test_the_features_help_names_every_registered_feature_set(plugged, command, capsys, monkeypatch):
    """--features' help lists the feature registry's names when it is shown, a feature set registered at run time
    (the plug-in's `toy_bands`) included: there is no list of names in the command line to keep in step."""
    from serkit.features import feature_names

    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no name wrapped
    with pytest.raises(SystemExit):
        cli.main([*command, "--help"])
    [option] = [o for o in capsys.readouterr().out.split("\n  -") if o.startswith("-features")]  # with its help
    listed = option.split("with options in brackets", 1)[1].split("(", 1)[1].split(")", 1)[0].split("; ")[0]
    assert listed.split(", ") == feature_names() and plugin.FEATURES in listed.split(", ")
    assert {"spectral_stats", "mfcc_matrix", "logmel", "egemaps", "compare", "whisper_encoder"} < set(feature_names())


def test_the_command_line_reads_the_corpora_only_to_show_the_data_help():
    """Building the parser (every command, `serkit --help`) imports neither serkit.corpora nor serkit.features;
    showing --data's and --features' help does."""
    import subprocess
    import sys

    code = ("import sys, contextlib, io\n"
            "from serkit.cli import build_parser\n"
            "parser = build_parser()\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    parser.format_help()\n"
            "print('serkit.corpora' in sys.modules, 'serkit.features' in sys.modules)\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    parser.parse_args(['evaluate', '--help'])\n"
            "print('serkit.corpora' in sys.modules, 'serkit.features' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False", "True", "True"], out.stderr


def test_an_option_built_for_another_formatter_has_the_names_filled_in():
    import argparse

    from serkit.cli.options import add_data_options
    from serkit.corpora import corpus_names

    p = argparse.ArgumentParser()
    add_data_options(p)
    [data] = [a for a in p._actions if a.dest == "data"]
    assert data.help.endswith(f"({', '.join(corpus_names())})")


def test_licence_and_language_tables_are_derived_from_the_readers():
    from serkit.corpora import READERS
    from serkit.corpora.licences import (
        commercial_use_allowed,
        languages,
        licence_lines,
        licence_summary,
    )

    assert languages(["ravdess", "emodb#2", "manifest"]) == ["English", "German"]
    assert licence_lines(["crema_d", "nemo"]) == [READERS.get("crema_d").info.licence, READERS.get("nemo").info.licence]
    assert licence_lines(["manifest"]) == ["(user data: check its terms)"]
    assert commercial_use_allowed(["crema_d", "manifest"]) and not commercial_use_allowed(["crema_d", "savee"])
    assert licence_summary(["ravdess"]) == "non-commercial (inherits the licences of ravdess)"


def test_a_wrapper_of_the_command_line_that_imports_the_plug_in_lists_it(tmp_path):
    """The docs' recipe for a plug-in package: import it, then hand over to serkit.cli.main."""
    import subprocess
    import sys

    script = ("import sys; sys.path.insert(0, sys.argv[1]); import plugin_example; plugin_example.register(); "
              "from serkit.cli import main; raise SystemExit(main(['models']))")
    r = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "toy_tree" in r.stdout and "[max_depth=4]" in r.stdout


def test_a_registry_loads_an_entry_only_when_first_used_and_knows_its_aliases():
    from serkit.registry import Registry

    loaded = []
    reg: Registry[str] = Registry("thing", fold_case=True)
    reg.add_lazy("heavy", lambda: loaded.append(1) or "entry", aliases=("Big",))
    assert loaded == [] and "heavy" in reg and reg.names() == ["heavy"]
    assert reg.get("BIG") == "entry" and reg.get("heavy") == "entry" and loaded == [1]
    with pytest.raises(UnknownNameError, match="unknown thing 'light'; valid choices: heavy"):
        reg.get("light")
    reg.remove("big")
    assert "heavy" not in reg and len(reg) == 0
