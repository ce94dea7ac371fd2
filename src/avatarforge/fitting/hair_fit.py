"""Fit the hair shell (:mod:`avatarforge.bodies.hair`) to a photo's parsed hair.

The style (short / medium / long) and volume are chosen from a small grid by how well the
fitted body plus the hair, seen through the fitted camera, covers the person around the head:
above the chin the target is the person mask (what issue 14's head-silhouette IoU compares),
below it only the parsed hair (clothes must not pull the hair longer). The fringe comes from
the share of the forehead the parsing calls hair; bald when the parsing finds (almost) no hair
around the face -- unless the top of the head lies outside the photo (a tight crop shows no
hair whatever the person has: then the fit runs as for hair, and a warning says the style is a
guess, see :data:`MIN_HEAD_TOP_IN_PHOTO`); the colour is the mean (linear light) of the photo's hair pixels around the
face (:func:`hair_colour`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from avatarforge.bodies.hair import PROFILE_ANGLES, HairMesh, HairStyle, build_hair, default_hair_srgb, skull_frame

__all__ = ["HairFit", "fit_hair", "curl_score", "CURL_THRESHOLD", "CURL_MIN_FACE_PX", "MIN_HEAD_TOP_IN_PHOTO", "head_top_in_photo", "hair_mask", "fit_profile", "hair_colour", "visible_hair", "hair_pixels", "composite_hair", "VOLUMES", "LENGTHS", "PROFILE_RANGE"]

VOLUMES = (0.006, 0.014, 0.026, 0.04, 0.055)
"""Candidate shell thicknesses (metres)."""
LENGTHS = {"short": 0.0, "medium": 0.12, "long": 0.26, "long+": 0.40}
"""Candidate lengths (metres below the eyes at the sides/back)."""
PROFILE_RANGE = (-0.012, 0.05)
"""Limits (metres) of the fitted outline offsets (:attr:`HairStyle.profile`): hair thinner than
the chosen volume by at most 1.2 cm, thicker by at most 5 cm (an arm or a neighbour beside
the head must not inflate the hair)."""
PROFILE_MAX_PSI = 150.0
"""Roll angles (degrees from up) beyond which the outline is not fitted (below the jaw the
rays run into the neck and body)."""
MIN_HAIR_SHARE = 0.12
"""Hair pixels around the face, as a share of the face oval's area, below which the head is bald."""
MIN_HEAD_TOP_IN_PHOTO = 0.5
"""Share of the band above the face (the landmarks' box width, half a face height up) that must
lie inside the photo for "no hair around the face" to mean bald."""
CURL_THRESHOLD = 0.45
""":func:`curl_score` above which ``auto`` makes the hair curly (its fitted volume and outline
kept: the curls add lumps, not size). Measured on real photos (session 6): straight and wavy
hair of 13 faces, long and short, 0.08-0.30; messy spiky medium hair 0.433 (pyfeat_45-m7-di:
at 0.40 it turned curly and lost 0.037 head-silhouette IoU); tight curls of short hair
0.456-0.471 (obama.jpg, two curly-haired men in pyfeat_multi_face.jpg); the astronaut's soft
waves 0.32 (not curly). The margin on both sides is small (0.02 / 0.006): a calibration on
four faces, not a settled value. Synthetic straight strands score < 0.3, curls > 0.7. Faces
narrower than :data:`CURL_MIN_FACE_PX` are never made curly automatically (too few pixels per
curl: noise scores high). Tied hair is never detected (``--hair ponytail`` / ``bun`` choose it)."""
CURL_MIN_FACE_PX = 64.0
"""Face width (landmark box, photo pixels) below which the curl score is not trusted."""


@dataclass
class HairFit:
    style: HairStyle
    colour_srgb: tuple[int, int, int]
    """sRGB of the photo's hair pixels around the face (:func:`hair_colour`)."""
    score: float
    """The fit's silhouette IoU in the head region (see module docstring)."""
    mesh: HairMesh | None = None
    """The hair on the fitted (photo) pose; None when bald."""
    scores: dict[str, float] = field(default_factory=dict)
    texture: object | None = None
    """texture.hair.HairTexture of the mesh (set by the pipeline; None: the flat colour)."""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        name = "long" if self.style.style.startswith("long") else self.style.style
        return {"style": name, "spec": self.style.spec, "tie": self.style.tie, "curl": round(self.style.curl, 2),
                "parting": self.style.parting, "length_m": round(self.style.length, 3), "volume_m": round(self.style.volume, 3),
                "fringe": round(self.style.fringe, 2), "colour_srgb": list(self.colour_srgb),
                "silhouette_score": round(self.score, 4), "curl_score": self.scores.get("curl"),
                **({} if self.texture is None else {"texture_seen": round(self.texture.seen, 3),
                                                    "strand_detail": round(self.texture.detail, 3)})}


def hair_mask(mesh: HairMesh, camera, shape: tuple[int, int], offset=(0.0, 0.0), scale: float = 1.0):
    """``(mask, depth)`` of the hair mesh rendered by ``camera`` into an image of ``shape``
    (H, W) whose pixel (0, 0) is the photo's ``offset`` (x, y) and whose pixels are ``1/scale``
    photo pixels."""
    from avatarforge.render.raster import rasterize

    scr = camera.project(mesh.vertices.astype(np.float64))
    scr[:, 0] = (scr[:, 0] - offset[0]) * scale
    scr[:, 1] = (scr[:, 1] - offset[1]) * scale
    r = rasterize(scr, mesh.faces, shape[0], shape[1], perspective=camera.is_perspective)
    return r.mask, r.depth


def hair_colour(rgb: np.ndarray, hair_px: np.ndarray, landmarks: np.ndarray) -> tuple[int, int, int]:
    """sRGB of the photo's hair: the mean in linear light of the hair pixels inside the head
    region of issue 14 (:func:`~avatarforge.perception.parsing.head_silhouette_box`: beside and
    above the face, down to the chin; far-away hair is often another person's or a dark
    background), their 1-pixel border left out; all hair pixels when the region has too few."""
    from avatarforge.perception.parsing import head_silhouette_box
    from avatarforge.util.colour import linear_to_srgb, srgb_to_linear

    r0, r1, c0, c1 = head_silhouette_box(landmarks, hair_px.shape)
    inner = cv2.erode(hair_px.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    src = np.zeros_like(inner)
    src[r0:r1, c0:c1] = inner[r0:r1, c0:c1]
    if src.sum() < 20:
        src = hair_px
    if src.sum() < 20:
        return default_hair_srgb(rgb)
    lin = srgb_to_linear(np.asarray(rgb)[src].astype(np.float64) / 255.0).mean(0)
    return tuple(int(round(float(c))) for c in np.clip(linear_to_srgb(lin) * 255.0, 0, 255))


def curl_score(rgb: np.ndarray, hair_px: np.ndarray, landmarks: np.ndarray) -> float:
    """0 (straight) .. 1 (curly) from the photo's hair texture around the head: one minus the
    mean coherence of the luminance structure tensor over the hair pixels (straight strands
    share one direction: coherence near 1; curls turn every way), weighted by gradient energy,
    at a fixed scale (the crop resized to a face width of 160 pixels; tensor window 3 px). NaN
    when fewer than 200 hair pixels are seen."""
    from avatarforge.perception.parsing import head_silhouette_box

    r0, r1, c0, c1 = head_silhouette_box(landmarks, hair_px.shape)
    pts = np.asarray(landmarks)[:, :2]
    s = 160.0 / max(float(np.ptp(pts[:, 0])), 1.0)
    size = (max(8, int(round((c1 - c0) * s))), max(8, int(round((r1 - r0) * s))))
    grey = cv2.cvtColor(np.ascontiguousarray(np.asarray(rgb)[r0:r1, c0:c1, :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(hair_px[r0:r1, c0:c1].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    mask = cv2.erode(mask, np.ones((7, 7), np.uint8)).astype(bool)  # not the hair's outline
    if mask.sum() < 200:
        return float("nan")
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = (cv2.GaussianBlur(a, (0, 0), 3.0) for a in (gx * gx, gy * gy, gx * gy))
    energy = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / np.maximum(energy, 1e-6)
    wgt = energy[mask]
    return float(1.0 - (coherence[mask] * wgt).sum() / max(float(wgt.sum()), 1e-6))


def head_top_in_photo(landmarks: np.ndarray, shape: tuple[int, int]) -> float:
    """Share (0..1) of the band above the face -- the landmarks' box columns, from half a face
    height above its top down to the top -- that lies inside an image of ``shape`` (H, W)."""
    pts = np.asarray(landmarks)[:, :2]
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    top = y0 - 0.5 * (y1 - y0)
    area = max((x1 - x0) * (y0 - top), 1e-6)
    w = max(0.0, min(x1, shape[1]) - max(x0, 0.0))
    h = max(0.0, min(y0, shape[0]) - max(top, 0.0))
    return float(np.clip(w * h / area, 0.0, 1.0))


def _crop(img: np.ndarray, r0, r1, c0, c1, size, nearest: bool) -> np.ndarray:
    h, w = img.shape[:2]
    pad = np.zeros((r1 - r0, c1 - c0) + img.shape[2:], img.dtype)
    rr0, rr1, cc0, cc1 = max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)
    if rr1 > rr0 and cc1 > cc0:
        pad[rr0 - r0: rr1 - r0, cc0 - c0: cc1 - c0] = img[rr0:rr1, cc0:cc1]
    return cv2.resize(pad.astype(np.uint8) if pad.dtype == bool else pad, size,
                      interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def fit_hair(rec, parsing, body_alpha: np.ndarray, fitted_output, style: str | None = None,
             work: int = 192) -> HairFit:
    """The hair of ``rec``'s photo (a FaceReconstruction) given its ``parsing``, the fitted
    body's coverage ``body_alpha`` (H, W; > 0 on the body: render_fitted's alpha) and the
    body output in the fitted pose. ``style`` forces a style: a ``--hair`` text
    (:meth:`HairStyle.parse`, e.g. ``long+curly``); its volume (and the outline) are still
    fitted for short/medium/long, its modifiers override what the photo shows; ``auto+MOD``
    (e.g. ``auto+straight``) fits the style and applies the modifiers. In auto mode medium or
    long hair whose :func:`curl_score` passes :data:`CURL_THRESHOLD` is made curly."""
    from avatarforge.perception import landmark_groups as fr

    pts = np.asarray(rec.landmarks.points)[:, :2]
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    fw, fh = x1 - x0, y1 - y0
    hair_px = parsing.mask("hair")
    headwear = parsing.mask("headwear")
    rgb = np.asarray(rec.rgb)
    colour = hair_colour(rgb, hair_px, pts)
    # Fringe: hair over the upper half of the forehead (face oval above the brows).
    oval = np.zeros(hair_px.shape, np.uint8)
    cv2.fillPoly(oval, [np.round(pts[fr.FACE_OVAL]).astype(np.int32)], 1)
    brow = pts[fr.RIGHT_EYEBROW_UPPER + fr.LEFT_EYEBROW_UPPER, 1].min()
    forehead = oval.astype(bool)
    forehead[int(max(0, brow)):] = False
    fringe = float(np.clip(((hair_px[forehead].mean() if forehead.any() else 0.0) - 0.15) / 0.5, 0.0, 1.0))
    # Region: issue 14's head region, extended below the chin for the hair's length.
    r0, r1 = int(np.floor(y0 - 0.8 * fh)), int(np.ceil(y1 + 1.0 * fh))
    c0, c1 = int(np.floor(x0 - 0.5 * fw)), int(np.ceil(x1 + 0.5 * fw))
    s = work / max(r1 - r0, c1 - c0)
    size = (max(8, int(round((c1 - c0) * s))), max(8, int(round((r1 - r0) * s))))
    person = _crop(parsing.person > 0.5, r0, r1, c0, c1, size, True).astype(bool)
    body = _crop(np.asarray(body_alpha) > 0, r0, r1, c0, c1, size, True).astype(bool)
    hairish = _crop(hair_px | headwear, r0, r1, c0, c1, size, True).astype(bool)
    chin_row = int(round((y1 - r0) * s))
    target = person.copy()
    target[chin_row:] = hairish[chin_row:] | (body[chin_row:] & person[chin_row:])
    around = (hair_px | headwear) & ~oval.astype(bool)
    share = float(around.sum()) / max(1.0, float(oval.sum()))

    def iou(pred):
        u = np.count_nonzero(pred | target)
        return np.count_nonzero(pred & target) / u if u else 1.0

    scores = {"bald": iou(body)}
    auto_mods: list[str] = []
    if style is not None and style.lower().split("+")[0].strip() == "auto":  # the photo's style, these modifiers
        auto_mods = [m.strip() for m in style.lower().split("+")[1:]]
        HairStyle.parse("+".join(["short", *auto_mods]))  # the modifiers checked
        style = None
    curl = curl_score(rgb, hair_px, pts)
    if np.isfinite(curl):
        scores["curl"] = round(curl, 4)
    forced = None if style is None else HairStyle.parse(style)
    top_seen = head_top_in_photo(pts, hair_px.shape)
    scores["head_top_in_photo"] = round(top_seen, 3)
    if style is None and share < MIN_HAIR_SHARE and top_seen < MIN_HEAD_TOP_IN_PHOTO:
        # Nothing above the face to fit to (the silhouette stops at the photo's edge): the most
        # common style at a middle volume, not the thinnest shell the cut-off outline prefers.
        st = HairStyle("short", VOLUMES[len(VOLUMES) // 2], LENGTHS["short"], fringe)
        mesh = build_hair(fitted_output, st)
        sc = iou(body | hair_mask(mesh, rec.fit.camera, (size[1], size[0]), (c0, r0), s)[0])
        return HairFit(st, colour, sc, mesh, {**scores, st.spec: round(sc, 4)},
                       warnings=["the top of the head is outside the photo: the hair style is a guess "
                                 "(choose one with --hair, e.g. --hair bald)"])
    if (forced is not None and forced.style == "bald") or (style is None and share < MIN_HAIR_SHARE):
        return HairFit(HairStyle("bald", 0.0, 0.0, 0.0), colour, scores["bald"], None, scores)
    mods = [] if forced is None else str(style).lower().split("+")[1:]
    if forced is not None and forced.style not in LENGTHS:  # buzz, ponytail, bun: as named
        st = forced if "fringe" in mods else replace(forced, fringe=fringe)
        mesh = build_hair(fitted_output, st)
        sc = iou(body | hair_mask(mesh, rec.fit.camera, (size[1], size[0]), (c0, r0), s)[0])
        return HairFit(st, colour, sc, mesh, {**scores, st.spec: round(sc, 4)})
    best = None

    def consider(name: str, vol: float):
        nonlocal best
        st = HairStyle("long" if name == "long+" else name, vol, LENGTHS[name], fringe)
        mesh = build_hair(fitted_output, st)
        m, _ = hair_mask(mesh, rec.fit.camera, (size[1], size[0]), (c0, r0), s)
        sc = iou(body | m)
        scores[f"{name}/{vol}"] = round(sc, 4)
        # Longer or thicker hair must earn its place (candidates run short to long, thin to
        # thick): it needs a clear gain over the best so far.
        if best is None or sc > best[0] + (0.01 if st.length > best[1].length else 0.003):
            best = (sc, st, mesh)

    # Coordinate search (8-12 renders instead of 20): the volume on the shortest candidate
    # style, the length with that volume, then the volume again at that length.
    names = [forced.style] if forced is not None else list(LENGTHS)
    for vol in VOLUMES:
        consider(names[0], vol)
    first = best[1]
    for name in names[1:]:
        consider(name, first.volume)
    if best[1].length != first.length:
        name = next(n for n in names if LENGTHS[n] == best[1].length)
        for vol in VOLUMES:
            if vol != first.volume:
                consider(name, vol)
    chosen = best[1].with_modifiers(mods if forced is not None else auto_mods)
    if forced is None:
        curly_seen = np.isfinite(curl) and curl > CURL_THRESHOLD and fw >= CURL_MIN_FACE_PX
        if curly_seen and not {"straight", "curly"} & set(auto_mods):
            chosen = replace(chosen, curl=1.0)  # the measured volume kept (the modifier would thicken it)
    # The outline, angle by angle (volume at the sides vs the top, hair beside the cheeks).
    st, mesh, sc = fit_profile(chosen, fitted_output, rec.fit.camera, target, body, (c0, r0), s)
    scores["profile"] = round(sc, 4)
    return HairFit(st, colour, sc, mesh, scores)


def _ray_ends(mask: np.ndarray, c: np.ndarray, dirs: np.ndarray, r_max: float, gap: float) -> np.ndarray:
    """Per direction (K, 2 unit image vectors) from ``c`` (x, y): the radius (pixels) where the
    blob of ``mask`` that contains ``c`` ends along the ray, bridging gaps shorter than ``gap``
    pixels (0 when the ray starts outside the mask)."""
    h, w = mask.shape
    r = np.arange(0.0, r_max, 0.5)
    xy = c[None, None] + r[None, :, None] * dirs[:, None]  # (K, N, 2)
    x, y = np.round(xy[..., 0]).astype(int), np.round(xy[..., 1]).astype(int)
    ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    vals = np.zeros(ok.shape, bool)
    vals[ok] = mask[y[ok], x[ok]]
    ends = np.zeros(len(dirs))
    n_gap = max(1, int(round(gap / 0.5)))
    for k in range(len(dirs)):
        idx = np.flatnonzero(vals[k])
        if len(idx) == 0 or idx[0] > n_gap:
            continue
        big = np.flatnonzero(np.diff(idx) > n_gap)
        ends[k] = r[idx[big[0]] if len(big) else idx[-1]]
    return ends


def fit_profile(style: HairStyle, fitted_output, camera, target: np.ndarray, body: np.ndarray,
                offset, scale: float, iterations: int = 3):
    """Fit :attr:`HairStyle.profile` so that the outline of body + hair, seen by ``camera``
    (crop: pixel (0, 0) at the photo's ``offset``, ``1/scale`` photo pixels per pixel), reaches
    the ``target`` mask's outline along rays from the skull centre at each roll angle (up to
    :data:`PROFILE_MAX_PSI` from up): ``(style, mesh, iou)`` of the best iteration (the
    input style first)."""
    centre, rot = skull_frame(fitted_output)
    pts = np.stack([centre, centre + 0.1 * rot[:, 0], centre + 0.1 * rot[:, 1]])
    scr = camera.project(pts)[:, :2]
    scr = (scr - np.asarray(offset, np.float64)[None]) * scale
    c, left, up = scr[0], scr[1] - scr[0], scr[2] - scr[0]
    ppm = np.linalg.norm(left) / 0.1  # crop pixels per metre across the head
    psi = np.radians(np.asarray(PROFILE_ANGLES))
    dirs = np.cos(psi)[:, None] * up / np.linalg.norm(up) + np.sin(psi)[:, None] * left / np.linalg.norm(left)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    fit_bins = np.abs(np.degrees(psi)) <= PROFILE_MAX_PSI
    r_max, gap = 0.35 * ppm, 0.02 * ppm
    t_end = _ray_ends(target, c, dirs, r_max, gap)
    prof = np.asarray(style.profile if style.profile else np.zeros(len(psi)), np.float64)

    def iou(pred):
        u = np.count_nonzero(pred | target)
        return np.count_nonzero(pred & target) / u if u else 1.0

    best = None
    for it in range(iterations + 1):
        st = replace(style, profile=tuple(float(round(x, 4)) for x in prof)) if it else style
        mesh = build_hair(fitted_output, st)
        m = body | hair_mask(mesh, camera, target.shape, offset, scale)[0]
        sc = iou(m)
        if best is None or sc > best[2]:
            best = (st, mesh, sc)
        if it == iterations:
            break
        delta = np.where(fit_bins & (t_end > 0), (t_end - _ray_ends(m, c, dirs, r_max, gap)) / ppm, 0.0)
        prof = prof + 0.9 * delta
        prof = (np.roll(prof, 1) + 2 * prof + np.roll(prof, -1)) / 4  # neighbouring angles agree
        prof = np.clip(np.where(fit_bins, prof, 0.0), PROFILE_RANGE[0], PROFILE_RANGE[1])
    return best


def visible_hair(rec, fit: HairFit, fitted_output, shape: tuple[int, int]):
    """``(show, raster, vertices)``: the photo-sized (H, W) mask of the pixels where the fitted
    hair is in front of the fitted body (or where there is no body), the hair's raster and its
    vertices (float64); None when bald."""
    from avatarforge.render.raster import rasterize

    if fit.mesh is None:
        return None
    cam = rec.fit.camera
    h, w = shape
    v = fitted_output.vertices[0].detach().numpy().astype(np.float64)
    body = rasterize(cam.project(v), fitted_output.faces.numpy(), h, w, perspective=cam.is_perspective)
    hv = fit.mesh.vertices.astype(np.float64)
    hair = rasterize(cam.project(hv), fit.mesh.faces, h, w, perspective=cam.is_perspective)
    return hair.mask & (hair.depth < body.depth), hair, hv


def hair_pixels(rec, fit: HairFit, fitted_output, shape: tuple[int, int], texture: np.ndarray | None = None,
                visible=None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(rows, cols, srgb)``: the photo pixels (image of ``shape``) where the fitted hair is
    drawn in front of the body and its sRGB colours (N, 3 uint8); None when bald. With a
    ``texture`` (sRGB RGBA at the hair's UVs) the colour is sampled from it and texels with
    alpha below one half are cut out; without, the flat hair colour is lightly shaded by the
    surface's angle to the camera. ``visible``: :func:`visible_hair`'s result when already computed."""
    vis = visible if visible is not None else visible_hair(rec, fit, fitted_output, shape)
    if vis is None:
        return None
    show, hair, hv = vis
    cam = rec.fit.camera
    rows, cols = np.nonzero(show)
    tri = fit.mesh.faces[hair.triangle_id[rows, cols]]
    if texture is not None and fit.mesh.uvs is not None:
        uv = np.einsum("nk,nkc->nc", hair.bary[rows, cols], fit.mesh.uvs[tri])  # n: pixel, k: corner, c: uv
        th, tw = texture.shape[:2]
        n, k = len(uv), 1024  # remap's maps as (ceil(n / k), k) images: OpenCV limits each side to 32767
        maps = np.zeros((2, -(-n // k) * k), np.float32)
        maps[0, :n], maps[1, :n] = uv[:, 0] * tw - 0.5, (1.0 - uv[:, 1]) * th - 0.5
        px = cv2.remap(np.ascontiguousarray(texture), maps[0].reshape(-1, k), maps[1].reshape(-1, k), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE).reshape(-1, texture.shape[2])[:n]
        keep = px[:, 3] >= 128 if px.shape[1] == 4 else np.ones(n, bool)  # as glTF alphaMode MASK, cutoff 0.5
        return rows[keep], cols[keep], px[keep, :3]
    a, b, c = hv[tri[:, 0]], hv[tri[:, 1]], hv[tri[:, 2]]
    n = np.cross(b - a, c - a)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    to_cam = cam.position[None] - (a + b + c) / 3 if cam.is_perspective else -cam.R[2][None]
    to_cam = to_cam / np.maximum(np.linalg.norm(to_cam, axis=1, keepdims=True), 1e-12)
    shade = 0.88 + 0.14 * np.abs(np.einsum("nc,nc->n", n, to_cam))  # n: pixel, c: xyz
    return rows, cols, np.clip(np.asarray(fit.colour_srgb)[None] * shade[:, None], 0, 255).astype(np.uint8)


def composite_hair(rgba: np.ndarray, rec, fit: HairFit, fitted_output, texture: np.ndarray | None = None,
                   visible=None) -> np.ndarray:
    """``rgba`` (render_fitted: the fitted body over a transparent background) with the fitted
    hair drawn in front of the body where it is nearer (:func:`hair_pixels`)."""
    drawn = hair_pixels(rec, fit, fitted_output, rgba.shape[:2], texture, visible)
    if drawn is None:
        return rgba
    rows, cols, srgb = drawn
    out = rgba.copy()
    out[rows, cols, :3] = srgb
    out[rows, cols, 3] = 255
    return out
