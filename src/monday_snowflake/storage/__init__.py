"""Blob stores for staged files: a local folder by default."""
