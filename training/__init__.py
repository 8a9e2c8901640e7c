"""What both models' training and evaluation stand on, below ``detection``, ``recognition`` and ``pipeline``:
``training.loop`` (schedule, checkpoints, resuming, logging, weight averaging, the ``ocr-train`` argument
handling) and ``training.metrics`` (edit distance, token, segment and coverage counts, crop scores).
Nothing here imports ``pipeline``, ``detection`` or ``recognition``; a test walks the imports."""
