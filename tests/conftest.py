"""Test-suite configuration: hypothesis profiles.

- "default": no per-example deadline (numerical work on a shared 2-core machine has timing
  jitter that says nothing about correctness; every test bounds its work by bounding p^k instead),
  and failing examples are printed with their reproduction blob.
- "ci": the same, derandomised, so a CI run is reproducible (HYPOTHESIS_PROFILE=ci).
Tests that need other settings say so with @settings, which overrides the profile.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
