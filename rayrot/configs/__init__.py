"""The runtime configurations: default.yaml (every default) and the presets laid over it."""
