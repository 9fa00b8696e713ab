"""`breachline generate`: a synthetic e-commerce store's logs in every supported vendor format, with injected
incidents and their ground truth. See docs/generate.md."""

from breachline.generate.core import (
    DEFAULT_EVENTS_PER_DAY,
    DEFAULT_START,
    GROUND_TRUTH,
    GenerateError,
    GenerateSummary,
    generate_store,
)
from breachline.generate.formats import FORMAT_NAMES
from breachline.generate.scenarios import GroundTruth

__all__ = [
    "DEFAULT_EVENTS_PER_DAY",
    "DEFAULT_START",
    "FORMAT_NAMES",
    "GROUND_TRUTH",
    "GenerateError",
    "GenerateSummary",
    "GroundTruth",
    "generate_store",
]
