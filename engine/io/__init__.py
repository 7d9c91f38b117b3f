"""Image and file I/O: decoding every Pillow mode, streamed PNG writing, atomic writes."""
