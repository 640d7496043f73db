# One named task per check, the same locally and in CI.
.PHONY: run test test-pg lint format bench ci

run:
	scripts/dev

test:
	scripts/test

test-pg:
	ETEST_TEST_DATABASE_URL=$${ETEST_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} scripts/test

lint:
	scripts/lint

format:
	.venv/bin/ruff format src tests bench

bench:
	.venv/bin/python bench/irt_step.py && .venv/bin/python bench/irt_calibration.py

ci:
	bash .ci/run
