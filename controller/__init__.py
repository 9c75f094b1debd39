"""sluice: progressive delivery with its own small service mesh."""

__version__ = "0.1.0"
