//go:build linux

package secrets

// SetRecordBuffer sets how many records a Watch made from now on holds
// unhandled, and returns what puts it back.
func SetRecordBuffer(n int) (restore func()) {
	old := recordBuffer
	recordBuffer = n
	return func() { recordBuffer = old }
}
