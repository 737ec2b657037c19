"""OpenAI fine-tuning: adapter (``adapter.py``, official ``openai`` SDK, imported lazily) and
wire format (``dataset.py``)."""
