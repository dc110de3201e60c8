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
from leakguard.detectors.image.bases import KnownImage, base_of
from leakguard.detectors.image.cache import LayerCache, default_cache_path, ruleset_version
from leakguard.detectors.image.model import Image, ImageOptions, Layer, LayerScan, PlatformMissing
from leakguard.detectors.image.runner import scan_images, scan_layers
from leakguard.detectors.image.sources import (
    docker_archive,
    engine_socket_answers,
    registry_images,
)
from leakguard.detectors.image.walker import scan_layer

__all__ = [
    "Image",
    "ImageOptions",
    "KnownImage",
    "Layer",
    "LayerCache",
    "LayerScan",
    "PlatformMissing",
    "assemble",
    "base_of",
    "default_cache_path",
    "docker_archive",
    "engine_socket_answers",
    "registry_images",
    "ruleset_version",
    "scan_images",
    "scan_layer",
    "scan_layers",
]
