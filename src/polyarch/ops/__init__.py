"""Operations, written once against :class:`~polyarch.store.Store` (any backend):

``walk``       going down an index tree: children and configs fetched and checked alike
``resolve``    the entry a platform runs, and why
``describe``   an image or index with everything it is made of
``copy``       images and indexes between stores, blobs first, the tag last
``targets``    which tag a copy or a pull is written under, and where
``pending``    the pending lists of ``create``, on disk
``lists``      create, annotate and push of pending lists
``images``     the operations a program calls by name: resolve, copy, pull, lists
``spec``       lists from manifest-tool's spec file or its template
``edit``       an index already pushed, changed and put back
``delete``     a manifest by digest, or a tag
``referrers``  OCI 1.1 referrers: listed, attached under their subject, walked
"""

__all__ = ["DEFAULT_JOBS"]

#: Steps at once, for every operation that fans out: threads, each with at most one
#: request in flight. Each registry host bounds its own requests below this, by its
#: distance (8 near, up to 32 far: :mod:`polyarch.registry._flight`).
DEFAULT_JOBS = 32
