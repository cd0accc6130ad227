package childtest

import (
	"testing"
	"time"
)

// WaitFor sees a line written after it began waiting, and gives up, saying
// so, on one that never comes.
func TestLogWaitFor(t *testing.T) {
	var l Log
	l.Write([]byte("serving\n"))
	go func() {
		time.Sleep(50 * time.Millisecond)
		l.Write([]byte("accepting again\n"))
	}()
	if logged, ok := l.WaitFor(5*time.Second, "serving", "accepting again"); !ok || logged != "serving\naccepting again\n" {
		t.Errorf("WaitFor a line written 50 ms later: %v, %q", ok, logged)
	}
	start := time.Now()
	if logged, ok := l.WaitFor(100*time.Millisecond, "serving", "stopped"); ok || logged != "serving\naccepting again\n" {
		t.Errorf("WaitFor a line never written: %v, %q; want false and the log", ok, logged)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("WaitFor gave up after %v, before its 100 ms", waited)
	}
}
