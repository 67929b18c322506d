"""The optional LLM layer: an OpenAI-compatible client, prompts that keep paper text as data,
the reranker of the local top N, full text for the final few, and distillation of the
model's judgements into the local profile. papersift works fully without it."""
