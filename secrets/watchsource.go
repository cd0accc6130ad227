//go:build linux

package secrets

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// watchSource is where a Watch sets its key watches and reads their
// records. It is the one place that knows how a Caller watches: a
// *keyring.Process posts into a queue in this process, a Watcher (a
// *daemon.Client, a keyctl.Caller) reads its own queue, here or in the
// daemon.
type watchSource interface {
	// watch watches key id (tag 0), unwatch stops (tag -1).
	watch(ctx context.Context, id keyring.Serial) error
	unwatch(ctx context.Context, id keyring.Serial) error
	// records yields the watches' records until ctx ends.
	records(ctx context.Context) iter.Seq2[watchqueue.Record, error]
	// revisions reports whether the records carry the store's revisions,
	// which WatchFrom needs to tell replayed changes from new ones.
	revisions() bool
	// close ends the watches.
	close()
}

// queueNotes is the size of an embedded Watch's queue: the most the
// store lets a queue hold. A burst past it is a Lost event and a re-read,
// never a slower writer.
const queueNotes = 512

// revisionKeeper is a Watcher whose queue can keep revisions: a
// *daemon.Client, a keyctl.Caller.
type revisionKeeper interface {
	KeepRevisions(ctx context.Context) error
}

func newWatchSource(ctx context.Context, c keyring.Caller) (watchSource, error) {
	switch c := c.(type) {
	case *keyring.Process:
		q := watchqueue.New(watchqueue.Options{Revisions: true})
		if err := q.SetSize(queueNotes); err != nil {
			return nil, err
		}
		return &queueSource{p: c, q: q}, nil
	case keyring.Watcher:
		src := clientSource{c: c}
		if k, ok := c.(revisionKeeper); ok {
			// Without revisions (a daemon too old to keep them, a
			// connection that watches already) the Watch works, and
			// WatchFrom starts with Compacted.
			err := k.KeepRevisions(ctx)
			switch {
			case err == nil:
				src.keeps = true
			case !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EBUSY):
				return nil, err
			}
		}
		return src, nil
	}
	return nil, fmt.Errorf("secrets: watch through a %T: %w", c, unix.EOPNOTSUPP)
}

// queueSource watches a store opened in this process, into a queue of
// the Watch's own, which keeps revisions.
type queueSource struct {
	p *keyring.Process
	q *watchqueue.Queue
}

func (s *queueSource) watch(ctx context.Context, id keyring.Serial) error {
	return s.p.Watch(ctx, id, s.q, 0)
}

func (s *queueSource) unwatch(ctx context.Context, id keyring.Serial) error {
	return s.p.Watch(ctx, id, s.q, -1)
}

func (s *queueSource) records(ctx context.Context) iter.Seq2[watchqueue.Record, error] {
	return s.q.Records(ctx)
}

func (s *queueSource) revisions() bool { return true }

// close closes the queue, which ends its watches.
func (s *queueSource) close() { s.q.Close() }

// clientSource watches through the Watcher's own queue: the Watch must be
// its only watcher, since the records are the queue's, not the Watch's.
type clientSource struct {
	c     keyring.Watcher
	keeps bool // the queue keeps revisions
}

func (s clientSource) watch(ctx context.Context, id keyring.Serial) error {
	return s.c.Watch(ctx, id, 0)
}

func (s clientSource) unwatch(ctx context.Context, id keyring.Serial) error {
	return s.c.Watch(ctx, id, -1)
}

func (s clientSource) records(ctx context.Context) iter.Seq2[watchqueue.Record, error] {
	return s.c.Records(ctx)
}

func (s clientSource) revisions() bool { return s.keeps }

// close leaves the watches to the connection, which ends them when it
// closes.
func (s clientSource) close() {}
