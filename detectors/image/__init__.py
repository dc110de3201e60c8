"""The image surface: every layer, the config (env, labels, command) and the history.

An image is read from one of four places, named as skopeo names them:

    docker-daemon:NAME[:TAG]       the local Docker engine (its `docker save` stream)
    docker-archive:PATH            a `docker save` tarball
    oci:DIR[:TAG]                  an OCI image layout
    docker://HOST[:PORT]/REPO[:TAG|@DIGEST]   a registry (leakguard.registry)

Each layer is a tar stream (uncompressed, gzip or zstd) that is read once,
in order, and never extracted: regular files go through the engine, links,
devices and hostile names are never followed. What a layer deletes (`.wh.`
whiteouts, opaque directories) or overwrites is recorded, so a finding in an
earlier layer's file that a later layer removed is still reported, marked
`deleted`. Layers are scanned independently (in parallel, cached by their
uncompressed digest); putting an image together from its layers is cheap.

The parts, one module each:

    model        the shared values (ImageOptions, Layer, Image, LayerScan)
    streams      stream decoding: gzip/zstd, counting, hashing, bounded readers
    tar          a streaming tar reader
    walker       one layer's members through the engine (scan_layer)
    sources      the four image sources, and `resolve` to pick one
    config_scan  the config: Env, Labels, commands, history, attestations
    bases        base-image inheritance
    assembly     an image's report from its layers' scans
    cache        the layer cache and the ruleset version that keys it
    cluster      layer scans on a Dask cluster (imported only when one is asked for)
    runner       scanning each distinct layer once, in parallel (scan_layers, scan_images)
"""

from __future__ import annotations

from leakguard.detectors.image.assembly import assemble
from leakguard.detectors.image.bases import KnownImage, base_of, known_local_images
from leakguard.detectors.image.cache import LayerCache, default_cache_path, ruleset_version
from leakguard.detectors.image.config_scan import image_level, layer_instructions
from leakguard.detectors.image.model import (
    Image,
    ImageOptions,
    Layer,
    LayerScan,
    LayerSource,
    PlatformMissing,
    Readable,
)
from leakguard.detectors.image.runner import (
    PARALLEL_MIN_BYTES,
    LayerExecutor,
    ProgressCallback,
    scan_images,
    scan_layers,
    scan_one,
)
from leakguard.detectors.image.sources import (
    ATTESTATION_TYPE,
    MAX_JSON,
    FileSlice,
    RegistryBlob,
    daemon_has,
    daemon_images,
    docker_archive,
    engine_socket_answers,
    oci_layout,
    registry_images,
    resolve,
)
from leakguard.detectors.image.streams import decompressed
from leakguard.detectors.image.tar import BLOCK, TarEntry, TarFormatError, TarStream
from leakguard.detectors.image.walker import (
    ARCHIVE_SUFFIXES,
    BINARY_SNIFF,
    PURE_STRUCTURED,
    scan_layer,
)

__all__ = [
    "LayerExecutor",
    "ARCHIVE_SUFFIXES",
    "ATTESTATION_TYPE",
    "BINARY_SNIFF",
    "BLOCK",
    "FileSlice",
    "Image",
    "ImageOptions",
    "KnownImage",
    "Layer",
    "LayerCache",
    "LayerScan",
    "LayerSource",
    "MAX_JSON",
    "PARALLEL_MIN_BYTES",
    "PURE_STRUCTURED",
    "PlatformMissing",
    "ProgressCallback",
    "Readable",
    "RegistryBlob",
    "TarEntry",
    "TarFormatError",
    "TarStream",
    "assemble",
    "base_of",
    "daemon_has",
    "daemon_images",
    "decompressed",
    "default_cache_path",
    "docker_archive",
    "engine_socket_answers",
    "image_level",
    "known_local_images",
    "layer_instructions",
    "oci_layout",
    "registry_images",
    "resolve",
    "ruleset_version",
    "scan_images",
    "scan_layer",
    "scan_layers",
    "scan_one",
]
