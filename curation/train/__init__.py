"""Training the fastText quality classifier: config, trainer and held-out metrics.

``curation train-classifier CONFIG`` is ``train_classifier(spark, load_train_config(CONFIG))``.
"""

from curation.train.config import TrainConfig, load_train_config
from curation.train.trainer import TrainResult, train_classifier

__all__ = ["TrainConfig", "TrainResult", "load_train_config", "train_classifier"]
