"""``o2v plan`` (map, size, render compose files) and ``o2v plan size`` (the arithmetic alone, offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from o2v.cli.app import ConfigOption, app, console, fail, settings_or_exit

plan_app = typer.Typer(help="Plan the vLLM deployment from the inventory and the GPU.", invoke_without_command=True)
app.add_typer(plan_app, name="plan")


@plan_app.callback()
def plan(
    ctx: typer.Context,
    config: ConfigOption = None,
    out_dir: Annotated[Path | None, typer.Option(help="Where compose files go (default: deployments/<id>).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Inventory Ollama, verify the GPU, size vLLM and render the compose files."""
    if ctx.invoked_subcommand is not None:
        return
    from o2v.errors import GateFailed
    from o2v.inventory import take_inventory
    from o2v.plan import make_plan, render_compose

    settings = settings_or_exit(config)
    inv = take_inventory(settings)
    try:
        result = make_plan(settings, inv)
    except GateFailed as exc:
        fail("the plan stops here:\n" + "\n".join(f"  - {v}" for v in exc.violations))
    paths = render_compose(result, out_dir or Path("deployments") / settings.migration_id)
    if as_json:
        console.print_json(result.model_dump_json())
        return
    console.print(f"{result.primary.ollama_tag} -> {result.primary.hf_repo} on {result.gpu_name}", highlight=False)
    for flags in (result.side_by_side, result.after_decommission):
        console.print(
            f"{flags.period}: --gpu-memory-utilization {flags.gpu_memory_utilization:.2f} --max-model-len "
            f"{flags.max_model_len} --max-num-seqs {flags.max_num_seqs}",
            highlight=False,
        )
        for line in flags.reasoning + flags.sizing.steps:
            console.print(f"    {line}", highlight=False, markup=False)
    for m in result.models:
        console.print(f"  {m.ollama_tag}: {m.source} {m.hf_repo or ''} {m.note}", highlight=False, markup=False)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    console.print("written: " + ", ".join(str(p) for p in paths), highlight=False, markup=False)


@plan_app.command("size")
def size_cmd(
    model: Annotated[str, typer.Option(help="A Hugging Face config.json path, or a catalog name (tag or repo).")],
    gpu_memory_gib: Annotated[float, typer.Option(help="Total memory of one GPU as CUDA reports it, GiB.")],
    max_model_len: Annotated[int, typer.Option(help="Context length per sequence.")],
    gpu_memory_utilization: Annotated[float, typer.Option(help="Fraction of total memory vLLM takes.")] = 0.9,
    tensor_parallel_size: Annotated[int, typer.Option(help="GPUs per model.")] = 1,
    dtype: Annotated[str, typer.Option(help="auto, bfloat16, float16 or float32.")] = "auto",
    quantization: Annotated[str | None, typer.Option(help="awq, gptq or fp8.")] = None,
    kv_cache_dtype: Annotated[str, typer.Option(help="auto, fp8, fp8_e4m3 or fp8_e5m2.")] = "auto",
    max_num_seqs: Annotated[int | None, typer.Option(help="Default: vLLM's for this GPU.")] = None,
    gpu_name: Annotated[str, typer.Option(help="Device name (vLLM uses smaller defaults on A100).")] = "",
    other_processes_gib: Annotated[
        float | None, typer.Option(help="GiB other processes (desktop, Ollama) hold; default: assumed for the card.")
    ] = None,
    vllm_version: Annotated[str | None, typer.Option(help="e.g. 0.11.0; default: unknown (worse case).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full arithmetic as JSON.")] = False,
) -> None:
    """How many sequences of this length fit? vLLM's arithmetic, without any server or GPU."""
    from pydantic import ValidationError

    from o2v.plan import SizingRequest, arch_from_config, lookup_by_name, size

    path = Path(model)
    if path.suffix == ".json" or path.is_file():
        arch = arch_from_config(path)
    else:
        entry = lookup_by_name(model)
        if entry is None:
            fail(f"{model!r} is neither a config.json path nor a catalog model -- pass --model path/to/config.json")
        arch = entry.arch
    try:
        req = SizingRequest(
            model_name=model, arch=arch, gpu_memory_gib=gpu_memory_gib, gpu_name=gpu_name,
            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
            tensor_parallel_size=tensor_parallel_size, dtype=dtype, quantization=quantization,  # type: ignore[arg-type]
            kv_cache_dtype=kv_cache_dtype, max_num_seqs=max_num_seqs,  # type: ignore[arg-type]
            other_processes_gib=other_processes_gib, vllm_version=vllm_version,
        )  # fmt: skip
    except ValidationError as exc:
        fail("; ".join(f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in exc.errors()))
    result = size(req)
    if as_json:
        console.print_json(result.model_dump_json())
    else:
        for line in result.steps:
            console.print(line, highlight=False, markup=False)
        console.print(f"GPU KV cache size: {result.kv_cache_tokens:,} tokens", highlight=False)
        console.print(
            f"Maximum concurrency for {max_model_len:,} tokens per request: {result.max_concurrency:.2f}x",
            highlight=False,
        )
        console.print(
            f"conservative bound: {result.kv_cache_tokens_low:,} tokens, {result.max_concurrency_low:.2f}x "
            f"-> {result.verdict}",
            highlight=False,
        )
        for problem in result.problems:
            console.print(f"problem: {problem}", highlight=False, markup=False, soft_wrap=True)
    if not result.fits:
        raise typer.Exit(1)
