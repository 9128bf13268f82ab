"""The project's one exception type for domain errors (bad p, k, shapes, files, sizes)."""

from __future__ import annotations


class FourierCircuitsError(ValueError):
    """A domain error: the message names the argument, its value and the rule it breaks.

    Subclasses ValueError so callers that expect ValueError for bad arguments still catch it.
    The command line turns it into one line on stderr and exit status 2.
    """
