# Shortcuts; the README's two commands are the real interface.
.PHONY: run test build docker

run: ## herald on 127.0.0.1:8080 with SQLite in ./data
	go run ./cmd/herald serve

test: ## everything CI runs
	.ci/run

build: ## a static binary ./herald
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o herald ./cmd/herald

docker:
	docker build -t herald .
