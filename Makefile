# IMS — run `make help` for the list of targets.
GO        ?= go
BIN       ?= bin/ims
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# Tests that stop and restart local services run one package at a time after
# the main suite, so they never pull a broker from under a parallel test.
FAULT_RUN ?= ^TestFault
FAULT_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^func TestFault' .)))
# go test -fuzz takes one target per run: make fuzz runs each in turn.
FUZZTIME         ?= 30s
FUZZMINIMIZETIME ?= 10s
FUZZ_FILES        = $(shell grep -rl --include='*_test.go' '^func Fuzz' .)

.DEFAULT_GOAL := help

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the ims binary into bin/ims
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ims

run: ## Run the service (settings from the environment and .env)
	$(GO) run ./cmd/ims serve

demo: ## Run the self-contained demo (embedded SQLite + built-in webhook receiver)
	$(GO) run ./cmd/ims demo

sink: ## Run a local webhook receiver on 127.0.0.1:9090
	$(GO) run ./cmd/ims sink

migrate: ## Apply database migrations (DATABASE_URL, or the SQLite file)
	$(GO) run ./cmd/ims migrate

test: ## Run the whole test suite with -race (PostgreSQL, Redis and RabbitMQ on localhost; CI=true fails instead of skipping)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	IMS_FAULT_TESTS=1 $(GO) test -race -count=1 -timeout 20m -p 1 -run '$(FAULT_RUN)' $(FAULT_PKGS)

test-short: ## Run the unit tests only (no outside services needed)
	$(GO) test -race -count=1 -short ./...

fuzz: ## Run every fuzz target for FUZZTIME each (default 30s), one after another (their seeds already run in make test)
	@set -e; for file in $(FUZZ_FILES); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "== $$(dirname $$file) $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./$$(dirname $$file); \
		done; \
	done

bench: ## Run the Go benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

lint: ## Vet and check formatting (golangci-lint too, if installed)
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed on:"; gofmt -l .; exit 1)
	@if command -v golangci-lint >/dev/null; then golangci-lint run ./...; else echo "golangci-lint not installed: skipped"; fi

docker-up: ## Start PostgreSQL + Redis + IMS with Docker Compose
	docker compose up -d --build

docker-up-rabbitmq: ## Start PostgreSQL + Redis + RabbitMQ + IMS (RabbitMQ queue mode)
	docker compose --profile rabbitmq up -d --build

docker-down: ## Stop the Docker Compose stack
	docker compose --profile rabbitmq down

rabbitmq-ui: ## Open the RabbitMQ management UI (Docker stack)
	@echo "RabbitMQ management UI: http://localhost:15672 (guest/guest)"
	@(command -v xdg-open >/dev/null && xdg-open http://localhost:15672) || (command -v open >/dev/null && open http://localhost:15672) || true

clean: ## Remove build output and local SQLite files
	rm -rf bin ims.db ims.db-wal ims.db-shm

.PHONY: help build run demo sink migrate test test-short fuzz bench lint docker-up docker-up-rabbitmq docker-down rabbitmq-ui clean
