"""Amazon Bedrock fine-tuning: adapter (``adapter.py``, boto3 imported lazily), per-model rules
(``models.py``) and wire formats (``dataset.py``)."""
