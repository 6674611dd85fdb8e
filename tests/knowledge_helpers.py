"""A knowledge large enough for the "I do not know" floors (companion/memory/unsure.py)."""

from companion.memory.knowledge import Exchange, Knowledge
from companion.memory.unsure import CALIBRATED_FROM

WHEELS = Exchange("nova", "De ce vibrează volanul la 110 la oră?",
                  "Roțile sunt neechilibrate: orice roată are mici diferențe de masă pe circumferință.")
LASER = Exchange("nova", "Ce e un laser și cum funcționează laserul?",
                 "Laserul produce un fascicul de lumină foarte îngust, coerent, de o singură culoare.")
# Shares "masă" and "diferență" with WHEELS' answer, and is about something else.
FAR_QUESTION = "Ce diferență e între masă și înălțime?"


def large_knowledge(*exchanges: Exchange) -> Knowledge:
    """exchanges among as many others as the floors were measured for (bm25's scores grow with
    the number of exchanges); the others share no word with anything a test asks."""
    filler = [Exchange(("nova", "sora", "lumin")[i % 3], f"subiect{i} numarul{i}", f"raspuns{i} despre{i}")
              for i in range(CALIBRATED_FROM)]
    return Knowledge([*exchanges, *filler])
