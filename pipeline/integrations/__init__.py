"""Thin adapters over the public API for the tools people already run: the OCRmyPDF engine plugin
(:mod:`pipeline.integrations.ocrmypdf_plugin`) and ``ocr-batch --ray`` on Ray Data
(:mod:`pipeline.integrations.ray_batch`). Each imports its tool, which its own extra installs."""
