"""Image + mask -> restored image: the networks (networks), windows cut around holes (windows), the
pipeline that fills them at any size (pipeline), detail at full resolution (detail), monochrome
tones (tone), and drawing holes (holes).

Named `inpainting`, not `inpaint`: `restore.inpaint` is the function of restore/api.py, and a
sub-package `restore.inpaint` would replace it as an attribute of `restore` once imported.
Imports nothing from restore.io: it sees arrays, never files.
"""
