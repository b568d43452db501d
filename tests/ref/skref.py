"""What the Python references share: the JSON form of a frame tensor,
and scikit-learn's value of each classification metric mil-train and
probe report (the names of their result frames)."""
import base64

import numpy as np


def tensor(t):
    """A tensor as frame-cat --full writes it, as a numpy array."""
    dt = {"f64": "<f8", "f32": "<f4", "i64": "<i8"}[t["dtype"]]
    return np.frombuffer(base64.b64decode(t["data"]["$base64"]), dt).reshape(t["shape"])


def sk_metric(m, y, pred, prob, k):
    """Metric m of true classes y, predicted classes pred and
    probabilities prob [n, k], as scikit-learn computes it: the binary
    AUC on class 1, else one-vs-rest macro over all k classes; the
    quadratic kappa over the label set 0..k-1."""
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score,
                                 cohen_kappa_score, f1_score, roc_auc_score)
    labels = list(range(k))
    return {"auroc": lambda: roc_auc_score(y, prob[:, 1]) if k == 2 else
            roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=labels),
            "balanced_accuracy": lambda: balanced_accuracy_score(y, pred),
            "f1_macro": lambda: f1_score(y, pred, average="macro"),
            "f1_weighted": lambda: f1_score(y, pred, average="weighted"),
            "accuracy": lambda: accuracy_score(y, pred),
            "kappa_quadratic": lambda: cohen_kappa_score(y, pred, weights="quadratic",
                                                         labels=labels)}[m]()
