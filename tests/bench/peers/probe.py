"""The GPU's measured ceilings: matrix-product rate in fp32, tf32 and bf16 (8192 x 8192
products, best of several) and device memory bandwidth (a 1 GiB device-to-device copy,
read + write counted). Prints shell assignments: gpu=NAME, fp32=GFLOP/s, tf32=, bf16=, bw=GB/s.
"""
import sys
import time

import torch

if not torch.cuda.is_available():
    sys.exit("probe.py: PyTorch sees no CUDA device")
dev = torch.device("cuda")


def best(fn, reps):
    fn()
    torch.cuda.synchronize()
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        t = min(t, time.perf_counter() - t0)
    return t


def matmul_rate(dtype, tf32, n=8192, inner=4):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    c = torch.empty(n, n, device=dev, dtype=dtype)

    def run():
        for _ in range(inner):
            torch.mm(a, b, out=c)

    t = best(run, 5)
    torch.backends.cuda.matmul.allow_tf32 = False
    return 2 * n**3 * inner / t / 1e9


src = torch.empty(1 << 28, device=dev, dtype=torch.float32)  # 1 GiB
dst = torch.empty_like(src)
t_copy = best(lambda: dst.copy_(src), 10)
rates = {
    "fp32": matmul_rate(torch.float32, False),
    "tf32": matmul_rate(torch.float32, True),
    "bf16": matmul_rate(torch.bfloat16, False),
}
name = torch.cuda.get_device_name(0).replace("'", "")
print(f"gpu='{name}'")
for k, v in rates.items():
    print(f"{k}={v:.0f}")
print(f"bw={2 * src.numel() * 4 / t_copy / 1e9:.0f}")
