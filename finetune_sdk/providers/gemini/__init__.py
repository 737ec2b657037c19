"""Gemini tuning on Vertex AI: adapter (``adapter.py``, ``google-genai`` imported lazily) and
wire format (``dataset.py``)."""
