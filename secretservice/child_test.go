package secretservice_test

// childMain runs the test binary as a child of another uid, when a test
// started it so; ok is false otherwise.
func childMain() (code int, ok bool) { return 0, false }
