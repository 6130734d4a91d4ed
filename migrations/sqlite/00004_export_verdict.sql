-- Each run's export verdict (SPEC §11.2): what ModelOpt's
-- export_hf_checkpoint makes of its recipe, as qrun predicts it for the
-- run's ModelOpt target — deployable, mislabelled, fails or unverified —
-- with the label (quant_algo) and why. Runs planned before qrun gave
-- verdicts are 'unknown' (never a guessed verdict); a re-plan of such a run
-- fills its verdict in. Adding a column with a constant default rewrites
-- no row.

-- +goose Up
ALTER TABLE runs ADD COLUMN export_verdict TEXT NOT NULL DEFAULT 'unknown'
    CHECK (export_verdict IN ('deployable', 'mislabelled', 'fails', 'unverified', 'unknown'));
ALTER TABLE runs ADD COLUMN export_quant_algo TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN export_why TEXT NOT NULL DEFAULT '';
-- qrun runs --export V: newest first, as the other filters.
CREATE INDEX runs_export_created ON runs (export_verdict, created_at DESC, id);

-- +goose Down
DROP INDEX runs_export_created;
ALTER TABLE runs DROP COLUMN export_why;
ALTER TABLE runs DROP COLUMN export_quant_algo;
ALTER TABLE runs DROP COLUMN export_verdict;
