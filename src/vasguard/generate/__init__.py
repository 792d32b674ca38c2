"""Realistic, reproducible data: the catalogue, subscribers and their consent evidence."""

from vasguard.generate.run import GenerationError, GenerationSummary, generate

__all__ = ["GenerationError", "GenerationSummary", "generate"]
