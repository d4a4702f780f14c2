"""restore-train: the two-stage training of restore models (imports restore, never the other way)."""
