package keystore

// SetWALGrowth sets walGrowth for a test and returns what restores it:
// tests that simulate a power failure from the file at the journal's first
// checkpoint need no other checkpoint to come in between.
func SetWALGrowth(n int64) (restore func()) {
	old := walGrowth
	walGrowth = n
	return func() { walGrowth = old }
}
