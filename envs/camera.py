"""Cameras: the onboard forward camera and the chase camera, rendered with PyBullet's CPU
TinyRenderer, and the image-space effects of a scene (sky, fog, exposure, sensor noise)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from envs.ground import Ground
from envs.quiet_import import import_pybullet

p = import_pybullet()  # PyBullet without its banner on stderr


@dataclass(frozen=True)
class CameraParams:
    """A pinhole camera; ``vfov_deg`` is the vertical field of view."""

    width: int
    height: int
    vfov_deg: float
    near: float
    far: float
    pitch_deg: float = 0.0
    position_body: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def from_config(cls, cfg: Mapping) -> "CameraParams":
        """Build from a ``camera:`` mapping (unknown keys are ignored)."""
        names = cls.__dataclass_fields__.keys()
        values = {k: cfg[k] for k in names if k in cfg}
        if "position_body" in values:
            values["position_body"] = tuple(values["position_body"])
        for key in ("width", "height"):
            if int(values.get(key, 0)) < 8:
                raise ValueError(f"camera {key} must be at least 8 px, got {values.get(key)}")
            values[key] = int(values[key])
        return cls(**values)

    @property
    def half_fov_diag(self) -> float:
        """Half of the diagonal field of view (rad), for culling."""
        t = math.tan(math.radians(self.vfov_deg) / 2)
        return math.atan(t * math.hypot(1.0, self.width / self.height))


class Camera:
    """Renders ``params`` views of a scene from an eye, forward and up vector (world frame)."""

    def __init__(self, params: CameraParams):
        self.params = params
        w, h = params.width, params.height
        self.projection = p.computeProjectionMatrixFOV(params.vfov_deg, w / h, params.near, params.far)
        # per-pixel ray directions in the camera frame (forward, left, up), for the sky
        focal = (h / 2) / math.tan(math.radians(params.vfov_deg) / 2)
        u = (np.arange(w) + 0.5 - w / 2) / focal
        v = (np.arange(h) + 0.5 - h / 2) / focal
        uu, vv = np.meshgrid(u, v)
        rays = np.stack([np.ones_like(uu), -uu, -vv], axis=-1)
        self.rays = (rays / np.linalg.norm(rays, axis=-1, keepdims=True)).astype(np.float32)
        self._flat_rays = self.rays.reshape(-1, 3)

    def render(self, client: int, eye, forward, up, light: Mapping) -> tuple[np.ndarray, np.ndarray]:
        """RGB (uint8, H x W x 3) and linear depth (float32 metres, far where nothing was hit)."""
        rgb, linear, _ = self._capture(client, eye, forward, up, light, p.ER_NO_SEGMENTATION_MASK)
        return rgb, linear

    def render_segmented(self, client: int, eye, forward, up, light: Mapping) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray]:
        """Like :meth:`render` (the same RGB and depth), plus the segmentation (int32, H x W): the
        unique id of the body seen at each pixel, -1 where none. Costs the same as :meth:`render`."""
        return self._capture(client, eye, forward, up, light, 0)

    def _capture(self, client: int, eye, forward, up, light: Mapping, flags: int):
        prm = self.params
        view = p.computeViewMatrix(tuple(eye), tuple(np.asarray(eye) + forward), tuple(up))
        _, _, rgba, depth, seg = p.getCameraImage(
            prm.width, prm.height, view, self.projection, renderer=p.ER_TINY_RENDERER,
            flags=flags, shadow=0,
            lightDirection=light["direction"], lightColor=light["color"],
            lightAmbientCoeff=light["ambient"], lightDiffuseCoeff=light["diffuse"],
            lightSpecularCoeff=light.get("specular", 0.0), physicsClientId=client)
        rgba = np.asarray(rgba, dtype=np.uint8).reshape(prm.height, prm.width, 4)
        depth = np.asarray(depth, dtype=np.float32).reshape(prm.height, prm.width)
        near, far = prm.near, prm.far
        linear = far * near / (far - (far - near) * depth)
        segmentation = None if flags & p.ER_NO_SEGMENTATION_MASK else \
            np.asarray(seg, dtype=np.int32).reshape(prm.height, prm.width)
        return rgba[..., :3], linear, segmentation

    def ray_directions(self, forward, up) -> np.ndarray:
        """Unit ray direction (world) of each pixel, H x W x 3."""
        forward = np.asarray(forward, dtype=np.float32)
        up = np.asarray(up, dtype=np.float32)
        basis = np.stack([forward, np.cross(up, forward), up])
        return (self._flat_rays @ basis).reshape(self.rays.shape)

    @property
    def pixel_angle(self) -> float:
        """Angle (rad) subtended by one pixel."""
        return math.radians(self.params.vfov_deg) / self.params.height


def onboard_pose(params: CameraParams, pos_world, rot) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eye, forward and up vectors (world) of a camera rigidly mounted on a body at ``pos_world``, ``rot``."""
    pitch = math.radians(params.pitch_deg)
    rot = np.asarray(rot).reshape(3, 3)
    eye = np.asarray(pos_world) + rot @ np.asarray(params.position_body)
    forward = rot @ np.array([math.cos(pitch), 0.0, math.sin(pitch)])
    up = rot @ np.array([-math.sin(pitch), 0.0, math.cos(pitch)])
    return eye, forward, up


def chase_pose(cfg: Mapping, pos_world, yaw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eye, forward and up of the chase camera behind and above a drone heading ``yaw``."""
    heading = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    pos = np.asarray(pos_world, dtype=float)
    eye = pos - heading * float(cfg["distance"]) + np.array([0.0, 0.0, float(cfg["height_above"])])
    look = pos + heading * float(cfg["look_ahead"])
    forward = look - eye
    forward /= np.linalg.norm(forward)
    left = np.cross([0.0, 0.0, 1.0], forward)
    up = np.cross(forward, left / np.linalg.norm(left))
    return eye, forward, up


class ImageEffects:
    """Image-space look of a scene: sky gradient, fog from depth, exposure and sensor noise."""

    def __init__(self, scene_cfg: Mapping):
        sky = scene_cfg["sky"]
        self.zenith = np.asarray(sky["zenith"], dtype=np.float32)
        self.horizon = np.asarray(sky["horizon"], dtype=np.float32)
        post = scene_cfg.get("post") or {}
        fog = post.get("fog")
        self.fog_density = float(fog["density"]) if fog else 0.0
        self.fog_color = np.asarray(fog["color"], dtype=np.float32) if fog else None
        self.haze_start = float(post.get("haze_start", math.inf))
        self.exposure = float(post.get("exposure", 1.0))
        noise = post.get("noise") or {}
        self.noise_std = float(noise.get("std", 0.0))
        self.exposure_jitter = float(noise.get("exposure_jitter", 0.0))
        self.blur_px = int(noise.get("blur_px", 0))

    @property
    def random(self) -> bool:
        """True when the effects draw random numbers (sensor noise)."""
        return self.noise_std > 0 or self.exposure_jitter > 0

    def apply(self, rgb: np.ndarray, depth: np.ndarray, camera: Camera, eye, forward, up, light: Mapping,
              ground: Ground | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Compose the final uint8 image: ground and sky where nothing was drawn, then haze,
        fog, exposure and noise."""
        far = camera.params.far
        empty = depth >= np.float32(far * 0.999)
        img = rgb.astype(np.float32)
        any_empty = empty.any()
        if any_empty:
            dirs = camera.ray_directions(forward, up)
            if ground is not None:
                ground.paint(img, depth, empty, eye, dirs, camera.rays[..., 0], light, far, camera.pixel_angle)
                empty = depth >= np.float32(far * 0.999)
                any_empty = empty.any()
        if self.haze_start < far:  # fade distant things into the horizon colour before the far plane
            flat = np.flatnonzero(depth > np.float32(self.haze_start))
            amount = depth.reshape(-1)[flat] - np.float32(self.haze_start)
            amount *= np.float32(1.0 / (far - self.haze_start))
            np.minimum(amount, 1.0, out=amount)
            hazy = img.reshape(-1, 3)[flat]
            hazy += (self.horizon - hazy) * amount[:, None]
            img.reshape(-1, 3)[flat] = hazy
        if any_empty:
            flat = np.flatnonzero(empty)
            up_part = np.sqrt(np.clip(dirs.reshape(-1, 3)[flat, 2], 0.0, 1.0))[:, None]
            img.reshape(-1, 3)[flat] = self.horizon + (self.zenith - self.horizon) * up_part
        if self.fog_density > 0:
            keep = np.exp(-self.fog_density * depth)[..., None]
            img = img * keep + self.fog_color * (1.0 - keep)
        gain = self.exposure
        if rng is not None and self.exposure_jitter > 0:
            gain *= float(np.exp(rng.normal(0.0, self.exposure_jitter)))
        if gain != 1.0:
            img *= np.float32(gain)
        if rng is not None and self.blur_px > 0:
            k = 2 * self.blur_px + 1
            img = cv2.GaussianBlur(img, (k, k), 0)
        if rng is not None and self.noise_std > 0:
            img += rng.normal(0.0, self.noise_std, size=img.shape).astype(np.float32)
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)
