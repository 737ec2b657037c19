"""Fireworks AI fine-tuning: adapter (``adapter.py``, REST over httpx2) and wire format
(``dataset.py``)."""
