# Copied from shared/bench/trl_baseline.py (the TRL anchor); run by benchmarks/run_gpu_bench.sh.
# ruff: noqa  (kept verbatim so its numbers compare with the shared anchor)
"""Anchor: TRL SFTTrainer + PEFT LoRA throughput on a random-init Llama (no hub access).
Synthetic chat-like lengths (lognormal), measures trained tokens/s (non-pad) and peak memory."""
import os, time, json, sys, math, tempfile
import numpy as np, torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, TrainerCallback
from tokenizers import Tokenizer, models, pre_tokenizers
from datasets import Dataset
from peft import LoraConfig
from trl import SFTTrainer, SFTConfig

size = os.environ.get("SIZE", "1b")
packing = os.environ.get("PACKING", "0") == "1"
pf = os.environ.get("PADFREE", "0") == "1"
cfgs = {"1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8),
        "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8)}
V = 32000
cfg = LlamaConfig(vocab_size=V, max_position_embeddings=4096, **cfgs[size])
cfg._attn_implementation = os.environ.get("ATTN", "sdpa")
model = LlamaForCausalLM(cfg).to(torch.bfloat16)
nparams = sum(p.numel() for p in model.parameters())
vocab = {f"t{i}": i for i in range(V)}; vocab["[PAD]"] = 0
tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t1")); tk.pre_tokenizer = pre_tokenizers.Whitespace()
tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", eos_token="t2")
rng = np.random.default_rng(0)
N = 4000
lens = np.clip(rng.lognormal(mean=math.log(350), sigma=0.7, size=N).astype(int), 32, 2048)
ds = Dataset.from_dict({"input_ids": [rng.integers(3, V, size=l).tolist() for l in lens]})
steps = int(os.environ.get("STEPS", "40"))
args = SFTConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=int(os.environ.get("BS", "8")), max_steps=steps,
                 learning_rate=2e-4, bf16=True, logging_steps=10, save_strategy="no", report_to=[],
                 max_length=2048, packing=packing, padding_free=pf, gradient_checkpointing=os.environ.get("GC","0")=="1",
                 dataloader_num_workers=2, use_liger_kernel=os.environ.get("LIGER", "0") == "1")
times = []
class T(TrainerCallback):
    def on_step_begin(self, a, s, c, **k): torch.cuda.synchronize(); self.t = time.perf_counter()
    def on_step_end(self, a, s, c, **k): torch.cuda.synchronize(); times.append(time.perf_counter() - self.t)
ntok = []
tr = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"),
                callbacks=[T()])
orig = tr.training_step
def ts(model, inputs, *a, **k):
    m = inputs.get("attention_mask")
    ntok.append(int(m.sum()) if m is not None else int(inputs["input_ids"].numel()))
    return orig(model, inputs, *a, **k)
tr.training_step = ts
torch.cuda.reset_peak_memory_stats()
tr.train()
w = 5
tt = sum(times[w:]); nt = sum(ntok[w:len(times)])
tps = nt / tt
flops = 6 * nparams * tps  # approx (LoRA: ~4x instead of 6x; report both)
print(json.dumps(dict(size=size, params_M=round(nparams/1e6), packing=packing, padding_free=pf, liger=args.use_liger_kernel, attn=cfg._attn_implementation,
      bs=args.per_device_train_batch_size, steps=len(times), tokens_per_s=round(tps), step_s=round(tt/(len(times)-w),3),
      mfu_6N_pct=round(100*flops/989e12,1), mfu_4N_pct=round(100*4*nparams*tps/989e12,1),
      peak_mem_GiB=round(torch.cuda.max_memory_allocated()/2**30,1))))
