"""Record readers, one per source format (jsonl, json, parquet, Hugging Face hub), and the named
normalisations that turn a source record into a `Sample`. Benchmarks choose them by name in YAML."""
