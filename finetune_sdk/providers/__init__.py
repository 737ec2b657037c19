"""Provider adapters, one module per vendor; import them through ``finetune_sdk.registry``."""
