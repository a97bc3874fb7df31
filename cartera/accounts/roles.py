"""Roles are Django groups; this module is the single definition of what each role may do.

| role      | sees                | writes                                             | export | delete |
|-----------|---------------------|----------------------------------------------------|--------|--------|
| admin     | everything          | everything, users and settings, Django admin       | yes    | yes    |
| manager   | every customer      | every customer, reassigns owners                   | yes    | yes    |
| sales_rep | the shared portfolio| customers they own; interactions on any customer;  | no     | no     |
|           |                     | orders of customers they own; the tasks assigned   |        |        |
|           |                     | to them; gives tasks to colleagues                 |        |        |
| auditor   | their assigned      | the answers, notes and photos of the service-      | no     | no     |
|           | service audits only | quality audits assigned to them; no customer data  |        |        |

A sales rep deletes no customer, but may merge two records that are both theirs (a person typed in
twice) and undo that merge: ``merge_scope`` in cartera/customers/selectors.py.

Opportunities are private to their owner: a sales rep sees and works their own; managers and admins
all of them, and they also manage pipelines, stages and lost reasons and build call lists for the team.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

ADMIN = "admin"
MANAGER = "manager"
SALES_REP = "sales_rep"
AUDITOR = "auditor"

ROLE_LABELS = {
    ADMIN: _("Administrator"),
    MANAGER: _("Manager"),
    SALES_REP: _("Sales rep"),
    AUDITOR: _("Auditor (mystery shopper)"),
}

_DOMAIN = {
    "customers": ["customer", "company", "tag"],
    "activity": ["interaction", "task"],
    "sales": ["order"],
    # Import jobs (with their records and rejected rows) and saved mappings: each person's own, all of
    # them for roles that act on every record (read through the scoping helper like the rest).
    "imports": ["importjob", "importrecord", "importrowerror", "importmapping"],
    # The consent ledger and the lawful basis (cartera/privacy): recorded by the whole team.
    "privacy": ["consentevent", "privacyprofile"],
    # Surveys and service-quality audits (cartera/surveys): run by managers; sales reps see the answers
    # of the portfolio (below) and auditors fill in only the audits assigned to them.
    "surveys": [
        "survey",
        "invitation",
        "surveyresponse",
        "audittemplate",
        "auditcriterion",
        "audit",
        "auditanswer",
        "auditphoto",
        "auditfinding",
    ],
}


# What each user makes for their own work: saved segments, personas and persona suggestions. Every
# role views all of them and makes, changes and deletes its own; the scoping rule
# (``act_on_all_records``) lets managers and admins act on everybody's.
_OWN_WORK = {"segments": ["segment", "persona", "personasuggestionrun"]}


def _model_perms(actions: list[str], domain: dict[str, list[str]] = _DOMAIN) -> list[str]:
    return [
        f"{app}.{action}_{model}" for app, models in domain.items() for model in models for action in actions
    ]


_OWN_WORK_PERMS = _model_perms(["view", "add", "change", "delete"], _OWN_WORK)

# Opportunities are private to their owner (``scope_private``): a rep works their own, managers all.
_PIPELINE = {"pipeline": ["opportunity"]}
_PIPELINE_HISTORY = ["pipeline.view_opportunitystagechange", "pipeline.view_prospectfit"]


# Histories written only by the services: everybody reads them, nobody edits them.
_HISTORY_VIEW = ["customers.view_stagechange"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MANAGER: _model_perms(["view", "add", "change", "delete"])
    + _HISTORY_VIEW
    + _model_perms(["view", "add", "change", "delete"], _PIPELINE)
    + _PIPELINE_HISTORY
    + ["pipeline.reassign_opportunity", "pipeline.manage_pipeline"]
    + _model_perms(["view", "add", "change", "delete"], {"pipeline": ["calllist", "calllistentry"]})
    # Lead capture forms and their answers (cartera/pipeline): managers build them and read the answers.
    + _model_perms(["view", "add", "change", "delete"], {"pipeline": ["leadform"]})
    + ["pipeline.view_leadsubmission"]
    + [
        "customers.export_customer",
        "customers.reassign_customer",
        "activity.export_interaction",
        "sales.export_order",
        # Export files written by the worker (My exports): each person sees only their own.
        "imports.view_exportjob",
        "imports.add_exportjob",
        "accounts.act_on_all_records",
        "activity.assign_task",
        # Erasing a person (GDPR Art. 17 / 21) and reading the audit log: managers and admins only.
        "privacy.erase_customer",
        "privacy.view_auditentry",
        # The outbox (cartera/messaging): everybody's messages.
        "messaging.view_outboxmessage",
    ]
    # Campaigns (cartera/campaigns): managers create and send them.
    + _model_perms(["view", "add", "change", "delete"], {"campaigns": ["campaign", "recipient"]})
    + _OWN_WORK_PERMS,
    SALES_REP: [p for p in _model_perms(["view", "add", "change"]) if not p.startswith("surveys.")]
    + ["activity.assign_task", "surveys.view_survey", "surveys.view_surveyresponse"]
    + ["surveys.view_invitation", "surveys.add_invitation"]
    + ["messaging.view_outboxmessage"]
    # Sales reps see campaigns and the results for their own customers.
    + ["campaigns.view_campaign", "campaigns.view_recipient"]
    + _HISTORY_VIEW
    + _model_perms(["view", "add", "change"], _PIPELINE)
    + _PIPELINE_HISTORY
    # The call lists a manager gives them: read them and log each call's outcome.
    + ["pipeline.view_calllist", "pipeline.view_calllistentry", "pipeline.change_calllistentry"]
    + _OWN_WORK_PERMS,
    # An auditor reaches only the audits assigned to them (``Audit.scope_private``) and never a
    # customer: no permission on customers, orders, interactions or surveys.
    AUDITOR: [
        "surveys.view_audit",
        "surveys.change_audit",
        "surveys.view_audittemplate",
        "surveys.view_auditcriterion",
        "surveys.view_auditanswer",
        "surveys.add_auditanswer",
        "surveys.change_auditanswer",
        "surveys.view_auditphoto",
        "surveys.add_auditphoto",
        "surveys.delete_auditphoto",
    ],
}
# Admins hold every permission through ``is_superuser``; the group exists so the role is visible.
ROLE_PERMISSIONS[ADMIN] = list(ROLE_PERMISSIONS[MANAGER]) + ["accounts.view_user"]


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    """Create or update the role groups once migrations have created the permissions.

    ``post_migrate`` is sent once per app, and each app's permissions are created by the handler
    of that app's signal: the groups are synced once, after the last app's.
    """
    from django.apps import apps

    from cartera.accounts.services import roles_sync

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if with_models and sender is with_models[-1]:
        roles_sync()
