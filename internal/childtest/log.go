package childtest

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Log collects what a child process writes to it, for a test to read while
// the child runs. A child's stderr reaches it through a pipe and a copying
// goroutine, so a line the child wrote before it answered the test may not
// be here yet when the answer arrives: tests that look for a line the
// child logs wait for it with WaitFor.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// WaitFor waits up to timeout for the log to hold every one of want, and
// returns the log as it then is, and whether it holds them all.
func (l *Log) WaitFor(timeout time.Duration, want ...string) (string, bool) {
	deadline := time.Now().Add(timeout)
	for {
		logged := l.String()
		all := true
		for _, w := range want {
			all = all && strings.Contains(logged, w)
		}
		if all || time.Now().After(deadline) {
			return logged, all
		}
		time.Sleep(10 * time.Millisecond)
	}
}
