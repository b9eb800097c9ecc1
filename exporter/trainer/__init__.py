"""What the exporter knows of trainers apart from their log lines: nanoGPT's settings and FLOPs per
token, reading a trainer's Python config file (with ``ast``, never executed), and whether the
trainer's process still runs."""
