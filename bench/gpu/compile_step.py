"""One training step of a small GPT-style model under torch.compile, timed.

Prints one JSON line: seconds to import torch, to run the first (compiling) step and the second step,
and Inductor's cache counters, so a run can be read as a hit or a miss. MODE=max-autotune selects
max-autotune-no-cudagraphs. Written for bench/gpu/run.sh.
"""
import json
import os
import time

t0 = time.perf_counter()
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402

import_s = time.perf_counter() - t0


class Layer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.norm_a, self.norm_b = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm_a(x)).chunk(3, dim=-1)
        q, k, v = (z.reshape(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        x = x + self.out(att)
        return x + self.down(F.gelu(self.up(self.norm_b(x))))


class Model(nn.Module):
    def __init__(self, vocab=32000, d=1024, heads=16, layers=12, ctx=512):
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.layers = nn.ModuleList(Layer(d, heads) for _ in range(layers))
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x = self.embed(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x))


def main():
    dev = "cuda"
    torch.manual_seed(0)
    model = Model().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    mode = "max-autotune-no-cudagraphs" if os.environ.get("MODE") == "max-autotune" else None
    step_fn = torch.compile(model, mode=mode)
    idx = torch.randint(0, 32000, (8, 512), device=dev)
    times = []
    for _ in range(2):
        t = time.perf_counter()
        with torch.autocast(dev, dtype=torch.bfloat16):
            loss = F.cross_entropy(step_fn(idx).flatten(0, 1), idx.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    print(json.dumps({
        "import_s": round(import_s, 3),
        "first_step_s": round(times[0], 3),
        "second_step_s": round(times[1], 3),
        "inductor": {k: v for k, v in counters["inductor"].items() if "cache" in k},
        "aot_autograd": dict(counters["aot_autograd"]),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
