"""The ONNX models the detectors run, loaded once per process and shared by every camera.

Sessions run on the CPU execution provider with one intra-op thread: an edge node analyses many
cameras in parallel processes, and one camera's frame is small, so threads inside a model only add
contention.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
BLOCK_CLASSIFIER = "block_classifier.onnx"
#: The learned obstruction decision (edge.obstruction_learned), built by ``python -m models.train_decision``.
DECISION_MODEL = "obstruction_decision.onnx"
#: Classes of the block classifier, in output order.
BLOCK_CLASSES = ("benign", "debris", "water", "object")


class ModelError(RuntimeError):
    """A model file is missing or unreadable."""


@dataclass(slots=True)
class ModelBundle:
    """Every model the pipeline needs, as ready-to-run sessions."""

    block_classifier: ort.InferenceSession
    block_input: str
    n_features: int
    decision: ort.InferenceSession | None = None  # None: no decision model next to the classifier
    decision_input: str = ""

    def classify_blocks(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (N x len(BLOCK_CLASSES)) for N block feature rows."""
        if features.shape[0] == 0:
            return np.zeros((0, len(BLOCK_CLASSES)), np.float32)
        out = self.block_classifier.run(None, {self.block_input: features.astype(np.float32)})
        return np.asarray(out[0], dtype=np.float32)

    def decide_probs(self, rows: np.ndarray) -> np.ndarray:
        """Class probabilities of the decision model (N x len(DECISION_CLASSES)) for N feature rows."""
        if self.decision is None:
            raise ModelError(f"no decision model ({DECISION_MODEL}); build it with "
                             "'python -m models.train_decision' or set detection.decision: rules")
        out = self.decision.run(None, {self.decision_input: rows.astype(np.float32)})
        probs = next(o for o in out if isinstance(o, np.ndarray) and o.ndim == 2)
        return np.asarray(probs, dtype=np.float32)


def _session(path: Path, builder: str = "models.train_blocks") -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; build it with 'python -m {builder}'")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load model {path}: {exc}") from exc


def load_models(models_dir: Path | None = None) -> ModelBundle:
    """Load the models from ``models_dir`` (default: the repository's ``models/``). Call once."""
    root = models_dir or MODELS_DIR
    sess = _session(root / BLOCK_CLASSIFIER)
    inp = sess.get_inputs()[0]
    n = inp.shape[1] if isinstance(inp.shape[1], int) else 0
    decision = _session(root / DECISION_MODEL, "models.train_decision") \
        if (root / DECISION_MODEL).is_file() else None
    return ModelBundle(block_classifier=sess, block_input=inp.name, n_features=n, decision=decision,
                       decision_input="" if decision is None else decision.get_inputs()[0].name)
