"""callmask: self-hostable phone-number masking."""

from __future__ import annotations

__version__ = "0.1.0"
