"""Stages of the report that build result records beyond the pipeline's own loop
(:mod:`verifier.pipeline` calls them in a fixed order)."""
