"""Speech recognition with the pip-shipped Whisper models, and every bad-input case."""

import numpy as np
import pytest
from speech_helpers import ENGLISH_SENTENCE, ROMANIAN_SENTENCE, wer

from companion.errors import CompanionError
from companion.speech import whisper_models
from companion.speech.audio import concat, read_wav, resample, write_wav
from companion.speech.stt import SttConfig, Transcriber, prepare_audio
from companion.speech.tts import speak
from companion.speech.voices import VoiceProfile

pytestmark = pytest.mark.slow


def test_piper_english_through_base_and_tiny(lumin_wav, transcriber_base, transcriber_tiny):
    audio, rate = read_wav(lumin_wav)
    for transcriber in (transcriber_base, transcriber_tiny):
        result = transcriber.transcribe(audio, rate)
        print(f"{transcriber.config.model}: WER {wer(ENGLISH_SENTENCE, result.text):.2%} "
              f"in {result.transcribe_ms:.0f} ms: {result.text!r}")
        assert result.status == "ok" and result.language == "en"
        assert wer(ENGLISH_SENTENCE, result.text) <= 0.15
        assert result.transcribe_ms > 0 and result.audio_seconds == pytest.approx(len(audio) / rate, 0.01)
        assert "resampled from 22050 Hz to 16000 Hz" in result.warnings


def test_romanian_espeak_round_trip_with_language_forced(transcriber_base, tmp_path):
    """espeak-ng is robotic and base is small: the WER is reported, the bound is loose."""
    nova = VoiceProfile.named("nova", user_dir=tmp_path)
    audio = concat(speak(ROMANIAN_SENTENCE, nova))
    result = transcriber_base.transcribe(audio.samples, audio.sample_rate, language="ro")
    score = wer(ROMANIAN_SENTENCE, result.text)
    print(f"Romanian espeak → base (ro forced): WER {score:.2%}: {result.text!r}")
    assert result.language == "ro"
    assert score <= 0.8


def test_empty_and_silent_audio_are_clear_results(transcriber_tiny):
    empty = transcriber_tiny.transcribe(np.zeros(0, np.float32))
    assert (empty.status, empty.text) == ("empty", "")
    silent = transcriber_tiny.transcribe(np.zeros(16000, np.float32))
    assert (silent.status, silent.text, silent.transcribe_ms) == ("silent", "", 0.0)
    hiss = np.random.default_rng(0).normal(0, 0.001, 16000).astype(np.float32)  # -60 dBFS
    assert transcriber_tiny.transcribe(hiss).status == "silent"


def test_clipped_and_wrong_rate_audio_are_transcribed_with_a_warning(lumin_wav, transcriber_tiny):
    audio, rate = read_wav(lumin_wav)
    loud = np.clip(audio * 8, -1, 1)
    result = transcriber_tiny.transcribe(loud, rate)
    assert any(w.startswith("clipped: the input is too loud") for w in result.warnings)
    at_44k = resample(audio, rate, 44100)
    result = transcriber_tiny.transcribe(np.stack([at_44k, at_44k], axis=1), 44100)  # stereo
    assert "resampled from 44100 Hz to 16000 Hz" in result.warnings
    assert wer(ENGLISH_SENTENCE, result.text) <= 0.15
    pcm16 = (audio * 32767).astype(np.int16)  # integer PCM is scaled, not misread
    assert wer(ENGLISH_SENTENCE, transcriber_tiny.transcribe(pcm16, rate).text) <= 0.15


@pytest.mark.parametrize("audio, rate, message", [
    (np.zeros(16000, np.float32), 4000, "sample rate 4000 Hz is not usable for speech"),
    (np.zeros(16000 * 61, np.float32), 16000, "audio is 61.0 s long, over the 60 s limit"),
    (np.full(1600, np.nan, np.float32), 16000, "audio contains NaN or infinite samples"),
    (np.zeros((2, 2, 2), np.float32), 16000, "audio must be mono or (frames, channels)"),
])
def test_bad_audio_is_refused_with_a_message(audio, rate, message):
    with pytest.raises(CompanionError) as err:
        prepare_audio(audio, rate, SttConfig())
    assert message in str(err.value)


def test_the_length_limit_is_configurable():
    prepare_audio(np.zeros(16000 * 61, np.float32), 16000, SttConfig(max_seconds=120))
    with pytest.raises(CompanionError, match="over the 2 s limit"):
        prepare_audio(np.zeros(16000 * 3, np.float32), 16000, SttConfig(max_seconds=2))


def test_bad_language_and_model_choices(transcriber_tiny, tmp_path):
    with pytest.raises(CompanionError, match="only knows English, but language 'ro'"):
        transcriber_tiny.transcribe(np.zeros(1600, np.float32), language="ro")
    with pytest.raises(CompanionError, match="speech language 'de' unknown: use one of auto, ro, en"):
        transcriber_tiny.transcribe(np.zeros(1600, np.float32), language="de")
    with pytest.raises(CompanionError, match="neither a built-in model .* nor an existing folder"):
        Transcriber.load(SttConfig(model=str(tmp_path / "nope")))
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(CompanionError, match="lacks config.json, tokenizer.json"):
        Transcriber.load(SttConfig(model=str(tmp_path)))
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(CompanionError, match="cannot load speech model"):
        Transcriber.load(SttConfig(model=str(tmp_path)))
    with pytest.raises(CompanionError, match="speech device 'tpu' unknown"):
        Transcriber.load(SttConfig(model="tiny.en", device="tpu"))


def test_cuda_when_asked_but_absent_is_an_error():
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(CompanionError, match="no CUDA GPU is visible: use device 'cpu'"):
        Transcriber.load(SttConfig(model="tiny.en", device="cuda"))


def test_user_model_folder_loads(transcriber_tiny, lumin_wav):
    folder = whisper_models.resolve_model("tiny.en")
    user = Transcriber.load(SttConfig(model=str(folder)))
    audio, rate = read_wav(lumin_wav)
    assert wer(ENGLISH_SENTENCE, user.transcribe(audio, rate).text) <= 0.15


def test_base_model_is_joined_once_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CACHE_DIR", str(tmp_path))
    folder = whisper_models.resolve_model("base")
    assert (folder / "model.bin").stat().st_size == whisper_models.BASE_SIZE
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert whisper_models.resolve_model("base") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # not joined again
    # a truncated cache is rebuilt; a mismatching checksum is refused and nothing is left behind
    with open(folder / "model.bin", "r+b") as fh:
        fh.truncate(1000)
    monkeypatch.setattr(whisper_models, "BASE_SHA256", "0" * 64)
    monkeypatch.setattr(whisper_models, "BASE_SIZE", -1)
    with pytest.raises(CompanionError, match="halves do not match their checksum .*force-reinstall"):
        whisper_models.resolve_model("base")
    assert not (whisper_models.cache_dir() / f"whisper-base-{'0' * 12}" / "model.bin.partial").exists()


def test_wav_files_round_trip_and_bad_files(tmp_path):
    samples = np.sin(np.linspace(0, 2000, 8000)).astype(np.float32) * 0.5
    path = write_wav(tmp_path / "a" / "tone.wav", samples, 8000)
    back, rate = read_wav(path)
    assert rate == 8000 and np.abs(back - samples).max() < 1e-3
    with pytest.raises(CompanionError, match="audio file .*missing.wav not found"):
        read_wav(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("hello")
    with pytest.raises(CompanionError, match="is not a PCM WAV file .*ffmpeg -i text.wav"):
        read_wav(tmp_path / "text.wav")


def test_auto_chooses_between_romanian_and_english_only(transcriber_base):
    """espeak's robotic Romanian, unrestricted, was heard as Polish; auto keeps to ro and en."""
    from companion.speech.audio import concat
    from companion.speech.tts import speak
    from companion.speech.voices import VoiceProfile
    from pathlib import Path

    question = "Cum funcționează un router?"
    audio = concat(speak(question, VoiceProfile.named("nova", user_dir=Path("/nonexistent"))))
    result = transcriber_base.transcribe(audio.samples, audio.sample_rate, "auto")
    print(f"auto: {result.language} ({result.language_probability:.2f}): {result.text!r}")
    assert result.language == "ro" and 0 < result.language_probability <= 1
    english = transcriber_base.transcribe(*_piper(ENGLISH_SENTENCE), "auto")
    assert english.language == "en" and wer(ENGLISH_SENTENCE, english.text) <= 0.15


def _piper(text: str):
    from companion.speech.audio import concat
    from companion.speech.tts import speak
    from companion.speech.voices import VoiceProfile
    from pathlib import Path

    audio = concat(speak(text, VoiceProfile.named("lumin", user_dir=Path("/nonexistent"))))
    return audio.samples, audio.sample_rate
