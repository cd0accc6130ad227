//go:build linux

package secretservice_test

import "os"

// childEnv names what a child run of the test binary does.
const childEnv = "SECRETSERVICE_TEST_CHILD"

// childMain runs the test binary as a child, when a test started it so;
// ok is false otherwise.
func childMain() (code int, ok bool) {
	switch os.Getenv(childEnv) {
	case "go-keyring":
		return goKeyringChild(), true
	case "provider":
		return providerChild(), true
	}
	return 0, false
}
