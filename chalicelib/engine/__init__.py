"""The pure policy engine: `evaluate(request, snapshot) -> Decision`.

Never imports boto3, botocore or chalice (checked by ruff TID251 and scripts/check_pure_core.py).
"""

from .evaluate import Verdicts, decide, deciding_with, evaluate, unread_verdict
from .resolve import resolve_principal

ENGINE_VERSION = "0.1.0"

__all__ = [
    "ENGINE_VERSION",
    "Verdicts",
    "decide",
    "deciding_with",
    "evaluate",
    "resolve_principal",
    "unread_verdict",
]
