"""Segments: RFM, lifecycle stages and behavioural clusters."""

from __future__ import annotations

from portrait.segments.build import build_segments, segment_table
from portrait.segments.clusters import Clustering, ClusterProfile, cluster_customers
from portrait.segments.lifecycle import STAGES, lifecycle_stage
from portrait.segments.rfm import SEGMENT_ZH, SEGMENTS, rfm_scores

__all__ = [
    "SEGMENTS",
    "SEGMENT_ZH",
    "STAGES",
    "ClusterProfile",
    "Clustering",
    "build_segments",
    "cluster_customers",
    "lifecycle_stage",
    "rfm_scores",
    "segment_table",
]
