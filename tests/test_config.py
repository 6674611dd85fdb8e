"""User settings (companion/config.py): real JSON files in tmp_path, saved and read back."""

from __future__ import annotations

import json

import pytest

from companion.config import AppSettings
from companion.errors import CompanionError
from companion.generation import SamplingConfig


def test_default_settings_sample_as_the_generator_does_by_default():
    """The settings' defaults are the SamplingConfig defaults (question focus, word guard, ...):
    a change to one without the other would make the app and `companion chat` differ."""
    assert AppSettings().companion_config().sampling == SamplingConfig()


def test_saved_settings_read_back_the_same_and_leave_no_partial_file(tmp_path):
    path = tmp_path / "deep" / "settings.json"
    chosen = AppSettings(persona_mode="sora", temperature=0.5, top_k=0, question_weight=0.0,
                         copy_weight=0.5, word_guard=False, seed=7, stt_language="ro", ptt_key="F9",
                         admit_unknown=False)
    assert chosen.save(path) == path
    assert AppSettings.load(path) == chosen
    assert json.loads(path.read_text(encoding="utf-8"))["persona_mode"] == "sora"
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]
    sampling = chosen.companion_config().sampling
    assert (sampling.top_k, sampling.question_weight, sampling.word_guard) == (None, 0.0, False)
    assert sampling.copy_weight == 0.5
    assert chosen.companion_config().context.admit_unknown is False
    assert AppSettings().companion_config().context.admit_unknown is True


def test_no_file_is_the_defaults_and_unknown_keys_are_ignored(tmp_path):
    assert AppSettings.load(tmp_path / "none.json") == AppSettings()
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"temperature": 0.3, "from_a_newer_version": True}), encoding="utf-8")
    assert AppSettings.load(path) == AppSettings(temperature=0.3)
    assert AppSettings.load_keeping_valid(path) == (AppSettings(temperature=0.3), None)


def test_every_invalid_value_is_named_with_what_is_allowed():
    with pytest.raises(CompanionError) as err:
        AppSettings(temperature=3, top_k=-1, question_weight="high", copy_weight=1.0, stt_language="fr",
                    admit_unknown="sometimes")
    message = str(err.value)
    for part in ("temperature must be between 0 and 2", "top-k must be a whole number",
                 "question focus must be between 0 (off) and 5", "speech language must be one of",
                 "knowledge copying must be between 0 (off) and 0.95",
                 "say when it does not know must be true or false"):
        assert part in message


@pytest.mark.parametrize("content, why", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not valid JSON (not an object)"),
    (b"\xff\xfe\x00bad", "not UTF-8 text"),
])
def test_an_unreadable_file_is_a_clear_error_or_the_defaults_for_the_app(tmp_path, content, why):
    path = tmp_path / "settings.json"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    with pytest.raises(CompanionError) as err:
        AppSettings.load(path)
    assert str(path) in str(err.value) and why in str(err.value)
    settings, problem = AppSettings.load_keeping_valid(path)
    assert settings == AppSettings()
    assert str(path) in problem and why in problem and "using the defaults" in problem


def test_an_invalid_value_costs_only_itself_when_the_app_starts(tmp_path):
    """A model folder deleted since it was chosen (or a hand-edited typo) must not throw away the
    person's other choices: the app keeps them, puts that one back to its default and says so."""
    gone = tmp_path / "runs" / "deleted-model"
    gone.mkdir(parents=True)
    path = AppSettings(persona_mode="lumin", temperature=0.4, model_dir=str(gone), ptt_key="F8").save(
        tmp_path / "settings.json")
    gone.rmdir()
    values = json.loads(path.read_text(encoding="utf-8"))
    values["top_p"] = 7
    path.write_text(json.dumps(values), encoding="utf-8")

    with pytest.raises(CompanionError) as err:
        AppSettings.load(path)
    assert f"the settings file {path} has invalid settings" in str(err.value)
    settings, problem = AppSettings.load_keeping_valid(path)
    assert settings == AppSettings(persona_mode="lumin", temperature=0.4, ptt_key="F8")
    assert str(path) in problem and "back to their defaults" in problem
    assert f"model folder {gone} does not exist" in problem and "top-p must be above 0" in problem
    assert "temperature" not in problem


def test_a_settings_file_that_cannot_be_written_is_a_clear_error_and_the_old_one_stays(tmp_path):
    path = AppSettings(temperature=0.2).save(tmp_path / "settings.json")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(CompanionError, match="cannot save the settings"):
        AppSettings(temperature=0.9).save(blocked / "settings.json")
    assert AppSettings.load(path).temperature == 0.2
