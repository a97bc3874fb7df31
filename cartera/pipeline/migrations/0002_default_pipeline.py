"""A fresh install starts with one pipeline ("Ventas") and a list of lost reasons, so the board works
at once; managers change them in the app (Pipeline → Pipelines and stages)."""

from django.db import migrations

STAGES = (
    ("Contacto inicial", 10, 14),
    ("Necesidad confirmada", 25, 14),
    ("Propuesta enviada", 50, 10),
    ("Negociación", 75, 7),
)
REASONS = ("Precio", "Eligió a la competencia", "Sin presupuesto", "No es el momento", "Sin respuesta")


def create_defaults(apps, schema_editor):
    Pipeline = apps.get_model("pipeline", "Pipeline")
    PipelineStage = apps.get_model("pipeline", "PipelineStage")
    LostReason = apps.get_model("pipeline", "LostReason")
    if not Pipeline.objects.exists():
        pipeline = Pipeline.objects.create(name="Ventas")
        for position, (name, probability, rotting) in enumerate(STAGES):
            PipelineStage.objects.create(
                pipeline=pipeline, name=name, probability=probability, rotting_days=rotting, position=position
            )
    if not LostReason.objects.exists():
        for position, name in enumerate(REASONS):
            LostReason.objects.create(name=name, position=position)


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0001_opportunities")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
