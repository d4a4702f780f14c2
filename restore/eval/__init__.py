"""Quality protocols: how well restore fills holes, scored against the truth.

The paper's Table 1 at 64x64 (paper), photos at their own size (native_size), classical
inpainting beside the models (classical), metrics, the datasets and their splits, figures for
reviewing fills (figures, attention_figure) and the results written to disk (report).
`restore bench` runs them; recorded results are in docs/bench/. Speed is measured elsewhere:
benchmarks/.

Imports restore.inpainting and restore.io, never the other way.
"""
