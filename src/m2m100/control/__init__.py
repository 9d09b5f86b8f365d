"""Control over the output, per row: a target prefix the translation continues, its score,
n-best alternatives, the log-probability of given translations (scoring) and unknown pieces that
are counted and can be put back instead of dropped.

Modules: :mod:`~m2m100.control.scoring` (teacher-forced log-probabilities),
:mod:`~m2m100.control.alternatives` (n-best and continuations after a prefix),
:mod:`~m2m100.control.unknowns` (characters the vocabulary lacks, ``<unk>`` replacement) and
:mod:`~m2m100.control.rows` (one model call for rows that mix these controls).
"""

from m2m100.control.alternatives import Alternative
from m2m100.control.scoring import Score

__all__ = ["Alternative", "Score"]
