"""Voice profiles: the shipped three, user overrides, and errors that name file and key."""

from pathlib import Path

import pytest

from companion.errors import CompanionError
from companion.speech.voices import PROFILE_NAMES, SHIPPED_DIR, VoiceProfile


def test_shipped_profiles_match_the_seed(tmp_path):
    sora, lumin, nova = (VoiceProfile.named(n, user_dir=tmp_path) for n in ("sora", "lumin", "nova"))
    assert (sora.language, sora.pitch, sora.speed, sora.engine) == ("ro", 1.1, 0.95, "espeak")
    assert (lumin.language, lumin.engine, lumin.voice) == ("en", "piper", "joe-us")
    assert (nova.language, nova.engine) == ("ro", "espeak")
    assert {p.stem for p in SHIPPED_DIR.glob("*.toml")} == set(PROFILE_NAMES)


def test_user_override_changes_only_its_keys(tmp_path):
    (tmp_path / "sora.toml").write_text('speed = 1.2\nengine = "piper"\nvoice = "ro_RO-mihai-medium.onnx"\n')
    sora = VoiceProfile.named("sora", user_dir=tmp_path)
    assert sora.speed == 1.2 and sora.pitch == 1.1 and sora.engine == "piper"
    # a relative voice path in the user's file is relative to that file
    assert sora.voice == str(tmp_path / "ro_RO-mihai-medium.onnx")
    assert str(tmp_path / "sora.toml") in sora.source


def test_default_user_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path))
    (tmp_path / "voices").mkdir()
    (tmp_path / "voices" / "lumin.toml").write_text("volume = 0.5\n")
    assert VoiceProfile.named("lumin").volume == 0.5


@pytest.mark.parametrize("content, message", [
    ("sped = 1.2\n", "unknown key 'sped'"),
    ("speed = 9.0\n", "key 'speed' must be between 0.25 and 4.0 (got 9.0)"),
    ('pitch = "high"\n', "key 'pitch' must be a number (got 'high')"),
    ("volume = true\n", "key 'volume' must be a number (got True)"),
    ('engine = "festival"\n', "key 'engine' must be one of piper, espeak, coqui"),
    ('language = "fr"\n', "key 'language' must be 'ro' or 'en'"),
    ("voice = 3\n", "key 'voice' must be a string"),
    ('voice = ""\n', "key 'voice' must not be empty"),
    ("speed = \n", "not valid TOML"),
])
def test_bad_user_override_names_file_and_key(tmp_path, content, message):
    path = tmp_path / "nova.toml"
    path.write_text(content)
    with pytest.raises(CompanionError) as err:
        VoiceProfile.named("nova", user_dir=tmp_path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_load_a_complete_file_and_its_errors(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text('engine = "espeak"\nvoice = "en"\nlanguage = "en"\npitch = 1\n')
    profile = VoiceProfile.load(good)
    assert profile.name == "mine" and profile.pitch == 1.0
    missing = tmp_path / "half.toml"
    missing.write_text('engine = "espeak"\n')
    with pytest.raises(CompanionError, match="half.toml: missing key 'voice'"):
        VoiceProfile.load(missing)
    with pytest.raises(CompanionError, match="voice profile .*nowhere.toml not found"):
        VoiceProfile.load(tmp_path / "nowhere.toml")


def test_unknown_profile_name_lists_the_known_ones(tmp_path):
    with pytest.raises(CompanionError, match="unknown voice 'bob': use one of lumin, nova, sora"):
        VoiceProfile.named("bob", user_dir=tmp_path)


def test_with_overrides_validates_again(tmp_path):
    lumin = VoiceProfile.named("lumin", user_dir=tmp_path)
    assert lumin.with_overrides(speed=1.5).speed == 1.5
    with pytest.raises(CompanionError, match="key 'speed' must be between"):
        lumin.with_overrides(speed=0.0)
