"""keras_inspect: look inside a Keras 3 network while it trains.

Add :class:`InspectCallback` to ``model.fit``; read what it recorded with :func:`load` or in
TensorBoard's Inspect tab, what looks wrong with :func:`findings` (or
``python -m keras_inspect findings LOGDIR``), and how alike two checkpoints' layers are with
:func:`cka`.
"""

from keras_inspect.callback import InspectCallback
from keras_inspect.compare import cka
from keras_inspect.errors import ConfigError, InspectError, QuantityError
from keras_inspect.findings import Thresholds, findings
from keras_inspect.guard import InspectWarning, LeftOutWarning
from keras_inspect.presets import PRESETS, QUANTITIES
from keras_inspect.quantities.saliency import important_units
from keras_inspect.reader import load

__all__ = [
    "ConfigError",
    "InspectCallback",
    "InspectError",
    "InspectWarning",
    "LeftOutWarning",
    "PRESETS",
    "QUANTITIES",
    "QuantityError",
    "Thresholds",
    "cka",
    "findings",
    "important_units",
    "load",
]
__version__ = "0.1.0"
