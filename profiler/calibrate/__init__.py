"""`bias-profiler calibrate`: fit score thresholds on a few hundred hand-labelled samples of a run.

Zero-shot CLIP scores (and open_nsfw's) are not calibrated: the documented default cut-offs
(0.5 on `clip.sexual_score`, the prompt bank's; 0.8 on `nsfw.score`, the open_nsfw README's) say
nothing about precision on *your* data. A curator labels samples of a finished run (`key,label`
CSV); this module joins the labels with the run's tag files and fits:

  binary labels (1/0, true/false, yes/no, sexual/not_sexual): one threshold on a score column
      (`--score`, default `clip.sexual_score`; `nsfw.score` for the open_nsfw tagger);
  class ids of the prompt bank: one-vs-rest thresholds on `clip.prob.<class>` for each sexual
      class (the clip tagger then flags a row when any class reaches its cut).

The objective is maximum F1, or with a target precision the lowest threshold that reaches it
(most recall at that precision). The written cut is the shortest decimal between the chosen
sample score and the next lower one, so it classifies the labelled samples exactly as the fit
did. Metrics: precision, recall and F1 at the cut with Wilson 95% intervals, ROC AUC, average
precision (PR AUC), support, and a bootstrap interval of the threshold itself (refit on
resampled labels: how much the cut would move with other labels).

Modules: `fit` (one threshold and its metrics), `labels` (the CSV), `command` (the command).
The thresholds file format lives with the taggers that read it (profiler.taggers.thresholds).
"""

from profiler.calibrate.command import CalibrateRequest, CalibrationResult, run_calibrate
from profiler.calibrate.fit import Fit, fit_threshold, short_cut
from profiler.calibrate.labels import label_kind, read_labels
from profiler.taggers.thresholds import Thresholds, format_thresholds, load_thresholds

__all__ = [
    "CalibrateRequest",
    "CalibrationResult",
    "Fit",
    "Thresholds",
    "fit_threshold",
    "format_thresholds",
    "label_kind",
    "load_thresholds",
    "read_labels",
    "run_calibrate",
    "short_cut",
]
