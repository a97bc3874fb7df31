"""Pages of the surveys app: service-quality audits (:mod:`.audits`), surveys and results
(:mod:`.surveys`), and the public answer page (:mod:`.public`)."""
