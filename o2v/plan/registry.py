"""Which architectures vLLM can serve, and how Ollama's GGUF architecture names map onto them.

The list is the keys of ``_TEXT_GENERATION_MODELS`` in vLLM's ``vllm/model_executor/models/registry.py``
(read from the upstream source, vLLM main as of 2026). Only text-generation decoders are listed because the
migration moves chat/completion traffic; embedding-only models are reported separately by the plan.
"""

from __future__ import annotations

VLLM_TEXT_GENERATION_ARCHITECTURES: frozenset[str] = frozenset(
    """
    AfmoeForCausalLM ApertusForCausalLM AquilaModel AquilaForCausalLM ArceeForCausalLM ArcticForCausalLM
    BaiChuanForCausalLM BaichuanForCausalLM BailingMoeForCausalLM BailingMoeV2ForCausalLM BambaForCausalLM
    BloomForCausalLM ChatGLMModel ChatGLMForConditionalGeneration CohereForCausalLM Cohere2ForCausalLM
    CwmForCausalLM DbrxForCausalLM DeciLMForCausalLM DeepseekForCausalLM DeepseekV2ForCausalLM
    DeepseekV3ForCausalLM DeepseekV32ForCausalLM Dots1ForCausalLM Ernie4_5ForCausalLM
    Ernie4_5_MoeForCausalLM ExaoneForCausalLM Exaone4ForCausalLM Fairseq2LlamaForCausalLM FalconForCausalLM
    FalconMambaForCausalLM FalconH1ForCausalLM FlexOlmoForCausalLM GemmaForCausalLM Gemma2ForCausalLM
    Gemma3ForCausalLM Gemma3nForCausalLM Qwen3NextForCausalLM GlmForCausalLM Glm4ForCausalLM
    Glm4MoeForCausalLM GptOssForCausalLM GPT2LMHeadModel GPTBigCodeForCausalLM GPTJForCausalLM
    GPTNeoXForCausalLM GraniteForCausalLM GraniteMoeForCausalLM GraniteMoeHybridForCausalLM
    GraniteMoeSharedForCausalLM GritLM Grok1ModelForCausalLM HunYuanMoEV1ForCausalLM
    HunYuanDenseV1ForCausalLM InternLMForCausalLM InternLM2ForCausalLM InternLM2VEForCausalLM
    InternLM3ForCausalLM JAISLMHeadModel Jais2ForCausalLM JambaForCausalLM KimiLinearForCausalLM
    Lfm2ForCausalLM Lfm2MoeForCausalLM LlamaForCausalLM Llama4ForCausalLM LLaMAForCausalLM
    LongcatFlashForCausalLM MambaForCausalLM Mamba2ForCausalLM MiniCPMForCausalLM MiniCPM3ForCausalLM
    MiniMaxForCausalLM MiniMaxText01ForCausalLM MiniMaxM1ForCausalLM MiniMaxM2ForCausalLM MistralForCausalLM
    MistralLarge3ForCausalLM MixtralForCausalLM MptForCausalLM MPTForCausalLM MiMoForCausalLM
    MiMoV2FlashForCausalLM NemotronForCausalLM NemotronHForCausalLM OlmoForCausalLM Olmo2ForCausalLM
    Olmo3ForCausalLM OlmoeForCausalLM OPTForCausalLM OrionForCausalLM OuroForCausalLM
    PanguEmbeddedForCausalLM PanguProMoEV2ForCausalLM PanguUltraMoEForCausalLM PersimmonForCausalLM
    PhiForCausalLM Phi3ForCausalLM PhiMoEForCausalLM Plamo2ForCausalLM Plamo3ForCausalLM QWenLMHeadModel
    Qwen2ForCausalLM Qwen2MoeForCausalLM Qwen3ForCausalLM Qwen3MoeForCausalLM RWForCausalLM
    SeedOssForCausalLM Step3TextForCausalLM StableLMEpochForCausalLM StableLmForCausalLM
    Starcoder2ForCausalLM SolarForCausalLM TeleChatForCausalLM TeleChat2ForCausalLM TeleFLMForCausalLM
    XverseForCausalLM Zamba2ForCausalLM
    """.split()
)

# general.architecture values in GGUF files (what Ollama's /api/show reports) -> the HF class vLLM registers.
GGUF_TO_HF: dict[str, str] = {
    "llama": "LlamaForCausalLM",
    "mistral3": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen2moe": "Qwen2MoeForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "qwen3moe": "Qwen3MoeForCausalLM",
    "gemma": "GemmaForCausalLM",
    "gemma2": "Gemma2ForCausalLM",
    "gemma3": "Gemma3ForCausalLM",
    "phi2": "PhiForCausalLM",
    "phi3": "Phi3ForCausalLM",
    "starcoder2": "Starcoder2ForCausalLM",
    "granite": "GraniteForCausalLM",
    "deepseek2": "DeepseekV2ForCausalLM",
    "command-r": "CohereForCausalLM",
    "gptoss": "GptOssForCausalLM",
    "gpt-oss": "GptOssForCausalLM",
    "falcon": "FalconForCausalLM",
    "olmo2": "Olmo2ForCausalLM",
    "mamba": "MambaForCausalLM",
}

# GGUF architectures of embedding / encoder models: served by vLLM's pooling runner, not chat.
GGUF_EMBEDDING: frozenset[str] = frozenset({"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "xlm-roberta"})


def is_supported(architecture: str) -> bool:
    """True when vLLM registers this HF architecture class for text generation."""
    return architecture in VLLM_TEXT_GENERATION_ARCHITECTURES


def hf_architecture_for_gguf(gguf_arch: str) -> str | None:
    """The HF class a GGUF ``general.architecture`` corresponds to, or None when unknown."""
    return GGUF_TO_HF.get(gguf_arch.lower())
