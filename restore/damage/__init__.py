"""Finding damage on a photo: the detector network and its tiling (`detector`), the synthetic
old-print damage it is trained on and scored with (`synthetic`), and how what it finds is filled (`fill`)."""
