"""OCI image layouts on disk (``oci:PATH[:TAG|@DIGEST]``), as image-spec's image-layout.md
defines them and skopeo, crane and buildx write them."""

from polyarch.layout.store import LayoutStore

__all__ = ["LayoutStore"]
