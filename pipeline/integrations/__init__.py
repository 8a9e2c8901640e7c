"""Thin adapters over the public API for the tools people already run: the OCRmyPDF engine plugin
(:mod:`pipeline.integrations.ocrmypdf_plugin`). Each imports its tool, which its own extra installs."""
