"""Speech in and out: recorder, speech recognition, voice profiles, TTS engines, playback.

Submodules are imported on demand: sounddevice, faster-whisper and Piper are heavy or need
system libraries, and the CLI or GUI should only pay for what a command uses.
"""
