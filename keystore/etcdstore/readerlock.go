//go:build linux

package etcdstore

import "sync"

// readerLock is a readers-writer lock that prefers readers: a writer
// waits until no reader holds it, and a reader waits only for a writer at
// work, never for one that waits. sync.RWMutex makes a reader wait for a
// waiting writer, so a transaction that reads again while it reads (a
// View inside an Update's function, as keyring's constructions do) would
// deadlock with the feed. Writers are one goroutine (the feed) and
// readers hold it for microseconds, so the writer is not starved.
type readerLock struct {
	mu      sync.Mutex
	cond    sync.Cond
	readers int
	writing bool
}

func (l *readerLock) RLock() {
	l.mu.Lock()
	for l.writing {
		l.wait()
	}
	l.readers++
	l.mu.Unlock()
}

func (l *readerLock) RUnlock() {
	l.mu.Lock()
	if l.readers--; l.readers == 0 {
		l.cond.Broadcast()
	}
	l.mu.Unlock()
}

func (l *readerLock) Lock() {
	l.mu.Lock()
	for l.writing || l.readers > 0 {
		l.wait()
	}
	l.writing = true
	l.mu.Unlock()
}

func (l *readerLock) Unlock() {
	l.mu.Lock()
	l.writing = false
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *readerLock) wait() {
	if l.cond.L == nil {
		l.cond.L = &l.mu
	}
	l.cond.Wait()
}
