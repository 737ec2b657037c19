"""Together AI fine-tuning: adapter (``adapter.py``, official ``together`` SDK, imported lazily),
request building (``request.py``), uploads (``files.py``), wire mapping (``mapping.py``), the
httpx2 bridge (``bridge.py``) and the wire format (``dataset.py``)."""
