from django.contrib import admin

from cartera.segments.models import Persona, Segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kind", "owner", "updated_at")
    search_fields = ("name",)


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "initials", "owner", "updated_at")
    search_fields = ("name",)
    filter_horizontal = ()
    raw_id_fields = ("members",)
