"""The shop as a whole: segments, tags, the feature catalogue and what reviews say.

Each is the library's facts object for the served snapshot (:func:`segment_report`,
:func:`tag_report`, :func:`feature_catalogue`, :func:`review_summary`), computed on its first
request and kept while the snapshot is served: a build's facts do not change until the next.
"""

from __future__ import annotations

from fastapi import APIRouter

from portrait.api.deps import Viewer
from portrait.segments import SegmentReport, segment_report
from portrait.tags import FeatureCatalogue, TagReport, feature_catalogue, tag_report
from portrait.text import ReviewSummary, review_summary

router = APIRouter(prefix="/v1/shops/{shop}", tags=["insight"])


@router.get("/segments", response_model=SegmentReport, summary="RFM, lifecycle and clusters")
def get_segments(access: Viewer) -> SegmentReport:
    """Every segment of every grouping with its size, value and averages."""
    with access.shop.snapshot() as snap:
        return snap.memo("segments", segment_report)


@router.get("/tags", response_model=TagReport, summary="Tags with coverage and values")
def get_tags(access: Viewer) -> TagReport:
    """Every tag of the catalogue: its coverage and how many customers have each value."""
    with access.shop.snapshot() as snap:
        return snap.memo("tags", tag_report)


@router.get("/tags/catalogue", response_model=FeatureCatalogue, summary="The features")
def get_catalogue(access: Viewer) -> FeatureCatalogue:
    """The features tags and audiences are defined over: type, window, unit, meaning, and
    what this shop's data lacks for those the build left empty."""
    with access.shop.snapshot() as snap:
        return snap.memo("catalogue", feature_catalogue)


@router.get("/reviews", response_model=ReviewSummary, summary="What customers say")
def get_reviews(access: Viewer) -> ReviewSummary:
    """Review sentiment overall, by language and by aspect, and the most criticised items."""
    with access.shop.snapshot() as snap:
        return snap.memo("reviews", review_summary)
