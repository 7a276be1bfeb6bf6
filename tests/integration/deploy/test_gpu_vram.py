"""On a GPU host: the process backend reports the combined VRAM after start, and teardown gives it back.

The stand-in server holds real device memory through the CUDA driver API (ctypes, no torch needed), so the
figure NVML reports must rise by at least that much while it runs and fall again after teardown.
"""

from __future__ import annotations

import ctypes.util
import sys
import time
from pathlib import Path

import pytest
from support.engines import need

from o2v.deploy import ProcessBackend, deploy, teardown
from o2v.deploy.spec import LaunchSpec
from o2v.deploy.vram import read_vram

pytestmark = pytest.mark.gpu

HOLD_GIB = 2

GPU_SERVER = r"""
import ctypes, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, gib = int(sys.argv[1]), int(sys.argv[2])
cuda = ctypes.CDLL("libcuda.so.1")
dev, ctx, ptr = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_uint64()
for code in (cuda.cuInit(0), cuda.cuDeviceGet(ctypes.byref(dev), 0),
             cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), cuda.cuCtxSetCurrent(ctx),
             cuda.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(gib << 30))):
    if code != 0:
        print("CUDA call failed with CUresult", code, flush=True)
        sys.exit(5)
print(f"holding {gib} GiB", flush=True)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()
HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def test_vram_after_start_includes_the_new_server(tmp_path: Path, port: int) -> None:
    before = read_vram(["0"])
    if before is None or ctypes.util.find_library("cuda") is None:
        need("an NVIDIA driver (NVML and libcuda)", "run on a GPU host with the driver installed")
    script = tmp_path / "gpu_server.py"
    script.write_text(GPU_SERVER)
    spec = LaunchSpec(
        name="gpu-holder",
        image="unused:1",
        command=[sys.executable, str(script), str(port), str(HOLD_GIB)],
        port=port,
        gpu_device_ids=["0"],
        health_timeout_s=120,
    )
    backend = ProcessBackend(tmp_path, stop_timeout_s=10)
    try:
        deployment = deploy(spec, backend)
        assert deployment.vram_gib is not None
        assert deployment.vram_gib >= before.used_gib + HOLD_GIB * 0.95
        assert deployment.vram_total_gib == before.total_gib
    finally:
        teardown("gpu-holder", backend)
    time.sleep(1)
    after = read_vram(["0"])
    assert after is not None
    assert after.used_gib < before.used_gib + 0.5
