"""Background work of campaigns: none of their own. Their e-mails are sent by the outbox's delivery
task (:mod:`cartera.messaging.tasks`), woken when a campaign is sent or resumed."""
