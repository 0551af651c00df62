.PHONY: run test lint bench chaos clean

## Start the whole platform locally (PostgreSQL, Redis, web, worker, beat, emulator).
run:
	scripts/run.sh

## Bootstrap, throwaway PostgreSQL + Redis, the whole test suite with coverage (fails under 85 %).
test:
	scripts/test.sh

## ruff (lint + format check) and hadolint on the Dockerfile.
lint:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/hadolint Dockerfile

## Benchmarks under bench/ (each prints a table and writes JSON under bench/results/).
bench:
	scripts/bench.sh

## The chaos run (bench/chaos).
chaos:
	scripts/bench.sh chaos

clean:
	scripts/services.sh stop .run || true
	rm -rf .run
