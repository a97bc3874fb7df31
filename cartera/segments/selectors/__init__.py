"""Reads of the segments app, one module per concern: saved segments (:mod:`.segments`), personas
(:mod:`.personas`) and the portfolio figures (:mod:`.portfolio`). Every name is re-exported here, so
``from cartera.segments import selectors; selectors.segment_get(...)`` keeps working."""

from cartera.segments.selectors.personas import (
    EvaluatedPersona,
    PersonaReport,
    persona_evaluated,
    persona_get,
    persona_list,
    persona_members,
    persona_report,
    persona_rows,
    persona_rule_problem,
    suggestion_run,
)
from cartera.segments.selectors.portfolio import (
    at_risk_customer_ids,
    figures_rows,
    growth_potential,
    rfm_grid,
    rfm_top_moves,
)
from cartera.segments.selectors.segments import (
    EvaluatedSegment,
    Totals,
    definition_count,
    definition_members,
    may,
    problem_text,
    segment_count,
    segment_evaluated,
    segment_get,
    segment_list,
    segment_members,
    totals,
)

__all__ = [
    "EvaluatedPersona",
    "EvaluatedSegment",
    "PersonaReport",
    "Totals",
    "definition_count",
    "definition_members",
    "at_risk_customer_ids",
    "figures_rows",
    "growth_potential",
    "may",
    "persona_evaluated",
    "persona_get",
    "persona_list",
    "persona_members",
    "persona_rule_problem",
    "persona_report",
    "persona_rows",
    "problem_text",
    "rfm_grid",
    "rfm_top_moves",
    "segment_count",
    "segment_evaluated",
    "segment_get",
    "segment_list",
    "segment_members",
    "suggestion_run",
    "totals",
]
