// Package tools holds the repository's checks on itself, run as tests by
// the README's test command: every module's exported API matches its
// api.txt, every doc link and every Go name in backticks in doc comments
// and Markdown files resolves against the code, and the core's exported
// surface stays within its budget. It exports nothing.
//
// After an intended API change, rewrite the API files with
//
//	go test ./tools -run TestAPIFiles -update
//
// and commit them with the change.
package tools
