"""kerasseq: recurrent and attention sequence models for Keras 3 / TensorFlow.

Importing kerasseq registers its layers and models for
`keras.saving.load_model`; it loads no dataset, pandas or tuner code
(those live in `pipelines` and `tuning`, imported on use).
"""

from kerasseq import layers
from kerasseq import models

__version__ = "0.1.0"
__all__ = ["layers", "models", "__version__"]
