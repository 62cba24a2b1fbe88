// Package hydra pins the version of Ory Hydra that the end-to-end tests
// build and run as a provider: its go.mod names it as a tool, so that the
// e2e module's own go.sum does not carry Hydra's dependencies. The tests
// build it with
//
//	go -C e2e/hydra build -o DIR/hydra github.com/ory/hydra/v2
//
// and keep the binary in the user's cache directory.
package hydra
