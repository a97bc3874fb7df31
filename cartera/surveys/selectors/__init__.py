"""Reads of the surveys app: audits and their scores (:mod:`.audits`), survey results (:mod:`.surveys`)."""
