"""``explain``: which entry of an index each runtime family runs on a platform, and why,
side by side (:mod:`polyarch.selection` holds the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyarch.models import ImageIndex, ImageManifest, Manifest
from polyarch.ops.resolve import learner
from polyarch.ops.walk import Walk
from polyarch.platform import Platform, format_all, is_compatible
from polyarch.selection import FAMILIES, Pick, pick_all
from polyarch.store import Store

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """Each family's pick in ``manifest`` for a machine of ``platform``."""

    manifest: Manifest
    platform: Platform
    picks: tuple[Pick, ...]

    @property
    def agreed(self) -> bool:
        return len({pick.position for pick in self.picks}) == 1

    def disagreements(self) -> list[str]:
        """One sentence a pick that differs from containerd's (the reference)."""
        reference = self.picks[0]
        lines: list[str] = []
        for pick in self.picks[1:]:
            if pick.position == reference.position:
                continue
            lines.append(
                f"{pick.family} {self._says(pick)}, {reference.family} {self._says(reference)}: "
                f"{pick.reason}"
            )
        return lines

    def _says(self, pick: Pick) -> str:
        if pick.position is None:
            return "runs nothing"
        if isinstance(self.manifest, ImageIndex):
            entry = self.manifest.manifests[pick.position - 1]
            shown = format_all(entry.platform) if entry.platform is not None else "no platform"
            return f"picks entry {pick.position} ({shown})"
        return "runs the image"

    def to_json(self) -> dict[str, Any]:
        picks = []
        for pick, family in zip(self.picks, FAMILIES, strict=True):
            shown: dict[str, Any] = {
                "family": pick.family,
                "users": family.users,
                "entry": pick.position,
                "reason": pick.reason,
            }
            if pick.position is not None and isinstance(self.manifest, ImageIndex):
                shown["digest"] = str(self.manifest.manifests[pick.position - 1].digest)
            picks.append(shown)
        return {
            "platform": format_all(self.platform),
            "digest": str(self.manifest.digest),
            "agreed": self.agreed,
            "picks": picks,
            "disagreements": self.disagreements(),
        }


def explain(store: Store, manifest: Manifest, platform: Platform) -> Explanation:
    """What each family runs of ``manifest`` on a machine of ``platform``; a single image
    is run or refused by its config's platform alike by all."""
    walk = Walk(store, manifest)
    if isinstance(manifest, ImageManifest):
        config = walk.platform_of(manifest)
        if config is None:
            reason = f"an artifact ({manifest.config.media_type}), not an image: none runs it"
            return Explanation(
                manifest, platform, tuple(Pick(f.name, None, reason) for f in FAMILIES)
            )
        runs = is_compatible(platform, config)
        reason = f"a single {format_all(config)} image" + ("" if runs else ", which it cannot run")
        position = 1 if runs else None
        alike = tuple(Pick(family.name, position, reason) for family in FAMILIES)
        return Explanation(manifest, platform, alike)
    learn = learner(walk, manifest, platform, depth=0)
    picks = pick_all(manifest.manifests, platform, media_type=manifest.media_type, learn=learn)
    return Explanation(manifest, platform, tuple(picks))
