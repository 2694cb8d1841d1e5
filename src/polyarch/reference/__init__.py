r"""Image references: parse, normalize and format them as docker and distribution do.

A fully qualified reference, and the names of its parts::

    ghcr.io:5000/acme/tools/app:1.2@sha256:9f86d081…0a08
    \__________/ \____________/ \_/ \__________________/
         |             |         |           |
     registry     repository    tag       digest
    \_________________________/
               name

The grammar is distribution/reference's (``reference.go``, ``regexp.go``)::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [ domain "/" ] remote-name
    domain           := host [ ":" port-number ]
    host             := domain-name | IPv4address | "[" IPv6address "]"
    domain-name      := domain-component [ "." domain-component ]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    port-number      := /[0-9]+/
    remote-name      := path-component [ "/" path-component ]*      at most 255 characters
    path-component   := alpha-numeric [ separator alpha-numeric ]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\w][\w.-]{0,127}/                           ASCII \w
    digest           := algorithm ":" hex                             checked by Digest.parse
    identifier       := /[a-f0-9]{64}/                                an image ID, not a name

What people type is shorter, and Docker Hub fills in the rest (``ParseNormalizedNamed``)::

    ubuntu                      -> docker.io/library/ubuntu:latest
    user/app:1                  -> docker.io/user/app:1
    localhost:5000/a/b          -> localhost:5000/a/b:latest
    index.docker.io/library/x   -> docker.io/library/x:latest

The first path component is a registry only if it contains ``.`` or ``:``, is
``localhost``, or has an uppercase letter; a single component never is (``localhost`` alone
is the repository ``docker.io/library/localhost``). ``docker.io``, ``index.docker.io`` and
``registry-1.docker.io`` all become ``docker.io``; its one-component repositories live
under ``library/``. :attr:`Reference.familiar` undoes the filling-in (docker's
``FamiliarString``).

Two layers live here:

* :class:`Reference`, the value the rest of polyarch uses: always normalized, always with a
  registry and repository, digests validated by :class:`~polyarch.digest.Digest`
  (``sha256``, ``sha384``, ``sha512``). Build one with :meth:`Reference.parse`.
* :func:`parse_normalized_named` (distribution's ``ParseNormalizedNamed``) and the anchored
  grammar regexps (use ``fullmatch``). The rest of distribution/reference's functions, which
  polyarch does not need (``Parse``, ``WithName``, ``ParseNamed``, ``FamiliarMatch``,
  ``Sort``...), are mirrored in the test suite (``tests/goref.py``) over these, so the
  upstream vectors run unchanged.

Deliberate differences from distribution/reference:

* ``sha512`` (and ``sha384``) digests are accepted in references (Go only accepts what the
  program links; its test suite links only ``sha256``).
* :attr:`Reference.familiar_name` keeps the ``docker.io/`` prefix when the short form would
  read back as another reference (``docker.io/my.org/app`` is not ``my.org/app``, and a bare
  64-hex name is taken for an image ID): ``parse(ref.familiar, default_tag=None) == ref``.
* :class:`Reference` only accepts a registry that the normalizing parser would read as one
  (``"a"`` is not: ``a/b`` means the Docker Hub repository ``a/b``), and
  :func:`parse_normalized_named` refuses a first component that looks like a host but is
  not one (``foo_bar.com/x``), which Go keeps as a name without a domain.
* :func:`parse_normalized_named` reports ``""`` as ``name_empty`` (Go: invalid format).

Every failure is an :class:`~polyarch.errors.InvalidReferenceError` whose ``kind`` is one of
distribution's error names (``name_empty``, ``reference_invalid_format``,
``name_contains_uppercase``, ``name_too_long``, ``name_not_canonical``,
``tag_invalid_format``, ``digest_invalid_format``, ``digest_invalid_length``,
``digest_unsupported``), or ``identifier_not_allowed`` (a bare image ID where a name was
expected).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from polyarch.digest import Digest
from polyarch.reference._grammar import (
    DEFAULT_REGISTRY,
    DEFAULT_TAG,
    DIGEST_RE,
    DOCKER_HUB_ALIASES,
    DOCKER_HUB_API_HOST,
    DOMAIN_RE,
    IDENTIFIER_RE,
    MAX_PATH_LENGTH,
    NAME_RE,
    OFFICIAL_REPOSITORY_PREFIX,
    PATH_RE,
    REFERENCE_RE,
    TAG_RE,
    _check_path,
    _check_tag,
    _error,
    _format,
    _is_registry_like,
    _parse_digest,
    _parse_strict,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "DEFAULT_TAG",
    "DIGEST_RE",
    "DOCKER_HUB_ALIASES",
    "DOCKER_HUB_API_HOST",
    "DOMAIN_RE",
    "IDENTIFIER_RE",
    "MAX_PATH_LENGTH",
    "NAME_RE",
    "PATH_RE",
    "REFERENCE_RE",
    "TAG_RE",
    "Reference",
    "api_host_of",
    "normalize_registry",
    "parse_normalized_named",
    "server_host",
]


@dataclass(frozen=True, slots=True, repr=False)
class Reference:
    """A normalized image reference: registry, repository, and an optional tag and digest.

    Build one with :meth:`parse`; the constructor validates its fields too, normalizes the
    Docker Hub spellings to ``docker.io`` and puts one-component Docker Hub repositories
    under ``library/``. A reference may carry both a tag and a digest (the digest is what
    gets pulled; the tag is kept for people). Equal references hash equal.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        registry = DEFAULT_REGISTRY if self.registry in DOCKER_HUB_ALIASES else self.registry
        repository = self.repository
        if registry == DEFAULT_REGISTRY and "/" not in repository:
            repository = OFFICIAL_REPOSITORY_PREFIX + repository
        text = _format(f"{registry}/{repository}", self.tag, self.digest)
        if DOMAIN_RE.fullmatch(registry) is None:
            raise _error(
                "reference_invalid_format",
                text,
                detail=f"invalid registry {registry!r}",
                hint="a registry is HOST[:PORT], e.g. 'ghcr.io' or 'localhost:5000'",
            )
        if not _is_registry_like(registry):
            raise _error(
                "reference_invalid_format",
                text,
                detail=f"{registry!r} would be read as a Docker Hub namespace, not a registry",
                hint="a registry needs a '.' or a ':PORT', or must be 'localhost'",
            )
        _check_path(repository, text)
        if self.tag is not None:
            _check_tag(self.tag, text)
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "repository", repository)
        if self.digest is not None:
            object.__setattr__(self, "digest", _parse_digest(self.digest, text))

    @classmethod
    def parse(cls, text: str, *, default_tag: str | None = DEFAULT_TAG) -> Reference:
        """Parse what a person would type, as ``docker pull`` reads it.

        ``ubuntu`` becomes ``docker.io/library/ubuntu:latest``. When ``text`` names neither
        a tag nor a digest, the tag is ``default_tag`` (none if it is ``None``).

        :raises InvalidReferenceError: ``text`` is not a reference; ``kind`` says why.
        """
        ref = parse_normalized_named(text)
        if ref.tag is None and ref.digest is None and default_tag is not None:
            ref = ref.with_tag(default_tag)
        return ref

    @property
    def name(self) -> str:
        """``registry/repository``, e.g. ``docker.io/library/ubuntu``."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The name as docker shows it: ``ubuntu``, ``user/app``, ``ghcr.io/x/y``.

        Docker Hub's registry and ``library/`` are dropped, unless the short form would
        read back as something else (then the full name is kept).
        """
        if self.registry != DEFAULT_REGISTRY:
            return self.name
        path = self.repository
        rest = path.removeprefix(OFFICIAL_REPOSITORY_PREFIX)
        if rest != path and "/" not in rest:
            path = rest
        first, slash, _ = path.partition("/")
        if (slash and _is_registry_like(first)) or IDENTIFIER_RE.fullmatch(path) is not None:
            return self.name
        return path

    @property
    def familiar(self) -> str:
        """The reference as docker shows it: ``ubuntu:latest``, ``ghcr.io/x/y@sha256:…``."""
        return _format(self.familiar_name, self.tag, self.digest)

    @property
    def api_host(self) -> str:
        """The host (and port) that serves the distribution API for this registry."""
        return api_host_of(self.registry)

    @property
    def identifier(self) -> str | None:
        """What to ask the registry for: the digest if there is one, else the tag."""
        return self.digest if self.digest is not None else self.tag

    def with_tag(self, tag: str | None) -> Reference:
        """The same reference with ``tag`` (``None`` drops it); the digest is kept.

        :raises InvalidReferenceError: ``kind`` ``tag_invalid_format``.
        """
        if tag is not None:
            _check_tag(tag, tag, subject="tag")
        return replace(self, tag=tag)

    def with_digest(self, digest: Digest | str | None) -> Reference:
        """The same reference with ``digest`` (``None`` drops it); the tag is kept.

        :raises InvalidReferenceError: ``kind`` ``digest_invalid_format``,
            ``digest_invalid_length`` or ``digest_unsupported``.
        """
        return replace(self, digest=None if digest is None else _parse_digest(digest, digest))

    def with_repository(self, repository: str) -> Reference:
        """The same registry, tag and digest with another repository path.

        :raises InvalidReferenceError: the path is not valid (``reference_invalid_format``,
            ``name_contains_uppercase``, ``name_too_long``).
        """
        _check_path(repository, repository, subject="repository")
        return replace(self, repository=repository)

    def __str__(self) -> str:
        return _format(self.name, self.tag, self.digest)

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"


def parse_normalized_named(text: str) -> Reference:
    """distribution's ``ParseNormalizedNamed``: normalize, but add no default tag.

    Same as ``Reference.parse(text, default_tag=None)``.

    :raises InvalidReferenceError: also with ``kind`` ``identifier_not_allowed`` for a
        bare 64-hex-digit string.
    """
    if not text:
        # Go reports "invalid reference format" (it parses "docker.io/library/"); the
        # emptiness is the useful part.
        raise _error("name_empty", text)
    if IDENTIFIER_RE.fullmatch(text) is not None:
        raise _error("identifier_not_allowed", text)
    domain, remainder = _split_docker_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise _error("name_contains_uppercase", text)
    parsed = _parse_strict(f"{domain}/{remainder}", text)
    if parsed.domain != domain:
        # Parse read the whole name as a path ("foo_bar.com/x": "foo_bar.com" is no host).
        # Go keeps that with an empty domain; a Reference needs a registry.
        raise _error(
            "reference_invalid_format",
            text,
            detail=f"{domain!r} is not a valid registry host",
            hint="a registry is HOST[:PORT], e.g. 'ghcr.io' or 'localhost:5000'",
        )
    digest = None if parsed.digest is None else Digest.parse(parsed.digest)  # already checked
    return Reference(parsed.domain, parsed.path, parsed.tag, digest)


def _split_docker_domain(text: str) -> tuple[str, str]:
    """Split ``text`` into registry and the rest, filling in Docker Hub's defaults."""
    maybe_domain, slash, maybe_remote = text.partition("/")
    if not slash:
        # One component is always a repository: "localhost" or "foo.com" alone, and
        # "foo.com:5000" is repository "foo.com" with tag "5000".
        return DEFAULT_REGISTRY, OFFICIAL_REPOSITORY_PREFIX + text
    if maybe_domain == "index.docker.io":
        domain, remote = DEFAULT_REGISTRY, maybe_remote
    elif _is_registry_like(maybe_domain):
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_REGISTRY, text
    if domain == DEFAULT_REGISTRY and "/" not in remote:
        remote = OFFICIAL_REPOSITORY_PREFIX + remote
    return domain, remote


def api_host_of(registry: str) -> str:
    """The host that serves the distribution API of a normalized registry name."""
    return DOCKER_HUB_API_HOST if registry == DEFAULT_REGISTRY else registry


def server_host(server: str) -> str:
    """The registry host a server name names, as docker's ``ConvertToHostname`` reads
    it: an ``http://`` or ``https://`` scheme, its user information and any path dropped,
    every Docker Hub spelling (in any case) ``docker.io``. Not checked against the
    grammar: credential files hold whatever tools wrote there."""
    host = server
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            # A URL's user information is no part of its host (Go's url.Parse).
            host = host.removeprefix(scheme).partition("/")[0].rpartition("@")[2]
            break
    host = host.partition("/")[0]
    return DEFAULT_REGISTRY if host.lower() in DOCKER_HUB_ALIASES else host


def normalize_registry(server: str) -> str:
    """The registry name references use for what ``docker login`` accepts as a server:
    :func:`server_host`, checked to be ``HOST[:PORT]``, so ``https://index.docker.io/v1/``
    is ``docker.io``. A host without a ``.`` or port is accepted, as docker accepts it,
    although references cannot name it.

    :raises InvalidReferenceError: ``kind`` ``reference_invalid_format`` if no
        ``HOST[:PORT]`` remains.
    """
    host = server_host(server)
    if host != DEFAULT_REGISTRY and DOMAIN_RE.fullmatch(host) is None:
        raise _error(
            "reference_invalid_format",
            server,
            subject="registry",
            detail="expected HOST[:PORT] or an http(s) URL",
            hint="name a registry such as 'ghcr.io', 'localhost:5000' or 'docker.io'",
        )
    return host
