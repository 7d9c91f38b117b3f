"""The engine's one Qt module: `job_worker` runs an engine job on a QThread for the window.

Nothing else in the engine, and not the command line, imports this package (import-linter contracts in
pyproject.toml), so training and upscaling stay usable headless.
"""
