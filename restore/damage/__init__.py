"""Finding damage on a photo: the detector network and its tiling (`detector`), and the synthetic
old-print damage it is trained on and scored with (`synthetic`)."""
