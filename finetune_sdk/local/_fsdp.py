"""FSDP2 for the local trainer: when to shard the base model, how, and how its adapter is saved.

``sharding="fsdp"`` (or ``"auto"`` on GPUs when the base weights would not fit one device) splits
every parameter over the ranks with ``torch.distributed.fsdp.fully_shard`` (FSDP2, per-parameter
DTensor sharding): each decoder layer is one group (gathered for its forward and backward, freed
after), the embeddings, final norm and LM head are the root group. Frozen base weights and the
trainable LoRA weights are sharded alike, and so is the AdamW state, which lives with the LoRA
shards. Gradients are averaged by reduce-scatter, as DDP averages them, so the step's loss and
gradient are those of one process on the same rows.

What is not sharded: the start. Every rank reads the whole base into host memory (in the dtype
it trains in) before ``fully_shard`` moves its share of each layer to the device, so a node needs
``processes x model size`` of RAM while loading. A 4-bit (QLoRA) base is refused: bitsandbytes'
packed weights are not tensors FSDP2 can split. Saving gathers the small LoRA tensors to every
rank (``full_lora_state``) so checkpoints and the output are whole and load anywhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch

SHARDINGS = ("auto", "ddp", "fsdp")

#: ``auto`` shards when the base weights take more than this share of one device's memory: the
#: rest is for the activations of a packed row (up to 16k tokens, no activation checkpointing),
#: the LoRA weights, their gradients and AdamW state, and the CUDA context.
FIT_FRACTION = 0.5


def base_weight_bytes(base_model: str | Path, dtype: torch.dtype) -> int:
    """Bytes of the base model's parameters in ``dtype``, counted on the meta device (no
    weights are read)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(base_model))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    count = sum(p.numel() for p in model.parameters())  # tied weights are one parameter
    return count * torch.empty((), dtype=dtype).element_size()


def device_bytes(device: torch.device) -> int:
    return int(torch.cuda.get_device_properties(device).total_memory)


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def choose_sharding(requested: str, *, base_model: str | Path, device: torch.device,
                    world: int, quantization: str | None,
                    say: Callable[..., None]) -> str:
    """``"none"`` (one process), ``"ddp"`` or ``"fsdp"`` for this run; refuses what cannot work."""
    from ..errors import LocalTrainerError
    from ._model import weight_dtype

    if requested not in SHARDINGS:
        raise LocalTrainerError(f"sharding must be one of {', '.join(SHARDINGS)}"
                                f" (got {requested!r})")
    if requested == "fsdp":
        if quantization:
            raise LocalTrainerError(
                f"sharding='fsdp' cannot shard a 4-bit base (quantization={quantization!r}):"
                " bitsandbytes' packed weights are not tensors FSDP2 can split. Train QLoRA"
                " with one copy per GPU (sharding='ddp'), or the full-precision base with FSDP")
        if world < 2:
            raise LocalTrainerError(
                "sharding='fsdp' needs several processes to shard over (gpus=N and/or nodes=M);"
                " this run has one")
        return "fsdp"
    if requested == "ddp":
        return "ddp" if world > 1 else "none"
    # auto: shard only what one GPU cannot hold; a CPU run shards only when asked.
    if device.type != "cuda" or quantization:
        return "ddp" if world > 1 else "none"
    need, have = base_weight_bytes(base_model, weight_dtype(device)), device_bytes(device)
    if need <= FIT_FRACTION * have:
        return "ddp" if world > 1 else "none"
    reason = (f"the base weights take {_gib(need)}, more than {FIT_FRACTION:.0%} of {device}'s"
              f" {_gib(have)}")
    if world < 2:
        say(f"{reason}; it may not fit: run it over several GPUs (gpus=N), where it is"
            " sharded with FSDP2", "warning")
        return "none"
    say(f"{reason}: sharding it over {world} processes with FSDP2")
    return "fsdp"


def load_for_sharding(config: Any, device: torch.device) -> Any:
    """Base + LoRA on the host, in the dtype the run computes in; ``shard`` moves it."""
    from transformers import AutoModelForCausalLM

    from . import _attention
    from ._model import weight_dtype, wrap_lora

    _attention.register()
    # Not moved to the device: a base that does not fit one GPU must reach it shard by shard.
    model = AutoModelForCausalLM.from_pretrained(
        str(config.base_model), dtype=weight_dtype(device),
        attn_implementation=_attention.ATTENTION_NAME)
    model.config.use_cache = False
    with warnings.catch_warnings():  # PEFT's own use of a deprecated transformers call
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated")
        # Eager: per-layer torch.compile under FSDP2's gather/free hooks is not measured yet.
        return wrap_lora(model, lora_rank=config.lora_rank, lora_alpha=config.lora_alpha,
                         lora_dropout=config.lora_dropout,
                         target_modules=config.lora_target_modules, compile_layers=False)


def shard(module: torch.nn.Module, peft_model: Any, device: torch.device,
          world: int) -> torch.nn.Module:
    """``fully_shard`` each decoder layer, then the whole module (the root group); in place."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device.type, (world,))
    causal_lm = peft_model.get_base_model()
    # The classes transformers never splits across devices are the natural units to gather.
    blocks = set(getattr(causal_lm, "_no_split_modules", None) or ())
    for sub in list(causal_lm.modules()):
        if type(sub).__name__ in blocks:
            fully_shard(sub, mesh=mesh)
    # fully_shard returns the module itself, its class now a subclass of FSDPModule and of the
    # module's own class; torch types the result as FSDPModule only.
    return cast(torch.nn.Module, fully_shard(module, mesh=mesh))


def full_lora_state(peft_model: Any) -> dict[str, torch.Tensor]:
    """Every trainable tensor, whole, on the CPU, by the model's parameter name.

    Under FSDP2 each one is gathered from its shards: a collective, so every rank calls it.
    """
    from torch.distributed.tensor import DTensor

    state = {}
    for name, param in peft_model.named_parameters():
        if param.requires_grad:
            whole = param.full_tensor() if isinstance(param, DTensor) else param
            state[name] = whole.detach().to("cpu", copy=True)
    return state


class GatheredAdapter:
    """The sharded PEFT model as ``write_output`` sees it: the gathered adapter, saved and
    merged like an unsharded one."""

    def __init__(self, peft_model: Any, lora_state: dict[str, torch.Tensor],
                 base_model: str | Path, dtype: torch.dtype) -> None:
        self.peft_model, self.lora_state = peft_model, lora_state
        self.base_model, self.dtype = base_model, dtype

    def save_pretrained(self, path: Path, **kwargs: Any) -> None:
        self.peft_model.save_pretrained(path, state_dict=self.lora_state, **kwargs)

    def parameters(self) -> Any:
        return self.peft_model.parameters()

    def merge_and_unload(self) -> Any:
        """Base + adapter folded on the host: the sharded model cannot be merged in place."""
        from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(str(self.base_model), dtype=self.dtype)
        lora = self.peft_model.peft_config[self.peft_model.active_adapter]
        plain = get_peft_model(base, lora)
        set_peft_model_state_dict(
            plain, get_peft_model_state_dict(self.peft_model, state_dict=self.lora_state))
        return plain.merge_and_unload()
