"""Writes of the segments app, one module per concern: portfolio figures and the dashboard's
follow-up (:mod:`.portfolio`), saved segments and their bulk actions (:mod:`.segments`), personas
(:mod:`.personas`) and persona suggestions (:mod:`.persona_suggestions`). Every public name is
re-exported here, so ``from cartera.segments.services import figures_refresh`` keeps working."""

from cartera.segments.selectors.portfolio import AT_RISK_KEPT
from cartera.segments.services.persona_suggestions import (
    AGE_BANDS,
    TOP_REGIONS,
    persona_adopt,
    persona_features,
    persona_suggest,
)
from cartera.segments.services.personas import (
    PERSONA_FIELDS,
    persona_assign,
    persona_create,
    persona_delete,
    persona_update,
)
from cartera.segments.services.portfolio import (
    figures_current,
    figures_refresh,
    follow_up_create,
    stage_counts,
)
from cartera.segments.services.segments import (
    BULK_TASK_LIMIT,
    SEGMENT_FIELDS,
    segment_assign_owner,
    segment_create,
    segment_delete,
    segment_freeze,
    segment_stage_change,
    segment_tag,
    segment_tasks_create,
    segment_update,
)

__all__ = [
    "AGE_BANDS",
    "AT_RISK_KEPT",
    "BULK_TASK_LIMIT",
    "PERSONA_FIELDS",
    "SEGMENT_FIELDS",
    "TOP_REGIONS",
    "figures_current",
    "figures_refresh",
    "follow_up_create",
    "persona_adopt",
    "persona_assign",
    "persona_create",
    "persona_delete",
    "persona_features",
    "persona_suggest",
    "persona_update",
    "segment_assign_owner",
    "segment_create",
    "segment_delete",
    "segment_freeze",
    "segment_stage_change",
    "segment_tag",
    "segment_tasks_create",
    "segment_update",
    "stage_counts",
]
