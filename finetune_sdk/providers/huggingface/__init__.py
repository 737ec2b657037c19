"""Hugging Face AutoTrain / HF Jobs: adapter (``adapter.py``, ``huggingface_hub`` imported
lazily) and wire format (``dataset.py``)."""
