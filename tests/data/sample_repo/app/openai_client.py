from openai import OpenAI

# Before the move we used: client = OpenAI(base_url="http://localhost:11434/v1", api_key="x")
client = OpenAI(base_url="http://gpu-box:11434/v1", api_key="not-required")
cloud = OpenAI()
vllm = OpenAI(base_url="http://localhost:8000/v1", api_key="token")
