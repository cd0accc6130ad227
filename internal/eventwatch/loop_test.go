//go:build linux

package eventwatch

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// feed is a record source the test drives: records sent on recs, then
// err (nil: the source ends).
func feed(recs <-chan watchqueue.Record, errc <-chan error) iter.Seq2[watchqueue.Record, error] {
	return func(yield func(watchqueue.Record, error) bool) {
		for rec := range recs {
			if !yield(rec, nil) {
				return
			}
		}
		if err := <-errc; err != nil {
			yield(nil, err)
		}
	}
}

func note(id uint32) watchqueue.Record {
	return watchqueue.KeyNotification{KeyID: id, Subtype: watchqueue.KeyUpdated}
}

// Records past the buffer are dropped, counted, and answered by one
// resync; the records held are handled; events come out in the order they
// were emitted; a source that ends ends Events, without an error.
func TestDropsAreResyncedOnce(t *testing.T) {
	l := New[string](2)
	recs, errc := make(chan watchqueue.Record), make(chan error, 1)
	go l.Pump(feed(recs, errc))
	for i := uint32(1); i <= 5; i++ {
		recs <- note(i)
	}
	for l.Dropped() < 3 { // 5 sent, 2 held; the last send may still be in flight
		recs <- note(99)
	}
	// The source ends once everything is heard (a source that ends with
	// drops unanswered is a closed watch: nobody is listening).
	ended := false
	end := func() {
		if !ended {
			ended = true
			close(recs)
			errc <- nil
		}
	}
	defer func() { end(); <-l.Done() }()

	resyncs := 0
	handle := func(_ context.Context, rec watchqueue.Record) error {
		l.Emit(fmt.Sprint("rec ", rec.(watchqueue.KeyNotification).KeyID))
		return nil
	}
	resync := func(context.Context) error {
		resyncs++
		l.Emit("lost")
		l.Emit("rescanned")
		return nil
	}
	var got []string
	for e, err := range l.Events(t.Context(), handle, resync, func(err error) error { return err }) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
		if len(got) == 4 {
			end()
		}
	}
	if resyncs != 1 {
		t.Errorf("%d resyncs for one run of drops, want 1", resyncs)
	}
	want := map[string]bool{"rec 1": true, "rec 2": true, "lost": true, "rescanned": true}
	for i, e := range got {
		if !want[e] {
			t.Fatalf("events %q: %q is not one of the held records' events or the resync's", got, e)
		}
		delete(want, e)
		if e == "lost" && (i+1 == len(got) || got[i+1] != "rescanned") {
			t.Fatalf("events %q: the resync's two events apart", got)
		}
	}
	if len(want) > 0 {
		t.Fatalf("events %q: missing %v", got, want)
	}
}

// Finish ends Events once the events queued before it are yielded, with
// records still to handle.
func TestFinish(t *testing.T) {
	l := New[string](4)
	recs, errc := make(chan watchqueue.Record, 2), make(chan error, 1)
	go l.Pump(feed(recs, errc))
	recs <- note(1)
	recs <- note(2)
	defer func() { close(recs); errc <- nil; <-l.Done() }()
	var got []string
	handle := func(context.Context, watchqueue.Record) error {
		l.Emit("gone")
		l.Finish()
		return nil
	}
	for e, err := range l.Events(t.Context(), handle, func(context.Context) error { return nil }, func(err error) error { return err }) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != 1 || got[0] != "gone" {
		t.Fatalf("events %q, want just gone", got)
	}
}

// A source that fails ends Events with the error, wrapped; one whose
// context was cancelled (the watch closed) ends it with none.
func TestSourceErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{unix.ECONNRESET, unix.ECONNRESET},
		{context.Canceled, nil},
	} {
		l := New[string](4)
		recs, errc := make(chan watchqueue.Record), make(chan error, 1)
		go l.Pump(feed(recs, errc))
		close(recs)
		errc <- c.err
		wrapped := false
		var got error
		for _, err := range l.Events(t.Context(), func(context.Context, watchqueue.Record) error { return nil }, func(context.Context) error { return nil }, func(err error) error {
			wrapped = true
			return fmt.Errorf("test watch: %w", err)
		}) {
			got = err
		}
		if !errors.Is(got, c.want) || (c.want == nil) != (got == nil) || (c.want != nil && !wrapped) {
			t.Errorf("source failing with %v: Events ended with %v (wrapped %v), want %v", c.err, got, wrapped, c.want)
		}
	}
}

// A handler's error ends Events with it, wrapped.
func TestHandlerError(t *testing.T) {
	l := New[string](4)
	recs, errc := make(chan watchqueue.Record, 1), make(chan error, 1)
	go l.Pump(feed(recs, errc))
	recs <- note(1)
	defer func() { close(recs); errc <- nil; <-l.Done() }()
	var got error
	for _, err := range l.Events(t.Context(), func(context.Context, watchqueue.Record) error { return unix.EIO }, func(context.Context) error { return nil }, func(err error) error { return fmt.Errorf("w: %w", err) }) {
		got = err
	}
	if !errors.Is(got, unix.EIO) || got.Error() != "w: input/output error" {
		t.Fatalf("Events ended with %v, want w: EIO", got)
	}
}
