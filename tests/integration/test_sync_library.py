"""``polyarch.sync`` as a program calls it: a parsed file, one ``Registries`` with a
cache, a report of outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import polyarch
from tests.content import images_for, layout_tags, multi, unique
from tests.registry_server import RegistryServer


def test_a_program_syncs_with_its_own_cache(registry: RegistryServer, tmp_path: Path) -> None:
    repository = unique("sync/lib")
    for number, tag in enumerate(["1.0", "1.1", "dev"]):
        multi(images_for(1680 + number)).push(registry, repository, tag)
    layout = tmp_path / "mirror"
    text = json.dumps(
        {"sync": [{"source": f"{registry.host}/{repository}", "target": f"oci:{layout}",
                   "tags": {"semverRange": ">=1.0"}}]}
    )  # fmt: skip
    spec = polyarch.parse_sync(text, where="inline")
    cache = polyarch.Cache(tmp_path / "cache")

    with polyarch.Registries(cache=cache) as registries:
        first = polyarch.sync(spec, registries=registries)
    with polyarch.Registries(cache=cache) as registries:
        again = polyarch.sync(spec, registries=registries)
        sent = registries.meter.sent

    assert [o.status for o in first.outcomes] == ["copied", "copied"]
    assert [o.status for o in again.outcomes] == ["up to date", "up to date"]
    assert sorted(layout_tags(layout)) == ["1.0", "1.1"]
    assert sent == 1 + 2  # the tag list, a HEAD of each source tag (the layout is no request)
    assert (first.not_begun, again.errors) == (0, [])
