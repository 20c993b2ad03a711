"""Argument checks for layers and builders: those of `pipelines.validation`.

They live in `pipelines`, the lower layer, so that the data pipelines check
arguments without importing kerasseq (and with it TensorFlow); kerasseq
imports them from there.
"""

from pipelines.validation import ArgumentError
from pipelines.validation import check_non_negative_int
from pipelines.validation import check_one_of
from pipelines.validation import check_positive_int
from pipelines.validation import check_rate

__all__ = ["ArgumentError", "check_non_negative_int", "check_one_of", "check_positive_int", "check_rate"]
