"""How the damage the detector finds is filled: one set of settings for `restore run --detect-damage`, `restore
bench --damage` and a detector's model card (restore.eval.damage.score_release), so that the three fill alike.

Scratches, cracks and dust are thin, and a smooth interpolation from their border restores them as well as the
networks do, many times faster (inpainting/thin.py): damage up to DAMAGE_THIN_PX thick is interpolated (swept on
the monitor prints, docs/damage.md: a tenth of a dB for half the fill's time). What is
wider (creases, worn edges, large specks) goes through the networks without the texture stage, which learnt holes
in clean photos and not damage, and without detail.py's borrowed detail, which buys nothing there for about half
the fill's time (docs/damage.md). A user's own --smooth-thin, --detail and --texture come first.
"""

from __future__ import annotations

from dataclasses import dataclass

DAMAGE_THIN_PX = 9.0  # defined here, not imported: restore's CLI reads this module for its --help, without numpy


@dataclass(frozen=True)
class DamageFill:
    smooth_thin: float = DAMAGE_THIN_PX  # holes at most this many px thick are interpolated, not filled by the networks
    detail: bool = False  # detail.py's borrowed detail in the networks' fills
    texture: str = ""  # the texture stage over the fills: a released name or a folder; "" for none

    def given(self, smooth_thin: float | None = None, detail: bool | None = None,
              texture: str | None = None) -> DamageFill:
        """These settings with the user's where given (None: not given; texture as --texture spells it, "none"
        included)."""
        from .. import hub

        texture = hub.texture_spec(texture)
        return DamageFill(self.smooth_thin if smooth_thin is None else float(smooth_thin),
                          self.detail if detail is None else bool(detail),
                          self.texture if texture is None else texture)

    def restorer(self, model, device="cpu", precision: str = "auto", **options):
        """A Restorer that fills with `model` this way; `options` are its other settings (batch_size, context, mirror,
        tile_thin, blend_thin), each None for the model's own."""
        from .. import hub
        from ..inpainting.pipeline import Restorer

        return Restorer(model, device, detail=self.detail, smooth_thin=self.smooth_thin,
                        texture=hub.load_texture(model, self.texture, device), precision=precision, **options)


FILL = DamageFill()  # how --detect-damage fills what it finds, unless told otherwise

# `restore run` options that fill masks as FILL does (README's review route: detected masks, touched up, then filled).
REVIEW_OPTIONS = f"--smooth-thin {FILL.smooth_thin:g} --texture none --no-detail"
