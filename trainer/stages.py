"""Stage 1 (ApproxNet alone) and stage 2 (refiner + discriminator), as the loop runs them."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import torch

from restore.eval.metrics import psnr as psnr_metric
from restore.eval.metrics import ssim as ssim_metric
from restore.inpainting.networks import ApproxNet, Discriminator, Inpainter, gray_fill, to_uint8

from . import losses
from .config import TrainConfig
from .data import Batches, CropBatches, Splits, draw_masks, fixed_crops, fixed_val, load_images, load_photos, to_tensor
from .distributed import Context

CL = torch.channels_last


def _ddp(module: torch.nn.Module, ctx: Context) -> torch.nn.Module:
    """The module wrapped for DistributedDataParallel when running under torchrun, else itself."""
    if ctx.world <= 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module)


def _chunks(n: int, size: int):
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def mean_ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """The paper's SSIM (skimage, uint8) averaged over a batch of [-1, 1] images."""
    return float(np.mean([ssim_metric(a, b) for a, b in zip(to_uint8(pred), to_uint8(target), strict=True)]))


def mean_hole_psnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """Hole PSNR (uint8) averaged over the images that have a hole, as `restore bench` reports it: an image
    whose hole came back exactly (a small hole in a flat sky) has an infinite PSNR and is left out."""
    holes = (mask[:, 0] > 0.5).cpu().numpy()
    values = [psnr_metric(a, b, h) for a, b, h in zip(to_uint8(pred), to_uint8(target), holes, strict=True) if h.any()]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def training_data(cfg: TrainConfig, train_files: list[str], val_files: list[str], batch_size: int, stage: int,
                  ctx: Context, cache_dir: Path | None) -> tuple[Batches, torch.Tensor, torch.Tensor]:
    """(batches of one stage, fixed validation images, their masks): whole images shrunk to 64x64 as the
    paper does, or with `cfg.crops` random windows of the photos at their own size."""
    if not cfg.crops:
        batches = Batches(load_images(train_files, cache_dir), batch_size, cfg.seed, stage, cfg.stroke_fraction,
                          cfg.hflip, ctx.rank, ctx.world, cfg.blob_fraction)
        val_x, val_m = fixed_val(load_images(val_files, cache_dir), cfg.seed)
        return batches, val_x, val_m
    batches = CropBatches(load_photos(train_files), batch_size, cfg.seed, stage, cfg.stroke_fraction, cfg.hflip,
                          ctx.rank, ctx.world, cfg.blob_fraction, cfg.epoch_size, cfg.crop_min)
    val = fixed_crops(load_photos(val_files), cfg.val_images, cfg.seed, cfg.crop_min)
    # the monitor sees every kind of hole it trains on, drawn once
    masks = draw_masks(np.random.default_rng([cfg.seed, 98]), len(val), cfg.stroke_fraction, cfg.blob_fraction)
    return batches, to_tensor(val), torch.from_numpy(masks[:, None].astype(np.float32))


class ApproxStage:
    """Stage 1: ApproxNet with L1 on the hole, 70% of the training images, fixed epochs."""

    name = "approx"

    def __init__(self, cfg: TrainConfig, splits: Splits, device: torch.device, cache_dir: Path | None,
                 ctx: Context | None = None):
        ctx = ctx or Context()
        self.cfg, self.device = cfg, device
        self.batches, self.val_x, self.val_m = training_data(cfg, splits.approx_train, splits.approx_val,
                                                             cfg.approx_batch_size, 1, ctx, cache_dir)
        torch.manual_seed(cfg.seed)
        self.model = ApproxNet(cfg.model.approx).to(device)
        self.net = _ddp(self.model, ctx)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.approx_lr)
        self.epochs = cfg.approx_epochs
        self.steps_per_epoch = len(self.batches)

    def step(self, epoch: int, index: int, global_step: int) -> dict:
        x, m = (t.to(self.device) for t in self.batches.batch(epoch, index))
        self.model.train()
        loss = losses.hole_l1(self.net(x, m), x, m)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"l1": loss.item()}

    @torch.no_grad()
    def _predict(self, x, m):
        self.model.eval()
        return m * self.model(x, m) + (1 - m) * x

    @torch.no_grad()
    def evaluate(self, epoch: int) -> dict:
        l1, n = 0.0, len(self.val_x)
        for s in _chunks(n, 256):
            x, m = self.val_x[s].to(self.device), self.val_m[s].to(self.device)
            l1 += losses.hole_l1(self._predict(x, m), x, m).item() * (s.stop - s.start)
        k = min(n, self.cfg.val_images)
        x, m = self.val_x[:k].to(self.device), self.val_m[:k].to(self.device)
        return {"val_l1": l1 / n, "val_ssim": mean_ssim(self._predict(x, m), x)}

    def samples(self) -> list[np.ndarray]:
        x, m = self.val_x[:8].to(self.device), self.val_m[:8].to(self.device)
        return [to_uint8(gray_fill(x, m)), to_uint8(self._predict(x, m)), to_uint8(x)]

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])


class GanStage:
    """Stage 2: the attention refiner against the discriminator, L_G = BCE + alpha * reconstruction."""

    name = "gan"

    def __init__(self, cfg: TrainConfig, splits: Splits, device: torch.device, cache_dir: Path | None,
                 approx_state: dict | None, ctx: Context | None = None, gen_state: dict | None = None,
                 resuming: bool = False):
        """Starts from a trained ApproxNet (`approx_state`) and a fresh refiner, or from a whole
        generator (`gen_state`, e.g. a released model to fine-tune); the discriminator starts fresh.
        `resuming` says a checkpoint will restore everything, so neither is needed."""
        ctx = ctx or Context()
        self.cfg, self.device = cfg, device
        self.batches, self.val_x, self.val_m = training_data(cfg, splits.gan_train, splits.monitor, cfg.batch_size, 2,
                                                             ctx, cache_dir)
        torch.manual_seed(cfg.seed)
        self.gen = Inpainter(cfg.model)
        if gen_state is not None:
            self.gen.load_state_dict(gen_state)
        elif approx_state is not None:
            self.gen.approx.load_state_dict(approx_state)
        elif not resuming:
            raise ValueError("stage 2 needs a trained ApproxNet or a generator to start from")
        self.gen.approx.requires_grad_(cfg.approx_trainable)
        self.gen = self.gen.to(device, memory_format=CL)
        self.disc = Discriminator(cfg.disc).to(device, memory_format=CL)
        self.ema = copy.deepcopy(self.gen).eval().requires_grad_(False)
        groups = [{"params": self.gen.refiner.parameters(), "lr": cfg.lr, "base_lr": cfg.lr}]
        if cfg.approx_trainable:
            lr_a = cfg.lr * cfg.approx_lr_scale
            groups.append({"params": self.gen.approx.parameters(), "lr": lr_a, "base_lr": lr_a})
        self.opt_g = torch.optim.Adam(groups, betas=(0.9, 0.99))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr, betas=(0.5, 0.99))
        self.g_model, self.d_model = _ddp(self.gen, ctx), _ddp(self.disc, ctx)
        self.perceptual = None
        if cfg.perceptual_weight:
            from restore.eval.lpips import load as load_lpips

            self.perceptual = load_lpips(cfg.perceptual_file or None, device)  # frozen, eval mode
        self.epochs = cfg.gan_epochs
        self.steps_per_epoch = cfg.gan_steps_per_epoch or len(self.batches)
        self.total_steps = self.epochs * self.steps_per_epoch

    def _set_lr(self, step: int) -> None:
        t = min(step / max(self.total_steps, 1), 1.0)
        scale = self.cfg.lr_min / self.cfg.lr + (1 - self.cfg.lr_min / self.cfg.lr) * 0.5 * (1 + math.cos(math.pi * t))
        for g in self.opt_g.param_groups:
            g["lr"] = g["base_lr"] * scale

    def reconstruction(self, coarse, refined, x, m):
        cfg = self.cfg
        w = losses.border_weights(m, cfg.border_px, cfg.border_weight)
        rec = losses.hole_l1(refined, x, w) + 0.5 * losses.hole_l1(coarse, x, m)
        if cfg.ssim_weight:
            rec = rec + cfg.ssim_weight * (1 - losses.ssim(refined, x, m))
        if cfg.psnr_weight:
            rec = rec + cfg.psnr_weight * losses.hole_log_mse(refined, x, m)
        if self.perceptual is not None:
            # `refined` is already pasted back (the generator keeps every known pixel), as users see it.
            rec = rec + cfg.perceptual_weight * self.perceptual(refined.contiguous(), x.contiguous()).mean()
        return rec

    def step(self, epoch: int, index: int, global_step: int) -> dict:
        x, m = (t.to(self.device) for t in self.batches.batch(epoch, index))
        x = x.contiguous(memory_format=CL)
        self._set_lr(global_step)
        self.gen.train()
        if not self.cfg.approx_trainable:
            self.gen.approx.eval()
        coarse, refined = self.g_model(x, m)

        # One discriminator forward for real and restored images, so DistributedDataParallel sees one pass.
        logits = self.d_model(torch.cat([x, refined.detach()]))
        ld = losses.d_loss(logits[: len(x)], logits[len(x):])
        self.opt_d.zero_grad(set_to_none=True)
        ld.backward()
        self.opt_d.step()

        # The generator's adversarial term goes through the plain module: the discriminator's
        # gradients from it are discarded (zeroed before its next step), so they need no all-reduce.
        adv = losses.g_adv_loss(self.disc(refined))
        rec = self.reconstruction(coarse, refined, x, m)
        out = {"rec": rec.item(), "g_adv": adv.item(), "d": ld.item(), "l1": losses.hole_l1(refined.detach(), x, m).item()}
        if global_step % self.cfg.log_every == 0:
            # The paper tuned alpha by comparing the two terms' gradients at the generator output.
            g_adv = torch.autograd.grad(adv, refined, retain_graph=True)[0]
            g_rec = torch.autograd.grad(self.cfg.alpha * rec, refined, retain_graph=True)[0]
            out["gradnorm_adv"] = g_adv.norm().item()
            out["gradnorm_rec"] = g_rec.norm().item()
        else:
            out["gradnorm_adv"] = out["gradnorm_rec"] = float("nan")
        lg = adv + self.cfg.alpha * rec
        self.opt_g.zero_grad(set_to_none=True)
        lg.backward()
        self.opt_g.step()
        self._update_ema()
        return out

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.cfg.ema
        for e, p in zip(self.ema.parameters(), self.gen.parameters(), strict=True):
            if decay > 0:
                e.lerp_(p, 1 - decay)
            else:
                e.copy_(p)
        for e, b in zip(self.ema.buffers(), self.gen.buffers(), strict=True):
            e.copy_(b)

    @torch.no_grad()
    def evaluate(self, epoch: int) -> dict:
        x, m = self.val_x.to(self.device), self.val_m.to(self.device)
        coarse, refined = [], []
        for s in _chunks(len(x), 128):
            c, r = self.ema(x[s].contiguous(memory_format=CL), m[s])
            coarse.append(c)
            refined.append(r)
        coarse, refined = torch.cat(coarse), torch.cat(refined)
        extra = {}
        if self.perceptual is not None:  # the EMA generator's output is pasted back, as in training
            extra["val_lpips"] = float(torch.cat([self.perceptual(refined[s].contiguous(), x[s].contiguous())
                                                  for s in _chunks(len(x), 128)]).mean())
        return extra | {
            "val_l1": losses.hole_l1(refined, x, m).item(),
            "val_ssim_approx": mean_ssim(coarse, x),
            "val_ssim": mean_ssim(refined, x),
            "val_psnr_hole": mean_hole_psnr(refined, x, m),
            "gamma": float(self.ema.refiner.attn16.gamma) if self.ema.refiner.attn16 is not None else 0.0,
        }

    @torch.no_grad()
    def samples(self) -> list[np.ndarray]:
        x, m = self.val_x[:8].to(self.device), self.val_m[:8].to(self.device)
        c, r = self.ema(x.contiguous(memory_format=CL), m)
        return [to_uint8(gray_fill(x, m)), to_uint8(c), to_uint8(r), to_uint8(x)]

    def state_dict(self) -> dict:
        return {"gen": self.gen.state_dict(), "ema": self.ema.state_dict(), "disc": self.disc.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.load_state_dict(state["gen"])
        self.ema.load_state_dict(state["ema"])
        self.disc.load_state_dict(state["disc"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
