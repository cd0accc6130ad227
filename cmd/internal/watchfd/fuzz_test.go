//go:build linux

package watchfd

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"
)

// A few white-box checks: the frame decoders and the server's answer,
// without sockets.

var requestSeeds = []string{"add 42", "rm -3", "sync", "add", "add 99999999999", "frob 1", "add 1 2", "", "add +7", "sync extra"}

// FuzzParseRequest: the decoder never panics; what it accepts is one of
// the three verbs, with a serial that fits a key_serial_t, and reads the
// same once written back.
func FuzzParseRequest(f *testing.F) {
	for _, seed := range requestSeeds {
		f.Add([]byte(magic + seed))
	}
	f.Add([]byte("not the magic"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		r, err := parseRequest(frame)
		if err != nil {
			if r != (Request{}) {
				t.Fatalf("%q: error %v with request %+v", frame, err, r)
			}
			return
		}
		switch r.Verb {
		case Add, Remove:
		case Sync:
			if r.Key != 0 {
				t.Fatalf("%q: sync with key %d", frame, r.Key)
			}
		default:
			t.Fatalf("%q: accepted verb %q", frame, r.Verb)
		}
		again, err := parseRequest(appendRequest(nil, r))
		if err != nil || again != r {
			t.Fatalf("%q reads as %+v, written back as %q, which reads as %+v, %v", frame, r, appendRequest(nil, r), again, err)
		}
	})
}

// FuzzParseReply: a reply is an errno or not a watcher's reply at all.
func FuzzParseReply(f *testing.F) {
	for _, seed := range []string{magic + "0", magic + "13", magic + "-1", magic + "x", magic, "EACCES", magic + "99999999999999999999"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		e, err := parseReply(frame)
		if err != nil {
			if err != ErrNotWatchFD || e != 0 {
				t.Fatalf("%q: %v, %v", frame, e, err)
			}
			return
		}
		if again, err := parseReply(appendReply(nil, e)); err != nil || again != e {
			t.Fatalf("%q reads as %d, written back as %q, which reads as %d, %v", frame, e, appendReply(nil, e), again, err)
		}
	})
}

// FuzzAnswer feeds the server arbitrary frames: it never panics, the
// handler sees only the three verbs, and another uid is never heard.
func FuzzAnswer(f *testing.F) {
	for _, seed := range requestSeeds {
		f.Add(magic+seed, true)
	}
	f.Add("not the magic", false)
	f.Fuzz(func(t *testing.T, frame string, sameUID bool) {
		s := &Server{uid: 1000, handle: func(_ context.Context, r Request) error {
			switch r.Verb {
			case Add, Remove, Sync:
			default:
				t.Fatalf("handler called with %q", r.Verb)
			}
			if !sameUID {
				t.Fatalf("handler called for another uid with %+v", r)
			}
			return nil
		}}
		uid := 1000
		if !sameUID {
			uid = 1001
		}
		e := s.answer(context.Background(), []byte(frame), uid)
		if !sameUID && e != unix.EACCES && e != unix.EINVAL {
			t.Fatalf("%q from another uid: %v", frame, e)
		}
	})
}

// TestAnswerRefusesAnotherUID: a well-formed request from another uid is
// EACCES, one with no credentials at all (uid -1) too.
func TestAnswerRefusesAnotherUID(t *testing.T) {
	called := false
	s := &Server{uid: 1000, handle: func(context.Context, Request) error { called = true; return nil }}
	for _, uid := range []int{0, 1001, -1} {
		if e := s.answer(context.Background(), []byte(magic+"add 42"), uid); e != unix.EACCES {
			t.Errorf("uid %d: %v, want EACCES", uid, e)
		}
	}
	if called {
		t.Error("the handler was called for another uid")
	}
	if e := s.answer(context.Background(), []byte(magic+"add 42"), 1000); e != 0 || !called {
		t.Errorf("the server's own uid: %v, handler called %v", e, called)
	}
}
