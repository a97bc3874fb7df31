"""Writes of the surveys app: service-quality audits (:mod:`.audits`), surveys and their answers
(:mod:`.surveys`), and the automatic triggers run after each refresh (:mod:`.triggers`)."""
