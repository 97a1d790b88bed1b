"""Environment defaults that keep third-party libraries from phoning home.

Called explicitly by entry points (CLI, server, UI, tests) before heavy imports: gradio reads its
analytics flag at import time, chromadb and onnxruntime their telemetry flags at start-up.
`setdefault`, so a user can still override any of them.
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_defaults() -> None:
    for name, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
