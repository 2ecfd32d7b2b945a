"""A ``transformers.TrainerCallback`` that records a TRL/our trainer's run through ``recsys.tracking``."""

from __future__ import annotations

from transformers import TrainerCallback

from recsys.tracking import MlflowCallback


class TrainerTracking(TrainerCallback):
    """Start the MLflow run when training begins and log every ``Trainer.log`` call at its step.

    The run is ended by the caller with ``tracker.on_fit_end`` (final metrics, artifacts) or
    ``tracker.on_fit_error``, since only the caller knows what the run produced.
    """

    def __init__(self, tracker: MlflowCallback, params: dict[str, object]) -> None:
        self.tracker = tracker
        self.params = params

    def on_train_begin(self, args, state, control, **kwargs):
        self.tracker.on_fit_start(self.params)

    def on_log(self, args, state, control, logs=None, **kwargs):
        numbers = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float)}
        self.tracker.on_epoch_end(state.global_step, numbers)
