"""The trainable module: base model + LoRA, a packed-row forward, and the loss on trained tokens.

``PackedCausalLM`` wraps the PEFT model so that one ``forward`` call computes the summed loss of one
packed row. It calls the decoder (not the LM head) and scores only the positions that have a
target, so full-vocabulary logits for the whole row are never built. Wrapping it as one module
is also what DDP needs: the gradient hooks fire for everything inside ``forward``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

from . import _attention
from ._loss import linear_cross_entropy_sum


def load_lora_model(
    base_model: str | Path,
    *,
    device: torch.device,
    lora_rank: int,
    lora_alpha: int,
    lora_dropout: float,
    target_modules: list[str] | str,
    quantization: str | None = None,
) -> Any:
    """Base weights (bf16 on GPU, fp32 on CPU) with LoRA adapters (fp32 master weights).

    ``quantization="nf4"`` is QLoRA: the base linear layers are loaded in 4-bit NF4 with double
    quantization (bitsandbytes) and computed in the same dtype as above; LoRA trains on top.
    """
    from transformers import AutoModelForCausalLM

    _attention.register()
    dtype = weight_dtype(device)
    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": _attention.ATTENTION_NAME}
    if quantization is not None:
        kwargs.update(quantization_config=qlora_config(quantization, dtype),
                      device_map={"": device})  # quantized weights are placed while loading
    model = AutoModelForCausalLM.from_pretrained(str(base_model), **kwargs)
    model.config.use_cache = False
    if quantization is None:
        # transformers wraps .to() with functools.wraps; typeshed's _Wrapped drops the binding.
        model.to(device)  # type: ignore[arg-type]
    else:
        from peft import prepare_model_for_kbit_training

        # Norms and embeddings to fp32 and frozen, as QLoRA does; no activation checkpointing
        # (the packed rows are already bounded by the token budget).
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    with warnings.catch_warnings():
        # PEFT asks transformers a deprecated question about k-bit models on the way; the
        # warning is theirs, not the user's to act on.
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated")
        return wrap_lora(
            model,
            lora_rank=lora_rank,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target_modules=target_modules,
            # torch.compile over bitsandbytes' 4-bit kernels is unmeasured here: stay eager.
            compile_layers=False if quantization is not None else None,
        )


def weight_dtype(device: torch.device) -> torch.dtype:
    """The dtype base weights are loaded, computed and merged in: bf16 on GPU, fp32 on CPU."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


QUANTIZATIONS = ("nf4",)


def qlora_config(quantization: str, dtype: torch.dtype) -> Any:
    """The transformers ``BitsAndBytesConfig`` for a ``quantization`` name."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}"
                         f" (got {quantization!r})")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise ImportError("QLoRA (quantization='nf4') needs bitsandbytes:"
                          " pip install 'finetune-sdk[qlora]'") from exc
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)


def wrap_lora(
    model: Any,
    *,
    lora_rank: int,
    lora_alpha: int,
    lora_dropout: float,
    target_modules: list[str] | str,
    fuse: bool | None = None,
    compile_layers: bool | None = None,
) -> Any:
    """Add LoRA adapters to ``model`` and apply the speed-ups of ``_fast.py``.

    ``fuse``/``compile_layers`` default to FINETUNE_SDK_FUSE_LORA (on unless "0") and
    FINETUNE_SDK_COMPILE ("1": each decoder layer, "decoder": the whole decoder, "0": eager;
    default "1" on GPU, where it was measured 1.4x faster, and "0" on CPU).
    """
    from peft import LoraConfig, get_peft_model

    from . import _fast

    lora = LoraConfig(
        r=lora_rank,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=target_modules,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, lora)
    if fuse if fuse is not None else os.environ.get("FINETUNE_SDK_FUSE_LORA", "1") != "0":
        _fast.fuse_lora_linears(peft_model)
    on_gpu = next(model.parameters()).is_cuda
    compile_mode = os.environ.get("FINETUNE_SDK_COMPILE", "1" if on_gpu else "0")
    if compile_layers if compile_layers is not None else compile_mode in ("1", "decoder"):
        _fast.compile_layers(peft_model, whole_decoder=compile_mode == "decoder")
    return peft_model


class PackedCausalLM(torch.nn.Module):
    """``forward(row) -> summed loss`` for one packed row (batch size 1)."""

    def __init__(self, peft_model: Any, *, backend: str, chunk_tokens: int = 4096) -> None:
        super().__init__()
        self.peft_model = peft_model
        causal_lm = peft_model.get_base_model()
        self.backend = backend
        self.chunk_tokens = chunk_tokens
        self.softcap = getattr(causal_lm.config, "final_logit_softcapping", None)

    def _parts(self) -> tuple[Any, torch.Tensor]:
        causal_lm = self.peft_model.get_base_model()
        decoder = getattr(causal_lm, causal_lm.base_model_prefix)
        return decoder, causal_lm.get_output_embeddings().weight

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        cu_seqlens: torch.Tensor,
        max_seqlen: int,
    ) -> torch.Tensor:
        """Last hidden states ``[S, H]`` of one packed row, examples isolated."""
        decoder, _ = self._parts()
        total = input_ids.shape[-1]
        pack = _attention.make_pack_info(self.backend, cu_seqlens, max_seqlen, total)
        out = decoder(
            input_ids=input_ids.view(1, -1),
            position_ids=position_ids.view(1, -1),
            use_cache=False,
            packing=pack,
        )
        return out.last_hidden_state[0]

    def forward(
        self,
        input_ids: torch.Tensor,  # [S]
        position_ids: torch.Tensor,  # [S]
        cu_seqlens: torch.Tensor,  # int32 [docs + 1]
        target_positions: torch.Tensor,  # [N] positions that have a target
        targets: torch.Tensor,  # [N] the target token ids
        max_seqlen: int,
    ) -> torch.Tensor:
        hidden = self.hidden_states(input_ids, position_ids, cu_seqlens, max_seqlen)
        _, weight = self._parts()
        picked = hidden.index_select(0, target_positions)
        return linear_cross_entropy_sum(
            picked, weight, targets, chunk_tokens=self.chunk_tokens, softcap=self.softcap
        )


def row_tensors(row: Any, device: torch.device) -> dict[str, Any]:
    """Host lists of a ``PackedRow`` -> the keyword arguments of ``PackedCausalLM.forward``."""
    pin = device.type == "cuda"
    positions = [i for i, t in enumerate(row.targets) if t != -100]
    values = [row.targets[i] for i in positions]

    def move(data: list[int], dtype: torch.dtype) -> torch.Tensor:
        tensor = torch.tensor(data, dtype=dtype)
        if pin:
            tensor = tensor.pin_memory()
        return tensor.to(device, non_blocking=True)

    return {
        "input_ids": move(row.input_ids, torch.long),
        "position_ids": move(row.position_ids, torch.long),
        "cu_seqlens": move(row.cu_seqlens, torch.int32),
        "target_positions": move(positions, torch.long),
        "targets": move(values, torch.long),
        "max_seqlen": row.max_seqlen,
    }
