"""Admin views of surveys and audits (answers and photos are read in the app's own pages)."""

from typing import Any

from django.contrib import admin

from cartera.surveys.models import Audit, AuditCriterion, AuditTemplate, Invitation, Survey, SurveyResponse


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin[Any]):
    list_display = ["name", "kind", "trigger", "cap_days", "anonymous", "active"]
    list_filter = ["kind", "trigger", "active"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Any]):
    list_display = ["survey", "customer", "channel", "trigger", "created_at", "sent_at"]
    list_filter = ["channel", "trigger"]
    raw_id_fields = ["customer"]
    exclude = ["token"]


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin[Any]):
    list_display = ["survey", "customer", "score", "reason", "answered_at"]
    list_filter = ["survey", "reason"]
    raw_id_fields = ["customer", "invitation", "follow_up"]


class CriterionInline(admin.TabularInline[Any, Any]):
    model = AuditCriterion
    extra = 0


@admin.register(AuditTemplate)
class AuditTemplateAdmin(admin.ModelAdmin[Any]):
    list_display = ["name", "version", "current"]
    inlines = [CriterionInline]


@admin.register(Audit)
class AuditAdmin(admin.ModelAdmin[Any]):
    list_display = ["location", "channel", "employee", "scheduled_on", "auditor", "status", "score"]
    list_filter = ["status", "channel"]
