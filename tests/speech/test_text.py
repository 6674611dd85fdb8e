"""Text for speech: cleaning, numbers, sentence splitting (streamed and whole)."""

import pytest

from companion.errors import CompanionError
from companion.speech.text import SentenceSplitter, clean_for_speech, numbers_to_words, split_sentences


def test_markdown_emoji_urls_and_asides_are_not_spoken():
    text = ("## Title\n**Bold** and _soft_ words 😊🎉 *smiles warmly* see [the docs](https://x.org/a) "
            "or https://example.com/page?q=1 or `code`.\n```python\nprint(1)\n```\n- item one\n- item two")
    out = clean_for_speech(text, "en")
    assert out == "Title. Bold and soft words see the docs or or code. item one. item two"


def test_numbers_in_english_and_romanian():
    assert numbers_to_words("I have 3 cats and 1,250 dollars, 45% of 3.5 kg", "en") == (
        "I have three cats and one thousand, two hundred and fifty dollars, "
        "forty-five percent of three point five kg")
    assert numbers_to_words("Am 3 pisici, 1.200 de lei și 2,5 kg; 45%", "ro") == (
        "Am trei pisici, o mie două sute de lei și doi virgulă cinci kg; patruzeci și cinci la sută")
    assert numbers_to_words("pi is 3.14159, it is -5 outside", "en") == (
        "pi is three point one four one five nine, it is minus five outside")
    assert numbers_to_words("mp3 and COVID-19", "en") == "mp3 and COVID-nineteen"


def test_unknown_language_is_a_clear_error():
    with pytest.raises(CompanionError, match="no speech text rules for language 'fr'"):
        clean_for_speech("Bonjour 3", "fr")


@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith arrived at 3.5 p.m. today. He left.", ["Dr. Smith arrived at 3.5 p.m. today.", "He left."]),
    ("Wait... and then? Yes! Done.", ["Wait... and then?", "Yes!", "Done."]),
    ("I waited... Nobody came.", ["I waited...", "Nobody came."]),
    ("„Vino acasă.” El a plecat.", ["„Vino acasă.”", "El a plecat."]),
    ("„Ce faci?” a întrebat ea. Apoi a tăcut.", ["„Ce faci?” a întrebat ea.", "Apoi a tăcut."]),
    ("Dl. Popescu a venit, etc. și a plecat. Nr. 5 e liber.",
     ["Dl. Popescu a venit, etc. și a plecat.", "Nr. 5 e liber."]),
    ("J. R. R. Tolkien wrote e.g. The Hobbit. Read it.", ["J. R. R. Tolkien wrote e.g. The Hobbit.", "Read it."]),
    ("Pi is 3.14 exactly. Good", ["Pi is 3.14 exactly.", "Good"]),
])
def test_sentence_splitter_cases(text, expected):
    assert split_sentences(text) == expected


def test_streamed_pieces_give_the_same_sentences_as_a_whole_text():
    text = "Hello there. How are you today? I am fine... Thanks for asking! „Bine.” Pa."
    splitter, out = SentenceSplitter(), []
    for ch in text:  # worst case: one character at a time, as a slow generator might stream
        out += splitter.feed(ch)
    assert out + splitter.flush() == split_sentences(text)
    # a sentence is handed out as soon as the next one visibly begins, not at the very end
    splitter = SentenceSplitter()
    assert splitter.feed("First one. Sec") == ["First one."]


def test_early_first_fragment_starts_speech_sooner():
    text = "Well, I think that this is a good idea, and we should go. Next one."
    assert split_sentences(text, early_first=True) == [
        "Well, I think that this is a good idea,", "and we should go.", "Next one."]
    # only the first sentence is cut early
    assert split_sentences("Short. Then, more words here, yes.", early_first=True) == [
        "Short.", "Then, more words here, yes."]
    # a long first sentence without a clause break is cut after first_max_words words
    long = " ".join(f"w{i}" for i in range(20)) + "."
    first = split_sentences(long, early_first=True)[0]
    assert len(first.split()) == 12
