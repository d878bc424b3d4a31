"""Training: config, energy baseline and normalisation, losses, checkpoints, the epoch loop."""

from vimpnn.training.checkpoint import load_model
from vimpnn.training.config import TrainConfig
from vimpnn.training.trainer import predict, train

__all__ = ["TrainConfig", "load_model", "predict", "train"]
