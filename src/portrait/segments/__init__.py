"""Segments: RFM, lifecycle stages and behavioural clusters."""

from __future__ import annotations

from portrait.segments.build import (
    STAGE,
    ClusteringSummary,
    ClusterProfile,
    GroupingTotals,
    SegmentReport,
    SegmentStats,
    Trait,
    build_segments,
    cluster_profiles,
    segment_report,
)
from portrait.segments.clusters import Clustering, cluster_customers
from portrait.segments.lifecycle import LIFECYCLE_STAGES, lifecycle_stage
from portrait.segments.rfm import SEGMENTS, rfm_scores

__all__ = [
    "LIFECYCLE_STAGES",
    "SEGMENTS",
    "STAGE",
    "ClusterProfile",
    "Clustering",
    "ClusteringSummary",
    "GroupingTotals",
    "SegmentReport",
    "SegmentStats",
    "Trait",
    "build_segments",
    "cluster_customers",
    "cluster_profiles",
    "lifecycle_stage",
    "rfm_scores",
    "segment_report",
]
