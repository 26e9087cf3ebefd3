"""Training the orientation model: data on the fly, a plain training loop, evaluation.

Nothing here imports Ray; ``jobs/train.py`` and ``jobs/finetune.py`` wrap these functions.
"""
