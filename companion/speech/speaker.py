"""Speak a reply while it is still being generated: sentences in, audio out, stop() to barge in."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator

from companion.speech.player import PlaybackResult, Player
from companion.speech.tts import speak
from companion.speech.voices import VoiceProfile
from companion.tribes import Tribe

_END = object()


class ReplySpeaker:
    """One reply at a time: begin(tribe), sentence(text)…, end(); the Player plays as TTS yields.

    Synthesis runs in the player's feeder thread, so the first sentence sounds while the
    model is still writing the next one.
    """

    def __init__(self, player: Player, voice_for: Callable[[Tribe], VoiceProfile] | None = None):
        self.player = player
        self.voice_for = voice_for or (lambda tribe: VoiceProfile.named(tribe.value))
        self._queue: queue.Queue | None = None

    def begin(self, tribe: Tribe) -> None:
        self.stop()
        self._queue = queue.Queue()
        self.player.play(speak(self._sentences(self._queue), self.voice_for(tribe)))

    @staticmethod
    def _sentences(q: queue.Queue) -> Iterator[str]:
        while (item := q.get()) is not _END:
            yield item

    def sentence(self, text: str) -> None:
        if self._queue is not None:
            self._queue.put(text)

    def end(self) -> None:
        if self._queue is not None:
            self._queue.put(_END)
            self._queue = None

    def stop(self) -> float:
        """Barge-in: drop what is not spoken yet and silence the device; returns the stop ms."""
        self.end()
        return self.player.stop()

    def wait(self, timeout: float | None = None) -> PlaybackResult | None:
        return self.player.wait(timeout)
