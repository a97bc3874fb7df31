from django.contrib import admin

from cartera.activity.models import Interaction, Task


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin[Interaction]):
    list_display = ["customer", "kind", "occurred_at", "author", "subject"]
    list_filter = ["kind", "direction"]
    raw_id_fields = ["customer", "author"]
    show_full_result_count = False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin[Task]):
    list_display = ["title", "assignee", "due_at", "done", "customer"]
    list_filter = ["done"]
    raw_id_fields = ["customer", "assignee", "created_by"]
