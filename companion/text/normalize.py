"""Unicode normalisation applied to every text before it is tokenised or stored for training."""

import unicodedata

# Romanian s/t with cedilla (legacy ISO-8859-2 habit) → the correct comma-below letters.
_CEDILLA_TO_COMMA = str.maketrans({"ş": "ș", "Ş": "Ș", "ţ": "ț", "Ţ": "Ț"})


def normalize_text(text: str) -> str:
    """NFC, then Romanian cedilla forms → comma-below forms.

    NFC first: a decomposed "s + combining cedilla" composes to ş, which the table then maps.
    Whitespace is kept as is; the chat layout depends on newlines.
    """
    return unicodedata.normalize("NFC", text).translate(_CEDILLA_TO_COMMA)
