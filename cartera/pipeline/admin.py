"""Admin views of the pipeline (managers change pipelines and stages in the app itself)."""

from django.contrib import admin

from cartera.pipeline.models import LostReason, Opportunity, Pipeline, PipelineStage


class StageInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PipelineStage
    extra = 0


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "position", "active")
    inlines = [StageInline]


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "position", "active")


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "pipeline", "stage", "status", "value", "owner")
    list_filter = ("status", "pipeline")
    raw_id_fields = ("customer", "company", "owner", "order")
