# scepgate: make run starts the server, make test runs every test.
GO      ?= go
BIN     := bin
PKGS    := ./...
export CGO_ENABLED := 1

.PHONY: run build test test-deps fuzz generate openapi lint check bench clean screenshots

## run: start the server on the embedded SQLite default, on this machine only
## (http://127.0.0.1:8080; data in ./data, made on the first run)
run: build
	$(BIN)/scepgate serve --init --listen 127.0.0.1:8080

## build: compile scepgate and scepclient into bin/
build:
	$(GO) build -o $(BIN)/scepgate ./cmd/scepgate
	$(GO) build -o $(BIN)/scepclient ./cmd/scepclient

## test: run all tests with the race detector (installs or names what they need),
## with a PostgreSQL server for the tests that run on both databases (the store
## suite runs on PostgreSQL there, then again on SQLite; the shared-state tests),
## the fuzz targets' seed corpora, and each benchmark once so that none rots
test: test-deps
	url=$$(./scripts/test-postgres.sh) && SCEPGATE_TEST_POSTGRES="$$url" $(GO) test -race -count=1 -timeout 40m $(PKGS)
	SCEPGATE_TEST_POSTGRES= $(GO) test -race -count=1 -skip Postgres ./store/
	$(GO) test -run '^$$' -bench . -benchtime 1x ./handlers/

## fuzz: run each fuzz target for FUZZTIME (make test runs only their seeds)
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./pki/:FuzzParseRequest \
	./pki/cms/:FuzzDecrypt \
	./handlers/:FuzzSCEPAnswer \
	./handlers/:FuzzSCEPQuery \
	./handlers/:FuzzNDESAuthorization \
	./cmd/scepclient/:FuzzParseConfig \
	./internal/properties/:FuzzParse \
	./internal/pkcs10/:FuzzWithoutChallengePassword
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## test-deps: make sure the outside programs the tests use are here
test-deps:
	@./scripts/test-deps.sh

## screenshots: refresh the README's screenshots from the browser test
screenshots: test-deps
	$(GO) test -count=1 ./e2e/ -update-screenshots

## generate: regenerate templ components (the output is committed)
generate:
	$(GO) tool templ generate

## openapi: rewrite docs/openapi.json from the API's Go types (the output is committed)
openapi:
	$(GO) test -count=1 -run TestOpenAPIDocument ./web/ -update

## lint: formatting, vet, staticcheck, and generated files up to date
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	$(GO) tool templ generate
	git diff --exit-code -- views

## check: lint and test, as CI does
check: lint test

## bench: benchmark scepgate against micromdm's scepserver and write BENCHMARKS.md (N=200 per configuration)
bench: test-deps
	@./scripts/bench.sh

clean:
	rm -rf $(BIN)
