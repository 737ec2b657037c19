"""Speed-ups for LoRA training that keep the math of PEFT's LoRA layers.

- ``fuse_lora_linears``: PEFT computes ``base(x) + lora_B(lora_A(dropout(x))) * scaling`` as four
  separate full-size tensor passes (cast, matmul output, scale, add). For a plain single-adapter
  LoRA the add and scale fold into one GEMM with accumulate:
  ``addmm(base(x), lora_A(dropout(x)), lora_B.weight.T, alpha=scaling)``. Same function, fewer
  passes over the activations (which is what bounds LoRA training, the base GEMMs being shared).
  PEFT's own forward is kept for everything else (merged, disabled, several adapters, variants
  such as DoRA).
- ``compile_layers``: ``torch.compile`` each decoder layer (dynamic shapes, so packed rows of any
  length reuse one graph) to fuse norms, rotary embeddings, activations and dropout.
"""

from __future__ import annotations

from types import MethodType
from typing import Any

import torch


def _fused_forward(self: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    active = self.active_adapters
    if (
        args
        or kwargs
        or self.disable_adapters
        or self.merged
        or len(active) != 1
        or active[0] not in self.lora_A
        or active[0] in getattr(self, "lora_variant", {})
    ):
        return type(self).forward(self, x, *args, **kwargs)
    name = active[0]
    result = self.base_layer(x)
    lora_a = self.lora_A[name]
    if torch.is_autocast_enabled(x.device.type):
        dtype = torch.get_autocast_dtype(x.device.type)
        low_rank = lora_a(self.lora_dropout[name](x)).to(dtype)
        result, weight_b = result.to(dtype), self.lora_B[name].weight.to(dtype)
    else:  # as PEFT does: the adapter runs in its own dtype, the sum in the base layer's
        low_rank = lora_a(self.lora_dropout[name](x.to(lora_a.weight.dtype))).to(result.dtype)
        weight_b = self.lora_B[name].weight.to(result.dtype)
    fused = torch.addmm(
        result.reshape(-1, result.shape[-1]),
        low_rank.reshape(-1, low_rank.shape[-1]),
        weight_b.t(),
        alpha=self.scaling[name],
    )
    return fused.view(result.shape)


def fuse_lora_linears(peft_model: Any) -> int:
    """Give every PEFT ``lora.Linear`` the fused forward; returns how many were patched."""
    from peft.tuners.lora.layer import Linear as LoraLinear

    patched = 0
    for module in peft_model.modules():
        if type(module) is LoraLinear:
            # An instance attribute shadows the class's forward: mypy only allows that by name.
            module.forward = MethodType(_fused_forward, module)  # type: ignore[method-assign]
            patched += 1
    return patched


def compile_layers(peft_model: Any, whole_decoder: bool = False) -> int:
    """``torch.compile`` every decoder layer (or the whole decoder) in place; returns the count."""
    import torch._dynamo

    # A model whose code dynamo cannot trace runs eagerly instead of failing the job.
    torch._dynamo.config.suppress_errors = True
    causal_lm = peft_model.get_base_model()
    decoder = getattr(causal_lm, causal_lm.base_model_prefix)
    if whole_decoder:
        decoder.compile(dynamic=True)
        return 1
    layers = getattr(decoder, "layers", None)
    if layers is None:
        return 0
    for layer in layers:
        layer.compile(dynamic=True)
    return len(layers)
