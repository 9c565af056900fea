"""Library errors name parameters as the Python API spells them and list them in `SerkitError.params`; the CLI
respells them as its own flags, so its messages read as before (#17, item 7). Bad values are ValueErrors too."""

from __future__ import annotations

import pytest

from serkit.cli import as_flags, build_parser, main
from serkit.errors import BundleError, ConfigError, DataError, SerkitError
from serkit.experiment import ExperimentConfig, RunOptions


def test_value_errors_are_value_errors():
    assert issubclass(ConfigError, ValueError) and issubclass(DataError, ValueError)
    assert not issubclass(BundleError, ValueError)
    with pytest.raises(ValueError, match=r"^folds must be an integer from 2 to 1000, got 1$") as exc:
        ExperimentConfig(data=["x"], folds=1)
    assert exc.value.params == ("folds",)


@pytest.mark.parametrize(("make", "message", "params"), [
    (lambda: ExperimentConfig(data=["a", "b"], protocol="corpus", adapt_files=10),
     "adapt_files needs normalize='corpus'", ("adapt_files", "normalize")),
    (lambda: ExperimentConfig(data=["a"], protocol="cross"), "protocol='cross' needs test_data",
     ("protocol", "test_data")),
    (lambda: RunOptions(workers=0), "workers must be an integer from 1 to 1024, got 0", ("workers",)),
])
def test_library_messages_use_python_names(make, message, params):
    with pytest.raises(SerkitError) as exc:
        make()
    assert str(exc.value) == message and exc.value.params == params
    assert "--" not in str(exc.value)


def test_the_predictor_names_min_confidence_as_python_does():
    from serkit.inference import Predictor

    with pytest.raises(ValueError, match="min_confidence must be a number from 0 to 1, got 1.5"):
        Predictor.load(min_confidence=1.5)


def test_the_cli_respells_parameters_as_its_flags():
    parser = build_parser()
    err = ConfigError("adapt_files needs normalize='corpus'", params=("adapt_files", "normalize"))
    assert as_flags(err, parser, "evaluate") == "--adapt-files needs --normalize corpus"
    err = ConfigError("min_confidence must be a number from 0 to 1, got 2", params=("min_confidence",))
    assert as_flags(err, parser, "predict") == "--min-confidence must be a number from 0 to 1, got 2"
    # Only the named parameters, as whole words: a path or another word that contains one is left alone.
    err = DataError("test_data shares 1 file(s) with data (e.g. /srv/data/a_data.wav)", params=("test_data", "data"))
    assert as_flags(err, parser, "evaluate") == "--test-data shares 1 file(s) with --data (e.g. /srv/data/a_data.wav)"
    # The flag of another command when this one has none (adapt has no --normalize; train has).
    err = SerkitError("trained with normalize='none'", params=("normalize",))
    assert as_flags(err, parser, "adapt") == "trained with --normalize none"
    assert as_flags(SerkitError("no params: normalize='x'"), parser, "adapt") == "no params: normalize='x'"


@pytest.mark.parametrize(("argv", "message"), [
    (["evaluate", "--data", "a", "--data", "b", "--protocol", "corpus", "--adapt-files", "10"],
     "--adapt-files needs --normalize corpus"),
    (["evaluate", "--data", "a", "--protocol", "cross"], "--protocol cross needs --test-data"),
    (["evaluate", "--data", "a", "--folds", "1"], "--folds must be an integer from 2 to 1000, got 1"),
    (["evaluate", "--data", "a", "--scheduler", "local:0"], "--scheduler local:N: the number of workers must be"),
])
def test_cli_messages_read_as_before(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("serkit: error: ") and message in err and len(err.splitlines()) == 1, err


def test_every_error_comes_back_whole_from_a_worker_process():
    """An error raised in a pool or Dask worker is pickled back: it must keep its class, message and attributes
    whatever its constructor takes (AudioError, UnknownNameError and OutputBusyError once failed to unpickle)."""
    import pickle

    from serkit.errors import (
        AudioError,
        AudioProblem,
        ConfigError,
        MissingExtraError,
        OutputBusyError,
        UnknownNameError,
    )

    errors = [
        AudioError("x.wav", "too short: 0.1 s", AudioProblem.TOO_SHORT),
        UnknownNameError("model", "lgoreg", ["logreg", "svm"]),
        OutputBusyError("out.jsonl", 4242),
        MissingExtraError("train", "serkit train"),
        ConfigError("folds=1 is too few", params=("folds",)),
    ]
    for error in errors:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error), error
        assert back.__dict__ == error.__dict__ and back.params == error.params


def test_a_nested_command_and_a_data_entry_get_their_own_flags(tmp_path, capsys):
    """`corpus scan` (a nested command) names its own --corpus; evaluate, which has no --corpus, is told to name
    the reader in --data; an ordinary word in a message is never taken for a parameter."""
    import fixtures as fx

    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(3):
        fx.write(folder / f"take{i}.wav", fx.synth(1.0, seed=i), 16_000)
    assert main(["corpus", "scan", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "pass --corpus as one of: ravdess" in err and "which --corpus" not in err, err
    assert main(["evaluate", "--data", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"name its reader as --data NAME={folder} with NAME one of: ravdess" in err, err


def test_adapt_files_below_the_adaptation_minimum_is_refused_before_any_work():
    """The adaptation sample check needs 10 different recordings, so the config refuses fewer up front."""
    with pytest.raises(ConfigError, match="adapt_files must be an integer from 10 to") as exc:
        ExperimentConfig(data=["a", "b"], protocol="corpus", normalize="corpus", adapt_files=5)
    assert exc.value.params == ("adapt_files",)


def test_adapting_a_bundle_onto_itself_is_refused_before_any_work(tmp_path, capsys):
    import shutil
    import time

    from serkit.inference import default_model_path

    model = tmp_path / "model"
    shutil.copytree(default_model_path(), model)
    t0 = time.monotonic()
    assert main(["adapt", str(tmp_path), "--model", str(model), "--output", str(model)]) == 2
    assert f"{model}: is the model being adapted; choose a new --output" in capsys.readouterr().err
    assert time.monotonic() - t0 < 10


def test_a_path_that_holds_a_parameter_name_is_never_respelled():
    """`output.jsonl` at the start of a message is a file name, not the parameter `output` (#18)."""
    parser = build_parser()
    err = SerkitError("output.jsonl: exists; choose another output", params=("output",))
    assert as_flags(err, parser, "predict") == "output.jsonl: exists; choose another --output"
    err = SerkitError("runs/output.d/output: is a folder; choose another output.", params=("output",))
    assert as_flags(err, parser, "predict") == "runs/output.d/output: is a folder; choose another --output."
    err = SerkitError("output: is the model being adapted; choose a new output", params=("output",))
    assert as_flags(err, parser, "adapt").endswith("choose a new --output")


def _bundle_with_a_users_evaluation_folder(tmp_path):
    out = tmp_path / "output.bundle"
    out.mkdir()
    (out / "config.json").write_text('{"format": 2, "experiment": {}, "labels": []}')
    (out / "evaluation").mkdir()  # the user's: no metrics.json
    return out


@pytest.mark.parametrize("case", ["bundle_clash", "report_not_folder", "report_not_evaluation", "folder_clash"])
def test_output_messages_name_the_parameter_and_the_cli_its_flag(tmp_path, case):
    from serkit.bundle import check_output
    from serkit.io import write_folder_atomically
    from serkit.reports import check_report_folder

    out = tmp_path / "output.d"
    if case == "bundle_clash":
        make = lambda: check_output(_bundle_with_a_users_evaluation_folder(tmp_path))  # noqa: E731
    elif case == "report_not_folder":
        out.write_text("mine")
        make = lambda: check_report_folder(out)  # noqa: E731
    elif case == "report_not_evaluation":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        make = lambda: check_report_folder(out)  # noqa: E731
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        make = lambda: write_folder_atomically(  # noqa: E731
            out, lambda tmp: (tmp / "notes.txt").write_text("serkit's"), ours=lambda entry: False
        )
    with pytest.raises(SerkitError) as exc:
        make()
    message = str(exc.value)
    assert exc.value.params == ("output",) and "--" not in message, message
    assert message.endswith("output") or message.endswith("output)"), message
    cli = as_flags(exc.value, build_parser(), "train")
    assert "--output" in cli and "--output.d" not in cli and "--output.bundle" not in cli, cli


def test_the_speaker_protocol_without_speakers_names_the_protocol_flag_on_the_command_line(tmp_path, capsys):
    import fixtures as fx

    csv_path = fx.make_speaker_manifest(tmp_path, speakers=2, per_class=1, speaker_column=False)
    assert main(["evaluate", "--data", str(csv_path), "--protocol", "speaker", "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "or --protocol random" in err and "protocol='random'" not in err, err
