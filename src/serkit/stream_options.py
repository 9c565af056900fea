"""A live stream's options, their defaults and valid ranges: declared once, importable without numpy.

`serkit.streaming` runs streams with them and `serkit listen` offers them as options (its defaults and
help text come from here, so `serkit --help` builds its parser without loading the prediction stack).
"""

from __future__ import annotations

from serkit.validation import Bound

__all__ = ["HOP_SECONDS", "SMOOTH_HOPS", "STREAM_BOUNDS", "WINDOW_SECONDS"]

HOP_SECONDS = 0.5  # seconds between updates
WINDOW_SECONDS = 2.0  # seconds of audio each update's label is predicted from
SMOOTH_HOPS = 2  # the shown label averages the probabilities of this many labelled hops

# The valid range of each option above (the sample rate's is the audio loader's).
STREAM_BOUNDS: dict[str, Bound] = {
    "hop": Bound(float, 0.1, 5.0),
    "window": Bound(float, 0.5, 30.0),
    "smooth": Bound(int, 1, 100),
}
