.PHONY: run test bench lint format

run:
	scripts/run

test:
	scripts/test

bench:
	scripts/bootstrap dev
	.venv/bin/python bench/bench_core.py

lint:
	.venv/bin/ruff check homei tests bench
	.venv/bin/ruff format --check homei tests bench
	.venv/bin/mypy homei

format:
	.venv/bin/ruff format homei tests bench
	.venv/bin/ruff check --fix homei tests bench
