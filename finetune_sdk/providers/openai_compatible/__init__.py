"""OpenAI-compatible fine-tuning services as profiles of the OpenAI adapter, not copies of it.

``adapter.py`` holds the three providers (``openai-compatible``: any server with a base URL;
``azure-openai``: Azure OpenAI's v1 API; ``nebius``: Nebius Token Factory). Each preset module
(``generic.py``, ``azure.py``, ``nebius.py``) is data: its ``PROFILE`` (keys, base URL,
capabilities, limits, catalog, model-id shape, deployment) and the ``RULES`` and
``write_wire_jsonl`` that ``finetune validate`` / ``finetune convert`` use.
"""
