"""Fetch the training images, fonts and text from Debian packages, and write DATA_SOURCES.md.

Run the modules from the repository root, e.g. ``python -m tools.data.fetch_sources --help``.
"""
