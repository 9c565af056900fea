"""The terms each corpus' recordings come with, and the language spoken: what a model trained on
them inherits. One table, read by model cards, the Predictor's description and the web page."""

from __future__ import annotations

from collections.abc import Iterable

LICENCES = {
    "ravdess": "RAVDESS: CC BY-NC-SA 4.0 (Livingstone & Russo 2018) — non-commercial, share-alike",
    "savee": "SAVEE: free for research use (Haq & Jackson, University of Surrey)",
    "crema_d": "CREMA-D: Open Database License (ODbL) / Database Contents License",
    "tess": "TESS: CC BY-NC-ND 4.0 (University of Toronto)",
    "emodb": "EMO-DB: free for research use (TU Berlin)",
    "emovo": "EMOVO: research use (Costantini et al. 2014)",
    "urdu": "URDU: research use (Latif et al. 2018)",
    "nemo": "nEMO: CC BY-NC-SA 4.0 (Christop 2024) — non-commercial, share-alike",
}
# Corpora whose terms exclude commercial use (non-commercial licences and research-only terms).
NON_COMMERCIAL = frozenset({"ravdess", "savee", "tess", "emodb", "emovo", "urdu", "nemo"})
LANGUAGES = {"ravdess": "English", "savee": "English", "crema_d": "English", "tess": "English",
             "emodb": "German", "emovo": "Italian", "urdu": "Urdu", "nemo": "Polish"}


def _base(name: str) -> str:
    return name.split("#", 1)[0]


def licence_lines(corpora: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(_base(c) for c in corpora))
    return [LICENCES[c] for c in names if c in LICENCES] or ["(user data: check its terms)"]


def commercial_use_allowed(corpora: Iterable[str]) -> bool:
    return not any(_base(c) in NON_COMMERCIAL for c in corpora)


def languages(corpora: Iterable[str]) -> list[str]:
    return sorted({LANGUAGES[_base(c)] for c in corpora if _base(c) in LANGUAGES})


def licence_summary(corpora: Iterable[str]) -> str:
    corpora = list(corpora)
    if commercial_use_allowed(corpora):
        return "see the model card"
    return "non-commercial (inherits the licences of " + ", ".join(dict.fromkeys(map(_base, corpora))) + ")"
