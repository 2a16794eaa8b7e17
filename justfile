# ec-issuer development tasks. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the tasks
default:
    @just --list

# Install the locked Python dependencies (and the npm packages of the independent verifier tests)
dependencies:
    uv sync --frozen
    if command -v npm >/dev/null; then npm ci --prefix tests/e2e/js --no-audit --no-fund --loglevel=error; fi

# Start the service in development mode: SQLite, generated keys, a printed admin token
develop: dependencies
    uv run ec-issuer serve --dev

# Run the whole test suite (SQLite and PostgreSQL; services missing locally are skipped, in CI they fail)
test *ARGS: dependencies
    uv run pytest {{ARGS}}

# Lint, format check, strict type check and architecture contracts
lint:
    uv run ruff check .
    uv run ruff format --check .
    uv run basedpyright
    uv run lint-imports

# Format the code
format:
    uv run ruff format .
    uv run ruff check --fix .

# Benchmark issuing over HTTP with a production server (see bench/README.md)
bench:
    uv run python bench/issue_jose.py
